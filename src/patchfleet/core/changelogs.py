"""Debian changelogs: the CVEs each upload names, and which update first fixed them.

A Debian changelog (``debian/changelog``, shipped as
``/usr/share/doc/<package>/changelog.Debian.gz``) is a list of entries, newest first::

    curl (7.88.1-10+deb12u5) bookworm-security; urgency=medium

      * Fix CVE-2023-38545, CVE-2023-38546

     -- Samuel Henrique <samueloph@debian.org>  Tue, 10 Oct 2023 12:00:00 +0100

``parse`` reads the entries the way ``dpkg-parsechangelog`` does (deb-changelog(5)),
skipping what it cannot read instead of failing: a malformed header line and the body
under it are ignored, so a CVE is never attributed to the wrong upload. Parsing stops
where dpkg stops, at an ``Old Changelog:`` or editor ``Local variables:`` trailer.
``fixed_since`` then answers, for an installed version, which version of the pending
update first fixed each CVE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from patchfleet.core.advisories import CVE_ID
from patchfleet.core.versions import Scheme, VersionError, VersionKey, sort_key

# dpkg's Dpkg::Changelog::Entry::Debian header and trailer expressions.
_NAME_CHARS: Final = r"[-+0-9a-z.]"
_HEADER: Final = re.compile(
    rf"(?P<package>\w{_NAME_CHARS}*) \((?P<version>[^() \t]+)\)"
    rf"(?P<distributions>(?:\s+{_NAME_CHARS}+)+);(?P<options>.*?)\s*",
    re.IGNORECASE,
)
_TRAILER: Final = re.compile(r" -- (?P<maintainer>.*) <(?P<email>.*)>(?P<date>.*)")
# Where dpkg stops reading: the start of an old-format changelog or editor settings.
_END: Final = re.compile(
    r"(?:Old Changelog:|Changes:|(?:;;\s*)?Local\s+variables:|vim:)", re.IGNORECASE
)
_OPTION: Final = re.compile(r"\s*(?P<key>[^=\s]+)\s*=\s*(?P<value>.*?)\s*")


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """One upload of a Debian changelog.

    ``cves`` lists the CVE ids the entry's text names, in order of first appearance,
    each once; ``urgency`` is lower case without dpkg's optional comment
    (``"high"`` for ``urgency=HIGH (security)``), ``""`` when absent.
    """

    package: str
    version: str
    distributions: tuple[str, ...]
    urgency: str = ""
    cves: tuple[str, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class _Open:
    """The entry being read: its header, and the CVEs seen so far (an ordered set)."""

    header: re.Match[str]
    cves: dict[str, None] = field(default_factory=dict)

    def close(self) -> ChangelogEntry:
        head = self.header
        return ChangelogEntry(
            package=head["package"],
            version=head["version"],
            distributions=tuple(head["distributions"].split()),
            urgency=_urgency(head["options"]),
            cves=tuple(self.cves),
        )


def _urgency(options: str) -> str:
    for option in options.split(","):
        match = _OPTION.fullmatch(option)
        if match and match["key"].lower() == "urgency":
            words = match["value"].split()
            return words[0].lower() if words else ""
    return ""


def parse(text: str) -> list[ChangelogEntry]:
    """The entries of a Debian changelog, in file order (newest first, normally).

    Never raises for malformed input. An entry's body is its indented lines; a ``--``
    trailer or any other unindented line that is not a valid header ends it, so a
    broken header and the body under it contribute nothing.
    """
    entries: list[ChangelogEntry] = []
    current: _Open | None = None
    for line in text.splitlines():
        kind = _classify(line)
        if kind == "body":
            if current is not None:
                current.cves.update(dict.fromkeys(CVE_ID.findall(line)))
            continue
        if current is not None:  # a header, a trailer, a stray line or the end
            entries.append(current.close())
        current = _Open(kind) if isinstance(kind, re.Match) else None
        if kind == "end":
            break
    if current is not None:
        entries.append(current.close())
    return entries


def _classify(line: str) -> re.Match[str] | Literal["body", "other", "end"]:
    """A header's match, ``body`` (indented or blank), ``end`` of the changelog, or
    ``other``: a trailer, or an unindented line that is no header."""
    if not line or line[0].isspace():
        return "other" if _TRAILER.fullmatch(line) else "body"
    if header := _HEADER.fullmatch(line):
        return header
    return "end" if _END.match(line) else "other"


def _key(version: str) -> VersionKey | None:
    try:
        return sort_key(Scheme.DEB, version)
    except VersionError:
        return None


def fixed_since(
    entries: Iterable[ChangelogEntry], installed_version: str, *, up_to: str = ""
) -> dict[str, str]:
    """CVE id -> the oldest changelog version newer than ``installed_version`` naming it.

    That is the version of the pending update that first fixed the CVE. ``entries``
    are in changelog order (newest first, as ``parse`` returns them). Contributing
    nothing, because their fixes are installed or not part of this update:

    * entries at or below the installed version;
    * entries listed below the installed version's own entry, when the changelog has
      one: they are the installed version's history even where their version sorts
      higher (a ``590-2.1~deb12u2`` stable update lists the unstable ``590-2.1``
      upload it was built from);
    * entries above ``up_to`` when given (the candidate version);
    * entries whose version is not a valid Debian version.

    Ids keep their changelog order (newest entry first).

    Raises:
        VersionError: ``installed_version`` or ``up_to`` is not a valid Debian version.
    """
    floor = sort_key(Scheme.DEB, installed_version)
    ceiling = sort_key(Scheme.DEB, up_to) if up_to else None
    oldest: dict[str, tuple[VersionKey, str]] = {}
    for entry in entries:
        key = _key(entry.version)
        if key == floor:
            break  # the installed version's own entry: the rest is installed history
        if key is None or not entry.cves or key < floor:
            continue
        if ceiling is not None and key > ceiling:
            continue
        for cve in entry.cves:
            seen = oldest.get(cve)
            if seen is None or key < seen[0]:
                oldest[cve] = (key, entry.version)
    return {cve: version for cve, (_, version) in oldest.items()}
