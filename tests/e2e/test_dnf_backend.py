"""DnfManager against real dnf 4 and rpm on lab installroots (TESTLAB.md §3)."""

from __future__ import annotations

import os
import time

import pytest

from lab.dnf_lab import DnfEndpoint, require_dnf_command
from patchfleet.agent.managers.base import CommandFailedError
from patchfleet.agent.managers.dnf import DnfManager
from patchfleet.agent.runner import SubprocessRunner
from patchfleet.core.updates import Classification, Severity, UpdateState

pytestmark = pytest.mark.dnf

LAB_PACKAGES = (
    "demo-tool", "demo-lib", "demo-extra", "demo-daemon", "demo-plain",
    "linux-firmware", "kmod-demo",
)  # fmt: skip
BROKEN_REPO = "Failed to download metadata for repo 'broken'"


def manager(ep: DnfEndpoint) -> DnfManager:
    return DnfManager(SubprocessRunner(), installroot=ep.root, releasever=ep.releasever)


def test_nothing_upgradable_until_updates_are_published(dnf_endpoint):
    ep = dnf_endpoint()
    ep.install(*LAB_PACKAGES)
    dnf = manager(ep)
    assert dnf.upgradable() == []
    installed = {p.name: (p.version, p.arch, p.source_name) for p in dnf.installed()}
    assert installed == {
        "demo-tool": ("1.0-1", "noarch", "demo-tool"),
        "demo-lib": ("1.0-1", "noarch", "demo-lib"),
        "demo-extra": ("1.0-1", "noarch", "demo-extra"),
        "demo-daemon": ("1.0-1", "noarch", "demo-daemon"),
        "demo-plain": ("1.0-1", "noarch", "demo-plain"),
        "linux-firmware": ("20240101-1", "noarch", "linux-firmware"),
        "kmod-demo": ("1:1.0-1", "noarch", "kmod-demo"),
    }
    assert ep.installed()["kmod-demo"] == "1.0-1"  # the lab helper omits the epoch


def test_published_updates_are_classified(dnf_endpoint):
    ep = dnf_endpoint()
    ep.install(*LAB_PACKAGES)
    ep.enable_updates()
    updates = {u.name: u for u in manager(ep).upgradable()}
    rows = {
        name: (
            u.installed_version,
            u.candidate_version,
            u.classification,
            u.advisory_id,
        )
        for name, u in updates.items()
    }
    assert rows == {
        "demo-tool": ("1.0-1", "1.0-2", Classification.SECURITY, "LAB-2024-0001"),
        "demo-lib": ("1.0-1", "1.1-1", Classification.BUGFIX, "LAB-2024-0002"),
        "demo-extra": ("1.0-1", "2.0-1", Classification.ENHANCEMENT, "LAB-2024-0003"),
        "demo-daemon": ("1.0-1", "1.0-2", Classification.CRITICAL, "LAB-2024-0004"),
        "demo-plain": ("1.0-1", "1.0-2", Classification.OTHER, ""),
        "linux-firmware": ("20240101-1", "20240201-1", Classification.FIRMWARE, ""),
        "kmod-demo": ("1:1.0-1", "1:1.0-2", Classification.DRIVER, ""),
    }
    tool = updates["demo-tool"]
    assert (tool.cves, tool.raw_severity, tool.severity) == (
        ("CVE-2024-0001",), "Important", Severity.HIGH,
    )  # fmt: skip
    assert (updates["demo-lib"].raw_severity, updates["demo-lib"].severity) == (
        "Moderate", Severity.MEDIUM,
    )  # fmt: skip
    assert {(u.source, u.state, u.arch) for u in updates.values()} == {
        ("updates", UpdateState.INSTALLABLE, "noarch")
    }


def test_excluded_and_versionlocked_updates_are_held(dnf_endpoint):
    ep = dnf_endpoint(updates_enabled=True)
    require_dnf_command(ep, "versionlock")
    ep.install("demo-tool-1.0-1", "demo-plain-1.0-1", "kmod-demo-1:1.0-1")
    ep.exclude("demo-plain")
    ep.versionlock("kmod-demo-1:1.0-1.*")
    states = {u.name: (u.state, u.classification) for u in manager(ep).upgradable()}
    assert states == {
        "demo-tool": (UpdateState.INSTALLABLE, Classification.SECURITY),
        "demo-plain": (UpdateState.HELD, Classification.OTHER),
        "kmod-demo": (UpdateState.HELD, Classification.DRIVER),
    }


def test_endpoints_are_isolated(dnf_endpoint):
    one, two = dnf_endpoint("one"), dnf_endpoint("two", updates_enabled=True)
    one.install("demo-tool")
    two.install("demo-lib-1.0-1")
    assert (one.installed(), two.installed()) == (
        {"demo-tool": "1.0-1"},
        {"demo-lib": "1.0-1"},
    )
    assert manager(one).upgradable() == []
    assert [(u.name, u.candidate_version) for u in manager(two).upgradable()] == [
        ("demo-lib", "1.1-1")
    ]


def test_refresh_then_broken_repo_fails_with_dnf_message(dnf_endpoint, rpm_repos):
    ep = dnf_endpoint()
    dnf = manager(ep)
    dnf.refresh()
    assert list((ep.root / "var/cache/dnf").glob("base-*/repodata/repomd.xml"))
    ep.add_repo("broken", (rpm_repos.root / "missing").as_uri())
    with pytest.raises(CommandFailedError, match=BROKEN_REPO) as refreshed:
        dnf.refresh()
    with pytest.raises(CommandFailedError, match=BROKEN_REPO) as scanned:
        dnf.upgradable()
    assert (refreshed.value.returncode, scanned.value.returncode) == (1, 1)


def test_reboot_required_after_linux_firmware_install(dnf_endpoint):
    ep = dnf_endpoint()
    require_dnf_command(ep, "needs-restarting")
    ep.install("demo-tool")
    dnf = manager(ep)
    assert dnf.reboot_required() is False
    # needs-restarting takes /proc/1's mtime as boot time and wants an installtime
    # (whole seconds) strictly after it; that mtime can be as fresh as the call above.
    time.sleep(max(0.0, os.stat("/proc/1").st_mtime + 1.1 - time.time()))
    ep.install("linux-firmware")  # in needs-restarting's list, installed after boot
    assert dnf.reboot_required() is True
