"""The install-job runner over FakePackageManager and a real outbox file.

Progress order (CFG-37), at-most-once execution, the crash-recovery state machine,
reboot decisions (DEC-11), the rebooters over a RecordedRunner, and the loop wiring
over ``httpx.MockTransport`` (no sockets).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from patchfleet.agent import cli
from patchfleet.agent.client import ServerClient
from patchfleet.agent.config import AgentConfig
from patchfleet.agent.jobs import (
    ACTIVE_KEY,
    JOB_KIND,
    JobContext,
    finish_interrupted,
    order_key,
    run_install,
)
from patchfleet.agent.loop import Agent, job_context, run_once
from patchfleet.agent.managers.base import CommandFailedError, InstallTarget
from patchfleet.agent.managers.fake import FakePackageManager
from patchfleet.agent.outbox import Outbox
from patchfleet.agent.reboot import (
    CommandRebooter,
    DisabledRebooter,
    RebootError,
    SystemRebooter,
)
from patchfleet.agent.runner import RecordedRunner
from patchfleet.core.jobs import PatchStatus as P
from patchfleet.core.jobs import RebootPolicy as R
from patchfleet.core.packages import Package
from patchfleet.core.updates import Classification, Update
from patchfleet.protocol import v1

TOOL = Package("demo-tool", "1.0-1", "all")
LIB = Package("demo-lib", "1.0-1", "all")


class KilledError(BaseException):
    """Stands for kill -9: nothing after it runs (not an Exception, so never caught)."""


@dataclass
class FakeRebooter:
    """Records reboot requests; fails them when ``error`` is set."""

    calls: list[str] = field(default_factory=list)
    error: str = ""

    def reboot(self, reason: str) -> None:
        self.calls.append(reason)
        if self.error:
            raise RebootError(self.error)


@dataclass
class CrashingManager(FakePackageManager):
    """Dies like ``kill -9`` installing ``crash_on`` (after moving it if ``moved``)."""

    crash_on: str = ""
    moved: bool = False

    def install(self, targets):
        if targets[0].name == self.crash_on:
            if self.moved:
                super().install(targets)
            raise KilledError
        return super().install(targets)


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def order(*targets, reboot=R.NEVER, order_id=None):
    return v1.Order(
        id=order_id or uuid.uuid4(),
        kind=v1.OrderKind.INSTALL,
        issued_at="2026-11-27T12:00:00Z",
        patches=[v1.PatchTarget(name=n, version=v, arch="all") for n, v in targets],
        reboot=reboot,
    )


def context(manager, outbox, clock, rebooter=None, **hooks):
    return JobContext(
        manager=manager,
        outbox=outbox,
        clock=clock,
        rebooter=rebooter or FakeRebooter(),
        **hooks,
    )


def reports(outbox):
    return [
        v1.JobReport.model_validate_json(m.payload)
        for m in outbox.pending()
        if m.kind == JOB_KIND
    ]


def statuses(report):
    return tuple(str(p.status) for p in report.patches)


# --- progress and outcomes -------------------------------------------------------


def test_each_step_is_spooled_before_it_is_published(outbox, clock):
    seen = []
    manager = FakePackageManager(packages=[TOOL, LIB])
    ctx = context(
        manager, outbox, clock, publish=lambda: seen.append(len(outbox.pending()))
    )
    assert run_install(ctx, order(("demo-tool", "1.0-2"), ("demo-lib", "1.1-1")))
    steps = [(statuses(r), r.final) for r in reports(outbox)]
    assert steps == [
        (("pending", "pending"), False),
        (("installing", "pending"), False),
        (("installed", "pending"), False),
        (("installed", "installing"), False),
        (("installed", "installed"), False),
        (("installed", "installed"), True),
    ]
    assert seen == [1, 2, 3, 4, 5, 6]  # each publish finds its report already spooled
    assert manager.installs == [
        InstallTarget("demo-tool", "1.0-2", "all"),
        InstallTarget("demo-lib", "1.1-1", "all"),
    ]
    assert {p.name: p.version for p in manager.packages} == {
        "demo-tool": "1.0-2",
        "demo-lib": "1.1-1",
    }
    assert outbox.get(order_key(reports(outbox)[0].order_id)) == "done"
    assert outbox.get_json(ACTIVE_KEY) is None


def test_one_failure_does_not_stop_the_other_targets(outbox, clock):
    message = "trying to overwrite '/usr/bin/demo-tool'"
    manager = FakePackageManager(
        packages=[TOOL, LIB, Package("demo-conflict", "1.0-1", "all")],
        failures={"demo-conflict": message},
    )
    job = order(("demo-conflict", "1.0-2"), ("demo-tool", "1.0-2"), ("gone", "2.0"))
    run_install(context(manager, outbox, clock), job)
    final = reports(outbox)[-1]
    assert final.final
    assert not final.failed  # per-patch failures; the server derives the job status
    outcomes = {p.name: (p.status, p.message) for p in final.patches}
    assert outcomes == {
        "demo-conflict": (P.FAILED, message),
        "demo-tool": (P.INSTALLED, ""),
        "gone": (P.NOT_APPLICABLE, "not installed"),
    }
    assert final.message.startswith("1 installed, 1 failed, 1 not_applicable")


@pytest.mark.parametrize(
    ("installed", "target", "expected"),
    [
        pytest.param("1.0-2", "1.0-2", "already at 1.0-2", id="at-target"),
        pytest.param("1.0-3", "1.0-2", "already at 1.0-3", id="past-target"),
        pytest.param("1:0.9-1", "1.0-2", "already at 1:0.9-1", id="epoch-wins"),
    ],
)
def test_targets_already_reached_are_not_applicable(
    outbox, clock, installed, target, expected
):
    manager = FakePackageManager(packages=[Package("demo-tool", installed, "all")])
    run_install(context(manager, outbox, clock), order(("demo-tool", target)))
    patch = reports(outbox)[-1].patches[0]
    assert (patch.status, patch.message) == (P.NOT_APPLICABLE, expected)
    assert manager.installs == []


def test_a_package_manager_error_fails_that_target_only(outbox, clock):
    class Broken(FakePackageManager):
        def install(self, targets):
            if targets[0].name == "demo-tool":
                raise CommandFailedError(["dpkg-query"], 2, "dpkg-query: error")
            return super().install(targets)

    manager = Broken(packages=[TOOL, LIB])
    run_install(
        context(manager, outbox, clock),
        order(("demo-tool", "1.0-2"), ("demo-lib", "1.1-1")),
    )
    final = reports(outbox)[-1]
    assert statuses(final) == ("failed", "installed")
    assert "dpkg-query: error" in final.patches[0].message


def test_long_messages_are_cut_to_the_protocol_limit(outbox, clock):
    manager = FakePackageManager(packages=[TOOL], failures={"demo-tool": "x" * 20_000})
    run_install(context(manager, outbox, clock), order(("demo-tool", "1.0-2")))
    assert len(reports(outbox)[-1].patches[0].message) == 8_192


# --- repair before installing ----------------------------------------------------


def test_an_interrupted_package_manager_is_repaired_first(outbox, clock):
    manager = FakePackageManager(packages=[TOOL], broken="demo-slow half-installed")
    run_install(context(manager, outbox, clock), order(("demo-tool", "1.0-2")))
    final = reports(outbox)[-1]
    assert manager.repairs == 1
    assert statuses(final) == ("installed",)
    assert "repaired the package manager first" in final.message
    assert "demo-slow half-installed" in final.message


def test_a_failed_repair_fails_the_job_without_installing(outbox, clock):
    manager = FakePackageManager(
        packages=[TOOL], broken="dpkg database locked", unrepairable=True
    )
    run_install(context(manager, outbox, clock), order(("demo-tool", "1.0-2")))
    final = reports(outbox)[-1]
    assert (final.final, final.failed) == (True, True)
    assert statuses(final) == ("failed",)
    assert "dpkg database locked" in final.patches[0].message
    assert manager.installs == []


# --- at most once ----------------------------------------------------------------


@pytest.mark.parametrize("mark", ["started", "done"])
def test_an_order_seen_before_never_runs_again(outbox, clock, mark):
    manager = FakePackageManager(packages=[TOOL])
    job = order(("demo-tool", "1.0-2"))
    outbox.set(order_key(job.id), mark)
    assert run_install(context(manager, outbox, clock), job) is False
    assert manager.installs == []
    assert reports(outbox) == []


def test_a_redelivered_order_runs_once(outbox, clock):
    manager = FakePackageManager(packages=[TOOL], failures={"demo-tool": "E: boom"})
    job = order(("demo-tool", "1.0-2"))
    ctx = context(manager, outbox, clock)
    assert [run_install(ctx, job), run_install(ctx, job)] == [True, False]
    assert len(manager.installs) == 1


# --- crash recovery --------------------------------------------------------------


def crash(outbox, clock, manager, job):
    with pytest.raises(KilledError):
        run_install(context(manager, outbox, clock), job)
    assert outbox.get(order_key(job.id)) == "started"
    assert outbox.get_json(ACTIVE_KEY) is not None


@pytest.mark.parametrize(
    ("moved", "lib_after", "broken", "expected", "message"),
    [
        pytest.param(
            False,
            "1.0-1",
            "demo-lib half-installed",
            ("installed", "failed", "failed"),
            "interrupted while installing (the agent stopped); demo-lib is at 1.0-1",
            id="cut-off-before-the-version-changed",
        ),
        pytest.param(
            True,
            "1.1-1",
            "",
            ("installed", "installed", "failed"),
            "at the target version after the interruption",
            id="cut-off-after-the-version-changed",
        ),
    ],
)
def test_next_start_finishes_a_job_cut_off_mid_install(
    outbox, clock, moved, lib_after, broken, expected, message
):
    extra = Package("demo-extra", "1.0-1", "all")
    job = order(("demo-tool", "1.0-2"), ("demo-lib", "1.1-1"), ("demo-extra", "2.0"))
    dying = CrashingManager(
        packages=[TOOL, LIB, extra], crash_on="demo-lib", moved=moved
    )
    crash(outbox, clock, dying, job)
    # the next process sees the package database as the crash left it
    after = FakePackageManager(
        packages=[
            Package("demo-tool", "1.0-2", "all"),
            Package("demo-lib", lib_after, "all"),
            extra,
        ],
        broken=broken,
    )
    rescans = []
    ctx = context(after, outbox, clock, rescan=lambda: rescans.append(1))
    assert finish_interrupted(ctx) == job.id
    final = reports(outbox)[-1]
    assert (final.final, statuses(final)) == (True, expected)
    assert final.patches[1].message.startswith(message)
    assert final.patches[2].message == "not attempted: the agent stopped first"
    assert broken in final.patches[1].message
    assert after.installs == []  # nothing is installed again
    assert after.repairs == (1 if broken else 0)
    assert rescans == [1]
    assert outbox.get(order_key(job.id)) == "done"
    assert finish_interrupted(ctx) is None  # finished once


def test_a_pending_target_already_reached_is_not_applicable(outbox, clock):
    job = order(("demo-tool", "1.0-2"), ("demo-lib", "1.1-1"))
    dying = CrashingManager(packages=[TOOL, LIB], crash_on="demo-tool")
    crash(outbox, clock, dying, job)
    after = FakePackageManager(packages=[TOOL, Package("demo-lib", "1.1-1", "all")])
    finish_interrupted(context(after, outbox, clock))
    assert statuses(reports(outbox)[-1]) == ("failed", "not_applicable")


def test_an_unreadable_package_database_fails_the_open_targets(outbox, clock):
    class Unreadable(FakePackageManager):
        def installed(self):
            raise CommandFailedError(["dpkg-query"], 2, "status database unreadable")

    job = order(("demo-tool", "1.0-2"))
    crash(outbox, clock, CrashingManager(packages=[TOOL], crash_on="demo-tool"), job)
    finish_interrupted(context(Unreadable(), outbox, clock))
    final = reports(outbox)[-1]
    assert final.final
    assert statuses(final) == ("failed",)
    assert "status database unreadable" in final.patches[0].message


def test_a_job_cut_off_while_rebooting_is_reported_rebooted(outbox, clock):
    class DyingRebooter:
        def reboot(self, reason):
            raise KilledError

    manager = FakePackageManager(packages=[TOOL])
    job = order(("demo-tool", "1.0-2"), reboot=R.FORCE)
    with pytest.raises(KilledError):
        run_install(context(manager, outbox, clock, DyingRebooter()), job)
    rebooter = FakeRebooter()
    assert finish_interrupted(context(manager, outbox, clock, rebooter)) == job.id
    final = reports(outbox)[-1]
    assert (final.final, final.rebooted, statuses(final)) == (
        True,
        True,
        ("installed",),
    )
    assert rebooter.calls == []  # never a second reboot


def test_nothing_to_finish_without_a_cut_off_job(outbox, clock):
    assert finish_interrupted(context(FakePackageManager(), outbox, clock)) is None
    assert outbox.pending() == []


# --- reboots (DEC-11) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "needs_reboot", "installs", "calls", "required"),
    [
        pytest.param(R.NEVER, True, True, 0, True, id="no-flags-it"),
        pytest.param(R.NEVER, False, True, 0, False, id="no-nothing-needed"),
        pytest.param(R.IF_REQUIRED, True, True, 1, True, id="yes-when-needed"),
        pytest.param(R.IF_REQUIRED, False, True, 0, False, id="yes-not-needed"),
        pytest.param(R.IF_REQUIRED, True, False, 0, True, id="yes-nothing-installed"),
        pytest.param(R.FORCE, False, True, 1, False, id="force-always"),
        pytest.param(R.FORCE, False, False, 1, False, id="force-even-if-nothing"),
    ],
)
def test_reboot_decisions(
    outbox, clock, policy, needs_reboot, installs, calls, required
):
    version = "1.0-2" if installs else "1.0-1"
    manager = FakePackageManager(packages=[TOOL], needs_reboot=needs_reboot)
    rebooter = FakeRebooter()
    run_install(
        context(manager, outbox, clock, rebooter),
        order(("demo-tool", version), reboot=policy),
    )
    final = reports(outbox)[-1]
    assert len(rebooter.calls) == calls
    assert (final.rebooted, final.reboot_required) == (calls == 1, required)
    assert ("rebooting" in [r.message for r in reports(outbox)]) == (calls == 1)


def test_installing_a_package_that_asks_for_a_reboot_triggers_it(outbox, clock):
    manager = FakePackageManager(packages=[TOOL], reboot_packages={"demo-tool"})
    rebooter = FakeRebooter()
    run_install(
        context(manager, outbox, clock, rebooter),
        order(("demo-tool", "1.0-2"), reboot=R.IF_REQUIRED),
    )
    assert len(rebooter.calls) == 1
    assert reports(outbox)[-1].rebooted


def test_a_failed_reboot_is_reported_not_rebooted(outbox, clock):
    manager = FakePackageManager(packages=[TOOL])
    rebooter = FakeRebooter(error="shutdown: permission denied")
    run_install(
        context(manager, outbox, clock, rebooter),
        order(("demo-tool", "1.0-2"), reboot=R.FORCE),
    )
    final = reports(outbox)[-1]
    assert (final.final, final.rebooted) == (True, False)
    assert "reboot failed: shutdown: permission denied" in final.message


# --- rebooters -------------------------------------------------------------------


def test_system_rebooter_schedules_a_delayed_shutdown():
    runner = RecordedRunner(programs={"shutdown": "/usr/sbin/shutdown"})
    runner.add(["shutdown", "-r", "+1", "why"])
    SystemRebooter(runner).reboot("why")
    assert runner.calls == [("shutdown", "-r", "+1", "why")]


def test_system_rebooter_falls_back_to_systemd():
    runner = RecordedRunner()
    runner.add(["systemctl", "reboot"])
    SystemRebooter(runner).reboot("why")
    assert runner.calls == [("systemctl", "reboot")]


def test_command_rebooter_runs_the_configured_command_and_reports_failures():
    runner = RecordedRunner()
    runner.add(["/lab/reboot-rec", "--log", "x"], stderr="disk full", returncode=2)
    with pytest.raises(RebootError, match="exited 2: disk full"):
        CommandRebooter(runner, ["/lab/reboot-rec", "--log", "x"]).reboot("why")
    assert runner.calls == [("/lab/reboot-rec", "--log", "x")]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, SystemRebooter, id="host"),
        pytest.param({"reboot_command": ("/lab/reboot-rec",)}, CommandRebooter, id="command"),
        pytest.param({"apt_config": Path("/ep/apt.conf")}, DisabledRebooter, id="apt-endpoint"),
        pytest.param({"dnf_installroot": Path("/ep")}, DisabledRebooter, id="dnf-endpoint"),
        pytest.param(
            {"apt_config": Path("/ep/apt.conf"), "reboot_command": ("/lab/reboot-rec",)},
            CommandRebooter,
            id="endpoint-with-command",
        ),
    ],
)  # fmt: skip
def test_the_cli_never_reboots_the_host_for_a_lab_endpoint(options, expected):
    config = AgentConfig(state_dir=Path("/state"), **options)
    assert type(cli._rebooter(config, RecordedRunner())) is expected


def test_an_agent_without_a_rebooter_refuses():
    with pytest.raises(RebootError, match="not configured"):
        DisabledRebooter().reboot("why")


# --- the loop: install orders after scan orders, reports posted ------------------


@dataclass
class StubServer:
    """Answers the agent API like the server would; records what was posted."""

    orders: list[v1.Order]
    posted: list[tuple[str, dict]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.posted.append((request.url.path, body))
        if request.url.path == "/agent/v1/checkin":
            answer = v1.CheckInResponse(
                inventory=v1.InventoryWanted.NONE,
                orders=self.orders,
                checkin_interval_seconds=60,
            )
            return httpx.Response(200, content=answer.model_dump_json())
        return httpx.Response(204)

    def paths(self):
        return [path for path, _ in self.posted]


def test_the_loop_runs_scans_then_installs_once_and_posts_the_reports(outbox, clock):
    install = order(("demo-tool", "1.0-2"))
    scan = v1.Order(id=uuid.uuid4(), kind=v1.OrderKind.SCAN, issued_at=clock())
    server = StubServer([install, scan])
    manager = FakePackageManager(
        packages=[TOOL],
        updates=[Update("demo-tool", "1.0-1", "1.0-2", "all", Classification.SECURITY)],
    )
    http = httpx.Client(transport=httpx.MockTransport(server), base_url="http://x")
    agent = Agent(
        client=ServerClient(http, "credential"),
        manager=manager,
        outbox=outbox,
        facts=lambda: v1.Facts(hostname="h"),
        clock=clock,
        interval=60,
    )
    run_once(agent, random_unit=0.5)
    run_once(agent, random_unit=0.5)  # the server hands out the same orders again
    assert len(manager.installs) == 1
    jobs = [body for path, body in server.posted if path == "/agent/v1/jobs"]
    assert [j["final"] for j in jobs] == [False] * 3 + [True]
    scans = [body for path, body in server.posted if path == "/agent/v1/scans"]
    # scheduled scan, the scan order, then the fresh scan after the install
    assert [s["order_id"] for s in scans] == [None, str(scan.id), None]
    assert [len(s["updates"]) for s in scans] == [1, 1, 0]
    paths = server.paths()
    last_scan = len(paths) - 1 - paths[::-1].index("/agent/v1/scans")
    after = [body for path, body in server.posted[last_scan:] if path.endswith("jobs")]
    assert [j["final"] for j in after] == [True]  # rescanned before the final report
    assert outbox.pending() == []


def test_reports_wait_in_the_outbox_while_the_server_is_away(outbox, clock):
    def down(request):
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(down), base_url="http://x")
    agent = Agent(
        client=ServerClient(http, "credential"),
        manager=FakePackageManager(packages=[TOOL]),
        outbox=outbox,
        facts=lambda: v1.Facts(hostname="h"),
        clock=clock,
        interval=60,
    )
    run_install(job_context(agent), order(("demo-tool", "1.0-2")))
    assert [r.final for r in reports(outbox)] == [False] * 3 + [True]
