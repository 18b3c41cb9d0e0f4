"""Kill -9 the server while agents run; after a restart, spooled results arrive."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from support.agents import apt_agent
from support.live import free_port
from support.waiting import wait_until

pytestmark = pytest.mark.apt
PASSWORD = "restart-password-1"


class ServerProcess:
    """``patchfleet serve`` as a separate process on a fixed port and data dir."""

    def __init__(self, tmp_path, port):
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "PATCHFLEET_DATA_DIR": str(tmp_path / "server"),
            "PATCHFLEET_PORT": str(port),
            "PATCHFLEET_CHECKIN_INTERVAL_SECONDS": "1",
            "PATCHFLEET_ADMIN_PASSWORD": PASSWORD,
            "PATCHFLEET_DATABASE_URL": "",
        }
        self.proc = None
        self.tmp_path = tmp_path

    def start(self):
        self.log = self.tmp_path / "server.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "patchfleet", "serve"],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        wait_until(self.healthy, timeout=60, what="server health")

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


def pending(agent) -> list[str]:
    db = sqlite3.connect(f"file:{agent.state_dir / 'outbox.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT payload FROM outbox WHERE kind = 'scan'").fetchall()
    finally:
        db.close()
    return [httpx.Response(200, content=r[0]).json()["scan_id"] for r in rows]


def test_agents_reconnect_and_spooled_results_arrive(tmp_path, apt_endpoint):
    server = ServerProcess(tmp_path, free_port())
    server.start()
    running = []
    try:
        token = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": "admin", "password": PASSWORD},
        )
        admin = {"Authorization": f"Bearer {token.json()['token']}"}
        enroll = httpx.post(
            f"{server.url}/api/v1/clients/1/enrollment-tokens", json={}, headers=admin
        ).json()
        agents = []
        for host in ("r-1", "r-2"):
            ep = apt_endpoint(host)
            ep.update()
            ep.install("demo-tool=1.0-1")
            agent = apt_agent(tmp_path, host, ep.apt_config)
            agent.enroll(server.url, enroll["token"])
            agents.append(agent)
            running.append(agent.start("--interval", "1", "--scan-hours", "0.0005"))

        def scanned():
            items = httpx.get(f"{server.url}/api/v1/devices", headers=admin).json()[
                "items"
            ]
            return len(items) == 2 and all(d["last_scan_at"] for d in items) and items

        devices = wait_until(scanned, timeout=60, what="first scans")
        server.kill()
        spooled = {
            a.hostname: wait_until(
                lambda a=a: pending(a), timeout=60, what="a spooled scan"
            )
            for a in agents
        }
        server.start()
        wait_until(
            lambda: all(not pending(a) for a in agents),
            timeout=90,
            what="outboxes to drain",
        )
        for d in devices:
            ids = {
                s["id"]
                for s in httpx.get(
                    f"{server.url}/api/v1/devices/{d['id']}/scans", headers=admin
                ).json()
            }
            assert set(spooled[d["hostname"]]) <= ids
        for p in running:
            assert p.poll() is None, [a.log.read_text() for a in agents]
    finally:
        for p in running:
            p.send_signal(signal.SIGTERM)
        for p in running:
            p.wait(30)
        server.kill()
    assert all(p.returncode == 0 for p in running)
