"""OVAL definitions (Red Hat, Ubuntu, SUSE) → :class:`Advisory`, streamed.

The XML is read with ``defusedxml``'s ``iterparse``: a DTD, entity declarations or
external references are refused (:class:`FeedError` "XML entities/DTD are not
allowed"), malformed or truncated XML names its line and column.  OVAL puts the
``<definitions>`` first and the ``<tests>``, ``<objects>``, ``<states>`` and
``<variables>`` they reference after them, so each element is reduced to a compact
tuple of what the definitions need and cleared as soon as it ends; once the
definitions are read, only tests, objects, states and variables they reference are
kept.  Advisories are resolved and yielded after the end of the document.

Definitions and what they yield (one :class:`AffectedPackage` per package test):

* **Red Hat v1** (``com.redhat.rhsa-*.xml``) and **v2** (``rhel-9.oval.xml``,
  ``rhel-9-including-unpatched.oval.xml``).  ``class="patch"``: id from the
  ``RHSA``/``RHBA``/``RHEA`` reference; each ``rpminfo_test`` whose state says
  ``evr`` *less than* X of package P gives ``fixed=X``.  Tests against
  Red Hat's signing key ("is signed with Red Hat … key"), ``equals`` checks (the
  kernel a kpatch applies to), "is not installed" tests and running-kernel checks
  state no fix and are skipped.  ``class="vulnerability"`` of
  ``including-unpatched`` (``oval:com.redhat.cve:def:…``): the CVE is known and the
  component is shipped but not fixed (``<resolution state="Will not fix">``, "Fix
  deferred", "Affected"…), written as "P is installed" tests without a version
  state: ``fixed=""`` (no fix yet).  ``oval:com.redhat.unaffected:def:…``
  ("Unaffected components for: CVE-…", "determined to NOT be affected") pairs "P is
  installed" with "P is not installed", so it never matches a host: every package
  named in it gets ``not_affected=True``.  Red Hat writes epochs (``0:91.9.1-…``);
  a zero epoch is dropped as rpm prints versions.
* **Ubuntu** CVE OVAL (``com.ubuntu.jammy.cve.oval.xml``, one definition per CVE)
  and package OVAL (``….pkg.oval.xml``, one definition per source package whose
  ``<cve test_ref=…>`` elements say which test belongs to which CVE: it yields one
  advisory per CVE).  Both the ``dpkginfo`` form and the OCI form
  (``textfilecontent54`` over a manifest, binaries listed in a
  ``constant_variable``) are read.  A *less than* state gives ``fixed``; a test
  without state ("needs fixing", deferred…) gives ``fixed=""``.  The tests name
  *binary* packages, but each object (or test) comment names the source package
  ("The 'openssh' package binaries"), which is what :class:`AffectedPackage` keeps
  for Ubuntu; only when no comment names it are the binary names used, one entry
  each.  The release comes from ``<platform>Ubuntu 22.04 LTS</platform>`` or the
  definition id's codename (``oval:com.ubuntu.jammy:…`` → ``ubuntu:22.04``).  A fix
  whose version carries ``esm`` (``~esm1``, ``+esm3``) is only available with
  Ubuntu Pro and goes to ``ubuntu-pro:22.04``, as OSV scopes it.
* **SUSE** (``suse.linux.enterprise.15-affected.xml``): criteria pair product
  criteria ("SUSE Linux Enterprise Server 15 SP3 is installed") with package tests.
  Products map through :func:`~patchfleet.server.feeds.osv.suse_release` (SLES and
  its modules → ``sles:15``, LTSS → ``sles-ltss:15``, SLES for SAP, SLED; other
  products are skipped), so service packs fold into one release.  A criterion
  "P is not affected" gives ``not_affected=True``; *less than* states give fixes.

Releases of a package test come from the product criteria that are its siblings
under an ``AND`` ("Red Hat Enterprise Linux 9 is installed" → ``rhel:9``), else from
the definition (``affected_cpe_list`` CPE ``cpe:/o:redhat:enterprise_linux:9``,
``<platform>``).  Definitions whose CPEs name only an extended Red Hat stream
(``rhel_eus:9.2``) put ``rhel:9`` packages under that stream (``rhel-eus:9.2``).

Advisory ids: the RHSA/USN… reference of a patch (``RHSA-2022:4765``); for a
per-CVE definition the CVE *scoped by the definition's release*
(``CVE-2005-2541@rhel:9``, ``CVE-2023-48795@ubuntu:22.04``), because every
per-release file of a vendor repeats the CVE with that release's packages and the
store keeps one advisory per (source, id).  ``cves`` holds the bare CVE ids.
Definitions sharing an id within one file are merged.  Dates that do not parse are
left empty.  Tests a criterion refers to but the file lacks (trimmed files) are
ignored.

Memory: a definition is kept as a few strings plus its package test references
grouped by release (signing-key criteria are dropped by their comment); ids and
references are interned, so each is stored once.  A 63 MB RHEL 9 file with 8,000
definitions and 60,000 package tests holds about 46 MB of Python objects.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from patchfleet.core.advisories import CVE_ID, Advisory, AffectedPackage, scheme_of
from patchfleet.server.feeds import sources
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.feeds.osv import (
    normalise_version,
    redhat_release,
    suse_release,
)

__all__ = ["iter_oval", "iter_oval_file", "release_of_product", "ubuntu_release"]

FEED: Final = "oval"
_ROOT: Final = "oval_definitions"
_PACKAGE_TESTS: Final = frozenset(
    {"rpminfo_test", "dpkginfo_test", "textfilecontent54_test"}
)
_PACKAGE_STATES: Final = frozenset(
    {"rpminfo_state", "dpkginfo_state", "textfilecontent54_state"}
)
_PACKAGE_OBJECTS: Final = frozenset(
    {"rpminfo_object", "dpkginfo_object", "textfilecontent54_object"}
)
_KEPT: Final = {
    "tests": _PACKAGE_TESTS,
    "objects": _PACKAGE_OBJECTS,
    "states": _PACKAGE_STATES,
    "variables": frozenset({"constant_variable"}),
}
_VERSION_FIELDS: Final = frozenset({"evr", "version", "subexpression"})
_ADVISORY_REFS: Final = re.compile(r"(?:RH[SBE]A|USN|[A-Z]+SA|SUSE-SU)-\d{4}[-:]\S+")
_PRODUCT_INSTALLED: Final = re.compile(r"(?P<product>\S+ .+?) is installed")
_SIGNED: Final = re.compile(r"\S+ is signed with .* key")
_REDHAT: Final = re.compile(r"Red Hat Enterprise Linux (\d+)(?:\.\d+)?")
_UBUNTU: Final = re.compile(r"Ubuntu (\d{2}\.\d{2})(?: LTS)?")
_DEBIAN: Final = re.compile(r"Debian(?: GNU/Linux)? (\d+)(?:\.\d+)?")
_UBUNTU_ID: Final = re.compile(r"oval:com\.ubuntu\.([a-z]+):")
_REDHAT_CPE: Final = re.compile(r"cpe:/[ao]:redhat:([a-z0-9_]+):([0-9.]+)")
_SOURCE_NAME: Final = re.compile(r"'([A-Za-z0-9][A-Za-z0-9.+_-]*)' package")
_PACKAGE_NAME: Final = re.compile(r"\^?([A-Za-z0-9_][A-Za-z0-9_.+-]*)")
_ESM: Final = re.compile(r"[+~]esm\d")
_MAIN_OS: Final = ("rhel", "ubuntu", "sles", "debian")  # the scope of a per-CVE id
MAX_CRITERIA_DEPTH: Final = 64
"""Deepest accepted ``<criteria>`` nesting; vendors' files nest fewer than 10."""

UBUNTU_CODENAMES: Final = {
    "warty": "4.10",
    "hoary": "5.04",
    "breezy": "5.10",
    "dapper": "6.06",
    "edgy": "6.10",
    "feisty": "7.04",
    "gutsy": "7.10",
    "hardy": "8.04",
    "intrepid": "8.10",
    "jaunty": "9.04",
    "karmic": "9.10",
    "lucid": "10.04",
    "maverick": "10.10",
    "natty": "11.04",
    "oneiric": "11.10",
    "precise": "12.04",
    "quantal": "12.10",
    "raring": "13.04",
    "saucy": "13.10",
    "trusty": "14.04",
    "utopic": "14.10",
    "vivid": "15.04",
    "wily": "15.10",
    "xenial": "16.04",
    "yakkety": "16.10",
    "zesty": "17.04",
    "artful": "17.10",
    "bionic": "18.04",
    "cosmic": "18.10",
    "disco": "19.04",
    "eoan": "19.10",
    "focal": "20.04",
    "groovy": "20.10",
    "hirsute": "21.04",
    "impish": "21.10",
    "jammy": "22.04",
    "kinetic": "22.10",
    "lunar": "23.04",
    "mantic": "23.10",
    "noble": "24.04",
    "oracular": "24.10",
    "plucky": "25.04",
    "questing": "25.10",
    "resolute": "26.04",
}
"""Ubuntu release codenames → version numbers."""


def ubuntu_release(codename: str) -> str:
    """The release key of an Ubuntu codename (``jammy`` → ``ubuntu:22.04``).

    Args:
        codename: A release codename, any case.

    Returns:
        The release key, or ``""`` for an unknown codename.
    """
    version = UBUNTU_CODENAMES.get(codename.strip().lower())
    return f"ubuntu:{version}" if version else ""


def release_of_product(product: str) -> str:
    """The release key of an OVAL product or platform name.

    Args:
        product: ``Red Hat Enterprise Linux 9``, ``Ubuntu 22.04 LTS``,
            ``Debian GNU/Linux 12``, ``SUSE Linux Enterprise Server 15 SP3``…

    Returns:
        ``rhel:9``, ``ubuntu:22.04``, ``debian:12``, ``sles:15``…; ``""`` for
        other products (``Red Hat CoreOS 4``, ``SUSE Manager Server 4.3``…).
    """
    text = product.strip()
    if match := _REDHAT.fullmatch(text):
        return redhat_release("enterprise_linux", match[1])
    if match := _UBUNTU.fullmatch(text):
        return f"ubuntu:{match[1]}"
    if match := _DEBIAN.fullmatch(text):
        return f"debian:{match[1]}"
    return suse_release(text)


# ------------------------------------------------------------------ compact records


class _MalformedError(Exception):
    """Well-formed XML that is no usable OVAL; iter_oval adds the file name."""


class _Criterion(NamedTuple):
    """A package criterion: a test, and whether its comment says "not affected"."""

    test_ref: str
    not_affected: bool


class _Criteria(NamedTuple):
    """A criteria node.  ``products`` is not None when the subtree holds product
    criteria only ("… is installed"): the releases they map to (maybe none)."""

    operator: str
    children: tuple[_Criterion | _Criteria, ...]
    products: frozenset[str] | None


class _Meta(NamedTuple):
    """What an advisory says about itself, resolved when its definition ends."""

    id: str
    cves: tuple[str, ...]
    summary: str
    severity: str
    published: datetime | None
    modified: datetime | None
    url: str


class _Definition(NamedTuple):
    # (advisory, test_ref): one advisory from every package test (test_ref ""), or
    # for Ubuntu package OVAL one per CVE from the test its <cve test_ref> names.
    advisories: tuple[tuple[_Meta, str], ...]
    patch: bool  # class="patch": a test without version state states nothing
    unaffected: bool  # Red Hat "Unaffected components for: CVE-…"
    releases: frozenset[str]  # from <platform>, CPEs and the id, for the fallback
    streams: frozenset[str]  # extended Red Hat streams of the CPEs
    groups: tuple[_Group, ...]


class _Group(NamedTuple):
    """Package tests of a definition that share their releases and statement.

    ``releases`` None: no product criterion scopes them, the definition's own
    releases apply.  Grouping keeps a 20-package RHSA at a few hundred bytes.
    """

    releases: frozenset[str] | None
    not_affected: bool
    test_refs: tuple[str, ...]


class _Test(NamedTuple):
    object_ref: str
    state_refs: tuple[str, ...]
    absent: bool  # check_existence="none_exist": "P is not installed"
    source: str  # source package named by the comment (Ubuntu)


class _Object(NamedTuple):
    name: str
    var_ref: str
    source: str


class _State(NamedTuple):
    operation: str  # of the version field, "" without one
    version: str
    signature: bool


@dataclass
class _Document:
    """What the definitions need of one OVAL document."""

    definitions: list[_Definition] = field(default_factory=list)
    tests: dict[str, _Test] = field(default_factory=dict)
    objects: dict[str, _Object] = field(default_factory=dict)
    states: dict[str, _State] = field(default_factory=dict)
    variables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What later sections must keep; None until the referring section has ended.
    needed_tests: set[str] | None = None
    needed_objects: set[str] | None = None
    needed_states: set[str] | None = None
    needed_variables: set[str] | None = None

    def keep(self, section: str, element: Element) -> None:
        kind = _local(element.tag)
        if section == "definitions" and kind == "definition":
            if element.get("class") != "inventory":  # "Ubuntu 22.04 is installed"
                self.definitions.append(_definition(element))
        elif kind in _KEPT.get(section, ()):
            self._store(section, element.get("id", ""), element)

    def _store(self, section: str, oid: str, element: Element) -> None:
        # Keys are interned: the same string object as the references to them.
        if section == "tests" and _wanted(oid, self.needed_tests):
            self.tests[sys.intern(oid)] = _test(element)
        elif section == "objects" and _wanted(oid, self.needed_objects):
            self.objects[sys.intern(oid)] = _object(element)
        elif section == "states" and _wanted(oid, self.needed_states):
            self.states[sys.intern(oid)] = _state(element)
        elif section == "variables" and _wanted(oid, self.needed_variables):
            values = (v for v in element if _local(v.tag) == "value")
            self.variables[oid] = tuple(_text(value) for value in values)

    def section_done(self, section: str) -> None:
        if section == "definitions":
            self.needed_tests = {ref for d in self.definitions for ref in _test_refs(d)}
        elif section == "tests":
            self.needed_objects = {t.object_ref for t in self.tests.values()}
            self.needed_states = {s for t in self.tests.values() for s in t.state_refs}
        elif section == "objects":
            self.needed_variables = {o.var_ref for o in self.objects.values()}


def _wanted(oid: str, needed: set[str] | None) -> bool:
    return needed is None or oid in needed


def _local(tag: object) -> str:
    """``name`` of ``{namespace}name``; memoised, as a file repeats few tags."""
    try:
        return _LOCAL_NAMES[tag]  # type: ignore[index]
    except (KeyError, TypeError):
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if isinstance(tag, str) and len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
        return name


_LOCAL_NAMES: dict[str, str] = {}


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _definition(element: Element) -> _Definition:
    metadata = _child(element, "metadata")
    meta = metadata if metadata is not None else Element("metadata")
    advisory = _child(meta, "advisory")
    adv = advisory if advisory is not None else Element("advisory")
    oval_id = element.get("id", "")
    title = _text(_child(meta, "title"))
    releases, streams = _definition_releases(oval_id, meta, adv)
    references = [
        (r.get("source", "").upper(), r.get("ref_id", "").strip(), r.get("ref_url", ""))
        for r in meta
        if _local(r.tag) == "reference"
    ]
    cve_elements = [
        (match[0], c)
        for c in adv
        if _local(c.tag) == "cve" and (match := CVE_ID.search(_text(c)))
    ]
    cves = {cve for cve, _ in cve_elements} | {
        match[0]
        for source, ref_id, _ in references
        if source == "CVE" and (match := CVE_ID.search(ref_id))
    }
    scope = _scope(streams or releases)
    if any(c.get("test_ref") for _, c in cve_elements):
        # Ubuntu package OVAL: each <cve> names the test of its fix.
        advisories = tuple(
            (
                _Meta(
                    id=_scoped(cve, scope),
                    cves=(sys.intern(cve),),
                    summary="",
                    severity=sys.intern(c.get("priority", "")),
                    published=_when(c.get("public", "")),
                    modified=None,
                    url=c.get("href", ""),
                ),
                sys.intern(c.get("test_ref", "")),
            )
            for cve, c in cve_elements
            if c.get("test_ref")
        )
    else:
        advisory_id, url = _identity(oval_id, title, references, cves, scope)
        priorities = (c.get("priority", "") for _, c in cve_elements)
        publics = (_when(c.get("public", "")) for _, c in cve_elements)
        issued = _date_of(adv, "issued") or _text(_child(adv, "public_date"))
        entry = _Meta(
            id=advisory_id,
            cves=tuple(sorted(sys.intern(cve) for cve in cves)),
            summary=title,
            severity=sys.intern(
                _text(_child(adv, "severity")) or next((p for p in priorities if p), "")
            ),
            published=_when(issued) or next((p for p in publics if p), None),
            modified=_when(_date_of(adv, "updated")),
            url=url,
        )
        advisories = ((entry, ""),)
    criteria = _child(element, "criteria")
    return _Definition(
        advisories=advisories,
        patch=element.get("class", "") == "patch",
        unaffected=".unaffected:" in oval_id
        or title.lower().startswith("unaffected components"),
        releases=releases,
        streams=streams,
        groups=_groups(_criteria(criteria) if criteria is not None else None),
    )


def _definition_releases(
    oval_id: str, meta: Element, adv: Element
) -> tuple[frozenset[str], frozenset[str]]:
    """Releases a definition names (platforms, CPEs, Ubuntu codename) and the
    extended Red Hat streams its CPEs name instead of the main one."""
    releases: set[str] = set()
    streams: set[str] = set()
    for affected in (c for c in meta if _local(c.tag) == "affected"):
        releases.update(
            _product_release(_text(p)) for p in affected if _local(p.tag) == "platform"
        )
    cpe_list = _child(adv, "affected_cpe_list")
    for cpe in cpe_list if cpe_list is not None else ():
        release = _cpe_release(_text(cpe))
        (releases if release.startswith("rhel:") else streams).add(release)
    if any(release.startswith("rhel:") for release in releases):
        streams.clear()  # the main stream is named: extended streams add nothing
    if match := _UBUNTU_ID.match(oval_id):
        releases.add(ubuntu_release(match[1]))
    return frozenset(releases - {""}), frozenset(streams - {""})


def _date_of(advisory: Element, name: str) -> str:
    element = _child(advisory, name)
    return element.get("date", "") if element is not None else ""


def _criteria(element: Element, depth: int = 1) -> _Criteria | None:
    """The compact tree; negated parts are dropped (they state an absence)."""
    if depth > MAX_CRITERIA_DEPTH:
        raise _MalformedError(
            f"criteria nested deeper than {MAX_CRITERIA_DEPTH} levels"
        )
    if element.get("negate", "false") == "true":
        return None
    children: list[_Criterion | _Criteria] = []
    products: set[str] | None = set()
    for child in element:
        kind = _local(child.tag)
        node: _Criterion | _Criteria | None
        if kind == "criteria":
            node = _criteria(child, depth + 1)
        elif kind == "criterion" and child.get("negate", "false") != "true":
            node = _criterion(child)
        else:
            continue
        if node is None:
            continue
        children.append(node)
        if isinstance(node, _Criteria) and node.products is not None:
            if products is not None:
                products.update(node.products)
        else:
            products = None
    frozen = frozenset(products) if products is not None and children else None
    return _Criteria(element.get("operator", "AND").upper(), tuple(children), frozen)


def _criterion(element: Element) -> _Criterion | _Criteria | None:
    """A package criterion, a product one ("… is installed") as a leaf group, or
    None for a signing-key check ("P is signed with Red Hat redhatrelease2 key")."""
    comment = element.get("comment", "").strip()
    if comment.endswith(" is installed") and (product := _product(comment)):
        return product
    if _SIGNED.fullmatch(comment):
        return None
    not_affected = comment.endswith(" is not affected") and " " not in comment[:-16]
    return _Criterion(sys.intern(element.get("test_ref", "")), not_affected)


@lru_cache(maxsize=1024)
def _product(comment: str) -> _Criteria | None:
    """The product group of "<product> is installed", None for "<package> is…"."""
    match = _PRODUCT_INSTALLED.fullmatch(comment)
    if match is None:
        return None
    release = release_of_product(match["product"])
    return _Criteria("PRODUCT", (), frozenset({release} - {""}))


@lru_cache(maxsize=4096)
def _product_release(product: str) -> str:
    return release_of_product(product)  # platforms repeat in every definition


@lru_cache(maxsize=4096)
def _cpe_release(cpe: str) -> str:
    """``rhel:9`` of ``cpe:/o:redhat:enterprise_linux:9``, ``rhel-eus:9.2``…"""
    match = _REDHAT_CPE.match(cpe)
    return redhat_release(match[1], match[2]) if match else ""


def _test_refs(definition: _Definition) -> Iterator[str]:
    yield from (test_ref for _, test_ref in definition.advisories if test_ref)
    for group in definition.groups:
        yield from group.test_refs


def _groups(tree: _Criteria | None) -> tuple[_Group, ...]:
    """The package criteria of a tree, grouped by releases and statement."""
    grouped: dict[tuple[frozenset[str] | None, bool], dict[str, None]] = {}
    for criterion, releases in _walk(tree, None) if tree is not None else ():
        grouped.setdefault((releases, criterion.not_affected), {})[
            criterion.test_ref
        ] = None
    return tuple(
        _Group(releases, not_affected, tuple(refs))
        for (releases, not_affected), refs in grouped.items()
    )


def _test(element: Element) -> _Test:
    object_ref = ""
    state_refs = []
    for child in element:
        kind = _local(child.tag)
        if kind == "object":
            object_ref = child.get("object_ref", "")
        elif kind == "state":
            state_refs.append(child.get("state_ref", ""))
    source = _SOURCE_NAME.search(element.get("comment", ""))
    return _Test(
        object_ref=sys.intern(object_ref),
        state_refs=tuple(sys.intern(ref) for ref in state_refs),
        absent=element.get("check_existence", "") == "none_exist",
        source=source[1] if source else "",
    )


def _object(element: Element) -> _Object:
    name = _child(element, "name")
    if name is None:
        name = _child(element, "pattern")  # textfilecontent54 (Ubuntu OCI)
    source = _SOURCE_NAME.search(element.get("comment", ""))
    return _Object(
        name=_text(name) if name is not None and _local(name.tag) == "name" else "",
        var_ref=name.get("var_ref", "") if name is not None else "",
        source=source[1] if source else "",
    )


def _state(element: Element) -> _State:
    signature = False
    for child in element:
        kind = _local(child.tag)
        if kind in _VERSION_FIELDS:
            operation = sys.intern(child.get("operation", "equals"))
            return _State(operation, sys.intern(_text(child)), False)
        signature = signature or kind == "signature_keyid"
    return _State("", "", signature)


# ----------------------------------------------------------------------- streaming


def iter_oval(stream: BinaryIO, where: str = "") -> Iterator[Advisory]:
    """Reads the advisories of one OVAL definitions document.

    Args:
        stream: The (decompressed) XML as a binary stream, e.g. from
            :func:`~patchfleet.server.feeds.sources.open_stream`.
        where: The file name, for error messages.

    Yields:
        One advisory per definition (per CVE for Ubuntu package OVAL) that names at
        least one package of a known release, after the whole document is read.

    Raises:
        FeedError: The XML is malformed or truncated (with line and column), holds
            a DTD or entities, is no OVAL definitions document, or its compressed
            data is corrupt.
    """
    document = _Document()
    try:
        _read(stream, document)
    except ParseError as exc:
        raise FeedError(FEED, where, f"malformed or truncated XML: {exc}") from None
    except _MalformedError as exc:
        raise FeedError(FEED, where, str(exc)) from None
    except DefusedXmlException as exc:
        reason = f"XML entities/DTD are not allowed ({type(exc).__name__}: {exc})"
        raise FeedError(FEED, where, reason) from None
    except sources.STREAM_ERRORS as exc:
        reason = f"corrupt or truncated compressed data: {exc}"
        raise FeedError(FEED, where, reason) from None
    yield from _resolve(document)


def iter_oval_file(path: Path) -> Iterator[Advisory]:
    """Reads the advisories of an OVAL file, plain or gzip/bzip2/xz compressed.

    Args:
        path: The file (``rhel-9.oval.xml.bz2``…).

    Yields:
        What :func:`iter_oval` yields.

    Raises:
        FeedError: As :func:`iter_oval`, naming the file.
        OSError: The file cannot be opened.
    """
    with sources.open_stream(path, FEED) as stream:
        yield from iter_oval(stream, path.name)


def _read(stream: BinaryIO, document: _Document) -> None:
    depth = 0
    section = ""
    holder: Element | None = None
    for event, element in iterparse(
        stream, events=("start", "end"), forbid_dtd=True, forbid_entities=True
    ):
        if event == "start":
            depth += 1
            if depth == 1 and _local(element.tag) != _ROOT:
                root = _local(element.tag)
                raise _MalformedError(
                    f"not an OVAL definitions document (root <{root}>)"
                )
            if depth == 2:
                section, holder = _local(element.tag), element
            continue
        if depth == 3 and holder is not None:
            document.keep(section, element)
            holder.clear()  # drops this child (and the ones before it)
        elif depth == 2:
            document.section_done(section)
            element.clear()
            section, holder = "", None
        depth -= 1


# ---------------------------------------------------------------------- resolving


class _Entry(NamedTuple):
    test_ref: str
    release: str
    package: str
    fixed: str
    not_affected: bool


@dataclass
class _Draft:
    """An advisory being merged from the definitions that share its id."""

    id: str
    cves: set[str]
    affected: dict[AffectedPackage, None]
    summary: str
    severity: str
    published: datetime | None
    modified: datetime | None
    url: str

    def merge(self, other: _Draft) -> None:
        self.cves |= other.cves
        self.affected.update(other.affected)
        self.summary = self.summary or other.summary
        self.severity = self.severity or other.severity
        self.published = self.published or other.published
        self.modified = self.modified or other.modified
        self.url = self.url or other.url

    def advisory(self) -> Advisory:
        return Advisory(
            id=self.id,
            source=FEED,
            cves=tuple(sorted(self.cves)),
            affected=tuple(self.affected),
            summary=self.summary,
            severity=self.severity,
            published=self.published,
            modified=self.modified,
            url=self.url,
        )


def _resolve(document: _Document) -> Iterator[Advisory]:
    drafts: dict[str, _Draft] = {}
    pending = document.definitions
    pending.reverse()
    while pending:  # popped: each definition is freed once resolved
        for draft in _drafts(document, pending.pop()):
            if draft.id in drafts:
                drafts[draft.id].merge(draft)
            else:
                drafts[draft.id] = draft
    for advisory_id in list(drafts):
        draft = drafts.pop(advisory_id)  # freed once the consumer is done with it
        if draft.affected:
            yield draft.advisory()


def _drafts(document: _Document, definition: _Definition) -> Iterator[_Draft]:
    entries = list(_entries(document, definition))
    by_test: dict[str, list[_Entry]] = {}
    if any(test_ref for _, test_ref in definition.advisories):
        for entry in entries:
            by_test.setdefault(entry.test_ref, []).append(entry)
    for meta, test_ref in definition.advisories:
        yield _Draft(
            id=meta.id,
            cves=set(meta.cves),
            affected=_packages(by_test.get(test_ref, ()) if test_ref else entries),
            summary=meta.summary,
            severity=meta.severity,
            published=meta.published,
            modified=meta.modified,
            url=meta.url,
        )


def _identity(
    oval_id: str,
    title: str,
    references: list[tuple[str, str, str]],
    cves: set[str],
    scope: str,
) -> tuple[str, str]:
    """The advisory id and its URL.

    A patch keeps its RHSA/USN… id; a per-CVE definition is the CVE *in a release*
    (``CVE-2005-2541@rhel:9``), because every per-release file of a vendor repeats
    the CVE with that release's packages and the store keeps one advisory per id.
    """
    for _, ref_id, ref_url in references:
        if _ADVISORY_REFS.fullmatch(ref_id):
            return ref_id, ref_url
    if match := _ADVISORY_REFS.match(title):
        return match[0].rstrip(":"), ""
    if len(cves) == 1:
        (cve,) = cves
        urls = (url for _, ref_id, url in references if cve in ref_id)
        return _scoped(cve, scope), next(urls, "")
    first_url = next((url for _, _, url in references if url), "")
    return _scoped(oval_id, scope), first_url


def _scoped(base: str, scope: str) -> str:
    return f"{base}@{scope}" if scope else base


def _scope(releases: frozenset[str]) -> str:
    """The main release of a definition, which scopes its per-CVE ids."""
    return min(releases, key=_scope_rank, default="")


def _scope_rank(release: str) -> tuple[int, str]:
    os_id = release.partition(":")[0]
    return (_MAIN_OS.index(os_id) if os_id in _MAIN_OS else len(_MAIN_OS), release)


def _packages(entries: Iterable[_Entry]) -> dict[AffectedPackage, None]:
    return {
        AffectedPackage(
            release=e.release,
            package=e.package,
            scheme=scheme_of(e.release),
            fixed=e.fixed,
            not_affected=e.not_affected,
        ): None
        for e in entries
    }


def _entries(document: _Document, definition: _Definition) -> Iterator[_Entry]:
    pending = {test_ref for _, test_ref in definition.advisories if test_ref}
    for group in definition.groups:
        releases = definition.releases if group.releases is None else group.releases
        not_affected = definition.unaffected or group.not_affected
        for test_ref in group.test_refs:
            pending.discard(test_ref)
            yield from _test_entries(
                document, definition, test_ref, releases, not_affected
            )
    for test_ref in sorted(pending):  # <cve test_ref> the criteria do not repeat
        yield from _test_entries(
            document, definition, test_ref, definition.releases, False
        )


def _test_entries(
    document: _Document,
    definition: _Definition,
    test_ref: str,
    releases: frozenset[str],
    not_affected: bool,
) -> Iterator[_Entry]:
    test = document.tests.get(test_ref)
    if test is None or not releases:
        return
    fixed = _fixed(document, test, not_affected=not_affected, patch=definition.patch)
    if fixed is None:
        return
    for package in _names(document, test):
        for release in _streams(releases, definition.streams, fixed):
            yield _Entry(test_ref, release, package, fixed, not_affected)


def _walk(
    node: _Criteria, context: frozenset[str] | None
) -> Iterator[tuple[_Criterion, frozenset[str] | None]]:
    """Package criteria with the releases of their sibling product criteria."""
    if node.products is not None:
        return
    if node.operator == "AND":
        groups = [c.products for c in node.children if isinstance(c, _Criteria)]
        named = [products for products in groups if products is not None]
        if named:
            context = frozenset().union(*named)
    for child in node.children:
        if isinstance(child, _Criteria):
            yield from _walk(child, context)
        else:
            yield child, context


def _fixed(
    document: _Document, test: _Test, *, not_affected: bool, patch: bool
) -> str | None:
    """The fixed version a package test states, ``""`` for none, None to skip it."""
    states = [document.states.get(ref) for ref in test.state_refs]
    if any(state is not None and state.signature for state in states):
        return None  # "P is signed with Red Hat … key"
    if not_affected:
        return ""
    if test.absent:
        return None  # "P is not installed"
    versions = [s for s in states if s is not None and s.operation]
    if not versions:
        return None if patch or test.state_refs else ""
    less = next((s.version for s in versions if s.operation == "less than"), None)
    return normalise_version(less) if less else None


def _names(document: _Document, test: _Test) -> tuple[str, ...]:
    obj = document.objects.get(test.object_ref)
    if obj is None:
        return ()
    if obj.source or test.source:
        return (obj.source or test.source,)
    if obj.name:
        return (obj.name,)
    names = (
        _PACKAGE_NAME.match(value.replace("\\", ""))
        for value in document.variables.get(obj.var_ref, ())
    )
    return tuple(dict.fromkeys(match[1] for match in names if match))


def _streams(
    releases: Iterable[str], streams: frozenset[str], fixed: str
) -> Iterator[str]:
    """Releases as scoped: a Red Hat extended stream, Ubuntu Pro for ESM fixes."""
    for release in sorted(releases):
        if release.startswith("rhel:") and streams:
            major = release.partition(":")[2]
            yield from sorted(
                s for s in streams if s.partition(":")[2].split(".")[0] == major
            )
        elif release.startswith("ubuntu:") and _ESM.search(fixed):
            yield release.replace("ubuntu:", "ubuntu-pro:", 1)
        else:
            yield release


def _when(text: str) -> datetime | None:
    """A date of the forms OVAL feeds use; None when it does not parse."""
    value = text.strip().removesuffix(" UTC")
    if re.fullmatch(r"\d{8}", value):
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    elif re.fullmatch(r"\d{8}:\d{4}", value):  # Red Hat "public": 20221209:1000
        value = f"{value[:4]}-{value[4:6]}-{value[6:8]}T{value[9:11]}:{value[11:]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
