"""dnf 4 / rpm backend: fixed query formats in, pure ``parse_*`` functions out.

dnf 4 has no JSON output, so ``installed()`` reads an ``rpm --qf`` format and
``upgradable()`` combines four dnf commands (all with ``-q`` and the C locale):

* ``check-update``: exit code 0/100, and its table names the *installable* updates
  (excludes and versionlock applied);
* ``repoquery --upgrades --disableexcludes=all``: every candidate, held or not, in a
  fixed ``--qf`` format; a candidate missing from check-update is ``held``;
* ``updateinfo list --updates``: which advisory covers which package;
* ``updateinfo info --updates``: each advisory's type, severity and CVEs.

``install()`` runs one ``dnf install NEVRA`` per target (an exact newer version of an
installed package is an upgrade); ``repair()`` asks ``dnf check --duplicates`` and
removes the duplicates an interrupted rpm transaction leaves (``dnf remove
--duplicates``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TypeVar

from patchfleet.agent.managers.base import (
    CommandFailedError,
    InstallResult,
    InstallTarget,
    ParseError,
    RepairReport,
    applicability,
    verify,
)
from patchfleet.agent.runner import Completed, Runner
from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import (
    CLASSIFICATION_ORDER,
    Classification,
    Severity,
    Update,
    UpdateState,
    normalise_severity,
    strongest,
)
from patchfleet.core.versions import Scheme

T = TypeVar("T")

RPM_QUERYFORMAT = "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n"
REPOQUERY_FORMAT = "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{reponame}"
# Held packages (excludes) stay visible to repoquery and updateinfo; versionlock
# filters check-update only, since repoquery does not enable plugin filtering.
REPOQUERY_UPGRADES = (
    "repoquery", "--upgrades", "--latest-limit=1", "--disableexcludes=all",
    "--qf", REPOQUERY_FORMAT,
)  # fmt: skip
UPDATEINFO_LIST = ("updateinfo", "list", "--updates", "--disableexcludes=all")
UPDATEINFO_INFO = ("updateinfo", "info", "--updates", "--disableexcludes=all")
# A bare installroot provides no system-release, and Debian's dnf then refuses to
# run; $releasever only feeds repo URLs and cache paths (TESTLAB §3 uses 12).
DEFAULT_RELEASEVER = "12"
TIMEOUT_SECONDS = 900.0
INSTALL_TIMEOUT_SECONDS = 3600.0

# Exactly one NEVRA is appended to INSTALL (MP-12: never "upgrade all").
INSTALL = ("-y", "install")
# A duplicate is what an interrupted rpm transaction leaves (the new version is in,
# the old one was never erased). Other `dnf check` findings (a dependency problem
# from a third-party repo) may predate any job and block nothing, so only
# duplicates count. `dnf check` exits 1 when it lists some.
CHECK = ("check", "--duplicates")
REMOVE_DUPLICATES = ("-y", "remove", "--duplicates")
CHECK_EXIT: dict[int, bool] = {0: False, 1: True}  # True: problems listed

# Exit-code tables: every accepted code and what it means; others raise.
SUCCESS_EXIT: dict[int, bool] = {0: True}
CHECK_UPDATE_EXIT: dict[int, bool] = {0: False, 100: True}  # True: updates pending
NEEDS_RESTARTING_EXIT: dict[int, bool] = {0: False, 1: True}  # True: reboot needed
NEEDS_RESTARTING_VERDICTS: dict[str, bool] = {
    "Reboot is required to fully utilize these updates.": True,
    "Reboot should not be necessary.": False,
}
MISSING_PLUGIN_MESSAGE = "No such command: needs-restarting."

# updateinfo type -> category (FEATURES CAT-21); severity Critical lifts a bugfix.
ADVISORY_TYPES: dict[str, Classification] = {
    "security": Classification.SECURITY,
    "bugfix": Classification.BUGFIX,
    "enhancement": Classification.ENHANCEMENT,
    "newpackage": Classification.ENHANCEMENT,
}
CRITICAL_TYPES = frozenset({Classification.BUGFIX})
# Package-name rules (fnmatch patterns), signals like an advisory's type (CAT-19).
NAME_RULES: tuple[tuple[str, Classification], ...] = (
    ("*-firmware", Classification.FIRMWARE),
    ("microcode_ctl", Classification.FIRMWARE),
    ("kmod-*", Classification.DRIVER),
)
# `updateinfo list` labels a security advisory "<Severity>/Sec."; others by type.
SECURITY_LABEL_SUFFIX = "/Sec."
# Lines dnf adds when the running kernel is older than an installed security update.
RUNNING_KERNEL_NOTE = "Security: "
OBSOLETES_HEADER = "Obsoleting Packages"
INFO_SEPARATOR = "=" * 79
SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)  # critical first
_INFO_LINE = re.compile(r"^ *(?P<key>[A-Za-z][A-Za-z ]*)?: ?(?P<value>.*)$")


@dataclass(frozen=True, slots=True)
class Candidate:
    """The newest available version of an installed package."""

    name: str
    arch: str
    version: str
    repo: str

    @property
    def key(self) -> tuple[str, str]:
        """Identity on the endpoint: name and architecture."""
        return (self.name, self.arch)


@dataclass(frozen=True, slots=True)
class Advisory:
    """One updateinfo advisory as dnf describes it."""

    advisory_id: str
    kind: str
    severity: str = ""
    cves: tuple[str, ...] = ()


def evr(epoch: str, version: str, release: str) -> str:
    """Format ``[epoch:]version-release``, leaving out epoch 0 as rpm and dnf do."""
    prefix = "" if epoch in ("", "0", "(none)") else f"{epoch}:"
    return f"{prefix}{version}-{release}"


def _fields(line: str, count: int) -> list[str]:
    parts = line.split("|")
    if len(parts) != count or not all(parts[:2]):
        raise ParseError(f"expected {count} '|'-separated fields: {line!r}")
    return parts


def _source(sourcerpm: str, epoch: str) -> tuple[str, str]:
    """Split ``name-version-release.src.rpm`` into source name and version."""
    if sourcerpm == "(none)":  # gpg-pubkey and other header-only entries
        return "", ""
    parts = sourcerpm.removesuffix(".src.rpm").rsplit("-", 2)
    if len(parts) != 3 or not sourcerpm.endswith(".src.rpm"):
        raise ParseError(f"unexpected SOURCERPM {sourcerpm!r}")
    return parts[0], evr(epoch, parts[1], parts[2])


def parse_rpm_query(stdout: str) -> list[Package]:
    """Parse ``rpm -qa --qf RPM_QUERYFORMAT``; skips gpg-pubkey pseudo-packages."""
    packages = []
    for line in stdout.splitlines():
        name, epoch, version, release, arch, sourcerpm = _fields(line, 6)
        if name == "gpg-pubkey":
            continue
        arch = "" if arch == "(none)" else arch
        version = evr(epoch, version, release)
        packages.append(Package(name, version, arch, *_source(sourcerpm, epoch)))
    return packages


def parse_repoquery(stdout: str) -> list[Candidate]:
    """Parse ``dnf repoquery --qf REPOQUERY_FORMAT``."""
    candidates = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        name, epoch, version, release, arch, repo = _fields(line, 6)
        candidates.append(Candidate(name, arch, evr(epoch, version, release), repo))
    return candidates


def _split_nevra(nevra: str) -> tuple[str, str, str]:
    """Split ``name-[epoch:]version-release.arch`` into name, evr and arch."""
    nevr, dot, arch = nevra.rpartition(".")
    parts = nevr.rsplit("-", 2)
    if not dot or len(parts) != 3 or not all(parts) or not arch:
        raise ParseError(f"not a name-version-release.arch: {nevra!r}")
    return parts[0], f"{parts[1]}-{parts[2]}", arch


def _check_update_tokens(stdout: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    for number, line in enumerate(stdout.splitlines(), start=1):
        if line.startswith(OBSOLETES_HEADER):
            break
        if not line.startswith(RUNNING_KERNEL_NOTE):
            tokens.extend((number, token) for token in line.split())
    return tokens


def parse_check_update(stdout: str) -> list[Candidate]:
    """Parse the ``dnf -q check-update`` table (name.arch, evr, repo per entry).

    dnf wraps an entry that overflows 80 columns onto the next line, so the table
    is read as a stream of whitespace-separated triples. The "Obsoleting Packages"
    section and running-kernel notes are ignored.
    """
    tokens = _check_update_tokens(stdout)
    if len(tokens) % 3:
        number, _ = tokens[len(tokens) - len(tokens) % 3]
        raise ParseError(f"check-update line {number}: incomplete entry")
    candidates = []
    for i in range(0, len(tokens), 3):
        (number, name_arch), (_, version), (_, repo) = tokens[i : i + 3]
        name, dot, arch = name_arch.rpartition(".")
        if not dot or not name or "-" not in version:
            raise ParseError(f"check-update line {number}: bad entry {name_arch!r}")
        candidates.append(Candidate(name, arch, version, repo))
    return candidates


def _label_advisory(advisory_id: str, label: str) -> Advisory:
    if not label.endswith(SECURITY_LABEL_SUFFIX):
        return Advisory(advisory_id, label)
    severity = label.removesuffix(SECURITY_LABEL_SUFFIX)
    return Advisory(advisory_id, "security", "" if severity == "Unknown" else severity)


def parse_updateinfo_list(stdout: str) -> dict[tuple[str, str], list[Advisory]]:
    """Parse ``dnf -q updateinfo list``: advisories per (name, arch).

    Each line is ``ID LABEL NEVRA``; the label gives the type, and the severity for
    security advisories only (``updateinfo info`` has the rest).
    """
    result: dict[tuple[str, str], list[Advisory]] = {}
    for number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip() or line.startswith(RUNNING_KERNEL_NOTE):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ParseError(f"updateinfo list line {number}: {line!r}")
        name, _, arch = _split_nevra(parts[2])
        result.setdefault((name, arch), []).append(_label_advisory(parts[0], parts[1]))
    return result


def _info_records(stdout: str) -> list[dict[str, list[str]]]:
    """Split ``updateinfo info`` into records of ``Key: value`` lines.

    dnf right-aligns each key to the longest label, and continues multi-line values
    (CVEs, Bugs, Description) on lines with an empty key.
    """
    records: list[dict[str, list[str]]] = []
    in_title = False
    key = ""
    for number, line in enumerate(stdout.splitlines(), start=1):
        if line == INFO_SEPARATOR:
            in_title = not in_title
            if in_title:
                records.append({})
            continue
        if in_title or not line.strip():
            continue
        match = _INFO_LINE.match(line)
        if match is None or not records or not (match["key"] or key):
            raise ParseError(f"updateinfo info line {number}: {line!r}")
        key = (match["key"] or key).strip()
        records[-1].setdefault(key, []).append(match["value"].strip())
    return records


def parse_updateinfo_info(stdout: str) -> dict[str, Advisory]:
    """Parse ``dnf -q updateinfo info``: advisories by id."""
    advisories = {}
    for record in _info_records(stdout):
        ids, kinds = record.get("Update ID", []), record.get("Type", [])
        if len(ids) != 1 or len(kinds) != 1:
            raise ParseError(f"updateinfo info record lacks id or type: {record}")
        advisories[ids[0]] = Advisory(
            advisory_id=ids[0],
            kind=kinds[0],
            severity=" ".join(record.get("Severity", [])).strip(),
            cves=tuple(cve for cve in record.get("CVEs", []) if cve),
        )
    return advisories


def parse_needs_restarting(stdout: str) -> bool | None:
    """Return the verdict of ``dnf needs-restarting -r``, or None without one."""
    verdicts = {NEEDS_RESTARTING_VERDICTS.get(x.strip()) for x in stdout.splitlines()}
    verdicts.discard(None)
    return verdicts.pop() if len(verdicts) == 1 else None


def _advisory_signal(advisory: Advisory) -> Classification | None:
    category = ADVISORY_TYPES.get(advisory.kind)
    critical = normalise_severity(advisory.severity) is Severity.CRITICAL
    return (
        Classification.CRITICAL if critical and category in CRITICAL_TYPES else category
    )


def classify(name: str, advisories: Iterable[Advisory]) -> Classification:
    """Pick one category from advisory types and name rules (CAT-19, CAT-21)."""
    signals = [s for a in advisories if (s := _advisory_signal(a)) is not None]
    signals += [c for pattern, c in NAME_RULES if fnmatchcase(name, pattern)]
    return strongest(signals)


def _rank(advisory: Advisory) -> tuple[int, int, str]:
    """Order advisories: strongest category, then highest severity, then id."""
    signal = _advisory_signal(advisory) or Classification.OTHER
    severity = SEVERITY_ORDER.index(normalise_severity(advisory.severity))
    return CLASSIFICATION_ORDER.index(signal), severity, advisory.advisory_id


def build_update(
    candidate: Candidate,
    installed: Package | None,
    advisories: list[Advisory],
    *,
    held: bool,
) -> Update:
    """Combine a candidate, the installed package and its advisories into an Update."""
    main = min(advisories, key=_rank) if advisories else Advisory("", "")
    cves = sorted({cve for advisory in advisories for cve in advisory.cves})
    return Update(
        name=candidate.name,
        installed_version=installed.version if installed else "",
        candidate_version=candidate.version,
        arch=candidate.arch,
        classification=classify(candidate.name, advisories),
        severity=normalise_severity(main.severity),
        raw_severity=main.severity,
        source=candidate.repo,
        advisory_id=main.advisory_id,
        cves=tuple(cves),
        state=UpdateState.HELD if held else UpdateState.INSTALLABLE,
        source_package=installed.source_name if installed else "",
    )


def parse_dnf_check(stdout: str) -> list[str]:
    """The problems ``dnf -q check`` lists on stdout, one per line."""
    return [line.strip() for line in stdout.splitlines() if line.strip()]


def nevra(target: InstallTarget) -> str:
    """``name-[epoch:]version-release[.arch]``, the spec of one exact package."""
    spec = f"{target.name}-{target.version}"
    return f"{spec}.{target.arch}" if target.arch else spec


def _message(result: Completed) -> str:
    return result.stderr.strip() or result.stdout.strip() or "no output"


class DnfManager:
    """Package manager backend for dnf 4 (RHEL 8/9, Fedora, and Debian's dnf)."""

    name = "dnf"
    scheme = Scheme.RPM

    def __init__(
        self,
        runner: Runner,
        installroot: Path | None = None,
        releasever: str | None = None,
    ) -> None:
        """Use ``runner``; an ``installroot`` confines dnf and rpm to that tree."""
        self._runner = runner
        self._installroot = installroot
        default = None if installroot is None else DEFAULT_RELEASEVER
        self._releasever = default if releasever is None else releasever

    def _dnf(self, *args: str) -> list[str]:
        argv = ["dnf", "-q"]
        if self._installroot is not None:
            argv.append(f"--installroot={self._installroot}")
        if self._releasever is not None:
            argv.append(f"--releasever={self._releasever}")
        return [*argv, *args]

    def _rpm(self, *args: str) -> list[str]:
        root = [] if self._installroot is None else ["--root", str(self._installroot)]
        return ["rpm", *root, *args]

    def _run(self, argv: list[str], table: Mapping[int, T]) -> tuple[Completed, T]:
        result = self._runner.run(argv, timeout=TIMEOUT_SECONDS)
        if result.returncode not in table:
            raise CommandFailedError(argv, result.returncode, _message(result))
        return result, table[result.returncode]

    def refresh(self) -> None:
        """Renew repository metadata (``dnf makecache --refresh``)."""
        self._run(self._dnf("makecache", "--refresh"), SUCCESS_EXIT)

    def installed(self) -> list[Package]:
        """Return every installed package, from the rpm database."""
        result, _ = self._run(self._rpm("-qa", "--qf", RPM_QUERYFORMAT), SUCCESS_EXIT)
        return parse_rpm_query(result.stdout)

    def upgradable(self) -> list[Update]:
        """Return pending updates, classified, held when excluded or versionlocked."""
        result, pending = self._run(self._dnf("check-update"), CHECK_UPDATE_EXIT)
        listed = parse_check_update(result.stdout) if pending else []
        installable = {c.key for c in listed}
        result, _ = self._run(self._dnf(*REPOQUERY_UPGRADES), SUCCESS_EXIT)
        candidates = parse_repoquery(result.stdout)
        if not candidates:
            return []
        advisories = self._advisories()
        # Several installed versions (installonly kernels): rpmdb order is install
        # order, so the newest wins.
        installed = {(p.name, p.arch): p for p in self.installed()}
        return [
            build_update(
                c,
                installed.get(c.key),
                advisories.get(c.key, []),
                held=c.key not in installable,
            )
            for c in candidates
        ]

    def _advisories(self) -> dict[tuple[str, str], list[Advisory]]:
        """Map (name, arch) to the advisories of its pending updates."""
        listed, _ = self._run(self._dnf(*UPDATEINFO_LIST), SUCCESS_EXIT)
        by_package = parse_updateinfo_list(listed.stdout)
        if not by_package:
            return {}
        info, _ = self._run(self._dnf(*UPDATEINFO_INFO), SUCCESS_EXIT)
        details = parse_updateinfo_info(info.stdout)
        return {
            key: [details.get(a.advisory_id, a) for a in advisories]
            for key, advisories in by_package.items()
        }

    def reboot_required(self) -> bool:
        """Ask ``dnf needs-restarting -r`` (dnf-plugins-core); False without it.

        Inside an installroot it reads that root's rpmdb: a core package (kernel,
        glibc, systemd, linux-firmware...) installed after the host's boot counts.
        """
        argv = self._dnf("needs-restarting", "-r")
        result = self._runner.run(argv, timeout=TIMEOUT_SECONDS)
        if MISSING_PLUGIN_MESSAGE in result.stderr:
            return False
        verdict = parse_needs_restarting(result.stdout)
        expected = NEEDS_RESTARTING_EXIT.get(result.returncode)
        if verdict is None or verdict is not expected:
            raise CommandFailedError(argv, result.returncode, _message(result))
        return verdict

    def install(self, targets: Sequence[InstallTarget]) -> list[InstallResult]:
        """One ``dnf install NEVRA`` per target (see ``PackageManager``)."""
        return [self._install_one(target) for target in targets]

    def _install_one(self, target: InstallTarget) -> InstallResult:
        skip = applicability(self.installed(), target, self.scheme)
        if skip is not None:
            return skip
        argv = self._dnf(*INSTALL, nevra(target))
        result = self._runner.run(argv, timeout=INSTALL_TIMEOUT_SECONDS)
        if result.returncode != 0:
            return InstallResult(target, PatchStatus.FAILED, _message(result))
        return verify(self.installed(), target, self.scheme)

    def repair(self) -> RepairReport | None:
        """Remove the duplicates an interrupted transaction left (``dnf check``).

        Whether a target got in is read from the rpmdb (``rpm -q``), not from
        ``dnf history``: the job compares each target with ``installed()``.
        """
        found = self._check()
        if not found:
            return None
        argv = self._dnf(*REMOVE_DUPLICATES)
        result = self._runner.run(argv, timeout=INSTALL_TIMEOUT_SECONDS)
        action = " ".join(argv)
        if result.returncode != 0:
            action += f" (exit {result.returncode}): {_message(result)}"
        return RepairReport("\n".join(found), "\n".join(self._check()), (action,))

    def _check(self) -> list[str]:
        argv = self._dnf(*CHECK)
        result, listed = self._run(argv, CHECK_EXIT)
        found = parse_dnf_check(result.stdout)
        if listed and not found:  # exit 1 without a listed problem: dnf failed
            raise CommandFailedError(argv, result.returncode, _message(result))
        return found
