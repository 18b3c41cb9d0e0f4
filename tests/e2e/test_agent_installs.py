"""Real installs on lab endpoints: apt/dpkg and dnf/rpm, reboots, kill -9 mid-dpkg.

No mocks: the real package managers install the lab packages of
``build_apt_repo.sh`` / ``build_rpm_repo.sh`` (``demo-conflict`` ships a file of
``demo-tool``, ``demo-slow``'s preinst waits, ``demo-reboot``'s postinst asks for a
reboot). Tests through the server approve and Install Now via the API and run the
real agent (``python -m patchfleet agent run --once``).

Decision tested here: a target whose version the repositories no longer offer is
FAILED with apt's (dnf's) message, not "not applicable": the endpoint did not get
the fix, and the next scan shows what replaced it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from patchfleet.agent.jobs import JobContext, run_install
from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.managers.base import InstallTarget
from patchfleet.agent.managers.dnf import DnfManager
from patchfleet.agent.outbox import Outbox
from patchfleet.agent.reboot import CommandRebooter
from patchfleet.agent.runner import SubprocessRunner
from patchfleet.core.jobs import PatchStatus as P
from patchfleet.core.jobs import RebootPolicy as R
from patchfleet.protocol import v1
from support.agents import LabAgent, apt_agent
from support.clock import FakeClock
from support.waiting import wait_until

FINAL = ("completed", "failed")


def apt_manager(ep) -> AptManager:
    return AptManager(SubprocessRunner(), apt_config=ep.apt_config)


def dnf_manager(ep) -> DnfManager:
    return DnfManager(SubprocessRunner(), installroot=ep.root, releasever=ep.releasever)


def audit(ep) -> str:
    admindir = f"--admindir={ep.root}/var/lib/dpkg"
    return ep.run("dpkg", admindir, "--audit").stdout.strip()


def by_name(results):
    return {r.target.name: (r.status, r.message) for r in results}


# --- apt: the adapter on a real dpkg database --------------------------------------


@pytest.mark.apt
def test_apt_installs_exact_versions_one_by_one(apt_endpoint):
    ep = apt_endpoint()
    ep.update()
    ep.install("demo-tool=1.0-1", "demo-lib=1.0-1", "demo-extra=1.0-1")
    results = apt_manager(ep).install(
        [
            InstallTarget("demo-tool", "1.0-2", "all"),
            InstallTarget("demo-lib", "1.0-1", "all"),  # already there
            InstallTarget("demo-extra", "9.9-1", "all"),  # no longer offered
            InstallTarget("demo-phased", "1.0-2", "all"),  # not installed
        ]
    )
    assert by_name(results) == {
        "demo-tool": (P.INSTALLED, ""),
        "demo-lib": (P.NOT_APPLICABLE, "already at 1.0-1"),
        "demo-extra": (P.FAILED, "E: Version '9.9-1' for 'demo-extra' was not found"),
        "demo-phased": (P.NOT_APPLICABLE, "not installed"),
    }
    # exact versions only: demo-lib 1.1-1 is available but was not asked for (MP-12)
    assert ep.installed() == {
        "demo-tool": "1.0-2",
        "demo-lib": "1.0-1",
        "demo-extra": "1.0-1",
    }


@pytest.mark.apt
def test_apt_conflicting_file_fails_with_dpkg_message_and_others_install(
    apt_endpoint,
):
    ep = apt_endpoint()
    ep.update()
    ep.install("demo-tool=1.0-1", "demo-conflict=1.0-1", "demo-lib=1.0-1")
    results = apt_manager(ep).install(
        [
            InstallTarget("demo-conflict", "1.0-2", "all"),
            InstallTarget("demo-lib", "1.1-1", "all"),
        ]
    )
    status, message = by_name(results)["demo-conflict"]
    assert status == P.FAILED
    assert (
        "trying to overwrite '/usr/bin/demo-tool', which is also in package "
        "demo-tool 1.0-1" in message
    )
    assert by_name(results)["demo-lib"] == (P.INSTALLED, "")
    assert ep.installed()["demo-conflict"] == "1.0-1"  # dpkg rolled it back
    assert ep.installed()["demo-lib"] == "1.1-1"
    assert audit(ep) == ""


# --- reboots (DEC-11) with a recording reboot command ("reboot-rec") ---------------


def reboot_recorder(tmp_path: Path) -> tuple[list[str], Path]:
    """A lab script that records each call instead of rebooting."""
    calls = tmp_path / "reboot-calls"
    script = tmp_path / "reboot-rec"
    script.write_text(f'#!/bin/sh\necho "$PATCHFLEET_REBOOT_REASON" >> {calls}\n')
    script.chmod(0o755)
    return [str(script)], calls


def recorded_calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.apt
@pytest.mark.parametrize(
    ("policy", "package", "calls", "required"),
    [
        pytest.param(R.IF_REQUIRED, "demo-reboot", 1, True, id="yes-marker"),
        pytest.param(R.IF_REQUIRED, "demo-lib", 0, False, id="yes-no-marker"),
        pytest.param(R.NEVER, "demo-reboot", 0, True, id="no-flags-it"),
        pytest.param(R.FORCE, "demo-lib", 1, False, id="force"),
    ],
)
def test_reboot_policy_on_a_real_install(
    apt_endpoint, tmp_path, policy, package, calls, required
):
    ep = apt_endpoint()
    ep.update()
    ep.install(f"{package}=1.0-1")
    version = {"demo-reboot": "1.0-2", "demo-lib": "1.1-1"}[package]
    argv, log = reboot_recorder(tmp_path)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    ctx = JobContext(
        manager=apt_manager(ep),
        outbox=outbox,
        clock=FakeClock(),
        rebooter=CommandRebooter(SubprocessRunner(), argv),
    )
    order = v1.Order(
        id="6d1f0cbb-56b4-4d0e-9b59-7d33d4d5a8a1",
        kind=v1.OrderKind.INSTALL,
        issued_at=FakeClock()(),
        patches=[v1.PatchTarget(name=package, version=version, arch="all")],
        reboot=policy,
    )
    run_install(ctx, order)
    final = v1.JobReport.model_validate_json(outbox.pending()[-1].payload)
    outbox.close()
    assert final.final
    assert [p.status for p in final.patches] == [P.INSTALLED]
    assert (final.reboot_required, final.rebooted) == (required, calls == 1)
    assert recorded_calls(log) == [f"patchfleet install job {order.id}"] * calls
    assert (ep.root / "var/run/reboot-required").exists() == (package == "demo-reboot")


# --- dnf: the adapter on a real rpm database ---------------------------------------


@pytest.mark.dnf
def test_dnf_installs_exact_nevras_and_reports_dnf_message(dnf_endpoint):
    ep = dnf_endpoint()
    ep.install("demo-tool", "demo-conflict", "kmod-demo", "demo-lib")
    ep.enable_updates()
    results = dnf_manager(ep).install(
        [
            InstallTarget("demo-tool", "1.0-2", "noarch"),
            InstallTarget("demo-conflict", "1.0-2", "noarch"),
            InstallTarget("kmod-demo", "1:1.0-2", "noarch"),
            InstallTarget("demo-lib", "9.9-1", "noarch"),
        ]
    )
    outcomes = by_name(results)
    assert outcomes["demo-tool"] == (P.INSTALLED, "")
    assert outcomes["kmod-demo"] == (P.INSTALLED, "")
    assert outcomes["demo-conflict"][0] == P.FAILED
    assert (
        "file /usr/bin/demo-tool from install of demo-conflict-1.0-2.noarch conflicts"
        " with file from package demo-tool-1.0-2.noarch" in outcomes["demo-conflict"][1]
    )
    assert outcomes["demo-lib"] == (
        P.FAILED,
        "Error: Unable to find a match: demo-lib-9.9-1.noarch",
    )
    assert ep.installed() == {
        "demo-tool": "1.0-2",
        "demo-conflict": "1.0-1",
        "kmod-demo": "1.0-2",
        "demo-lib": "1.0-1",  # 1.1-1 is available but was not asked for (MP-12)
    }


@pytest.mark.dnf
def test_dnf_repair_removes_what_an_interrupted_transaction_left(
    dnf_endpoint, rpm_repos
):
    ep = dnf_endpoint()
    ep.install("demo-tool")
    dnf = dnf_manager(ep)
    assert dnf.repair() is None
    # what an rpm transaction cut off after installing the new version leaves
    new = rpm_repos.updates / "demo-tool-1.0-2.noarch.rpm"
    rpm = ["rpm", "--root", str(ep.root), "-i", "--replacefiles", str(new)]
    subprocess.run(rpm, check=True, capture_output=True)
    report = dnf.repair()
    assert report is not None
    assert report.found == (
        "demo-tool-1.0-1.noarch is a duplicate with demo-tool-1.0-2.noarch"
    )
    assert report.is_repaired, report.summary
    assert ep.installed() == {"demo-tool": "1.0-2"}
    assert dnf.repair() is None


# --- through the server: approve, Install Now, the real agent ----------------------


class Fleet:
    """The live server's admin API and one client's enrollment token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.admin = {"Authorization": f"Bearer {token}"}
        client = self.post("/api/v1/clients", {"name": "Acme"}).json()
        tokens = f"/api/v1/clients/{client['id']}/enrollment-tokens"
        self.enrollment_token = self.post(tokens, {}).json()["token"]

    def post(self, path: str, body: dict) -> httpx.Response:
        r = httpx.post(f"{self.url}{path}", json=body, headers=self.admin, timeout=30)
        assert r.status_code < 300, r.text
        return r

    def get(self, path: str) -> dict:
        r = httpx.get(f"{self.url}{path}", headers=self.admin, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def device_id(self, hostname: str) -> str:
        items = self.get("/api/v1/devices")["items"]
        return next(d["id"] for d in items if d["hostname"] == hostname)

    def install_now(self, agent: LabAgent, patch_ids: list[str], reboot: str) -> str:
        self.post("/api/v1/patches/approve", {"patch_ids": patch_ids})
        body = {
            "device_ids": [self.device_id(agent.hostname)],
            "patch_ids": patch_ids,
            "reboot": reboot,
        }
        [job_id] = self.post("/api/v1/install-now", body).json()["jobs"]
        return str(job_id)

    def job(self, job_id: str) -> dict:
        return self.get(f"/api/v1/jobs/{job_id}")

    def missing(self, hostname: str) -> set[str]:
        patches = self.get(f"/api/v1/devices/{self.device_id(hostname)}/patches")
        return {p["name"] for p in patches}


@pytest.fixture
def fleet(live_server):
    return Fleet(live_server.url, live_server.admin_token())


def enrolled_apt_agent(fleet, apt_endpoint, tmp_path, host, *packages):
    ep = apt_endpoint(host)
    ep.update()
    ep.install(*packages)
    agent = apt_agent(tmp_path, host, ep.apt_config)
    agent.enroll(fleet.url, fleet.enrollment_token)
    agent.run("run", "--once")  # first inventory and scan
    return ep, agent


@pytest.mark.apt
def test_install_now_through_the_server_with_the_real_agent(
    fleet, apt_endpoint, tmp_path
):
    ep, agent = enrolled_apt_agent(
        fleet, apt_endpoint, tmp_path, "apt-1",
        "demo-tool=1.0-1", "demo-conflict=1.0-1", "demo-reboot=1.0-1",
    )  # fmt: skip
    assert {"demo-tool", "demo-conflict", "demo-reboot"} <= fleet.missing("apt-1")
    conffile = ep.root / "etc/demo-reboot.conf"
    conffile.write_text("setting=local\n")  # dpkg would ask what to do with it
    patch_ids = [
        "apt:demo-tool@1.0-2",
        "apt:demo-conflict@1.0-2",
        "apt:demo-reboot@1.0-2",
    ]
    job_id = fleet.install_now(agent, patch_ids, reboot="yes")
    argv, log = reboot_recorder(tmp_path)
    agent.run("run", "--once", "--reboot-command", " ".join(argv))
    job = fleet.job(job_id)
    patches = {p["name"]: (p["status"], p["message"]) for p in job["patches"]}
    assert job["status"] == "failed"  # one patch failed; the others installed
    assert patches["demo-tool"] == ("installed", "")
    assert patches["demo-reboot"] == ("installed", "")
    assert patches["demo-conflict"][0] == "failed"
    assert "trying to overwrite '/usr/bin/demo-tool'" in patches["demo-conflict"][1]
    assert (job["reboot_required"], job["rebooted"]) == (True, True)
    assert recorded_calls(log) == [f"patchfleet install job {job_id}"]
    assert ep.installed() == {
        "demo-tool": "1.0-2",
        "demo-conflict": "1.0-1",
        "demo-reboot": "1.0-2",
    }
    assert conffile.read_text() == "setting=local\n"  # kept, without a prompt
    # the fresh scan after the install: only the failed patch is still missing
    assert fleet.missing("apt-1") == {"demo-conflict"}
    agent.run("run", "--once", "--reboot-command", " ".join(argv))
    assert len(recorded_calls(log)) == 1  # the order ran once


@pytest.mark.apt
def test_kill_9_mid_dpkg_is_repaired_and_reported_at_the_next_start(
    fleet, apt_endpoint, tmp_path
):
    ep, agent = enrolled_apt_agent(
        fleet, apt_endpoint, tmp_path, "apt-slow", "demo-slow=1.0-1", "demo-tool=1.0-1"
    )
    job_id = fleet.install_now(
        agent, ["apt:demo-slow@1.0-2", "apt:demo-tool@1.0-2"], reboot="force"
    )
    argv, log = reboot_recorder(tmp_path)
    started = ep.root / "var/lib/demo-slow/preinst-started"
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    with agent.log.open("ab") as out:
        proc = subprocess.Popen(
            agent.argv("run", "--once", "--reboot-command", " ".join(argv)),
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group: agent, apt-get, dpkg, sh
        )
    try:
        wait_until(started.exists, timeout=120, what="demo-slow's preinst")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # like systemd killing the whole unit
        proc.wait(30)
    assert fleet.job(job_id)["status"] == "running"  # progress arrived, no end
    assert "demo-slow" in audit(ep)  # dpkg was interrupted inside the preinst

    agent.run("run", "--once", "--reboot-command", " ".join(argv))
    job = fleet.job(job_id)
    assert job["status"] in FINAL
    assert job["completed_at"] is not None
    patches = {p["name"]: (p["status"], p["message"]) for p in job["patches"]}
    assert {status for status, _ in patches.values()} <= {"installed", "failed"}
    status, message = patches["demo-slow"]
    assert status == "failed"
    assert message.startswith("interrupted while installing (the agent stopped)")
    assert "They must be reinstalled" in message  # dpkg --audit's own words
    assert "demo-slow 1.0-1 iHR" in message  # dpkg's state: half-installed
    assert "--configure -a" in message  # the repair it ran
    assert audit(ep) == ""  # the endpoint's dpkg is consistent again
    assert ep.installed()["demo-slow"] == "1.0-1"  # reinstalled as dpkg recorded it
    assert recorded_calls(log) == []  # no reboot after an interrupted job
    assert "interrupted" in job["message"]
