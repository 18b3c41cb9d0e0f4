"""AptManager against the real apt and dpkg: lab endpoints, and this host read-only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.apt_lab import AptEndpoint, AptRepo, make_endpoint, require_lab
from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.managers.base import CommandFailedError
from patchfleet.agent.runner import SubprocessRunner
from patchfleet.core.updates import Classification as C
from patchfleet.core.updates import Update
from patchfleet.core.updates import UpdateState as S

pytestmark = pytest.mark.apt

OLD_VERSIONS = (
    "demo-tool=1.0-1", "demo-lib=1.0-1", "demo-held=1.0-1", "demo-phased=1.0-1",
    "firmware-demo=1.0-1", "demo-extra=1.0-1", "acme-agent=1.0-1", "demo-blocked=1.0-1",
)  # fmt: skip
# `apt list --upgradable` line, parsed here independently of the module under test
LIST_LINE = re.compile(
    r"^([^/\s:]+)(?::[^/\s]+)?/\S* (\S+) \S+ \[upgradable from: ([^\]]+)\]$", re.M
)


def apt_list(env: dict[str, str]) -> set[tuple[str, str, str]]:
    """(name, candidate, installed) of every line of the real ``apt list --upgradable``."""
    out = subprocess.run(
        ["apt", "list", "--upgradable"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(LIST_LINE.findall(out))


def manager(ep: AptEndpoint) -> AptManager:
    return AptManager(SubprocessRunner(), apt_config=ep.apt_config)


@dataclass(frozen=True)
class Scan:
    """One lab endpoint with every lab package at 1.0-1, demo-held held, scanned."""

    endpoint: AptEndpoint
    updates: dict[str, Update]


@pytest.fixture(scope="module")
def scan(apt_repo: AptRepo, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """Built once per module; tests only read the result (TESTLAB §9: never mutate)."""
    ep = make_endpoint(apt_repo, tmp_path_factory.mktemp("scan") / "ep")
    manager(ep).refresh()
    ep.install(*OLD_VERSIONS)
    ep.run("apt-mark", "hold", "demo-held")
    return Scan(ep, {u.name: u for u in manager(ep).upgradable()})


@pytest.mark.parametrize(
    ("name", "candidate", "classification", "state", "source"),
    [
        pytest.param("demo-tool", "1.0-2", C.SECURITY, S.INSTALLABLE, "Lab-Security:lab-security", id="security"),
        pytest.param("demo-lib", "1.1-1", C.BUGFIX, S.INSTALLABLE, "Lab:lab-updates", id="bugfix"),
        pytest.param("demo-extra", "2.0-1~bpo1", C.ENHANCEMENT, S.INSTALLABLE, "Lab Backports:lab-backports", id="enhancement"),
        pytest.param("acme-agent", "1.1-1", C.OTHER, S.INSTALLABLE, "Acme:thirdparty", id="third-party"),
        pytest.param("firmware-demo", "1.1-1", C.FIRMWARE, S.INSTALLABLE, "Lab:lab-updates", id="firmware"),
        pytest.param("demo-held", "1.0-2", C.SECURITY, S.HELD, "Lab-Security:lab-security", id="held"),
        pytest.param("demo-phased", "1.0-2", C.BUGFIX, S.PHASED, "Lab:lab-updates", id="phased"),
        pytest.param("demo-blocked", "1.1-1", C.BUGFIX, S.BLOCKED, "Lab:lab-updates", id="kept-back"),
    ],
)  # fmt: skip
def test_upgradable_on_lab_endpoint(
    scan: Scan, name: str, candidate: str, classification: C, state: S, source: str
) -> None:
    update = scan.updates[name]
    assert (update.installed_version, update.candidate_version) == ("1.0-1", candidate)
    assert (update.classification, update.state, update.source) == (classification, state, source)  # fmt: skip
    assert (update.arch, update.source_package) == ("all", name)


def test_upgradable_is_exactly_apt_list_on_endpoint(scan: Scan) -> None:
    found = {
        (u.name, u.candidate_version, u.installed_version)
        for u in scan.updates.values()
    }
    assert found == apt_list(scan.endpoint.env)
    assert len(found) == len(OLD_VERSIONS)


def test_installed_matches_endpoint_dpkg_database(scan: Scan) -> None:
    packages = manager(scan.endpoint).installed()
    assert {p.name: p.version for p in packages} == scan.endpoint.installed()
    assert ("demo-tool", "1.0-1", "all") in {
        (p.name, p.version, p.arch) for p in packages
    }


def test_refresh_unsigned_endpoint_fails(
    apt_endpoint: Callable[..., AptEndpoint],
) -> None:
    ep = apt_endpoint(suites=("lab",), signed=False)
    with pytest.raises(CommandFailedError) as info:
        manager(ep).refresh()
    assert "NO_PUBKEY" in info.value.message or "not signed" in info.value.message
    assert info.value.returncode == 100


def test_endpoints_are_isolated(apt_endpoint: Callable[..., AptEndpoint]) -> None:
    a = apt_endpoint("a", suites=("lab", "lab-security"))
    b = apt_endpoint("b", suites=("lab",))
    for ep, spec in ((a, "demo-tool=1.0-1"), (b, "demo-lib=1.0-1")):
        manager(ep).refresh()
        ep.install(spec)
    assert [u.name for u in manager(a).upgradable()] == ["demo-tool"]
    assert manager(b).upgradable() == []
    assert a.installed() == {"demo-tool": "1.0-1"}
    assert b.installed() == {"demo-lib": "1.0-1"}
    (a.root / "var/run").mkdir(parents=True)
    (a.root / "var/run/reboot-required").touch()
    assert (manager(a).reboot_required(), manager(b).reboot_required()) == (True, False)


def test_broken_endpoint_blocks_every_update(apt_endpoint: Callable[..., AptEndpoint], apt_repo: AptRepo) -> None:  # fmt: skip
    ep = apt_endpoint(suites=("lab", "lab-security", "lab-updates"))
    manager(ep).refresh()
    ep.install("demo-tool=1.0-1")
    deb = apt_repo.www / "pool/main/d/demo-blocked/demo-blocked_1.1-1_all.deb"
    force = "--force-depends,not-root" if os.geteuid() else "--force-depends"
    ep.run("dpkg", f"--root={ep.root}", f"--log={ep.root}/var/log/dpkg.log", force, "-i", str(deb))  # fmt: skip
    updates = manager(ep).upgradable()  # apt-get -s: "E: Unmet dependencies", rc 100
    assert [(u.name, u.state) for u in updates] == [("demo-tool", S.BLOCKED)]


@pytest.fixture
def host_env() -> dict[str, str]:
    """This host's environment without APT_CONFIG; skip if apt has no lists here."""
    lists = Path("/var/lib/apt/lists")
    if not shutil.which("apt") or not any(lists.glob("*_Packages*")):
        require_lab("this host has no apt package lists (run apt-get update)")
    return {k: v for k, v in os.environ.items() if k != "APT_CONFIG"} | {
        "LC_ALL": "C.UTF-8"
    }


def test_host_upgradable_is_exactly_apt_list(host_env: dict[str, str]) -> None:
    updates = AptManager(SubprocessRunner(base_env=host_env)).upgradable()
    found = {(u.name, u.candidate_version, u.installed_version) for u in updates}
    assert found == apt_list(host_env)
    assert all(u.source for u in updates)
