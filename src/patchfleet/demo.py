"""``patchfleet demo``: a server on SQLite and three lab endpoints with real agents.

Builds the lab's apt and rpm repos in a temp dir, starts ``patchfleet serve`` and one
``patchfleet agent run`` per endpoint as children, and waits for Ctrl-C (or SIGTERM).
Then it stops every child, the repo server and gpg-agent, and removes the temp dir.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from patchfleet.agent.runner import SubprocessRunner
from patchfleet.lab import apt, processes, rpm
from patchfleet.lab.tools import (
    APT_TOOLS,
    RPM_TOOLS,
    LabError,
    checked,
    install_command,
    missing,
)

CHECKIN_SECONDS = 5
HEALTH_TIMEOUT = 60.0
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0

console = Console(highlight=False)


class Backend(StrEnum):
    """The package manager a demo endpoint is driven by."""

    APT = "apt"
    DNF = "dnf"


@dataclass(frozen=True)
class DemoEndpoint:
    """One endpoint of the demo fleet: who owns it and what it has installed."""

    hostname: str
    client: str
    backend: Backend
    packages: tuple[str, ...]  # old versions; their updates are published


CLIENTS = ("Acme Corp", "Globex")
ENDPOINTS = (
    DemoEndpoint(
        "demo-apt-1",
        "Acme Corp",
        Backend.APT,
        ("demo-tool=1.0-1", "demo-lib=1.0-1", "demo-extra=1.0-1"),
    ),
    DemoEndpoint(
        "demo-apt-2",
        "Globex",
        Backend.APT,
        ("demo-tool=1.0-1", "demo-lib=1.0-1", "acme-agent=1.0-1"),
    ),
    DemoEndpoint(
        "demo-rpm-1",
        "Acme Corp",
        Backend.DNF,
        ("demo-tool", "demo-lib", "demo-daemon"),
    ),
)


class DemoError(RuntimeError):
    """The demo could not be brought up (a child died, a wait timed out)."""


def demo(
    port: Annotated[int, typer.Option(help="Port of the demo server.")] = 8080,
    keep: Annotated[
        bool, typer.Option(help="Keep the temp dir (databases, logs) afterwards.")
    ] = False,
) -> None:
    """Start a server on SQLite and 3 lab endpoints with agents; Ctrl-C stops all."""
    if problems := preflight_problems(port):
        for problem in problems:
            console.print(
                f"[red]cannot start the demo:[/red] {problem}", soft_wrap=True
            )
        raise typer.Exit(2)
    # Also when started with SIGINT ignored (``cmd &`` in a script): Ctrl-C must stop it.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="patchfleet-demo-"))
    raise typer.Exit(Demo(workdir, port).run_until_stopped(keep=keep))


def preflight_problems(port: int) -> list[str]:
    """Why the demo cannot run here: not root, lab tools missing, port taken."""
    problems = []
    if os.geteuid() != 0:
        problems.append("run it as root (dnf installs into the lab endpoints need it)")
    if absent := missing((*APT_TOOLS, *RPM_TOOLS), SubprocessRunner()):
        problems.append(
            f"lab tools missing: {', '.join(absent)}; install them with:\n"
            f"  {install_command(absent)}"
        )
    if not is_port_free(port):
        problems.append(f"port {port} is in use on 127.0.0.1; pick one with --port")
    return problems


def is_port_free(port: int) -> bool:
    """Whether the server could bind 127.0.0.1:``port`` now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, every: float = 0.25
) -> None:
    """Poll ``predicate`` until it holds; ``DemoError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """Show a spinner while ``what`` runs, then a ✓ line with its duration."""
    started = time.monotonic()
    with console.status(f"{what} …"):
        yield
    console.print(f"[green]✓[/green] {what} [dim]({time.monotonic() - started:.1f} s)")


class DemoApi:
    """The few admin API calls the demo makes, as the bootstrap admin."""

    def __init__(self, http: httpx.Client) -> None:
        """Use ``http`` (its base_url is the server)."""
        self.http = http

    def healthy(self) -> bool:
        """Whether the server answers ``/health``."""
        try:
            return self.http.get("/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def login(self, password: str) -> None:
        """Log in as ``admin``; later calls carry the bearer token."""
        body = {"username": "admin", "password": password}
        token = self._call("POST", "/api/v1/auth/login", json=body)["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def enrollment_token(self, client_name: str) -> str:
        """Create client ``client_name`` and an enrollment token for it."""
        client = self._call("POST", "/api/v1/clients", json={"name": client_name})
        path = f"/api/v1/clients/{client['id']}/enrollment-tokens"
        return str(self._call("POST", path, json={})["token"])

    def scanned_hostnames(self) -> set[str]:
        """Hostnames of the devices that have reported a scan."""
        found = self._call("GET", "/api/v1/devices", params={"page_size": 100})
        return {d["hostname"] for d in found["items"] if d["last_scan_at"]}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


class Demo:
    """One demo run: everything it starts lives under ``workdir`` and in ``stack``."""

    def __init__(self, workdir: Path, port: int) -> None:
        """Prepare a run on 127.0.0.1:``port`` with a fresh random admin password."""
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.password = secrets.token_urlsafe(12)
        self.runner = SubprocessRunner()
        self.children: list[processes.Child] = []
        self.stack = contextlib.ExitStack()
        self.launched_at = time.monotonic()

    def run_until_stopped(self, *, keep: bool) -> int:
        """Bring everything up, wait for Ctrl-C, tear down; return the exit code."""
        self.stack.callback(self._remove_workdir, keep=keep)
        code = 1
        try:
            self.start()
            code = self.watch()
        except KeyboardInterrupt:
            code = 0
        except (DemoError, LabError, httpx.HTTPError) as exc:
            console.print(f"[red]demo failed:[/red] {escape(str(exc))}")
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            console.print("stopping the demo …")
            self.stack.close()
        return code

    def start(self) -> None:
        """Build the lab, start the server and the agents, wait for first scans."""
        console.print(f"working directory: {escape(str(self.workdir))}")
        with step("built the apt and rpm lab repos"):
            repo = apt.AptRepoServer(self.workdir / "apt-repo", runner=self.runner)
            self.stack.callback(repo.stop)
            repos = rpm.build_repos(self.workdir / "rpm-repos", runner=self.runner)
        api = DemoApi(self.stack.enter_context(httpx.Client(base_url=self.url)))
        with step(f"started the server on {self.url}"):
            self._start_server(api)
        with step(f"created clients {' and '.join(CLIENTS)}"):
            api.login(self.password)
            tokens = {name: api.enrollment_token(name) for name in CLIENTS}
        with step("prepared 3 lab endpoints and enrolled their agents"):
            agents = self._prepare_endpoints(repo.repo, repos, tokens)
        self._start_agents(agents)
        with step("all 3 agents reported their first scan"):
            self._wait_for_scans(api)
        elapsed = time.monotonic() - self.launched_at
        console.print(f"ready: 3 devices scanned, {elapsed:.0f} s after launch")
        console.print(self._panel())

    def watch(self) -> int:
        """Wait until interrupted; 1 if a child dies first."""
        while True:
            for child in self.children:
                if not child.is_running():
                    console.print(
                        f"[red]{child.name} exited unexpectedly "
                        f"(code {child.popen.returncode}); last output:[/red]\n"
                        f"{escape(child.tail())}"
                    )
                    return 1
            time.sleep(0.5)

    def _start_server(self, api: DemoApi) -> None:
        env = {
            **os.environ,
            "PATCHFLEET_DATA_DIR": str(self.workdir / "server"),
            "PATCHFLEET_DATABASE_URL": "",
            "PATCHFLEET_HOST": "127.0.0.1",
            "PATCHFLEET_PORT": str(self.port),
            "PATCHFLEET_PUBLIC_URL": self.url,
            "PATCHFLEET_CHECKIN_INTERVAL_SECONDS": str(CHECKIN_SECONDS),
            "PATCHFLEET_ADMIN_PASSWORD": self.password,
        }
        argv = [sys.executable, "-m", "patchfleet", "serve"]
        started: list[processes.Child] = []
        self.stack.callback(self._stop, started)  # registered before the start
        server = self._spawn("server", argv, env, started)

        def healthy() -> bool:
            if not server.is_running():
                raise DemoError(f"the server exited:\n{server.tail()}")
            return api.healthy()

        wait_for(healthy, timeout=HEALTH_TIMEOUT, what="the server's /health")

    def _prepare_endpoints(
        self, repo: apt.AptRepo, repos: rpm.RpmRepos, tokens: dict[str, str]
    ) -> list[tuple[str, list[str]]]:
        def prepare(spec: DemoEndpoint) -> tuple[str, list[str]]:
            root = self.workdir / "endpoints" / spec.hostname
            if spec.backend is Backend.APT:
                ep = apt.make_endpoint(repo, root)
                ep.update()
                ep.install(*spec.packages)
                backend = ["--backend", "apt", "--apt-config", str(ep.apt_config)]
            else:
                dnf = rpm.make_endpoint(repos, root, updates_enabled=False)
                dnf.install(*spec.packages)
                dnf.enable_updates()
                backend = ["--backend", "dnf", "--dnf-root", str(root)]
            return spec.hostname, self._enroll(spec, backend, tokens[spec.client])

        with ThreadPoolExecutor(max_workers=len(ENDPOINTS)) as pool:
            return list(pool.map(prepare, ENDPOINTS))

    def _enroll(self, spec: DemoEndpoint, backend: list[str], token: str) -> list[str]:
        """Enroll the endpoint's agent; return its ``agent run`` command line."""
        state = self.workdir / "agents" / spec.hostname
        agent = [sys.executable, "-m", "patchfleet", "agent"]
        common = ["--state-dir", str(state), *backend, "--hostname", spec.hostname]
        checked(
            self.runner,
            [*agent, "enroll", "--server", self.url, *common],
            env={"PATCHFLEET_ENROLL_TOKEN": token},
            timeout=COMMAND_TIMEOUT,
        )
        return [*agent, "run", *common, "--interval", str(CHECKIN_SECONDS)]

    def _start_agents(self, agents: list[tuple[str, list[str]]]) -> None:
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        started: list[processes.Child] = []
        self.stack.callback(self._stop, started)  # stopped before the server
        for hostname, argv in agents:
            self._spawn(f"agent {hostname}", argv, env, started)

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        group: list[processes.Child],
    ) -> processes.Child:
        """Start a child, add it to ``group`` (stopped together) and report its pid."""
        log = self.workdir / "logs" / f"{name.replace(' ', '-')}.log"
        child = processes.start(name, argv, env=env, log_path=log)
        group.append(child)
        self.children.append(child)
        console.print(f"started {name} (pid {child.pid})")
        return child

    def _wait_for_scans(self, api: DemoApi) -> None:
        expected = {e.hostname for e in ENDPOINTS}

        def all_scanned() -> bool:
            for child in self.children:
                if not child.is_running():
                    raise DemoError(f"{child.name} exited:\n{child.tail()}")
            return api.scanned_hostnames() >= expected

        wait_for(all_scanned, timeout=READY_TIMEOUT, what="the first scans", every=0.5)

    def _stop(self, children: list[processes.Child]) -> None:
        codes = processes.stop_all(children, timeout=STOP_TIMEOUT)
        for name, code in codes.items():
            # uvicorn re-raises the SIGTERM it handled, after a clean shutdown
            how = "" if code in (0, -signal.SIGTERM) else f" (exit code {code})"
            console.print(f"stopped {name}{how}")

    def _remove_workdir(self, *, keep: bool) -> None:
        where = escape(str(self.workdir))
        if keep:
            console.print(f"kept {where} (databases, endpoints, logs)")
            return
        shutil.rmtree(self.workdir, ignore_errors=True)
        console.print(f"removed {where}")

    def _panel(self) -> Panel:
        logs = escape(str(self.workdir / "logs"))
        text = (
            f"[bold]Web UI[/bold]  {self.url}/login\n"
            f"[bold]Login[/bold]   admin / {self.password}\n\n"
            "Look at:\n"
            "• Missing Patches → By patch: the security update demo-tool\n"
            "  1.0-1 → 1.0-2 is missing on 3 devices: 2 apt (demo-apt-1,\n"
            "  demo-apt-2) and 1 dnf (demo-rpm-1, LAB-2024-0001 with\n"
            "  CVE-2024-0001); demo-lib, demo-daemon and others are pending.\n"
            "• Devices: demo-apt-1 and demo-rpm-1 in Acme Corp, demo-apt-2 in\n"
            "  Globex (pick a client at the top to narrow the view).\n\n"
            f"Agents check in every {CHECKIN_SECONDS} s. Logs: {logs}"
        )
        return Panel(
            text,
            title="patchfleet demo is ready",
            subtitle="Ctrl-C stops everything and cleans up",
            expand=False,
        )
