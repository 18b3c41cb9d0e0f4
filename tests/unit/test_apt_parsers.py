"""Golden tests of the apt parsers, and AptManager over recorded real outputs.

Fixtures in tests/fixtures/apt/ are real output: ``debian-12-*`` from a Debian 12 host
(apt 2.6.2), ``lab-*`` from an apt lab endpoint (README.md there says how).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from patchfleet.agent.managers import apt
from patchfleet.agent.managers.apt import AptManager, Release, Simulation
from patchfleet.agent.managers.base import CommandFailedError, InstallTarget, ParseError
from patchfleet.agent.runner import Completed, RecordedRunner
from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import Classification as C
from patchfleet.core.updates import Update
from patchfleet.core.updates import UpdateState as S

FIXTURES = Path(__file__).parent.parent / "fixtures" / "apt"
APT_WARNING = "\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n"
DPKG_FORMAT = (
    "-f=${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t"
    "${source:Version}\\t${db:Status-Abbrev}\\t${Section}\\n"
)
CONFIG_ARGV = (
    "apt-config", "shell", "ROOT", "Dir/d", "STATUS", "Dir::State::status/f",
    "ARCH", "APT::Architecture",
)  # fmt: skip
SIMULATE_ARGV = ("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade")


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- apt-config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "debian-12-apt-config-shell.txt",
            {"ROOT": "/", "STATUS": "/var/lib/dpkg/status", "ARCH": "amd64"},
            id="host",
        ),
        pytest.param(
            "lab-apt-config-shell.txt",
            {
                "ROOT": "/tmp/patchfleet-lab/ep/",
                "STATUS": "/tmp/patchfleet-lab/ep/var/lib/dpkg/status",
                "ARCH": "amd64",
            },
            id="lab-endpoint",
        ),
    ],
)
def test_parse_apt_config_shell_golden(fixture: str, expected: dict[str, str]) -> None:
    assert apt.parse_apt_config_shell(read(fixture)) == expected


def test_parse_apt_config_shell_unquotes_shell_escapes() -> None:
    assert apt.parse_apt_config_shell("ROOT='/tmp/it'\\''s/'\n") == {
        "ROOT": "/tmp/it's/"
    }


@pytest.mark.parametrize("line", ["ROOT=/a b", "not a line", "ROOT='unterminated"])
def test_parse_apt_config_shell_rejects_malformed(line: str) -> None:
    with pytest.raises(ParseError, match=re.escape(repr(line))):
        apt.parse_apt_config_shell(line + "\n")


# --- dpkg-query ------------------------------------------------------------------


def test_parse_dpkg_query_host_golden() -> None:
    entries = apt.parse_dpkg_query(read("debian-12-dpkg-query.txt"))
    by_name = {(e.name, e.arch): e for e in entries}
    assert len(entries) == 822
    assert by_name["bash", "amd64"].package == Package(
        "bash", "5.2.15-2+b8", "amd64", "bash", "5.2.15-2"
    )
    assert by_name["libssl3", "amd64"].source_name == "openssl"
    assert not any(e.is_held for e in entries)


def test_parse_dpkg_query_lab_golden() -> None:
    entries = apt.parse_dpkg_query(read("lab-dpkg-query.txt"))
    assert {e.name: e.version for e in entries} == {
        "acme-agent": "1.0-1",
        "demo-blocked": "1.0-1",
        "demo-extra": "1.0-1",
        "demo-held": "1.0-1",
        "demo-lib": "1.0-1",
        "demo-phased": "1.0-1",
        "demo-tool": "1.0-1",
        "firmware-demo": "1.0-1",
    }
    assert [e.name for e in entries if e.is_held] == ["demo-held"]
    assert {e.name: e.section for e in entries}[
        "firmware-demo"
    ] == "non-free-firmware/kernel"


@pytest.mark.parametrize(
    ("status", "is_kept"),
    [
        pytest.param("ii ", True, id="installed"),
        pytest.param("hi ", True, id="held-installed"),
        pytest.param("iW ", True, id="triggers-awaited"),
        pytest.param("it ", True, id="triggers-pending"),
        pytest.param("iF ", True, id="half-configured"),
        pytest.param("iU ", True, id="unpacked"),
        pytest.param("iHR", False, id="half-installed"),
        pytest.param("rc ", False, id="config-files"),
        pytest.param("un ", False, id="not-installed"),
    ],
)
def test_parse_dpkg_query_keeps_installed_states(status: str, is_kept: bool) -> None:
    line = f"pkg\t1.0\tamd64\tpkg\t1.0\t{status}\tutils\n"
    assert bool(apt.parse_dpkg_query(line)) is is_kept


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("pkg\t1.0\tamd64", id="too-few-fields"),
        pytest.param("pkg\t1.0\tamd64\tpkg\t1.0\tii\tutils", id="short-status"),
        pytest.param("\t1.0\tamd64\tpkg\t1.0\tii \tutils", id="no-name"),
    ],
)
def test_parse_dpkg_query_rejects_malformed(line: str) -> None:
    with pytest.raises(ParseError, match="dpkg-query: unexpected line"):
        apt.parse_dpkg_query(line + "\n")


# --- apt list --upgradable ---------------------------------------------------------


def test_parse_apt_list_host_golden() -> None:
    rows = apt.parse_apt_list(read("debian-12-apt-list-upgradable.txt"))
    assert len(rows) == 116
    assert rows[0] == apt.ListedUpgrade("appstream", "0.16.1-2+b1", "amd64", "0.16.1-2")
    krb5 = next(r for r in rows if r.name == "krb5-locales")
    assert (krb5.candidate, krb5.arch) == ("1.20.1-2+deb12u5", "all")
    assert (
        next(r for r in rows if r.name == "libcap2").installed == "1:2.66-4+deb12u2+b2"
    )


def test_parse_apt_list_lab_golden() -> None:
    rows = apt.parse_apt_list(read("lab-apt-list-upgradable.txt"))
    assert [(r.name, r.installed, r.candidate) for r in rows] == [
        ("acme-agent", "1.0-1", "1.1-1"),
        ("demo-blocked", "1.0-1", "1.1-1"),
        ("demo-extra", "1.0-1", "2.0-1~bpo1"),
        ("demo-held", "1.0-1", "1.0-2"),
        ("demo-lib", "1.0-1", "1.1-1"),
        ("demo-phased", "1.0-1", "1.0-2"),
        ("demo-tool", "1.0-1", "1.0-2"),
        ("firmware-demo", "1.0-1", "1.1-1"),
    ]


def test_parse_apt_list_empty_and_foreign_arch() -> None:
    assert apt.parse_apt_list("Listing...\n") == []
    line = "libc6:i386/stable 2.36-9 i386 [upgradable from: 2.36-8]\n"
    assert apt.parse_apt_list(line)[0].name == "libc6:i386"


def test_parse_apt_list_rejects_malformed() -> None:
    with pytest.raises(
        ParseError, match=re.escape("apt list: unexpected line 'demo-tool 1.0-2'")
    ):
        apt.parse_apt_list("Listing...\ndemo-tool 1.0-2\n")


# --- apt-cache policy ----------------------------------------------------------------


def test_parse_policy_files_host_golden() -> None:
    releases = apt.parse_policy_files(read("debian-12-apt-cache-policy.txt"))
    assert releases == {
        "/var/lib/dpkg/status": Release(archive="now"),
        "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages": Release(
            "Debian",
            "Debian-Security",
            "oldstable-security",
            "bookworm-security",
            "12",
            "main",
        ),
        "http://deb.debian.org/debian bookworm-updates/main amd64 Packages": Release(
            "Debian",
            "Debian",
            "oldstable-updates",
            "bookworm-updates",
            "12-updates",
            "main",
        ),
        "http://deb.debian.org/debian bookworm/main amd64 Packages": Release(
            "Debian", "Debian", "oldstable", "bookworm", "12.15", "main"
        ),
    }


def test_parse_policy_files_lab_golden() -> None:
    releases = apt.parse_policy_files(read("lab-apt-cache-policy.txt"))
    assert len(releases) == 6
    assert releases[
        "http://127.0.0.1:8765 lab-backports/main amd64 Packages"
    ] == Release("Lab", "Lab Backports", "lab-backports", "lab-backports", "", "main")
    assert (
        releases["http://127.0.0.1:8765 thirdparty/main amd64 Packages"].origin
        == "Acme"
    )


def test_parse_policy_files_rejects_malformed() -> None:
    with pytest.raises(ParseError, match="unexpected line 'garbage'"):
        apt.parse_policy_files("Package files:\ngarbage\n")


def test_parse_release_keeps_commas_inside_values() -> None:
    release = apt.parse_release("o=Acme, Inc.,a=stable,l=Acme,c=main,b=amd64")
    assert (release.origin, release.archive, release.label) == (
        "Acme, Inc.",
        "stable",
        "Acme",
    )


def test_parse_policy_versions_host_golden() -> None:
    versions = apt.parse_policy_versions(
        read("debian-12-apt-cache-policy-upgradable.txt")
    )
    assert len(versions) == 116
    assert versions["krb5-locales"]["1.20.1-2+deb12u5"].files == (
        "http://deb.debian.org/debian bookworm/main amd64 Packages",
        "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages",
    )
    assert versions["krb5-locales"]["1.20.1-2+deb12u3"].files == (
        "/var/lib/dpkg/status",
    )


def test_parse_policy_versions_lab_golden() -> None:
    versions = apt.parse_policy_versions(read("lab-apt-cache-policy-upgradable.txt"))
    assert versions["demo-phased"]["1.0-2"] == apt.PolicyVersion(
        ("http://127.0.0.1:8765 lab-updates/main amd64 Packages",), phased=0
    )
    assert versions["demo-tool"]["1.0-2"].phased is None
    assert len(versions["acme-agent"]["1.0-1"].files) == 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("stray line before any package\n", id="before-header"),
        pytest.param("demo:\n  Installed: 1\n   weird\n", id="inside-block"),
        pytest.param(
            "demo:\n        500 http://x lab/main amd64 Packages\n", id="file-first"
        ),
    ],
)
def test_parse_policy_versions_rejects_malformed(text: str) -> None:
    with pytest.raises(ParseError, match="unexpected line"):
        apt.parse_policy_versions(text)


# --- apt-get -s dist-upgrade -----------------------------------------------------------


def test_parse_simulation_host_golden() -> None:
    simulation = apt.parse_simulation(read("debian-12-apt-get-s-dist-upgrade.txt"))
    assert len(simulation.installs) == 116
    assert not simulation.kept_back
    assert not simulation.deferred


def test_parse_simulation_lab_golden() -> None:
    assert apt.parse_simulation(read("lab-apt-get-s-dist-upgrade.txt")) == Simulation(
        installs=frozenset(
            {"acme-agent", "demo-extra", "demo-lib", "demo-tool", "firmware-demo"}
        ),
        kept_back=frozenset({"demo-blocked", "demo-held", "demo-phased"}),
    )


def test_parse_simulation_broken_system_golden() -> None:
    assert (
        apt.parse_simulation(read("lab-broken-apt-get-s-dist-upgrade.txt"))
        == Simulation()
    )


def test_parse_simulation_phasing_section_of_apt_2_7() -> None:
    # apt >= 2.7 lists phased updates apart; this host has apt 2.6, so the sample is
    # written after apt's message catalogue rather than captured.
    text = (
        "Calculating upgrade...\n"
        "The following upgrades have been deferred due to phasing:\n"
        "  demo-phased\n"
        "The following packages have been kept back:\n"
        "  demo-blocked\n"
        "0 upgraded, 0 newly installed, 0 to remove and 2 not upgraded.\n"
    )
    simulation = apt.parse_simulation(text)
    assert simulation.deferred == {"demo-phased"}
    assert simulation.kept_back == {"demo-blocked"}


def test_parse_simulation_rejects_malformed_inst() -> None:
    with pytest.raises(ParseError, match="unexpected line 'Inst demo-tool'"):
        apt.parse_simulation("Inst demo-tool\n")


# --- classification, source, state ---------------------------------------------------

DEBIAN = Release("Debian", "Debian", "oldstable", "bookworm", "12.15", "main")
DEBIAN_UPDATES = Release("Debian", "Debian", "oldstable-updates", "bookworm-updates", "12-updates", "main")  # fmt: skip
DEBIAN_SECURITY = Release("Debian", "Debian-Security", "oldstable-security", "bookworm-security", "12", "main")  # fmt: skip
DEBIAN_BACKPORTS = Release("Debian Backports", "Debian Backports", "oldstable-backports", "bookworm-backports", "", "main")  # fmt: skip
DEBIAN_FIRMWARE = Release("Debian", "Debian", "oldstable", "bookworm", "12.15", "non-free-firmware")  # fmt: skip
UBUNTU_SECURITY = Release(
    "Ubuntu", "Ubuntu", "jammy-security", "jammy", "22.04", "main"
)
UBUNTU_UPDATES = Release("Ubuntu", "Ubuntu", "jammy-updates", "jammy", "22.04", "main")
UBUNTU_BACKPORTS = Release("Ubuntu", "Ubuntu", "jammy-backports", "jammy", "22.04", "main")  # fmt: skip
LAB_SECURITY = Release(
    "Lab", "Lab-Security", "lab-security", "lab-security", "", "main"
)
LAB_BACKPORTS = Release("Lab", "Lab Backports", "lab-backports", "lab-backports", "", "main")  # fmt: skip
ACME = Release("Acme", "Acme", "thirdparty", "thirdparty", "", "main")
ACME_NAMED_SECURITY = Release("Acme", "Acme", "stable-security", "stable", "", "main")


@pytest.mark.parametrize(
    ("name", "section", "releases", "expected"),
    [
        pytest.param("openssl", "utils", [DEBIAN_SECURITY], C.SECURITY, id="debian-security-label"),
        pytest.param("krb5-locales", "localization", [DEBIAN, DEBIAN_SECURITY], C.SECURITY, id="any-archive-security"),
        pytest.param("bash", "shells", [DEBIAN], C.BUGFIX, id="debian-point-release"),
        pytest.param("tzdata", "localization", [DEBIAN_UPDATES], C.BUGFIX, id="debian-updates"),
        pytest.param("curl", "web", [DEBIAN_BACKPORTS], C.ENHANCEMENT, id="debian-backports-codename"),
        pytest.param("curl", "web", [UBUNTU_SECURITY], C.SECURITY, id="ubuntu-security-archive"),
        pytest.param("curl", "web", [UBUNTU_UPDATES], C.BUGFIX, id="ubuntu-updates"),
        pytest.param("curl", "web", [UBUNTU_BACKPORTS], C.ENHANCEMENT, id="ubuntu-backports-archive"),
        pytest.param("demo-tool", "utils", [LAB_SECURITY], C.SECURITY, id="lab-security"),
        pytest.param("demo-extra", "utils", [LAB_BACKPORTS], C.ENHANCEMENT, id="lab-backports"),
        pytest.param("acme-agent", "admin", [ACME], C.OTHER, id="third-party"),
        pytest.param("acme-agent", "admin", [ACME_NAMED_SECURITY], C.OTHER, id="third-party-suite-name-alone"),
        pytest.param("firmware-demo", "kernel", [ACME], C.FIRMWARE, id="firmware-name"),
        pytest.param("intel-microcode", "admin", [DEBIAN], C.FIRMWARE, id="microcode-name"),
        pytest.param("linux-firmware", "misc", [UBUNTU_UPDATES], C.FIRMWARE, id="ubuntu-linux-firmware"),
        pytest.param("blob", "non-free-firmware/kernel", [ACME], C.FIRMWARE, id="firmware-section"),
        pytest.param("blob", "kernel", [DEBIAN_FIRMWARE], C.FIRMWARE, id="firmware-component"),
        pytest.param("firmware-iwlwifi", "kernel", [DEBIAN_SECURITY], C.SECURITY, id="security-beats-firmware"),
        pytest.param("zfs-dkms", "kernel", [DEBIAN], C.DRIVER, id="dkms-driver"),
        pytest.param("orphan", "utils", [], C.OTHER, id="no-archive"),
    ],
)  # fmt: skip
def test_classify(
    name: str, section: str, releases: list[Release], expected: C
) -> None:
    assert apt.classify(name, section, releases) == expected


@pytest.mark.parametrize(
    ("releases", "expected"),
    [
        pytest.param([DEBIAN_SECURITY], "Debian-Security:12/oldstable-security", id="debian"),
        pytest.param([DEBIAN, DEBIAN_SECURITY], "Debian:12.15/oldstable, Debian-Security:12/oldstable-security", id="two"),
        pytest.param([LAB_SECURITY], "Lab-Security:lab-security", id="lab-no-version"),
        pytest.param([Release(origin="Acme", archive="stable")], "Acme:stable", id="no-label"),
        pytest.param([], "", id="none"),
    ],
)  # fmt: skip
def test_describe_source(releases: list[Release], expected: str) -> None:
    assert apt.describe_source(releases) == expected


SIM = Simulation(
    installs=frozenset({"a"}), kept_back=frozenset({"held", "phased", "kept"}), deferred=frozenset({"later"})
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "is_held", "phased", "expected"),
    [
        pytest.param("a", False, None, S.INSTALLABLE, id="installed-by-simulation"),
        pytest.param("a", False, 40, S.INSTALLABLE, id="inside-its-phase"),
        pytest.param("held", True, None, S.HELD, id="held"),
        pytest.param("a", True, None, S.HELD, id="held-wins"),
        pytest.param("phased", False, 0, S.PHASED, id="kept-back-phased"),
        pytest.param("later", False, 10, S.PHASED, id="deferred-due-to-phasing"),
        pytest.param("kept", False, None, S.BLOCKED, id="kept-back"),
        pytest.param("missing", False, None, S.BLOCKED, id="not-in-simulation"),
    ],
)
def test_update_state(
    name: str, is_held: bool, phased: int | None, expected: S
) -> None:
    assert (
        apt.update_state(name, is_held=is_held, phased=phased, simulation=SIM)
        == expected
    )


def test_apt_message_keeps_error_and_warning_lines() -> None:
    message = apt.apt_message(read("lab-apt-get-update-unsigned.stderr.txt"))
    assert message.count("E: The repository") == 5
    assert "NO_PUBKEY" in message
    assert apt.apt_message("  plain failure \n") == "plain failure"


# --- AptManager over RecordedRunner ------------------------------------------------


class EnvRecordingRunner(RecordedRunner):
    """A RecordedRunner that also remembers the env overlay of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.envs: list[Mapping[str, str] | None] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.envs.append(env)
        return super().run(argv, env=env, timeout=timeout)


def recorded(
    prefix: str, *, simulation: tuple[str, int, str] | None = None
) -> EnvRecordingRunner:
    """Every command of a scan, with the outputs captured under ``prefix``."""
    runner = EnvRecordingRunner()
    config = read(f"{prefix}-apt-config-shell.txt")
    admindir = Path(apt.parse_apt_config_shell(config)["STATUS"]).parent
    listing = read(f"{prefix}-apt-list-upgradable.txt")
    names = sorted({line.split("/")[0] for line in listing.splitlines()[1:]})
    runner.add(CONFIG_ARGV, config)
    runner.add(("dpkg-query", f"--admindir={admindir}", "-W", DPKG_FORMAT), read(f"{prefix}-dpkg-query.txt"))  # fmt: skip
    runner.add(("apt", "list", "--upgradable"), listing, stderr=APT_WARNING)
    runner.add(("apt-cache", "policy"), read(f"{prefix}-apt-cache-policy.txt"))
    runner.add(("apt-cache", "policy", *names), read(f"{prefix}-apt-cache-policy-upgradable.txt"))  # fmt: skip
    stdout, code, stderr = simulation or (
        read(f"{prefix}-apt-get-s-dist-upgrade.txt"),
        0,
        "",
    )
    runner.add(SIMULATE_ARGV, stdout, returncode=code, stderr=stderr)
    return runner


def summary(updates: list[Update]) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (u.name, u.installed_version, u.candidate_version, u.classification, u.state, u.source)
        for u in updates
    ]  # fmt: skip


def test_manager_upgradable_lab_golden() -> None:
    runner = recorded("lab")
    updates = AptManager(
        runner, Path("/tmp/patchfleet-lab/ep/etc/apt/apt.conf")
    ).upgradable()
    assert summary(updates) == [
        ("acme-agent", "1.0-1", "1.1-1", C.OTHER, S.INSTALLABLE, "Acme:thirdparty"),
        ("demo-blocked", "1.0-1", "1.1-1", C.BUGFIX, S.BLOCKED, "Lab:lab-updates"),
        ("demo-extra", "1.0-1", "2.0-1~bpo1", C.ENHANCEMENT, S.INSTALLABLE, "Lab Backports:lab-backports"),
        ("demo-held", "1.0-1", "1.0-2", C.SECURITY, S.HELD, "Lab-Security:lab-security"),
        ("demo-lib", "1.0-1", "1.1-1", C.BUGFIX, S.INSTALLABLE, "Lab:lab-updates"),
        ("demo-phased", "1.0-1", "1.0-2", C.BUGFIX, S.PHASED, "Lab:lab-updates"),
        ("demo-tool", "1.0-1", "1.0-2", C.SECURITY, S.INSTALLABLE, "Lab-Security:lab-security"),
        ("firmware-demo", "1.0-1", "1.1-1", C.FIRMWARE, S.INSTALLABLE, "Lab:lab-updates"),
    ]  # fmt: skip
    assert {u.source_package for u in updates} == {u.name for u in updates}
    assert {u.arch for u in updates} == {"all"}
    assert runner.envs == [
        {"DEBIAN_FRONTEND": "noninteractive", "APT_CONFIG": "/tmp/patchfleet-lab/ep/etc/apt/apt.conf"}
    ] * len(runner.calls)  # fmt: skip


def test_manager_upgradable_host_golden() -> None:
    runner = recorded("debian-12")
    updates = AptManager(runner).upgradable()
    listed = apt.parse_apt_list(read("debian-12-apt-list-upgradable.txt"))
    assert [(u.name, u.candidate_version, u.installed_version) for u in updates] == [
        (r.name, r.candidate, r.installed) for r in listed
    ]
    assert Counter(u.classification for u in updates) == {C.SECURITY: 68, C.BUGFIX: 48}
    assert {u.state for u in updates} == {S.INSTALLABLE}
    inst = re.compile(r"Inst (\S+) \[\S+\] \(\S+ (.*) \[\S+\]\)")
    origins = dict(inst.findall(read("debian-12-apt-get-s-dist-upgrade.txt")))
    assert {u.name: u.source for u in updates} == origins
    assert next(u for u in updates if u.name == "libssl3").source_package == "openssl"
    assert runner.envs == [{"DEBIAN_FRONTEND": "noninteractive"}] * len(runner.calls)


def test_manager_upgradable_broken_system_blocks_all_but_held() -> None:
    broken = (
        read("lab-broken-apt-get-s-dist-upgrade.txt"),
        100,
        read("lab-broken-apt-get-s-dist-upgrade.stderr.txt"),
    )
    updates = AptManager(recorded("lab", simulation=broken)).upgradable()
    states = {u.name: u.state for u in updates}
    assert states.pop("demo-held") == S.HELD
    assert set(states.values()) == {S.BLOCKED}


def test_manager_upgradable_simulation_error_fails() -> None:
    runner = recorded("lab", simulation=("", 100, "E: Could not open lock file\n"))
    with pytest.raises(CommandFailedError, match="E: Could not open lock file") as info:
        AptManager(runner).upgradable()
    assert info.value.returncode == 100


def test_manager_upgradable_nothing_to_do_runs_one_command() -> None:
    runner = RecordedRunner()
    runner.add(("apt", "list", "--upgradable"), "Listing...\n", stderr=APT_WARNING)
    assert AptManager(runner).upgradable() == []
    assert runner.calls == [("apt", "list", "--upgradable")]


def test_manager_installed_host_golden() -> None:
    packages = AptManager(recorded("debian-12")).installed()
    assert len(packages) == 822
    assert (
        Package("jq", "1.6-2.1+deb12u1", "amd64", "jq", "1.6-2.1+deb12u1") in packages
    )


def test_manager_refresh_unsigned_raises_with_apt_errors() -> None:
    runner = RecordedRunner()
    stderr = read("lab-apt-get-update-unsigned.stderr.txt")
    runner.add(("apt-get", "update", "-qq"), returncode=100, stderr=stderr)
    with pytest.raises(CommandFailedError, match="is not signed") as info:
        AptManager(runner).refresh()
    assert info.value.returncode == 100
    assert "NO_PUBKEY" in info.value.message


def test_manager_exit_code_outside_table_fails() -> None:
    runner = RecordedRunner()
    runner.add(
        CONFIG_ARGV, returncode=100, stderr="E: Syntax error /etc/apt/apt.conf:3\n"
    )
    with pytest.raises(CommandFailedError, match="Syntax error"):
        AptManager(runner).installed()


def test_manager_missing_config_value_is_a_parse_error() -> None:
    runner = RecordedRunner()
    runner.add(CONFIG_ARGV, "ROOT='/'\n")
    with pytest.raises(ParseError, match="apt-config shell"):
        AptManager(runner).reboot_required()


@pytest.mark.parametrize("has_marker", [True, False], ids=["marker", "no-marker"])
def test_manager_reboot_required_reads_marker_under_dir(
    tmp_path: Path, has_marker: bool
) -> None:
    (tmp_path / "var/run").mkdir(parents=True)
    if has_marker:
        (tmp_path / "var/run/reboot-required").touch()
    runner = RecordedRunner()
    runner.add(CONFIG_ARGV, f"ROOT='{tmp_path}/'\nSTATUS='{tmp_path}/var/lib/dpkg/status'\nARCH='amd64'\n")  # fmt: skip
    assert AptManager(runner).reboot_required() is has_marker


# --- installs and repairs (lab-apt-get-install-*, lab-interrupted-*) ---------------
#
# Captured on the lab endpoint of the README with the install-fault packages of
# build_apt_repo.sh: `apt-get install ...` of demo-conflict=1.0-2 over demo-tool
# 1.0-1 (exit 100) and of demo-tool=1.0-9 (exit 100); `apt-config dump DPkg::Options`;
# then demo-slow=1.0-2 killed (SIGKILL to its process group) inside the preinst:
# `dpkg --audit` (exit 0), dpkg-query as above, the next `apt-get install` and
# `apt-get check` (exit 100 each).

LAB_CONFIG = (
    "ROOT='/tmp/patchfleet-lab/ep/'\n"
    "STATUS='/tmp/patchfleet-lab/ep/var/lib/dpkg/status'\nARCH='amd64'\n"
)
LAB_DPKG_QUERY = (
    "dpkg-query", "--admindir=/tmp/patchfleet-lab/ep/var/lib/dpkg", "-W", DPKG_FORMAT,
)  # fmt: skip
LAB_AUDIT = ("dpkg", "--admindir=/tmp/patchfleet-lab/ep/var/lib/dpkg", "--audit")
INSTALL_ARGV = (
    "apt-get", "install", "-y", "--no-remove", "-o", "DPkg::Lock::Timeout=300",
    "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
)  # fmt: skip


def test_install_message_keeps_dpkg_own_error_golden() -> None:
    message = apt.install_message(
        read("lab-apt-get-install-conflict.txt"),
        read("lab-apt-get-install-conflict.stderr.txt"),
    )
    assert message == (
        "dpkg: error processing archive /tmp/patchfleet-lab/ep/var/cache/apt/archives/"
        "demo-conflict_1.0-2_all.deb (--unpack):\n"
        " trying to overwrite '/usr/bin/demo-tool', which is also in package demo-tool"
        " 1.0-1\nE: Sub-process /usr/bin/dpkg returned an error code (1)"
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            "lab-apt-get-install-missing-version.stderr.txt",
            "E: Version '1.0-9' for 'demo-tool' was not found",
            id="version-gone",
        ),
        pytest.param(
            "lab-interrupted-apt-get-install.stderr.txt",
            "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to"
            " correct the problem.",
            id="interrupted",
        ),
    ],
)
def test_install_message_apt_errors_golden(fixture: str, expected: str) -> None:
    assert apt.install_message("", read(fixture)) == expected


def test_parse_apt_config_list_golden() -> None:
    text = read("lab-apt-config-dump-dpkg-options.txt")
    assert apt.parse_apt_config_list(text, "DPkg::Options") == [
        "--root=/tmp/patchfleet-lab/ep",
        "--log=/tmp/patchfleet-lab/ep/var/log/dpkg.log",
        "--force-script-chrootless",
    ]
    assert apt.parse_apt_config_list(text, "dpkg::options") != []  # keys ignore case
    assert apt.parse_apt_config_list('DPkg::Options "";\n', "DPkg::Options") == []
    with pytest.raises(ParseError, match="apt-config dump"):
        apt.parse_apt_config_list("DPkg::Options:: --root\n", "DPkg::Options")


def test_parse_dpkg_status_keeps_half_installed_golden() -> None:
    entries = apt.parse_dpkg_status(read("lab-interrupted-dpkg-query.txt"))
    assert [(e.name, e.version, e.status, e.needs_reinstall) for e in entries] == [
        ("demo-conflict", "1.0-1", "ii ", False),
        ("demo-slow", "1.0-1", "iHR", True),
        ("demo-tool", "1.0-1", "ii ", False),
    ]
    installed = apt.parse_dpkg_query(read("lab-interrupted-dpkg-query.txt"))
    assert [e.name for e in installed] == ["demo-conflict", "demo-tool"]


@pytest.mark.parametrize(
    ("arch", "spec"),
    [
        pytest.param("all", "demo-tool=1:1.0-2", id="all"),
        pytest.param("", "demo-tool=1:1.0-2", id="no-arch"),
        pytest.param("i386", "demo-tool:i386=1:1.0-2", id="foreign"),
    ],
)
def test_apt_spec(arch: str, spec: str) -> None:
    assert apt.apt_spec(InstallTarget("demo-tool", "1:1.0-2", arch)) == spec


def lab_install_runner(dpkg_query: str) -> EnvRecordingRunner:
    runner = EnvRecordingRunner()
    runner.add(CONFIG_ARGV, LAB_CONFIG)
    runner.add(LAB_DPKG_QUERY, dpkg_query)
    return runner


def test_manager_install_failure_carries_dpkg_message() -> None:
    runner = lab_install_runner(read("lab-interrupted-dpkg-query.txt"))
    runner.add(
        (*INSTALL_ARGV, "demo-conflict=1.0-2"),
        read("lab-apt-get-install-conflict.txt"),
        100,
        read("lab-apt-get-install-conflict.stderr.txt"),
    )
    target = InstallTarget("demo-conflict", "1.0-2", "all")
    [result] = AptManager(runner).install([target])
    assert (result.target, result.status) == (target, PatchStatus.FAILED)
    assert "trying to overwrite '/usr/bin/demo-tool'" in result.message
    assert runner.envs[-1] == {
        "DEBIAN_FRONTEND": "noninteractive",
        "APT_LISTCHANGES_FRONTEND": "none",
    }


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(InstallTarget("demo-tool", "1.0-1", "all"), "already at 1.0-1", id="same"),
        pytest.param(InstallTarget("demo-tool", "1.0~rc1-1", "all"), "already at 1.0-1", id="older"),
        pytest.param(InstallTarget("demo-gone", "2.0", "all"), "not installed", id="gone"),
        pytest.param(InstallTarget("demo-tool", "1.0-2", "i386"), "not installed", id="other-arch"),
    ],
)  # fmt: skip
def test_manager_install_not_applicable_runs_no_apt_get(
    target: InstallTarget, message: str
) -> None:
    runner = lab_install_runner(read("lab-interrupted-dpkg-query.txt"))
    [result] = AptManager(runner).install([target])
    assert (result.status, result.message) == (PatchStatus.NOT_APPLICABLE, message)
    assert {argv[0] for argv in runner.calls} == {"apt-config", "dpkg-query"}


APT_CHECK = ("apt-get", "check")


def test_manager_repair_nothing_to_do_ignores_dpkg_audit() -> None:
    runner = lab_install_runner(read("lab-dpkg-query.txt"))
    runner.add(APT_CHECK, "Reading package lists...\n")
    assert AptManager(runner).repair() is None
    # dpkg --audit also lists harmless things (missing md5sums): never asked here
    assert LAB_AUDIT not in runner.calls


def test_blocking_problems_golden() -> None:
    check = Completed(
        APT_CHECK, 100, "", read("lab-interrupted-apt-get-check.stderr.txt")
    )
    entries = apt.parse_dpkg_status(read("lab-interrupted-dpkg-query.txt"))
    assert apt.blocking_problems(check, entries) == (
        "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to"
        " correct the problem.\ndemo-slow 1.0-1 iHR"
    )
    assert apt.blocking_problems(Completed(APT_CHECK, 0), entries[:1]) == ""


def test_manager_repair_runs_dpkg_with_apt_options_then_reinstalls() -> None:
    runner = lab_install_runner(read("lab-interrupted-dpkg-query.txt"))
    runner.add(APT_CHECK, returncode=100, stderr=read("lab-interrupted-apt-get-check.stderr.txt"))  # fmt: skip
    audit = read("lab-interrupted-dpkg-audit.txt")
    runner.add(LAB_AUDIT, audit)
    runner.add(("apt-config", "dump", "DPkg::Options"), read("lab-apt-config-dump-dpkg-options.txt"))  # fmt: skip
    configure = (
        "dpkg", "--root=/tmp/patchfleet-lab/ep",
        "--log=/tmp/patchfleet-lab/ep/var/log/dpkg.log", "--force-script-chrootless",
        "--force-confdef", "--force-confold", "--configure", "-a",
    )  # fmt: skip
    runner.add(configure)
    runner.add((*INSTALL_ARGV, "-f"))
    reinstall = (*INSTALL_ARGV, "--reinstall", "demo-slow=1.0-1")
    runner.add(reinstall, returncode=100, stderr="E: Unable to fetch some archives\n")
    report = AptManager(runner).repair()
    assert report is not None
    assert runner.calls[-7:-3] == [configure, (*INSTALL_ARGV, "-f"), LAB_DPKG_QUERY, reinstall]  # fmt: skip
    assert runner.calls[-3:] == [APT_CHECK, LAB_DPKG_QUERY, LAB_AUDIT]
    assert report.found.startswith("E: dpkg was interrupted")
    assert report.found.endswith(audit.strip())
    assert not report.is_repaired  # the recording still lists demo-slow afterwards
    assert report.actions[-1].endswith("(exit 100): E: Unable to fetch some archives")
    assert "demo-slow 1.0-1 iHR" in report.summary


def test_manager_repair_audit_failure_raises() -> None:
    runner = lab_install_runner(read("lab-interrupted-dpkg-query.txt"))
    runner.add(APT_CHECK)
    runner.add(LAB_AUDIT, returncode=2, stderr="dpkg: error: cannot access archive")
    with pytest.raises(CommandFailedError, match="cannot access archive"):
        AptManager(runner).repair()
