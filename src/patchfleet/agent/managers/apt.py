"""apt backend: fixed argv for apt, apt-get, apt-cache, apt-config and dpkg-query.

Each command's stdout goes to a pure module-level ``parse_*`` function. The package set
of ``upgradable()`` is exactly ``apt list --upgradable``; candidate origins come from
``apt-cache policy`` (package file -> release, and per package: version -> package
files), holds and source names from the dpkg database, and the actionable state from
``apt-get -s dist-upgrade``. No python-apt: it is not on PyPI.

``install()`` runs one ``apt-get install name=version`` per target; ``repair()`` runs
``dpkg --configure -a`` (with apt's own ``DPkg::Options``), ``apt-get -f install`` and
reinstalls half-installed packages at their recorded version when ``apt-get check``
or the dpkg states show an unfinished run. The dpkg database itself is parsed in
``dpkg.py``; what is left is one cohesive adapter, a little over 400 lines. Given
``ChangelogSettings``, ``upgradable()`` ends with one more step, ``apt_changelogs``:
the CVEs each candidate's own Debian changelog names since the installed version.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from patchfleet.agent.managers.apt_changelogs import ChangelogCves, ChangelogSettings
from patchfleet.agent.managers.base import (
    CommandFailedError,
    InstallResult,
    InstallTarget,
    ParseError,
    RepairReport,
    applicability,
    verify,
)
from patchfleet.agent.managers.dpkg import (
    AUDIT_CODES,
    DPKG_QUERY_FORMAT,
    DpkgEntry,
    dpkg_errors,
    parse_dpkg_query,
    parse_dpkg_status,
    unsettled,
)
from patchfleet.agent.runner import Completed, Runner
from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import Classification, Update, UpdateState, strongest
from patchfleet.core.versions import Scheme

TIMEOUT = 300.0
UPDATE_TIMEOUT = 900.0

#: The fixed argv of each question (``apt-cache policy`` also takes names per scan).
REFRESH = ("apt-get", "update", "-qq")
LIST_UPGRADABLE = ("apt", "list", "--upgradable")
POLICY = ("apt-cache", "policy")
SIMULATE = ("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade")
CONFIG = ("apt-config", "shell", "ROOT", "Dir/d", "STATUS", "Dir::State::status/f")
CONFIG_ARCH = ("ARCH", "APT::Architecture")  # appended to CONFIG
INSTALL_TIMEOUT = 3600.0
#: Exactly one ``name=version`` is appended (MP-12: never "upgrade all"); conffile
#: questions keep the local file, and another apt run holding the lock is waited for.
INSTALL = (
    "apt-get", "install", "-y", "--no-remove", "-o", "DPkg::Lock::Timeout=300",
    "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
)  # fmt: skip
FIX_BROKEN = (*INSTALL, "-f")
#: Fails (exit 100, "E: dpkg was interrupted ...") while dpkg's journal is pending, or
#: on broken dependencies: what would make every ``apt-get install`` fail.
CHECK = ("apt-get", "check")
REINSTALL = (*INSTALL, "--reinstall")  # + name=version recorded by dpkg
DPKG_OPTIONS = ("apt-config", "dump", "DPkg::Options")
#: ``dpkg --configure -a`` after an interruption, non-interactive like INSTALL.
CONFIGURE_PENDING = ("--force-confdef", "--force-confold", "--configure", "-a")
INSTALL_ENV = {"APT_LISTCHANGES_FRONTEND": "none"}

#: Exit codes that mean success, per program; any other code (apt's tools exit 100 on
#: any error) is a CommandFailedError carrying the tool's message.
SUCCESS_CODES: Mapping[str, Mapping[int, str]] = {
    "apt": {0: "listed"},
    "apt-get": {0: "done"},
    "apt-cache": {0: "shown"},
    "apt-config": {0: "shown"},
    "dpkg-query": {0: "shown", 1: "a pattern matched no package"},
    "dpkg": {0: "done"},
}
#: ``apt-get -s`` exits 100 with one of these when the resolver finds no upgrade at all
#: (a broken system): every update is then blocked rather than the scan failing.
UNRESOLVED_MARKERS = ("E: Unmet dependencies", "E: Error, pkgProblemResolver")

#: Origins of distributions (first party), as opposed to third-party vendors. Their
#: pockets may also be told by the archive: Ubuntu keeps ``Codename: jammy`` in
#: jammy-security, so only origin + archive identifies the pocket there.
FIRST_PARTY_ORIGINS = frozenset({"Debian", "Ubuntu", "Lab"})
FIRMWARE_NAMES = ("firmware-*", "*-firmware", "*-microcode")
FIRMWARE_COMPONENTS = frozenset({"non-free-firmware"})
DRIVER_NAMES = ("*-dkms",)

SIMULATION_SECTIONS = {
    "The following packages have been kept back:": "kept_back",
    "The following upgrades have been deferred due to phasing:": "deferred",
}

_LIST_LINE = re.compile(
    r"(?P<name>[^\s/]+)(?:/\S*)? (?P<candidate>\S+) (?P<arch>\S+)"
    r" \[upgradable from: (?P<installed>[^\]\s]+)\]"
)
_POLICY_FILE = re.compile(r" (?P<priority>-?\d+) (?P<file>\S.*)")
_POLICY_RELEASE = re.compile(r" {5}release (?P<fields>.*)")
_POLICY_HEADER = re.compile(r"(?P<name>\S+):")
_POLICY_FIELD = re.compile(r"  [A-Z][A-Za-z ]*:(?: (?P<value>.*))?")
_POLICY_VERSION = re.compile(
    r" (?:\*\*\*|   ) (?P<version>\S+) -?\d+(?: \(phased (?P<phased>\d+)%\))?"
)
_POLICY_VERSION_FILE = re.compile(r" {8}-?\d+ (?P<file>\S.*)")
_SHELL_LINE = re.compile(r"(?P<var>[A-Za-z_]\w*)=(?P<value>.*)")
_INST_LINE = re.compile(r"Inst (?P<name>\S+) (?:\[\S+\] )?\(\S+ .*\)")
_RELEASE_KEYS = {"o": "origin", "l": "label", "a": "archive", "n": "codename"}
_RELEASE_KEYS |= {"v": "version", "c": "component"}


@dataclass(frozen=True, slots=True)
class AptPaths:
    """Where apt looks, from ``apt-config``: root dir, dpkg status, native arch."""

    root: Path
    status: Path
    arch: str


@dataclass(frozen=True, slots=True)
class ListedUpgrade:
    """One line of ``apt list --upgradable``."""

    name: str  # as apt prints it: ``name`` or ``name:arch`` for a foreign arch
    candidate: str
    arch: str
    installed: str


@dataclass(frozen=True, slots=True)
class Release:
    """The ``release`` line apt keeps for one package file."""

    origin: str = ""
    label: str = ""
    archive: str = ""
    codename: str = ""
    version: str = ""
    component: str = ""


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One version of a package in ``apt-cache policy NAME``."""

    files: tuple[str, ...]
    phased: int | None = None  # Phased-Update-Percentage when below 100


@dataclass(frozen=True, slots=True)
class Simulation:
    """What ``apt-get -s dist-upgrade`` would do."""

    installs: frozenset[str] = frozenset()
    kept_back: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()  # apt >= 2.7: "deferred due to phasing"


@dataclass(frozen=True, slots=True)
class AptSnapshot:
    """Everything ``upgradable()`` learned from apt and dpkg, parsed."""

    releases: Mapping[str, Release]
    versions: Mapping[str, Mapping[str, PolicyVersion]]
    installed: Mapping[str, DpkgEntry]
    simulation: Simulation


def parse_apt_config_shell(text: str) -> dict[str, str]:
    """Parse ``apt-config shell VAR KEY...`` output (``VAR='value'`` lines)."""
    result: dict[str, str] = {}
    for line in filter(None, text.splitlines()):
        match = _SHELL_LINE.fullmatch(line)
        words = _shell_words(match["value"]) if match else []
        if match is None or len(words) != 1:
            raise ParseError(f"apt-config shell: unexpected line {line!r}")
        result[match["var"]] = words[0]
    return result


def _shell_words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:  # unbalanced quotes
        return []


def parse_apt_config_list(text: str, key: str) -> list[str]:
    """Values of list ``key`` in ``apt-config dump KEY`` (``Key:: "value";`` lines)."""
    prefix = f"{key.lower()}:: "
    values = []
    for line in filter(None, text.splitlines()):
        name, _, rest = line.partition(" ")
        if not rest.startswith('"') or not rest.endswith('";'):
            raise ParseError(f"apt-config dump: unexpected line {line!r}")
        if f"{name.lower()} " == prefix:
            values.append(rest[1:-2])
    return values


def install_message(stdout: str, stderr: str) -> str:
    """dpkg's own error lines (with their indented details), then apt's ``E:`` lines."""
    apt_errors = [
        line.rstrip() for line in stderr.splitlines() if line[:2] in ("E:", "W:")
    ]
    kept = dpkg_errors(stderr) + apt_errors
    return "\n".join(kept) or apt_message(stderr) or apt_message(stdout)


def parse_apt_list(text: str) -> list[ListedUpgrade]:
    """Parse ``apt list --upgradable`` stdout."""
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("Listing..."):
            continue
        match = _LIST_LINE.fullmatch(line)
        if match is None:
            raise ParseError(f"apt list: unexpected line {line!r}")
        rows.append(ListedUpgrade(**match.groupdict()))
    return rows


def parse_release(fields: str) -> Release:
    """Parse a policy ``release`` line body (``v=12,o=Debian,a=...,l=...``)."""
    values: dict[str, str] = {}
    for part in re.split(r",(?=[a-z]=)", fields):
        key, sep, value = part.partition("=")
        if not sep:
            raise ParseError(f"apt-cache policy: unexpected release field {part!r}")
        if key in _RELEASE_KEYS:
            values[_RELEASE_KEYS[key]] = value
    return Release(**values)


def parse_policy_files(text: str) -> dict[str, Release]:
    """Parse ``apt-cache policy`` (no arguments): package file -> its release."""
    releases: dict[str, Release] = {}
    current = None
    for line in text.splitlines():
        if line == "Pinned packages:":
            break
        if line == "Package files:" or line.startswith("     origin "):
            continue
        if match := _POLICY_FILE.fullmatch(line):
            current = match["file"]
            releases[current] = Release()
        elif (match := _POLICY_RELEASE.fullmatch(line)) and current is not None:
            releases[current] = parse_release(match["fields"])
        else:
            raise ParseError(f"apt-cache policy: unexpected line {line!r}")
    return releases


def parse_policy_versions(text: str) -> dict[str, dict[str, PolicyVersion]]:
    """Parse ``apt-cache policy NAME...``: name -> version -> its package files."""
    blocks: dict[str, list[str]] = {}
    lines: list[str] | None = None
    for line in text.splitlines():
        if header := _POLICY_HEADER.fullmatch(line):
            lines = blocks.setdefault(header["name"], [])
        elif lines is not None:
            lines.append(line)
        elif line:
            raise ParseError(f"apt-cache policy: unexpected line {line!r}")
    return {name: _policy_block(name, body) for name, body in blocks.items()}


def _policy_block(name: str, lines: list[str]) -> dict[str, PolicyVersion]:
    versions: dict[str, PolicyVersion] = {}
    version = None
    for line in lines:
        if not line or _POLICY_FIELD.fullmatch(line):
            continue
        if match := _POLICY_VERSION.fullmatch(line):
            version = match["version"]
            phased = int(match["phased"]) if match["phased"] else None
            versions[version] = PolicyVersion((), phased)
        elif (match := _POLICY_VERSION_FILE.fullmatch(line)) and version is not None:
            old = versions[version]
            versions[version] = PolicyVersion((*old.files, match["file"]), old.phased)
        else:
            raise ParseError(f"apt-cache policy {name}: unexpected line {line!r}")
    return versions


def parse_simulation(text: str) -> Simulation:
    """Parse ``apt-get -s dist-upgrade``: Inst lines, kept-back and phasing lists."""
    found: dict[str, set[str]] = {
        k: set() for k in ("installs", "kept_back", "deferred")
    }
    section = None
    for line in text.splitlines():
        if line.startswith("Inst "):
            match = _INST_LINE.match(line)
            if match is None:
                raise ParseError(f"apt-get -s: unexpected line {line!r}")
            found["installs"].add(match["name"])
        if section and line.startswith("  "):
            found[section].update(line.split())
        else:
            section = SIMULATION_SECTIONS.get(line)
    return Simulation(**{key: frozenset(names) for key, names in found.items()})


def apt_message(text: str) -> str:
    """Return apt's ``E:`` and ``W:`` lines from ``text``, or all of it if none."""
    lines = [line for line in text.splitlines() if line.startswith(("E:", "W:"))]
    return "\n".join(lines) if lines else text.strip()


def release_signal(release: Release) -> Classification:
    """Classify one archive holding a candidate (CAT-20), by label and codename."""
    is_first_party = release.origin in FIRST_PARTY_ORIGINS
    pockets = (
        [release.codename, release.archive] if is_first_party else [release.codename]
    )
    if release.label.endswith("-Security") or _in_pocket(pockets, "-security"):
        return Classification.SECURITY
    if _in_pocket(pockets, "-backports"):
        return Classification.ENHANCEMENT
    return Classification.BUGFIX if is_first_party else Classification.OTHER


def _in_pocket(names: Sequence[str], suffix: str) -> bool:
    return any(name.endswith(suffix) for name in names)


def package_signals(
    name: str, section: str, releases: Sequence[Release]
) -> list[Classification]:
    """Firmware and driver signals from the package name, section and component."""
    components = {r.component for r in releases} | {section.partition("/")[0]}
    signals = []
    if (
        any(fnmatchcase(name, p) for p in FIRMWARE_NAMES)
        or components & FIRMWARE_COMPONENTS
        or section.rpartition("/")[2] == "firmware"
    ):
        signals.append(Classification.FIRMWARE)
    if any(fnmatchcase(name, p) for p in DRIVER_NAMES):
        signals.append(Classification.DRIVER)
    return signals


def classify(name: str, section: str, releases: Sequence[Release]) -> Classification:
    """One category for a candidate from all its signals, by CAT-19 precedence."""
    signals = [release_signal(r) for r in releases]
    return strongest([*signals, *package_signals(name, section, releases)])


def describe_source(releases: Sequence[Release]) -> str:
    """``Label:Version/Archive`` per archive, as ``apt-get -s`` prints origins."""
    return ", ".join(
        f"{r.label or r.origin}:{r.version + '/' if r.version else ''}{r.archive or r.codename}"
        for r in releases
    )


def update_state(
    name: str, *, is_held: bool, phased: int | None, simulation: Simulation
) -> UpdateState:
    """Actionable state (BP-10) of the update of ``name`` (apt's spelling)."""
    if is_held:
        return UpdateState.HELD
    if name in simulation.installs:
        return UpdateState.INSTALLABLE
    if name in simulation.deferred or (
        phased is not None and name in simulation.kept_back
    ):
        return UpdateState.PHASED
    return UpdateState.BLOCKED


def to_update(row: ListedUpgrade, snapshot: AptSnapshot) -> Update:
    """Build the ``Update`` for one ``apt list`` row from everything apt said."""
    version = snapshot.versions.get(row.name, {}).get(row.candidate, PolicyVersion(()))
    releases = [snapshot.releases[f] for f in version.files if f in snapshot.releases]
    releases = [r for r in releases if r.archive != "now"]
    entry = snapshot.installed.get(row.name)
    name = row.name.partition(":")[0]
    return Update(
        name=name,
        installed_version=row.installed,
        candidate_version=row.candidate,
        arch=row.arch,
        classification=classify(name, entry.section if entry else "", releases),
        source=describe_source(releases),
        state=update_state(
            row.name,
            is_held=entry is not None and entry.is_held,
            phased=version.phased,
            simulation=snapshot.simulation,
        ),
        source_package=entry.source_name if entry else "",
    )


def blocking_problems(check: Completed, entries: Sequence[DpkgEntry]) -> str:
    """What an interrupted run left: ``apt-get check``'s errors, unsettled packages."""
    failed = apt_message(check.stderr) or "apt-get check failed"
    lines = (failed.splitlines() if check.returncode else []) + unsettled(entries)
    return "\n".join(line.rstrip() for line in lines)


def apt_spec(target: InstallTarget) -> str:
    """``name=version``, or ``name:arch=version`` for an architecture other than all."""
    name = target.name
    if target.arch and target.arch != "all":
        name = f"{name}:{target.arch}"
    return f"{name}={target.version}"


class AptManager:
    """The apt/dpkg package manager, optionally confined by an ``APT_CONFIG`` file."""

    name = "apt"
    scheme = Scheme.DEB

    def __init__(
        self,
        runner: Runner,
        apt_config: Path | None = None,
        changelogs: ChangelogSettings | None = None,
    ) -> None:
        """Use ``runner``; export ``APT_CONFIG=apt_config`` to every call if given.

        ``changelogs`` turns on the changelog CVE step of ``upgradable()``.
        """
        self._runner = runner
        self._env = {"DEBIAN_FRONTEND": "noninteractive"}
        if apt_config is not None:
            self._env["APT_CONFIG"] = str(apt_config)
        self._changelogs = changelogs

    def refresh(self) -> None:
        """``apt-get update``; a failure carries apt's ``E:`` lines."""
        self._run(REFRESH, timeout=UPDATE_TIMEOUT)

    def installed(self) -> list[Package]:
        """All installed packages of the (endpoint's) dpkg database."""
        return [entry.package for entry in self._dpkg_entries(self._paths())]

    def upgradable(self) -> list[Update]:
        """Exactly the packages of ``apt list --upgradable``, classified, with state."""
        rows = parse_apt_list(self._run(LIST_UPGRADABLE).stdout)
        if not rows:
            return []
        paths = self._paths()
        names = sorted({row.name for row in rows})
        snapshot = AptSnapshot(
            releases=parse_policy_files(self._run(POLICY).stdout),
            versions=parse_policy_versions(self._run((*POLICY, *names)).stdout),
            installed={_apt_name(e, paths.arch): e for e in self._dpkg_entries(paths)},
            simulation=self._simulate(),
        )
        updates = [to_update(row, snapshot) for row in rows]
        return self._changelog_cves(updates, snapshot)

    def _changelog_cves(
        self, updates: list[Update], snapshot: AptSnapshot
    ) -> list[Update]:
        """Add the CVEs each candidate's changelog fixed (``apt_changelogs``)."""
        if self._changelogs is None:
            return updates
        sources = {
            (e.name, e.arch): e.source_version for e in snapshot.installed.values()
        }
        step = ChangelogCves(self._runner, self._env, self._changelogs)
        return step.annotate(updates, sources)

    def reboot_required(self) -> bool:
        """Whether ``<Dir>/var/run/reboot-required`` exists."""
        return (self._paths().root / "var/run/reboot-required").exists()

    def install(self, targets: Sequence[InstallTarget]) -> list[InstallResult]:
        """One ``apt-get install name=version`` per target (see ``PackageManager``)."""
        return [self._install_one(target) for target in targets]

    def _install_one(self, target: InstallTarget) -> InstallResult:
        skip = applicability(self.installed(), target, self.scheme)
        if skip is not None:
            return skip
        done = self._install((*INSTALL, apt_spec(target)))
        if done.returncode != 0:
            message = install_message(done.stdout, done.stderr)
            return InstallResult(target, PatchStatus.FAILED, message)
        return verify(self.installed(), target, self.scheme)

    def repair(self) -> RepairReport | None:
        """Finish an interrupted dpkg run when ``blocking_problems`` finds one."""
        paths = self._paths()
        found = self._problems(paths)
        if not found:
            return None
        options = parse_apt_config_list(self._run(DPKG_OPTIONS).stdout, "DPkg::Options")
        steps = [self._install(("dpkg", *options, *CONFIGURE_PENDING))]
        steps.append(self._install(FIX_BROKEN))
        for entry in parse_dpkg_status(self._dpkg_status(paths)):
            if entry.needs_reinstall:
                spec = f"{_apt_name(entry, paths.arch)}={entry.version}"
                steps.append(self._install((*REINSTALL, spec)))
        actions = tuple(_describe(step) for step in steps)
        return RepairReport(found, self._problems(paths), actions)

    def _problems(self, paths: AptPaths) -> str:
        check = self._runner.run(CHECK, env=self._env, timeout=TIMEOUT)
        found = blocking_problems(check, parse_dpkg_status(self._dpkg_status(paths)))
        return f"{found}\n{self._audit(paths)}".strip() if found else ""

    def _audit(self, paths: AptPaths) -> str:
        argv = ("dpkg", f"--admindir={paths.status.parent}", "--audit")
        done = self._runner.run(argv, env=self._env, timeout=TIMEOUT)
        listed = done.returncode in AUDIT_CODES and bool(done.stdout.strip())
        if done.returncode != 0 and not listed:
            raise CommandFailedError(argv, done.returncode, done.stderr)
        return done.stdout.strip()

    def _install(self, argv: Sequence[str]) -> Completed:
        env = {**self._env, **INSTALL_ENV}
        return self._runner.run(argv, env=env, timeout=INSTALL_TIMEOUT)

    def _paths(self) -> AptPaths:
        values = parse_apt_config_shell(self._run((*CONFIG, *CONFIG_ARCH)).stdout)
        if not {"ROOT", "STATUS", "ARCH"} <= values.keys():
            raise ParseError(f"apt-config shell: missing values in {values!r}")
        return AptPaths(Path(values["ROOT"]), Path(values["STATUS"]), values["ARCH"])

    def _dpkg_entries(self, paths: AptPaths) -> list[DpkgEntry]:
        return parse_dpkg_query(self._dpkg_status(paths))

    def _dpkg_status(self, paths: AptPaths) -> str:
        admindir = f"--admindir={paths.status.parent}"
        argv = ("dpkg-query", admindir, "-W", f"-f={DPKG_QUERY_FORMAT}")
        return self._run(argv).stdout

    def _simulate(self) -> Simulation:
        done = self._runner.run(SIMULATE, env=self._env, timeout=TIMEOUT)
        if done.returncode == 100 and any(m in done.stderr for m in UNRESOLVED_MARKERS):
            return Simulation()
        return parse_simulation(self._check(done).stdout)

    def _run(self, argv: Sequence[str], *, timeout: float = TIMEOUT) -> Completed:
        return self._check(self._runner.run(argv, env=self._env, timeout=timeout))

    @staticmethod
    def _check(done: Completed) -> Completed:
        if done.returncode not in SUCCESS_CODES.get(done.argv[0], {0: "success"}):
            message = apt_message(done.stderr) or apt_message(done.stdout)
            raise CommandFailedError(done.argv, done.returncode, message)
        return done


def _apt_name(entry: DpkgEntry, native_arch: str) -> str:
    """The name apt prints for an installed package: ``name:arch`` if foreign."""
    is_native = entry.arch in (native_arch, "all")
    return entry.name if is_native else f"{entry.name}:{entry.arch}"


def _describe(done: Completed) -> str:
    """One action of a repair: the command, and its message when it failed."""
    command = " ".join(done.argv)
    if done.returncode == 0:
        return command
    message = install_message(done.stdout, done.stderr)
    return f"{command} (exit {done.returncode}): {message}"
