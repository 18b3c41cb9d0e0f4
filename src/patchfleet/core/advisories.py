"""Vulnerability intelligence records, as every feed parser yields them (CVE-*).

Parsers in ``server/feeds`` turn OSV, OVAL, NVD, KEV, EPSS and distribution changelogs
into these frozen values; the matching engine (``core.vulns``) and risk ranking
(``core.risk``) read nothing else.  A *release key* names one distribution release the
way a device reports it and a feed scopes a fix: ``debian:12``, ``ubuntu:22.04``,
``ubuntu-pro:22.04``, ``rhel:9``, ``almalinux:9``, ``rocky:9``, ``sles:15``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from patchfleet.core.versions import Scheme

CVE_ID: Final = re.compile(r"CVE-\d{4}-\d{4,}")

_OS_IDS: Final = {
    "debian": "debian",
    "ubuntu": "ubuntu",
    "rhel": "rhel",
    "red hat": "rhel",
    "redhat": "rhel",
    "almalinux": "almalinux",
    "rocky": "rocky",
    "rocky linux": "rocky",
    "centos": "centos",
    "fedora": "fedora",
    "ol": "oracle",
    "oracle linux": "oracle",
    "sles": "sles",
    "suse": "sles",
    "opensuse-leap": "opensuse-leap",
    "amzn": "amazon",
    "amazon linux": "amazon",
}
# Releases identified by their major version only: a fix for "RHEL 9" covers 9.4.
_MAJOR_ONLY: Final = frozenset(
    {"rhel", "almalinux", "rocky", "centos", "oracle", "sles", "amazon"}
)


def release_key(os_id: str, version: str) -> str:
    """The release key of a distribution id and version (``"Debian", "12.5"``…).

    Debian and Ubuntu keep their release number as the distribution uses it
    (Debian's major, Ubuntu's ``YY.MM``); the Enterprise Linux family keeps the major.
    Returns ``""`` when either part is missing.
    """
    os_word = os_id.strip().lower()
    name = _OS_IDS.get(os_word, os_word.replace(" ", "-"))
    ver = version.strip().lower()
    if not name or not ver:
        return ""
    if name == "debian" or name in _MAJOR_ONLY:
        ver = ver.split(".")[0]
    return f"{name}:{ver}"


def scheme_of(release: str) -> Scheme:
    """The version scheme packages of a release use."""
    name = release.partition(":")[0]
    return Scheme.DEB if name.startswith(("debian", "ubuntu")) else Scheme.RPM


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """One package's affected range in one release, as an advisory states it.

    ``package`` is the *source* package for Debian and Ubuntu (their feeds speak of
    source packages) and the binary rpm name for rpm distributions.  ``introduced``
    ``""`` means "since the first version"; ``fixed`` ``""`` means no fix yet;
    ``not_affected`` marks a feed's explicit "this release is not affected".
    """

    release: str
    package: str
    scheme: Scheme
    introduced: str = ""
    fixed: str = ""
    last_affected: str = ""
    not_affected: bool = False


@dataclass(frozen=True, slots=True)
class Advisory:
    """A vendor advisory or per-CVE record: what it fixes, where, from which feed.

    ``source`` is the feed kind (``osv``, ``oval``, ``changelog``, ``updateinfo``);
    ``severity`` the vendor's word, unnormalised.
    """

    id: str
    source: str
    cves: tuple[str, ...]
    affected: tuple[AffectedPackage, ...]
    summary: str = ""
    severity: str = ""
    published: datetime | None = None
    modified: datetime | None = None
    url: str = ""
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class CvssScore:
    """One CVSS base score with its vector, as scored by ``source``."""

    version: str  # "3.1", "3.0", "4.0", "2.0"
    score: float
    vector: str
    severity: str = ""
    source: str = ""
    primary: bool = True


@dataclass(frozen=True, slots=True)
class CveInfo:
    """What NVD (or a CVE 5 record) says about one CVE."""

    id: str
    description: str = ""
    published: datetime | None = None
    modified: datetime | None = None
    status: str = ""
    cvss: tuple[CvssScore, ...] = field(default_factory=tuple)
    cwes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def best_cvss(self) -> CvssScore | None:
        """The score to show: newest CVSS version, primary source first."""
        if not self.cvss:
            return None
        return max(self.cvss, key=lambda s: (s.version, s.primary, s.score))


@dataclass(frozen=True, slots=True)
class KevEntry:
    """One entry of CISA's Known Exploited Vulnerabilities catalog."""

    cve: str
    date_added: date
    due_date: date | None = None
    ransomware: bool = False
    vendor: str = ""
    product: str = ""
    name: str = ""
    required_action: str = ""


@dataclass(frozen=True, slots=True)
class EpssScore:
    """FIRST's exploit prediction for one CVE on one day."""

    cve: str
    probability: float
    percentile: float
    score_date: date | None = None


class FixState(StrEnum):
    """Where one device stands with one CVE (CVE-*, issue 4)."""

    FIXED_INSTALLABLE = "fixed-installable"
    FIXED_NOT_INSTALLABLE = "fixed-not-installable"
    NO_FIX_YET = "no-fix-yet"
    NOT_AFFECTED = "not-affected"
