"""Golden tests of the dnf backend's parsers, and DnfManager over recorded outputs.

Fixtures are real dnf 4.14 / rpm 4.18 output from the lab (tests/fixtures/dnf/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patchfleet.agent.managers.base import CommandFailedError, InstallTarget, ParseError
from patchfleet.agent.managers.dnf import (
    Advisory,
    Candidate,
    DnfManager,
    classify,
    evr,
    nevra,
    parse_check_update,
    parse_dnf_check,
    parse_needs_restarting,
    parse_repoquery,
    parse_rpm_query,
    parse_updateinfo_info,
    parse_updateinfo_list,
)
from patchfleet.agent.runner import RecordedRunner
from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import Classification, Severity, Update, UpdateState

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dnf"

DNF = ("dnf", "-q")
CHECK_UPDATE = (*DNF, "check-update")
REPOQUERY = (
    *DNF, "repoquery", "--upgrades", "--latest-limit=1", "--disableexcludes=all",
    "--qf", "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{reponame}",
)  # fmt: skip
UPDATEINFO_LIST = (*DNF, "updateinfo", "list", "--updates", "--disableexcludes=all")
UPDATEINFO_INFO = (*DNF, "updateinfo", "info", "--updates", "--disableexcludes=all")
RPM_QA = (
    "rpm",
    "-qa",
    "--qf",
    "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n",
)
NEEDS_RESTARTING = (*DNF, "needs-restarting", "-r")
BROKEN_REPO = "Error: Failed to download metadata for repo 'broken'"


def golden(name: str) -> str:
    return (FIXTURES / name).read_text()


def lab_package(name: str, version: str) -> Package:
    return Package(name, version, "noarch", name, version)


def cand(name: str, version: str) -> Candidate:
    return Candidate(name, "noarch", version, "updates")


# --- rpm ---------------------------------------------------------------------------


def test_parse_rpm_query_golden_skips_gpg_pubkey():
    assert parse_rpm_query(golden("rpm-4.18-qa.txt")) == [
        lab_package("linux-firmware", "20240101-1"),
        lab_package("kmod-demo", "1:1.0-1"),
        lab_package("demo-tool", "1.0-1"),
        lab_package("demo-plain", "1.0-1"),
        lab_package("demo-lib", "1.0-1"),
        lab_package("demo-extra", "1.0-1"),
        lab_package("demo-daemon", "1.0-1"),
    ]


@pytest.mark.parametrize(
    ("epoch", "version", "release", "expected"),
    [
        pytest.param("0", "1.0", "1", "1.0-1", id="epoch-0-omitted"),
        pytest.param("(none)", "1.0", "1", "1.0-1", id="epoch-none-omitted"),
        pytest.param("", "1.0", "1", "1.0-1", id="epoch-empty-omitted"),
        pytest.param("1", "1.0", "2.el9", "1:1.0-2.el9", id="epoch-kept"),
    ],
)
def test_evr(epoch, version, release, expected):
    assert evr(epoch, version, release) == expected


def test_parse_rpm_query_source_from_subpackage_srpm():
    line = "openssl-libs|1|3.0.7|25.el9_3|x86_64|openssl-3.0.7-25.el9_3.src.rpm\n"
    assert parse_rpm_query(line) == [
        Package(
            "openssl-libs", "1:3.0.7-25.el9_3", "x86_64", "openssl", "1:3.0.7-25.el9_3"
        )
    ]


# --- repoquery and check-update ----------------------------------------------------


def test_parse_repoquery_golden():
    assert parse_repoquery(golden("dnf-4.14-repoquery-upgrades.txt")) == [
        cand("demo-daemon", "1.0-2"),
        cand("demo-extra", "2.0-1"),
        cand("demo-lib", "1.1-1"),
        cand("demo-plain", "1.0-2"),
        cand("demo-tool", "1.0-2"),
        cand("kmod-demo", "1:1.0-2"),
        cand("linux-firmware", "20240201-1"),
    ]


LONG = "python3-demo-azure-mgmt-recoveryservicesbackup-passivestamp"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param("dnf-4.14-check-update-none.txt", [], id="none"),
        pytest.param(
            "dnf-4.14-check-update.txt",
            [
                cand("demo-daemon", "1.0-2"),
                cand("demo-extra", "2.0-1"),
                cand("demo-lib", "1.1-1"),
                cand("demo-tool", "1.0-2"),
                cand("linux-firmware", "20240201-1"),
            ],
            id="held-ones-missing",
        ),
        pytest.param(
            "dnf-4.14-check-update-wrapped.txt",
            [
                cand("demo-multi", "1.0-2"),
                cand("demo-nosev", "1.0-2"),
                cand(LONG, "1.0.0-2"),
            ],
            id="long-name-wrapped",
        ),
    ],
)
def test_parse_check_update_golden(fixture, expected):
    assert parse_check_update(golden(fixture)) == expected


def test_parse_check_update_ignores_obsoletes_and_kernel_notes():
    stdout = (
        "\nfoo.x86_64    1.1-1    baseos\n"
        "Obsoleting Packages\n"
        "bar.x86_64    2.0-1    baseos\n    baz.x86_64    1.0-1    @System\n"
        "Security: kernel-5.14.0-1.x86_64 is an installed security update\n"
    )
    assert parse_check_update(stdout) == [Candidate("foo", "x86_64", "1.1-1", "baseos")]


# --- updateinfo --------------------------------------------------------------------


def test_parse_updateinfo_list_golden():
    assert parse_updateinfo_list(golden("dnf-4.14-updateinfo-list.txt")) == {
        ("demo-daemon", "noarch"): [Advisory("LAB-2024-0004", "bugfix")],
        ("demo-extra", "noarch"): [Advisory("LAB-2024-0003", "enhancement")],
        ("demo-lib", "noarch"): [Advisory("LAB-2024-0002", "bugfix")],
        ("demo-tool", "noarch"): [Advisory("LAB-2024-0001", "security", "Important")],
    }


def test_parse_updateinfo_list_golden_two_advisories_and_unknown_severity():
    assert parse_updateinfo_list(golden("dnf-4.14-updateinfo-list-extra.txt")) == {
        ("demo-multi", "noarch"): [
            Advisory("LAB-2024-0101", "security", "Moderate"),
            Advisory("LAB-2024-0102", "bugfix"),
        ],
        ("demo-nosev", "noarch"): [Advisory("LAB-2024-0103", "security")],
        (LONG, "noarch"): [Advisory("LAB-2024-0104", "newpackage")],
    }


def test_parse_updateinfo_info_golden():
    assert parse_updateinfo_info(golden("dnf-4.14-updateinfo-info.txt")) == {
        "LAB-2024-0004": Advisory("LAB-2024-0004", "bugfix", "Critical"),
        "LAB-2024-0003": Advisory("LAB-2024-0003", "enhancement"),
        "LAB-2024-0002": Advisory("LAB-2024-0002", "bugfix", "Moderate"),
        "LAB-2024-0001": Advisory(
            "LAB-2024-0001", "security", "Important", ("CVE-2024-0001",)
        ),
    }


def test_parse_updateinfo_info_golden_continuation_lines():
    cves = ("CVE-2024-0102", "CVE-2024-0103")
    assert parse_updateinfo_info(golden("dnf-4.14-updateinfo-info-extra.txt")) == {
        "LAB-2024-0102": Advisory("LAB-2024-0102", "bugfix", "Low"),
        "LAB-2024-0103": Advisory("LAB-2024-0103", "security"),
        "LAB-2024-0101": Advisory("LAB-2024-0101", "security", "Moderate", cves),
        "LAB-2024-0104": Advisory("LAB-2024-0104", "newpackage"),
    }


# --- needs-restarting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param("dnf-4.14-needs-restarting-reboot.txt", True, id="reboot"),
        pytest.param("dnf-4.14-needs-restarting-no-reboot.txt", False, id="no-reboot"),
        pytest.param(
            "dnf-4.14-needs-restarting-missing.stderr.txt", None, id="no-verdict"
        ),
    ],
)
def test_parse_needs_restarting_golden(fixture, expected):
    assert parse_needs_restarting(golden(fixture)) is expected


# --- malformed output --------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "stdout", "message"),
    [
        pytest.param(parse_rpm_query, "bash|0|5.1\n", r"6 '\|'-separated fields: 'bash\|0\|5.1'", id="rpm-short"),
        pytest.param(parse_rpm_query, "bash|0|5.1|8|x86_64|bash.rpm\n", "SOURCERPM 'bash.rpm'", id="rpm-srpm"),
        pytest.param(parse_repoquery, "Last metadata expiration check\n", "fields", id="repoquery-prose"),
        pytest.param(parse_check_update, "\nfoo.x86_64 1.0-1 base\nbar.x86_64 1.0-1\n", "line 3: incomplete", id="check-update-short"),
        pytest.param(parse_check_update, "foo 1.0-1 base\n", "line 1: bad entry 'foo'", id="check-update-no-arch"),
        pytest.param(parse_updateinfo_list, "LAB-1 bugfix\n", "updateinfo list line 1", id="list-short"),
        pytest.param(parse_updateinfo_list, "LAB-1 bugfix foo.noarch\n", "name-version-release.arch", id="list-nevra"),
        pytest.param(parse_updateinfo_info, "garbage\n", "updateinfo info line 1: 'garbage'", id="info-garbage"),
        pytest.param(parse_updateinfo_info, "  Update ID: X\n", "line 1", id="info-no-header"),
        pytest.param(parse_updateinfo_info, "=" * 79 + "\n t\n" + "=" * 79 + "\n  Type: bugfix\n", "lacks id or type", id="info-no-id"),
    ],
)  # fmt: skip
def test_parsers_reject_malformed_output(parse, stdout, message):
    with pytest.raises(ParseError, match=message):
        parse(stdout)


# --- classification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "advisories", "expected"),
    [
        pytest.param("demo-tool", [Advisory("A", "security", "Important")], Classification.SECURITY, id="security"),
        pytest.param("demo-lib", [Advisory("A", "bugfix", "Moderate")], Classification.BUGFIX, id="bugfix"),
        pytest.param("demo-lib", [Advisory("A", "bugfix", "Critical")], Classification.CRITICAL, id="critical-bugfix"),
        pytest.param("demo-x", [Advisory("A", "enhancement", "Critical")], Classification.ENHANCEMENT, id="critical-enhancement"),
        pytest.param("demo-extra", [Advisory("A", "enhancement")], Classification.ENHANCEMENT, id="enhancement"),
        pytest.param("demo-new", [Advisory("A", "newpackage")], Classification.ENHANCEMENT, id="newpackage"),
        pytest.param("demo-x", [Advisory("A", "unknown")], Classification.OTHER, id="unknown-type"),
        pytest.param("demo-plain", [], Classification.OTHER, id="no-advisory"),
        pytest.param("linux-firmware", [], Classification.FIRMWARE, id="firmware-suffix"),
        pytest.param("microcode_ctl", [], Classification.FIRMWARE, id="microcode"),
        pytest.param("kmod-demo", [], Classification.DRIVER, id="kmod-prefix"),
        pytest.param("firmware-tools", [], Classification.OTHER, id="firmware-prefix-no-rule"),
        pytest.param("linux-firmware", [Advisory("A", "security")], Classification.SECURITY, id="security-beats-firmware"),
        pytest.param("kmod-demo", [Advisory("A", "bugfix")], Classification.DRIVER, id="driver-beats-bugfix"),
        pytest.param("demo-multi", [Advisory("A", "bugfix"), Advisory("B", "security")], Classification.SECURITY, id="two-advisories"),
    ],
)  # fmt: skip
def test_classify(name, advisories, expected):
    assert classify(name, advisories) is expected


# --- DnfManager over recorded outputs ----------------------------------------------


def recorded_lab() -> RecordedRunner:
    """The main scenario: seven updates, demo-plain excluded, kmod-demo versionlocked."""
    runner = RecordedRunner()
    runner.add(CHECK_UPDATE, golden("dnf-4.14-check-update.txt"), returncode=100)
    runner.add(REPOQUERY, golden("dnf-4.14-repoquery-upgrades.txt"))
    runner.add(UPDATEINFO_LIST, golden("dnf-4.14-updateinfo-list.txt"))
    runner.add(UPDATEINFO_INFO, golden("dnf-4.14-updateinfo-info.txt"))
    runner.add(RPM_QA, golden("rpm-4.18-qa.txt"))
    return runner


def lab_update(name: str, old: str, new: str, **fields: Any) -> Update:
    return Update(
        name, old, new, "noarch", source="updates", source_package=name, **fields
    )


def test_upgradable_over_recorded_lab_outputs():
    assert DnfManager(recorded_lab()).upgradable() == [
        lab_update(
            "demo-daemon", "1.0-1", "1.0-2", classification=Classification.CRITICAL,
            severity=Severity.CRITICAL, raw_severity="Critical", advisory_id="LAB-2024-0004",
        ),
        lab_update(
            "demo-extra", "1.0-1", "2.0-1", classification=Classification.ENHANCEMENT,
            advisory_id="LAB-2024-0003",
        ),
        lab_update(
            "demo-lib", "1.0-1", "1.1-1", classification=Classification.BUGFIX,
            severity=Severity.MEDIUM, raw_severity="Moderate", advisory_id="LAB-2024-0002",
        ),
        lab_update("demo-plain", "1.0-1", "1.0-2", state=UpdateState.HELD),
        lab_update(
            "demo-tool", "1.0-1", "1.0-2", classification=Classification.SECURITY,
            severity=Severity.HIGH, raw_severity="Important", advisory_id="LAB-2024-0001",
            cves=("CVE-2024-0001",),
        ),
        lab_update(
            "kmod-demo", "1:1.0-1", "1:1.0-2", classification=Classification.DRIVER,
            state=UpdateState.HELD,
        ),
        lab_update("linux-firmware", "20240101-1", "20240201-1", classification=Classification.FIRMWARE),
    ]  # fmt: skip


def test_upgradable_picks_strongest_advisory_and_merges_cves():
    runner = RecordedRunner()
    runner.add(
        CHECK_UPDATE, golden("dnf-4.14-check-update-wrapped.txt"), returncode=100
    )
    runner.add(REPOQUERY, golden("dnf-4.14-repoquery-upgrades-extra.txt"))
    runner.add(UPDATEINFO_LIST, golden("dnf-4.14-updateinfo-list-extra.txt"))
    runner.add(UPDATEINFO_INFO, golden("dnf-4.14-updateinfo-info-extra.txt"))
    runner.add(RPM_QA, "demo-multi|0|1.0|1|noarch|demo-multi-1.0-1.src.rpm\n")
    multi, nosev, long = DnfManager(runner).upgradable()
    assert (multi.classification, multi.advisory_id, multi.raw_severity, multi.cves) == (
        Classification.SECURITY, "LAB-2024-0101", "Moderate", ("CVE-2024-0102", "CVE-2024-0103"),
    )  # fmt: skip
    assert (nosev.classification, nosev.severity, nosev.installed_version) == (
        Classification.SECURITY, Severity.NONE, "",
    )  # fmt: skip
    assert (long.classification, long.advisory_id) == (
        Classification.ENHANCEMENT,
        "LAB-2024-0104",
    )


def test_upgradable_nothing_pending_skips_updateinfo():
    runner = RecordedRunner()
    runner.add(CHECK_UPDATE, golden("dnf-4.14-check-update-none.txt"))
    runner.add(REPOQUERY, "")
    assert DnfManager(runner).upgradable() == []
    assert runner.calls == [CHECK_UPDATE, REPOQUERY]


def test_upgradable_broken_repo_raises_with_dnf_message():
    runner = RecordedRunner()
    runner.add(
        CHECK_UPDATE,
        returncode=1,
        stderr=golden("dnf-4.14-check-update-broken.stderr.txt"),
    )
    with pytest.raises(CommandFailedError, match=BROKEN_REPO) as caught:
        DnfManager(runner).upgradable()
    assert caught.value.returncode == 1


def test_refresh_broken_repo_raises_with_dnf_message():
    runner = RecordedRunner()
    argv = (*DNF, "makecache", "--refresh")
    runner.add(
        argv, returncode=1, stderr=golden("dnf-4.14-makecache-broken.stderr.txt")
    )
    with pytest.raises(CommandFailedError, match=BROKEN_REPO):
        DnfManager(runner).refresh()


def test_installroot_reaches_every_dnf_and_rpm_call():
    root = Path("/srv/ep")
    opts = ("--installroot=/srv/ep", "--releasever=12")
    runner = RecordedRunner()
    runner.add((*DNF, *opts, "check-update"), returncode=0)
    runner.add((*DNF, *opts, *REPOQUERY[2:]), golden("dnf-4.14-repoquery-upgrades.txt"))
    runner.add(
        (*DNF, *opts, *UPDATEINFO_LIST[2:]), golden("dnf-4.14-updateinfo-list.txt")
    )
    runner.add(
        (*DNF, *opts, *UPDATEINFO_INFO[2:]), golden("dnf-4.14-updateinfo-info.txt")
    )
    runner.add(("rpm", "--root", "/srv/ep", *RPM_QA[1:]), golden("rpm-4.18-qa.txt"))
    updates = DnfManager(runner, installroot=root).upgradable()
    assert {u.state for u in updates} == {UpdateState.HELD}  # check-update said 0
    assert len(runner.calls) == 5


def test_installed_over_recorded_rpm_output():
    runner = recorded_lab()
    assert DnfManager(runner).installed()[1] == lab_package("kmod-demo", "1:1.0-1")


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr", "expected"),
    [
        pytest.param(1, "dnf-4.14-needs-restarting-reboot.txt", "", True, id="reboot"),
        pytest.param(
            0, "dnf-4.14-needs-restarting-no-reboot.txt", "", False, id="no-reboot"
        ),
        pytest.param(
            1, "", "dnf-4.14-needs-restarting-missing.stderr.txt", False, id="no-plugin"
        ),
    ],
)
def test_reboot_required(returncode, stdout, stderr, expected):
    runner = RecordedRunner()
    out, err = (golden(name) if name else "" for name in (stdout, stderr))
    runner.add(NEEDS_RESTARTING, out, returncode=returncode, stderr=err)
    assert DnfManager(runner).reboot_required() is expected


@pytest.mark.parametrize(
    ("returncode", "stdout"),
    [
        pytest.param(1, "", id="error-without-verdict"),
        pytest.param(
            0, "dnf-4.14-needs-restarting-reboot.txt", id="verdict-contradicts-code"
        ),
        pytest.param(2, "dnf-4.14-needs-restarting-no-reboot.txt", id="unknown-code"),
    ],
)
def test_reboot_required_failures(returncode, stdout):
    runner = RecordedRunner()
    runner.add(
        NEEDS_RESTARTING, golden(stdout) if stdout else "", returncode, "Error: boom"
    )
    with pytest.raises(CommandFailedError):
        DnfManager(runner).reboot_required()


# --- installs and repairs -----------------------------------------------------------
#
# dnf-4.14-install-*.stderr.txt: `-y install NEVRA` on a lab endpoint with demo-tool and
# demo-conflict 1.0-1 installed and updates enabled (exit 1 each): demo-conflict-1.0-2
# (it also ships /usr/bin/demo-tool) and demo-tool-1.0-9 (no such version).
# dnf-4.14-check-duplicates{,.stderr}.txt: `check --duplicates` (exit 1) after
# `rpm --root EP -i --replacefiles demo-tool-1.0-2.noarch.rpm` left two versions
# installed, as an rpm transaction cut off before erasing the old one does.

INSTALL = (*DNF, "-y", "install")
CHECK = (*DNF, "check", "--duplicates")
REMOVE_DUPLICATES = (*DNF, "-y", "remove", "--duplicates")


def test_parse_dnf_check_golden():
    assert parse_dnf_check(golden("dnf-4.14-check-duplicates.txt")) == [
        "demo-tool-1.0-1.noarch is a duplicate with demo-tool-1.0-2.noarch"
    ]
    assert parse_dnf_check("") == []


@pytest.mark.parametrize(
    ("target", "spec"),
    [
        pytest.param(InstallTarget("demo-tool", "1.0-2", "noarch"), "demo-tool-1.0-2.noarch", id="noarch"),
        pytest.param(InstallTarget("kmod-demo", "1:1.0-2", "noarch"), "kmod-demo-1:1.0-2.noarch", id="epoch"),
        pytest.param(InstallTarget("demo-tool", "1.0-2"), "demo-tool-1.0-2", id="any-arch"),
    ],
)  # fmt: skip
def test_nevra(target, spec):
    assert nevra(target) == spec


@pytest.mark.parametrize(
    ("name", "version", "fixture", "message"),
    [
        pytest.param(
            "demo-conflict",
            "1.0-2",
            "dnf-4.14-install-conflict.stderr.txt",
            "file /usr/bin/demo-tool from install of demo-conflict-1.0-2.noarch "
            "conflicts with file from package demo-tool-1.0-1.noarch",
            id="file-conflict",
        ),
        pytest.param(
            "demo-tool",
            "1.0-9",
            "dnf-4.14-install-no-match.stderr.txt",
            "Error: Unable to find a match: demo-tool-1.0-9.noarch",
            id="version-gone",
        ),
    ],
)
def test_install_failure_carries_dnf_message(name, version, fixture, message):
    runner = recorded_lab()
    runner.add(RPM_QA, golden("rpm-4.18-qa.txt") + f"{name}|0|1.0|1|noarch|(none)\n")
    spec = f"{name}-{version}.noarch"
    runner.add((*INSTALL, spec), returncode=1, stderr=golden(fixture))
    [result] = DnfManager(runner).install([InstallTarget(name, version, "noarch")])
    assert result.status == PatchStatus.FAILED
    assert message in result.message
    assert runner.calls[-1] == (*INSTALL, spec)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(InstallTarget("kmod-demo", "1:1.0-1", "noarch"), "already at 1:1.0-1", id="same-epoch"),
        pytest.param(InstallTarget("kmod-demo", "1.0-9", "noarch"), "already at 1:1.0-1", id="epoch-wins"),
        pytest.param(InstallTarget("demo-gone", "1.0-2", "noarch"), "not installed", id="gone"),
    ],
)  # fmt: skip
def test_install_not_applicable_runs_no_dnf(target, message):
    runner = recorded_lab()
    [result] = DnfManager(runner).install([target])
    assert (result.status, result.message) == (PatchStatus.NOT_APPLICABLE, message)
    assert runner.calls == [RPM_QA]


def test_repair_nothing_to_do():
    runner = RecordedRunner()
    runner.add(CHECK)
    assert DnfManager(runner).repair() is None


def test_repair_removes_duplicates():
    runner = RecordedRunner()
    runner.add(
        CHECK,
        golden("dnf-4.14-check-duplicates.txt"),
        1,
        golden("dnf-4.14-check-duplicates.stderr.txt"),
    )
    runner.add(REMOVE_DUPLICATES)
    report = DnfManager(runner).repair()
    assert report is not None
    assert runner.calls == [CHECK, REMOVE_DUPLICATES, CHECK]
    assert report.found.startswith("demo-tool-1.0-1.noarch is a duplicate")
    assert report.actions == ("dnf -q -y remove --duplicates",)
    assert not report.is_repaired  # the recording lists the duplicate again


def test_repair_check_failure_raises():
    runner = RecordedRunner()
    runner.add(CHECK, returncode=1, stderr="Error: rpmdb open failed")
    with pytest.raises(CommandFailedError, match="rpmdb open failed"):
        DnfManager(runner).repair()
