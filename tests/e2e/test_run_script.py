"""The README's run command brings the server up and the login page answers."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from support.live import free_port
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_scripts_run_serves_the_login_page(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PATCHFLEET_DATA_DIR": str(tmp_path / "data"),
        "PATCHFLEET_PORT": str(port),
        "PATCHFLEET_DATABASE_URL": "",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:

        def login_page():
            if proc.poll() is not None:
                raise AssertionError(
                    f"scripts/run exited {proc.returncode}:\n{log.read_text()}"
                )
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
            except httpx.TransportError:
                return None
            return r

        page = wait_until(login_page, timeout=240, what="the login page", every=0.5)
        assert page.status_code == 200
        assert "Sign in" in page.text or "sign in" in page.text.lower()
        printed = log.read_text()
        assert "username: admin" in printed
        assert "patchfleet agent enroll --server" in printed
        assert (tmp_path / "data" / "patchfleet.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
