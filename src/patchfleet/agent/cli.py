"""``patchfleet agent``: enroll, run, scan, status. Wires the real objects."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shlex
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

import patchfleet
from patchfleet.agent import facts as facts_mod
from patchfleet.agent.client import ServerClient, ServerError
from patchfleet.agent.config import (
    AgentConfig,
    Identity,
    default_state_dir,
    load_identity,
    save_identity,
)
from patchfleet.agent.jobs import ACTIVE_KEY
from patchfleet.agent.loop import Agent, run_forever, scan
from patchfleet.agent.managers import select
from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.managers.apt_changelogs import ChangelogMode, ChangelogSettings
from patchfleet.agent.managers.base import PackageManager
from patchfleet.agent.outbox import Outbox
from patchfleet.agent.reboot import (
    CommandRebooter,
    DisabledRebooter,
    Rebooter,
    SystemRebooter,
)
from patchfleet.agent.runner import Runner, SubprocessRunner
from patchfleet.protocol import v1

app = typer.Typer(
    help="The patchfleet agent: scans this endpoint and reports to the server.",
    no_args_is_help=True,
)
err = Console(stderr=True)

StateDir = Annotated[
    Path | None,
    typer.Option(
        help="Where identity and outbox live.", envvar="PATCHFLEET_AGENT_STATE_DIR"
    ),
]
Backend = Annotated[str, typer.Option(help="auto, apt or dnf.")]
AptConfig = Annotated[
    Path | None, typer.Option(help="apt config file (exported as APT_CONFIG).")
]
DnfRoot = Annotated[Path | None, typer.Option(help="dnf installroot of the endpoint.")]
Hostname = Annotated[
    str | None, typer.Option(help="Report this hostname instead of the system's.")
]
RebootCommand = Annotated[
    str | None,
    typer.Option(
        help="Command run instead of rebooting the system when a job reboots "
        "(split like a shell line, run without a shell). Without it, an agent "
        "given --apt-config or --dnf-root never reboots.",
        envvar="PATCHFLEET_AGENT_REBOOT_COMMAND",
    ),
]

ChangelogCves = Annotated[
    ChangelogMode,
    typer.Option(
        help="apt: add the CVE ids each candidate's Debian changelog names, for "
        "security candidates, all candidates or off (downloads each .deb once).",
        envvar="PATCHFLEET_AGENT_CHANGELOG_CVES",
    ),
]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def _config(
    state_dir: Path | None,
    backend: str,
    apt_config: Path | None,
    dnf_root: Path | None,
    hostname: str | None,
    reboot_command: str | None = None,
    changelog_cves: ChangelogMode = ChangelogMode.SECURITY,
) -> AgentConfig:
    return AgentConfig(
        state_dir=state_dir or default_state_dir(os.environ),
        backend=backend,
        apt_config=apt_config,
        dnf_installroot=dnf_root,
        hostname=hostname,
        reboot_command=tuple(shlex.split(reboot_command or "")),
        changelog_cves=changelog_cves.value,
    )


def _rebooter(config: AgentConfig, runner: Runner) -> Rebooter:
    """The configured command; never this machine when driving an alternate root."""
    if config.reboot_command:
        return CommandRebooter(runner, config.reboot_command)
    if config.apt_config is not None or config.dnf_installroot is not None:
        return DisabledRebooter()  # a lab endpoint is not the host it runs on
    return SystemRebooter(runner)


def _manager(config: AgentConfig, runner: SubprocessRunner) -> PackageManager:
    release = Path("/etc/os-release")
    family = (
        facts_mod.os_family(facts_mod.parse_os_release(release.read_text()))
        if release.exists()
        else ""
    )
    name = select.choose(family, config.backend, runner)
    if name == "apt":  # select.build takes no changelog settings
        return AptManager(
            runner, apt_config=config.apt_config, changelogs=_changelogs(config)
        )
    return select.build(
        name,
        runner,
        apt_config=config.apt_config,
        dnf_installroot=config.dnf_installroot,
    )


def _changelogs(config: AgentConfig) -> ChangelogSettings | None:
    mode = ChangelogMode(config.changelog_cves)
    if mode is ChangelogMode.OFF:
        return None
    return ChangelogSettings(mode, config.changelog_dir)


@app.command()
def enroll(
    server: Annotated[
        str, typer.Option(help="Server URL, e.g. http://patchfleet:8080")
    ],
    token: Annotated[
        str,
        typer.Option(
            help="The client's enrollment token.", envvar="PATCHFLEET_ENROLL_TOKEN"
        ),
    ],
    state_dir: StateDir = None,
    backend: Backend = "auto",
    apt_config: AptConfig = None,
    dnf_root: DnfRoot = None,
    hostname: Hostname = None,
) -> None:
    """Enroll this endpoint with a client's enrollment token."""
    config = _config(state_dir, backend, apt_config, dnf_root, hostname)
    runner = SubprocessRunner()
    manager = _manager(config, runner)
    facts = facts_mod.collect(runner, package_manager=manager.name, hostname=hostname)
    with httpx.Client(base_url=server, timeout=30) as http:
        try:
            result = ServerClient(http).enroll(
                v1.EnrollRequest(enrollment_token=token, facts=facts)
            )
        except ServerError as exc:
            err.print(f"[red]enrollment failed:[/red] {exc}")
            raise typer.Exit(2) from exc
    save_identity(
        config.identity_path,
        Identity(
            server,
            str(result.device_id),
            result.credential,
            result.checkin_interval_seconds,
            hostname,
        ),
    )
    err.print(
        f"enrolled as device {result.device_id}; identity in {config.identity_path}"
    )


def _lock(state_dir: Path) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        err.print(f"[red]another agent is running with state dir {state_dir}[/red]")
        raise typer.Exit(3) from None
    return fd


@app.command()
def run(
    state_dir: StateDir = None,
    backend: Backend = "auto",
    apt_config: AptConfig = None,
    dnf_root: DnfRoot = None,
    hostname: Hostname = None,
    once: Annotated[bool, typer.Option(help="One cycle, then exit.")] = False,
    interval: Annotated[
        int | None, typer.Option(help="Override the server's check-in interval (s).")
    ] = None,
    scan_hours: Annotated[
        float, typer.Option(help="Scan on its own every N hours.")
    ] = 6.0,
    no_refresh: Annotated[
        bool, typer.Option(help="Do not refresh repository metadata before scans.")
    ] = False,
    reboot_command: RebootCommand = None,
    changelog_cves: ChangelogCves = ChangelogMode.SECURITY,
) -> None:
    """Check in, report inventory and scans, and run orders, until stopped.

    The first cycle finishes an install job a crash cut off (repair, final report).
    """
    config = _config(
        state_dir,
        backend,
        apt_config,
        dnf_root,
        hostname,
        reboot_command,
        changelog_cves,
    )
    identity = load_identity(config.identity_path)
    if identity is None:
        err.print("[red]not enrolled:[/red] run `patchfleet agent enroll` first")
        raise typer.Exit(2)
    _lock(config.state_dir)
    hostname = hostname or identity.hostname
    runner = SubprocessRunner()
    manager = _manager(config, runner)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with httpx.Client(base_url=identity.server_url, timeout=60) as http:
        agent = Agent(
            client=ServerClient(http, identity.credential),
            manager=manager,
            outbox=Outbox(config.outbox_path),
            facts=lambda: facts_mod.collect(
                runner, package_manager=manager.name, hostname=hostname
            ),
            clock=utc_now,
            interval=interval or identity.checkin_interval_seconds,
            scan_interval=timedelta(hours=scan_hours),
            refresh_before_scan=not no_refresh,
            rebooter=_rebooter(config, runner),
        )
        cycles = {"n": 0}

        def should_stop() -> bool:
            cycles["n"] += 1
            return stop.is_set() or (once and cycles["n"] > 1)

        def sleep(seconds: float) -> None:
            if interval is not None and agent.failures == 0:
                seconds = min(seconds, interval)
            if not once:
                stop.wait(seconds)

        with contextlib.suppress(KeyboardInterrupt):
            run_forever(
                agent, sleep=sleep, random=random.random, should_stop=should_stop
            )


@app.command("scan")
def scan_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    backend: Backend = "auto",
    apt_config: AptConfig = None,
    dnf_root: DnfRoot = None,
    refresh: Annotated[
        bool, typer.Option(help="Refresh repository metadata first.")
    ] = False,
    state_dir: StateDir = None,
    changelog_cves: ChangelogCves = ChangelogMode.SECURITY,
) -> None:
    """Scan this endpoint for missing patches, without a server."""
    config = _config(
        state_dir, backend, apt_config, dnf_root, None, changelog_cves=changelog_cves
    )
    manager = _manager(config, SubprocessRunner())
    report = scan(manager, clock=utc_now, order_id=None, refresh=refresh)
    if report.status != v1.ScanStatus.OK:
        err.print(f"[red]scan failed:[/red] {report.error}")
        raise typer.Exit(1)
    result = v1.LocalScan(
        backend=report.backend,
        reboot_required=report.reboot_required,
        updates=report.updates,
    )
    if json_output:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    out = Console()
    for u in result.updates:
        out.print(
            f"{u.name:40} {u.installed_version:>24} -> {u.candidate_version:<24} {u.classification:12} {u.state}"
        )
    out.print(
        f"{len(result.updates)} updates; reboot required: {result.reboot_required}"
    )


@app.command()
def status(state_dir: StateDir = None) -> None:
    """Show enrollment and spooled results."""
    config = _config(state_dir, "auto", None, None, None)
    identity = load_identity(config.identity_path)
    out = Console()
    out.print(f"patchfleet agent {patchfleet.__version__}")
    if identity is None:
        out.print("not enrolled")
        return
    outbox = Outbox(config.outbox_path)
    out.print(f"server {identity.server_url}, device {identity.device_id}")
    out.print(
        f"spooled results: {len(outbox.pending())}; refused: {outbox.dead_count()}"
    )
    out.print(f"last scan: {outbox.get('last_scan_at') or 'never'}")
    active = outbox.get_json(ACTIVE_KEY)
    if isinstance(active, dict):
        order_id = active["order"]["id"]
        out.print(f"install job {order_id} running, or cut off (the next run ends it)")
