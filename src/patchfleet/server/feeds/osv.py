"""OSV JSON records of operating-system distributions → :class:`Advisory`.

Reads the OSV schema (1.6/1.7) as Debian (DSA/DLA/DTSA/DEBIAN-CVE), Ubuntu
(UBUNTU-CVE/USN/LSN), Red Hat (RHSA/RHBA/RHEA), AlmaLinux, Rocky Linux and SUSE
publish it: one record per file, a JSON list of records, a per-ecosystem zip dump
(``Debian/all.zip``, one record per member) or a folder of such files.

How the records are read:

* **Releases.** Each ``affected[].package.ecosystem`` becomes a release key through
  :func:`release_of_ecosystem`; entries of other ecosystems (npm, PyPI, layered Red
  Hat products…) are skipped, and a record with no OS entry at all yields ``None``.
  Subscription streams stay releases of their own because their fixes are not
  installable without the subscription: ``Ubuntu:Pro:22.04:LTS`` is
  ``ubuntu-pro:22.04`` (FIPS, Realtime… likewise ``ubuntu-pro-fips-updates:22.04``),
  Red Hat EUS/AUS/E4S/TUS/ELS are ``rhel-eus:9.2``…  A Pro record applies to devices
  of the plain release too: Ubuntu lists an end-of-standard-support release only
  under ``Ubuntu:Pro:*`` (e.g. ``UBUNTU-CVE-2014-2901``), so matching must read the
  ``ubuntu-pro:`` key for ``ubuntu:`` devices as "fixed, not installable".
* **Packages.** Debian and Ubuntu name source packages, Red Hat binary rpms; the
  name is kept as given.  Versions of every event lose a ``0:`` epoch, as rpm, dnf
  and dpkg print them (``0:3.13.2-35.el9`` → ``3.13.2-35.el9``; ``2:4.4.1`` stays).
* **Ranges.** ``ECOSYSTEM`` ranges only (``GIT``/``SEMVER`` say nothing about
  distribution packages).  Events are read in order; each ``introduced`` opens an
  interval that the next ``fixed`` or ``last_affected`` closes, so one range may give
  several :class:`AffectedPackage`; ``introduced: "0"`` is ``""``, an interval never
  closed has ``fixed=""`` (no fix yet), and ``limit`` events are ignored.
* **versions only.** An entry with a ``versions`` list but no usable range is read
  as ``last_affected`` = its highest version (by the release's scheme), introduced
  ``""``: every version up to the newest one listed.  This over-approximates a
  sparse list (an unlisted older build also matches) rather than miss a device.
* **Status.** Ubuntu's OSV lists only affected releases: per Canonical's OSV notes,
  ``DNE`` and ``not-affected`` are left out; ``needs-triage``, ``needed``,
  ``ignored``, ``deferred``, ``pending`` appear as an entry without ``fixed``.  So
  OSV never yields ``not_affected=True``; those entries become ``fixed=""``.
* **CVEs** come from the id (``UBUNTU-CVE-2023-4911``), ``aliases``, ``related``,
  ``upstream`` (a USN lists ``UBUNTU-CVE-…`` there) and ``cves_map`` (schema 1.7);
  only ``CVE-YYYY-N…`` or ``<PREFIX>-CVE-YYYY-N…`` count (not ``USN-…``,
  ``GO-…``).
* **severity** is the vendor's word: the ``Ubuntu`` entry of ``severity``, else
  ``database_specific.severity``, else the first
  ``ecosystem_specific.ubuntu_priority`` (Ubuntu schema 1.6), else the Red Hat
  impact of a ``…/security/updates/classification/#important`` reference.
* **summary** is ``summary`` or the first non-blank line of ``details``; **url** the
  first ``ADVISORY`` or ``WEB`` reference; ``withdrawn`` (a timestamp) sets
  ``withdrawn=True``; naive timestamps are read as UTC.

Every value the parser uses is type-checked; a wrong shape raises
:class:`FeedError` naming the record (or file) and the JSON path, e.g.
``osv: DSA-5000-1: affected[0].ranges[0].events: must be a list, got string``.
``database_specific`` and ``ecosystem_specific`` are free-form by the schema: only
what has the expected type is read from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, cast

from patchfleet.core.advisories import (
    CVE_ID,
    Advisory,
    AffectedPackage,
    release_key,
    scheme_of,
)
from patchfleet.core.versions import Scheme, VersionError, sort_key
from patchfleet.server.feeds import sources
from patchfleet.server.feeds.errors import FeedError

__all__ = [
    "MAX_RECORD_BYTES",
    "iter_file",
    "normalise_version",
    "parse_record",
    "redhat_release",
    "release_of_ecosystem",
    "suse_release",
]

FEED: Final = "osv"
MAX_RECORD_BYTES: Final = 64 * 1024 * 1024
"""Largest accepted zip member (one record); real records are at most a few 100 KB."""

_JSON_NAMES: Final = (".json", ".json.gz", ".json.bz2", ".json.xz")
_DISTRO_CVE: Final = re.compile(rf"(?:[A-Za-z][A-Za-z0-9]*-)?({CVE_ID.pattern})")
_ZERO_EPOCH: Final = re.compile(r"\A0+:(?=.)")
_NUMERIC_RELEASE: Final = re.compile(r"\d+(?:\.\d+)*")
_UBUNTU_VERSION: Final = re.compile(r"\d{2}\.\d{2}")
_REDHAT_IMPACT: Final = re.compile(
    r"https?://access\.redhat\.com/security/updates/classification/#(\w+)"
)
_JSON_TYPES: Final = {
    dict: "object",
    list: "list",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

# Red Hat product streams (the CPE product of ``Red Hat:<product>:<version>::<repo>``)
# whose packages a plain RHEL device installs or that a subscription add-on extends.
# Layered products (ocp_tools, openshift, rhel_software_collections…) ship their own
# repositories and are no OS release: they map to nothing.
_REDHAT_STREAMS: Final = {
    "enterprise_linux": "rhel",
    "rhel_eus": "rhel-eus",
    "rhel_aus": "rhel-aus",
    "rhel_e4s": "rhel-e4s",
    "rhel_tus": "rhel-tus",
    "rhel_els": "rhel-els",
}
# SUSE products by name (OVAL platform, OSV ecosystem after ``SUSE:``) → os-release ID.
# Modules (Basesystem, Server Applications…) are repositories of SLES itself.
_SUSE_PRODUCT: Final = re.compile(
    r"(?:SUSE )?Linux Enterprise (?P<product>.+?) (?P<major>\d+)"
    r"(?: SP\d+)?(?P<suffix>-[A-Za-z]+)?"
)
_SUSE_IDS: Final = {
    "Server": "sles",
    "Server for SAP Applications": "sles_sap",
    "Desktop": "sled",
}


def normalise_version(version: str) -> str:
    """Drops a zero epoch the way rpm, dnf and dpkg print versions.

    Args:
        version: A version as a feed writes it (``0:1.2-3.el9``, ``1:2.3-4``).

    Returns:
        ``1.2-3.el9`` for a ``0:`` (or ``00:``) epoch; any other version unchanged.
    """
    return _ZERO_EPOCH.sub("", version.strip(), count=1)


def redhat_release(product: str, version: str) -> str:
    """The release key of a Red Hat CPE product and version.

    Args:
        product: The CPE product, e.g. ``enterprise_linux`` or ``rhel_eus``.
        version: The CPE version, e.g. ``9`` or ``9.2``.

    Returns:
        ``rhel:9`` for the main stream, ``rhel-eus:9.2`` (``-aus``, ``-e4s``,
        ``-tus``, ``-els``) for the extended streams, ``""`` for anything else.
    """
    stream = _REDHAT_STREAMS.get(product.strip().lower())
    if stream is None or not _NUMERIC_RELEASE.fullmatch(version.strip()):
        return ""
    return release_key(stream, version)


def suse_release(product: str) -> str:
    """The release key of a SUSE Linux Enterprise product name.

    Args:
        product: ``SUSE Linux Enterprise Server 15 SP3``, ``…Server 15 SP2-LTSS``,
            ``…Module for Basesystem 15 SP4``, ``…Desktop 15 SP4``…

    Returns:
        ``sles:15`` for the server and its modules, ``sles-ltss:15`` for LTSS
        (a paid extension, like Ubuntu Pro), ``sles_sap:15`` and ``sled:15`` for SLES
        for SAP and the desktop; ``""`` for other products (HPC, Real Time, Micro,
        SUSE Manager, ESPOS…).
    """
    match = _SUSE_PRODUCT.fullmatch(product.strip())
    if match is None:
        return ""
    name, suffix = match["product"], (match["suffix"] or "").lower()
    ltss = suffix == "-ltss" or name.endswith(" LTSS")
    name = name.removesuffix(" LTSS")
    os_id = "sles" if name.startswith("Module for ") else _SUSE_IDS.get(name, "")
    if not os_id or (suffix and not ltss):
        return ""
    return release_key(f"{os_id}-ltss" if ltss else os_id, match["major"])


def _numeric(os_id: str) -> Callable[[str], str]:
    def release(rest: str) -> str:
        version = rest.split(":", 1)[0].strip()
        return (
            release_key(os_id, version) if _NUMERIC_RELEASE.fullmatch(version) else ""
        )

    return release


def _ubuntu(rest: str) -> str:
    parts = [p.strip() for p in rest.split(":")]
    at = next((i for i, p in enumerate(parts) if _UBUNTU_VERSION.fullmatch(p)), None)
    if at is None:
        return ""
    words = parts[:at] + [p for p in parts[at + 1 :] if p.upper() != "LTS"]
    variant = "-".join(w.lower().replace(" ", "-") for w in words if w)
    return release_key(f"ubuntu-{variant}" if variant else "ubuntu", parts[at])


def _redhat(rest: str) -> str:
    product, _, tail = rest.partition(":")
    return redhat_release(product, tail.partition(":")[0])


def _suse(rest: str) -> str:
    return suse_release(f"SUSE {rest}")


def _opensuse(rest: str) -> str:
    name, _, version = rest.strip().partition(" ")
    if name != "Leap" or not _NUMERIC_RELEASE.fullmatch(version):
        return ""
    return release_key("opensuse-leap", version)


_ECOSYSTEMS: Final[Mapping[str, Callable[[str], str]]] = {
    "debian": _numeric("debian"),
    "ubuntu": _ubuntu,
    "almalinux": _numeric("almalinux"),
    "rocky linux": _numeric("rocky"),
    "red hat": _redhat,
    "suse": _suse,
    "opensuse": _opensuse,
}


def release_of_ecosystem(ecosystem: str) -> str:
    """The release key of an OSV ecosystem, or ``""`` when it is no OS release.

    Args:
        ecosystem: ``affected[].package.ecosystem``: ``Debian:12``,
            ``Ubuntu:22.04:LTS``, ``Ubuntu:Pro:FIPS-updates:22.04:LTS``,
            ``Red Hat:rhel_eus:9.2::appstream``, ``Rocky Linux:9``, ``npm``…

    Returns:
        ``debian:12``, ``ubuntu:22.04``, ``ubuntu-pro-fips-updates:22.04``,
        ``rhel-eus:9.2``, ``rocky:9``; ``""`` for language ecosystems, unknown
        distributions, layered products and ecosystems without a release.
    """
    name, _, rest = ecosystem.partition(":")
    release = _ECOSYSTEMS.get(name.strip().lower())
    return release(rest) if release is not None and rest.strip() else ""


# --------------------------------------------------------------------------- reading


class _Record:
    """Type-checked access to one record's values; errors name the JSON path."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def error(self, path: str, reason: str) -> FeedError:
        return FeedError(FEED, f"{self.label}: {path}" if path else self.label, reason)

    def wrong(self, path: str, expected: str, value: object) -> FeedError:
        got = _JSON_TYPES.get(type(value), type(value).__name__)
        return self.error(path, f"must be {expected}, got {got}")

    def obj(self, value: object, path: str) -> Mapping[str, object]:
        if not isinstance(value, dict):
            raise self.wrong(path, "an object", value)
        return value

    def items(self, parent: Mapping[str, object], key: str, path: str) -> list[object]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(_join(path, key), "a list", value)
        return value

    def text(self, parent: Mapping[str, object], key: str, path: str) -> str:
        value = parent.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.wrong(_join(path, key), "a string", value)
        return value

    def texts(self, parent: Mapping[str, object], key: str, path: str) -> list[str]:
        values = self.items(parent, key, path)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.wrong(f"{_join(path, key)}[{i}]", "a string", value)
        return cast("list[str]", values)  # every element checked above

    def when(self, parent: Mapping[str, object], key: str) -> datetime | None:
        value = self.text(parent, key, "")
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.error(key, f"not an RFC 3339 timestamp: {value!r}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _free_form(parent: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _cve_of(text: str) -> str:
    match = _DISTRO_CVE.fullmatch(text.strip())
    return match[1] if match else ""


def parse_record(data: object, where: str = "") -> Advisory | None:
    """Reads one decoded OSV record.

    Args:
        data: The record as ``json.loads`` returns it.
        where: The file (or archive member) it came from, for error messages.

    Returns:
        The advisory with its OS-distribution packages, or ``None`` when the record
        names no OS-distribution package (an npm/PyPI-only record, a layered
        product).

    Raises:
        FeedError: The record is not an object, has no string ``id`` or holds a
            value of the wrong type; the message names the record and JSON path.
    """
    top = _Record(where or "record")
    record = top.obj(data, "")
    rid = record.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise top.error(
            "id", "missing" if rid is None else "must be a non-empty string"
        )
    rec = _Record(f"{where}: {rid}" if where else rid)

    affected: dict[AffectedPackage, None] = {}
    cves = {_cve_of(rid)}
    priority = ""
    for i, entry_value in enumerate(rec.items(record, "affected", "")):
        path = f"affected[{i}]"
        entry = rec.obj(entry_value, path)
        for package in _affected(rec, entry, path):
            affected[package] = None
        cves.update(_cves_map(entry))
        if not priority:
            priority = _text_of(
                _free_form(entry, "ecosystem_specific"), "ubuntu_priority"
            )
    if not affected:
        return None

    for key in ("aliases", "related", "upstream"):
        cves.update(_cve_of(alias) for alias in rec.texts(record, key, ""))
    cves.update(_cves_map(record))
    cves.discard("")
    references = _references(rec, record)
    details = rec.text(record, "details", "")
    summary = rec.text(record, "summary", "").strip() or next(
        (line.strip() for line in details.splitlines() if line.strip()), ""
    )
    return Advisory(
        id=rid.strip(),
        source=FEED,
        cves=tuple(sorted(cves)),
        affected=tuple(affected),
        summary=summary,
        severity=_severity(rec, record, priority, references),
        published=rec.when(record, "published"),
        modified=rec.when(record, "modified"),
        url=next((url for kind, url in references if kind in ("ADVISORY", "WEB")), ""),
        withdrawn=rec.when(record, "withdrawn") is not None,
    )


def _text_of(parent: Mapping[str, object], key: str) -> str:
    value = parent.get(key)
    return value.strip() if isinstance(value, str) else ""


def _cves_map(parent: Mapping[str, object]) -> Iterator[str]:
    """CVE ids of a schema-1.7 ``database_specific.cves_map`` (free-form: lenient)."""
    cves_map = _free_form(_free_form(parent, "database_specific"), "cves_map")
    listed = cves_map.get("cves")
    for item in listed if isinstance(listed, list) else ():
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            yield _cve_of(item["id"])


def _references(rec: _Record, record: Mapping[str, object]) -> list[tuple[str, str]]:
    found = []
    for i, value in enumerate(rec.items(record, "references", "")):
        path = f"references[{i}]"
        reference = rec.obj(value, path)
        found.append(
            (rec.text(reference, "type", path), rec.text(reference, "url", path))
        )
    return found


def _severity(
    rec: _Record,
    record: Mapping[str, object],
    priority: str,
    references: list[tuple[str, str]],
) -> str:
    for i, value in enumerate(rec.items(record, "severity", "")):
        path = f"severity[{i}]"
        entry = rec.obj(value, path)
        if rec.text(entry, "type", path) == "Ubuntu":
            return rec.text(entry, "score", path).strip()
    word = _text_of(_free_form(record, "database_specific"), "severity") or priority
    if word:
        return word
    impacts = (_REDHAT_IMPACT.match(url) for _, url in references)
    return next((impact[1] for impact in impacts if impact), "")


def _affected(
    rec: _Record, entry: Mapping[str, object], path: str
) -> Iterator[AffectedPackage]:
    if entry.get("package") is None:  # allowed for GIT-only entries
        return
    package = rec.obj(entry["package"], f"{path}.package")
    ecosystem = rec.text(package, "ecosystem", f"{path}.package")
    name = rec.text(package, "name", f"{path}.package").strip()
    release = release_of_ecosystem(ecosystem)
    if not release:
        return
    if not name:
        raise rec.error(f"{path}.package.name", "missing")
    scheme = scheme_of(release)
    spans = [
        span
        for j, value in enumerate(rec.items(entry, "ranges", path))
        for span in _ranges(rec, value, f"{path}.ranges[{j}]")
    ]
    if not spans:
        newest = _newest(rec, scheme, rec.texts(entry, "versions", path), path)
        spans = [("", "", newest)] if newest else []
    for introduced, fixed, last_affected in spans:
        yield AffectedPackage(
            release=release,
            package=name,
            scheme=scheme,
            introduced=introduced,
            fixed=fixed,
            last_affected=last_affected,
        )


def _ranges(rec: _Record, value: object, path: str) -> list[tuple[str, str, str]]:
    """``(introduced, fixed, last_affected)`` intervals of one ECOSYSTEM range."""
    span = rec.obj(value, path)
    if rec.text(span, "type", path) != "ECOSYSTEM":
        return []
    if "events" not in span:
        raise rec.error(f"{path}.events", "missing")
    intervals = []
    start: str | None = None
    for k, event_value in enumerate(rec.items(span, "events", path)):
        event_path = f"{path}.events[{k}]"
        event = rec.obj(event_value, event_path)
        values = {
            key: normalise_version(rec.text(event, key, event_path))
            for key in ("introduced", "fixed", "last_affected", "limit")
            if key in event
        }
        if "introduced" in values:
            if start is None:  # a second "introduced" while open adds nothing
                start = "" if values["introduced"] == "0" else values["introduced"]
        elif "fixed" in values or "last_affected" in values:
            fixed, last = values.get("fixed", ""), values.get("last_affected", "")
            intervals.append((start or "", fixed, last))
            start = None
    if start is not None:
        intervals.append((start, "", ""))
    return intervals


def _newest(rec: _Record, scheme: Scheme, versions: list[str], path: str) -> str:
    newest = ""
    for i, version in enumerate(normalise_version(v) for v in versions):
        try:
            if not newest or sort_key(scheme, version) > sort_key(scheme, newest):
                newest = version
        except VersionError as exc:
            raise rec.error(f"{path}.versions[{i}]", str(exc)) from None
    return newest


# ----------------------------------------------------------------------------- files


def iter_file(path: Path) -> Iterator[Advisory]:
    """Reads OSV advisories from a record file, a list file, a zip dump or a folder.

    Args:
        path: One of
            * a ``.json`` file holding one record or a JSON list of records (gzip,
              bzip2 or xz compressed files are read transparently);
            * a zip archive like OSV's ``Debian/all.zip``, each ``.json`` member one
              record (or list), read member by member;
            * a folder (an air-gapped mirror): every ``*.json[.gz|.bz2|.xz]`` and
              ``*.zip`` below it, in sorted path order.

    Yields:
        Each record's advisory; records without an OS-distribution package are
        skipped.

    Raises:
        FeedError: Malformed JSON (naming the file or member, line and column),
            corrupt compressed data or a corrupt archive member, or a record of the
            wrong shape.
        OSError: A file cannot be opened.
    """
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if file.name.endswith((*_JSON_NAMES, ".zip")):
                yield from _iter_path(file, file.relative_to(path).as_posix())
        return
    yield from _iter_path(path, path.name)


def _iter_path(path: Path, where: str) -> Iterator[Advisory]:
    if sources.sniff(path) is sources.Kind.ZIP:
        for member, stream in sources.iter_zip_members(path, FEED, suffix=".json"):
            member_where = f"{where}!{member}"
            data = sources.read_limited(stream, MAX_RECORD_BYTES, FEED, member_where)
            yield from _iter_document(data, member_where)
        return
    with sources.open_stream(path, FEED) as stream:
        data = sources.read_limited(stream, None, FEED, where)
    yield from _iter_document(data, where)


def _iter_document(data: bytes, where: str) -> Iterator[Advisory]:
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        reason = f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise FeedError(FEED, where, reason) from None
    except UnicodeDecodeError as exc:
        raise FeedError(FEED, where, f"not UTF-8 JSON text: {exc.reason}") from None
    except RecursionError:
        raise FeedError(FEED, where, "malformed JSON: nested too deeply") from None
    if isinstance(document, list):
        for i, item in enumerate(document):
            advisory = parse_record(item, f"{where}[{i}]")
            if advisory is not None:
                yield advisory
    elif isinstance(document, dict):
        advisory = parse_record(document, where)
        if advisory is not None:
            yield advisory
    else:
        got = _JSON_TYPES.get(type(document), type(document).__name__)
        raise FeedError(
            FEED, where, f"must be an OSV record or a list of records, got {got}"
        )
