"""repodata ``updateinfo.xml`` (dnf/yum errata) → :class:`Advisory`, streamed.

Every RHEL-family repository (AlmaLinux, Rocky, Amazon Linux, EPEL, a local mirror)
ships its errata as ``updateinfo.xml``: one ``<update>`` per advisory with its CVE
references and the exact package versions that fix it.  Agents already read it on each
device through dnf; importing a mirror's file lets the server flag devices whose
repositories lack the fix (``fixed-not-installable``) and works offline.

One ``<update>`` gives one advisory: id (``ALSA-2022:4940``), CVE ids from
``<reference type="cve">`` (and CVE ids in the title when no reference lists them,
as older Amazon Linux errata do), severity, the issued/updated dates, and for each
``<package name epoch version release>`` an :class:`AffectedPackage` fixed at that
EVR (epoch 0 dropped, as rpm prints it).  Updates without a CVE are skipped: they fix
no vulnerability.  The release is not in the format in a usable form (AlmaLinux writes
``<release>0</release>``), so the caller names it (``almalinux:9``); when it does not,
a ``<release>`` such as "Rocky Linux 9" is used, else the file is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from patchfleet.core.advisories import CVE_ID, Advisory, AffectedPackage, release_key
from patchfleet.core.versions import Scheme
from patchfleet.server.feeds import sources
from patchfleet.server.feeds.errors import FeedError

FEED: Final = "updateinfo"


def _text(update: Element, tag: str) -> str:
    node = update.find(tag)
    return (node.text or "").strip() if node is not None else ""


def _date(update: Element, tag: str) -> datetime | None:
    node = update.find(tag)
    value = node.get("date", "") if node is not None else ""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def release_of(text: str) -> str:
    """A release key from an updateinfo ``<release>`` ("Rocky Linux 9"), or ""."""
    words = text.replace("release", " ").split()
    version = next((w for w in reversed(words) if w[:1].isdigit()), "")
    name = " ".join(w for w in words if w != version)
    return release_key(name, version) if name and version else ""


def _evr(pkg: Element) -> str:
    epoch = pkg.get("epoch") or "0"
    version, rel = pkg.get("version") or "", pkg.get("release") or ""
    if not version or not rel:
        raise ValueError(f"package {pkg.get('name')!r} has no version or release")
    evr = f"{version}-{rel}"
    return evr if epoch == "0" else f"{epoch}:{evr}"


def parse_update(update: Element, release: str, where: str) -> Advisory | None:
    """One ``<update>`` element as an advisory; None when it names no CVE."""
    ident = _text(update, "id")
    if not ident:
        raise FeedError(FEED, where, "an <update> has no <id>")
    refs = update.findall("references/reference")
    cves = {r.get("id", "") for r in refs if r.get("type") == "cve"}
    if not cves:
        cves = set(CVE_ID.findall(_text(update, "title")))
    cves = {c for c in cves if CVE_ID.fullmatch(c)}
    if not cves:
        return None
    scope = release or release_of(_text(update, "release"))
    if not scope:
        raise FeedError(
            FEED, f"{where}: {ident}", "the file names no release; give one (--release)"
        )
    affected = []
    for pkg in update.iterfind("pkglist/collection/package"):
        name = pkg.get("name") or ""
        try:
            fixed = _evr(pkg)
        except ValueError as exc:
            raise FeedError(FEED, f"{where}: {ident}", str(exc)) from None
        if name:
            affected.append(AffectedPackage(scope, name, Scheme.RPM, fixed=fixed))
    url = next((r.get("href", "") for r in refs if r.get("type") == "self"), "")
    return Advisory(
        id=ident,
        source=FEED,
        cves=tuple(sorted(cves)),
        affected=tuple(dict.fromkeys(affected)),
        summary=_text(update, "title"),
        severity=_text(update, "severity"),
        published=_date(update, "issued"),
        modified=_date(update, "updated"),
        url=url,
    )


def iter_updateinfo(
    stream: IO[bytes], where: str = "", release: str = ""
) -> Iterator[Advisory]:
    """Advisories of an updateinfo document, one ``<update>`` in memory at a time."""
    try:
        for _event, elem in iterparse(stream, events=("end",), forbid_dtd=True):
            if elem.tag != "update":
                continue
            advisory = parse_update(elem, release, where)
            elem.clear()
            if advisory is not None:
                yield advisory
    except ParseError as exc:
        raise FeedError(FEED, where, f"malformed or truncated XML: {exc}") from None
    except DefusedXmlException as exc:
        raise FeedError(
            FEED, where, f"XML entities/DTD are not allowed ({type(exc).__name__})"
        ) from None
    except sources.STREAM_ERRORS as exc:
        raise FeedError(FEED, where, f"unreadable compressed data: {exc}") from None
