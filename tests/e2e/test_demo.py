"""``patchfleet demo`` as a user runs it: real missing patches, then Ctrl-C cleans up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lab.dnf_lab import require_lab
from patchfleet.lab.tools import APT_TOOLS, RPM_TOOLS
from support.live import free_port
from support.waiting import wait_until

pytestmark = [pytest.mark.apt, pytest.mark.dnf]


class DemoProcess:
    """``python -m patchfleet demo`` with its output in a file."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / "demo.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "patchfleet", "demo", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "100"},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def printed(self, pattern: str) -> str | None:
        """The first group of ``pattern`` in the output so far; fail if it exited."""
        if self.proc.poll() is not None:
            raise AssertionError(
                f"demo exited {self.proc.returncode}:\n{self.output()}"
            )
        found = re.search(pattern, self.output())
        return found.group(1) if found else None

    def pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"\(pid (\d+)\)", self.output())]


def healthy(demo: DemoProcess) -> bool:
    demo.printed("(never printed)")  # fails fast if the demo died
    try:
        return httpx.get(f"{demo.url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def demo_tool_devices(url: str, headers: dict[str, str]) -> dict[str, int]:
    r = httpx.get(
        f"{url}/api/v1/missing-patches/by-patch",
        params={"page_size": 1000},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return {
        row["backend"]: row["devices"]
        for row in r.json()["items"]
        if row["name"] == "demo-tool"
    }


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(f"{cmdline.parent.name}: {args}")
    return found


def test_demo_shows_missing_patches_and_cleans_up_on_sigint(tmp_path):
    require_lab((*APT_TOOLS, *RPM_TOOLS))
    demo = DemoProcess(tmp_path, free_port())
    try:
        wait_until(lambda: healthy(demo), timeout=90, what="the demo server's /health")
        password = wait_until(
            lambda: demo.printed(r"admin / (\S+)"),
            timeout=90,
            what="the demo's ready panel",
        )
        token = httpx.post(
            f"{demo.url}/api/v1/auth/login",
            json={"username": "admin", "password": password},
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        expected = {"apt": 2, "dnf": 1}

        def demo_tool_on_three_devices():
            found = demo_tool_devices(demo.url, headers)
            return found if found == expected else None

        devices = wait_until(
            demo_tool_on_three_devices, timeout=60, what="demo-tool on 3 devices"
        )
        assert devices == expected
        workdir = demo.printed(r"working directory: (\S+)")
        pids = demo.pids()
        assert len(pids) == 4, demo.output()  # server + 3 agents
        assert all(is_alive(pid) for pid in pids)

        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(timeout=20) == 0, demo.output()
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()
            for pid in demo.pids():
                if is_alive(pid):
                    os.killpg(pid, signal.SIGKILL)
    assert [pid for pid in pids if is_alive(pid)] == []
    assert workdir is not None
    assert not Path(workdir).exists()
    assert processes_mentioning(workdir) == []  # gpg-agent included
    assert f"removed {workdir}" in demo.output()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{demo.url}/health", timeout=2)
