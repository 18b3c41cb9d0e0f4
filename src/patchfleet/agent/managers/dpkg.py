"""The dpkg database as ``dpkg-query`` prints it, and dpkg's own error lines.

Pure parsing for the apt backend (``apt.py`` runs the commands): entries and their
states, which of them an interrupted dpkg run left unsettled, and the lines dpkg
prints when it refuses a package. Split from ``apt.py`` by noun.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from patchfleet.agent.managers.base import ParseError
from patchfleet.core.packages import Package

DPKG_QUERY_FORMAT = (
    "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t"
    "${source:Version}\\t${db:Status-Abbrev}\\t${Section}\\n"
)
#: dpkg current states (2nd letter of db:Status-Abbrev) reported as installed: the
#: files of that version are on disk. Installed, triggers-awaited, triggers-pending,
#: half-configured and unpacked; not half-installed, config-files or not-installed.
INSTALLED_STATES = frozenset("iWtFU")
#: dpkg current state half-installed, or the reinst-required flag (3rd letter): the
#: package must be unpacked again (after an interrupted unpack or removal).
REINSTALL_STATES = frozenset("H")
#: Settled dpkg current states: not-installed, config-files, installed. Any other
#: (unpacked, half-configured, triggers ...) is a run dpkg did not finish. ``dpkg
#: --audit`` also lists harmless things (a package without md5sums), so it only
#: describes problems; it does not decide whether there are any.
SETTLED_STATES = frozenset("nci")
#: ``dpkg --audit`` lists problems on stdout; dpkg 1.21 exits 0 either way, and newer
#: releases may exit 1 when they list some.
AUDIT_CODES = frozenset({0, 1})


@dataclass(frozen=True, slots=True)
class DpkgEntry:
    """One package of the dpkg database as ``dpkg-query`` reports it."""

    name: str
    version: str
    arch: str
    source_name: str
    source_version: str
    status: str
    section: str

    @property
    def package(self) -> Package:
        """The core value."""
        return Package(
            self.name, self.version, self.arch, self.source_name, self.source_version
        )

    @property
    def is_held(self) -> bool:
        """True when the dpkg selection is ``hold`` (``apt-mark hold``)."""
        return self.status.startswith("h")

    @property
    def needs_reinstall(self) -> bool:
        """True when dpkg left it half-installed or flagged it reinst-required."""
        return self.status[1] in REINSTALL_STATES or self.status[2] == "R"

    @property
    def is_settled(self) -> bool:
        """False while a dpkg run on this package is unfinished."""
        return self.status[1] in SETTLED_STATES and self.status[2] != "R"


def parse_dpkg_status(text: str) -> list[DpkgEntry]:
    """Parse ``dpkg-query -W -f=DPKG_QUERY_FORMAT``: every entry, in any state."""
    entries = []
    for line in filter(None, text.splitlines()):
        fields = line.split("\t")
        if len(fields) != 7 or len(fields[5]) != 3 or not fields[0]:
            raise ParseError(f"dpkg-query: unexpected line {line!r}")
        entries.append(DpkgEntry(*fields))
    return entries


def parse_dpkg_query(text: str) -> list[DpkgEntry]:
    """Parse ``dpkg-query -W -f=DPKG_QUERY_FORMAT``; keep ``INSTALLED_STATES`` only."""
    return [e for e in parse_dpkg_status(text) if e.status[1] in INSTALLED_STATES]


def unsettled(entries: Iterable[DpkgEntry]) -> list[str]:
    """``name version status`` of each package an unfinished dpkg run left."""
    return [
        f"{e.name} {e.version} {e.status.strip()}" for e in entries if not e.is_settled
    ]


def dpkg_errors(stderr: str) -> list[str]:
    """dpkg's ``dpkg: ...`` lines with their indented details (why it refused)."""
    kept: list[str] = []
    in_dpkg = False
    for line in stderr.splitlines():
        if line.startswith("dpkg: "):
            in_dpkg = True
        elif not line.startswith(" "):
            in_dpkg = False
        if in_dpkg:
            kept.append(line.rstrip())
    return kept
