"""NVD CVE records (API 2.0 pages, NVD 2.0 JSON feeds, CVE JSON 5) -> ``CveInfo``.

Three shapes are accepted, told apart by their top-level keys:

* an NVD API 2.0 response page or NVD 2.0 JSON feed file: ``{"vulnerabilities":
  [{"cve": {...}}, ...], "resultsPerPage": ..., ...}``;
* one API 2.0 ``cve`` object (``{"id": "CVE-...", "metrics": {...}, ...}``);
* one CVE JSON 5 record (``{"cveMetadata": {...}, "containers": {"cna": ...,
  "adp": [...]}}``), as published in CVEProject/cvelistV5.

A page is read incrementally: each ``vulnerabilities[]`` element is decoded and
yielded on its own, so a yearly NVD feed of several hundred megabytes never sits in
memory as one document. Single records are small and decoded whole.

Kept: the English description, published and last-modified times (NVD writes them
without a zone; they are UTC), NVD's ``vulnStatus`` (CVE 5: ``Published`` or
``Rejected``), every CVSS v4.0/v3.1/v3.0/v2 base score with its vector, severity,
source and primary flag (NVD: ``type == "Primary"``; CVE 5: the CNA's scores are
primary, ADP scores such as CISA's are not), and the CWE ids (``NVD-CWE-noinfo`` and
``NVD-CWE-Other`` are not weaknesses and are dropped). A value of the wrong type raises
``FeedError`` naming the CVE and the JSON path, e.g.
``nvd: page.json: CVE-2023-38545: vulnerabilities[0].cve.metrics.cvssMetricV31[0]
.cvssData.baseScore must be a number``.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Final

from patchfleet.core.advisories import CVE_ID, CveInfo, CvssScore
from patchfleet.server.feeds.errors import FeedError

FEED: Final = "nvd"
CHUNK: Final = 1 << 20
#: The largest single JSON value (one page element) read into memory.
MAX_VALUE: Final = 64 << 20

#: NVD API 2.0 metric lists, newest CVSS version first, and the version they hold.
NVD_METRICS: Final = (
    ("cvssMetricV40", "4.0"),
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV2", "2.0"),
)
#: CVE JSON 5 metric members and the CVSS version they hold.
CVE5_METRICS: Final = (
    ("cvssV4_0", "4.0"),
    ("cvssV3_1", "3.1"),
    ("cvssV3_0", "3.0"),
    ("cvssV2_0", "2.0"),
)
CVE5_STATES: Final = {"PUBLISHED": "Published", "REJECTED": "Rejected"}
_CWE: Final = re.compile(r"CWE-\d+")
_BLANKS: Final = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True, slots=True)
class _Node:
    """A JSON object at ``path`` of record ``record``, with checked getters."""

    value: Mapping[str, object]
    path: str
    record: str

    def at(self, key: str) -> str:
        """The JSON path of member ``key``."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, what: str) -> FeedError:
        """``FeedError`` for member ``key``: ``<record>: <path>.<key> <what>``."""
        return FeedError(FEED, self.record, f"{self.at(key)} {what}")

    def text(self, key: str) -> str:
        """A string member, ``""`` when absent or null."""
        value = self.value.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(key, "must be a string")
        return value

    def number(self, key: str) -> float:
        """A required number member (booleans are not numbers)."""
        value = self.value.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "must be a number")
        return float(value)

    def child(self, key: str) -> _Node | None:
        """An object member, None when absent or null."""
        value = self.value.get(key)
        if value is None:
            return None
        return _node(value, self.at(key), self.record)

    def children(self, key: str) -> list[_Node]:
        """A list-of-objects member, ``[]`` when absent or null."""
        value = self.value.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        path = self.at(key)
        return [
            _node(item, f"{path}[{i}]", self.record) for i, item in enumerate(value)
        ]

    def timestamp(self, key: str) -> datetime | None:
        """An ISO 8601 timestamp member; a naive one (NVD's) is taken as UTC."""
        value = self.text(key)
        if not value:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.error(
                key, f"must be an ISO 8601 timestamp, not {value!r}"
            ) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _node(value: object, path: str, record: str) -> _Node:
    if not isinstance(value, dict):
        raise FeedError(FEED, record, f"{path or 'the document'} must be an object")
    return _Node(value, path, record)


def _record(where: str, cve_id: str) -> str:
    return ": ".join(part for part in (where, cve_id) if part)


def _cve_id(value: Mapping[str, object], key: str, path: str, where: str) -> str:
    """The record's CVE id, checked before anything else so errors can name it."""
    cve_id = value.get(key)
    at = f"{path}.{key}" if path else key
    if not isinstance(cve_id, str):
        raise FeedError(FEED, where, f"{at} must be a string")
    if not CVE_ID.fullmatch(cve_id):
        raise FeedError(FEED, where, f"{at} is not a CVE id: {cve_id!r}")
    return cve_id


def _english(descriptions: list[_Node]) -> str:
    """The first English ``value`` (``en``, ``en-US``...) of a descriptions list."""
    for node in descriptions:
        if node.text("lang").lower().startswith("en"):
            return node.text("value").strip()
    return ""


def _score(data: _Node, version: str, source: str, primary: bool) -> CvssScore:
    """One CVSS base score from a ``cvssData`` (NVD) or ``cvssV*`` (CVE 5) object."""
    score = data.number("baseScore")
    if not 0.0 <= score <= 10.0:
        raise data.error("baseScore", f"must be between 0 and 10, not {score}")
    vector = data.text("vectorString")
    if not vector:
        raise data.error("vectorString", "is missing")
    return CvssScore(
        version=data.text("version") or version,
        score=score,
        vector=vector,
        severity=data.text("baseSeverity").upper(),
        source=source,
        primary=primary,
    )


def _nvd_scores(cve: _Node) -> list[CvssScore]:
    metrics = cve.child("metrics")
    if metrics is None:
        return []
    scores = []
    for key, version in NVD_METRICS:
        for metric in metrics.children(key):
            data = metric.child("cvssData")
            if data is None:
                raise metric.error("cvssData", "is missing")
            score = _score(data, version, metric.text("source"), _is_primary(metric))
            if not score.severity:  # CVSS v2: baseSeverity sits beside cvssData
                score = _with_severity(score, metric.text("baseSeverity").upper())
            scores.append(score)
    return scores


def _is_primary(metric: _Node) -> bool:
    kind = metric.text("type")
    return kind != "Secondary" if kind else True


def _with_severity(score: CvssScore, severity: str) -> CvssScore:
    return CvssScore(
        score.version, score.score, score.vector, severity, score.source, score.primary
    )


def _nvd_cwes(cve: _Node) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for weakness in cve.children("weaknesses"):
        for description in weakness.children("description"):
            value = description.text("value").strip()
            if _CWE.fullmatch(value):
                found[value] = None
    return tuple(found)


def parse_cve(obj: object, where: str = "", path: str = "") -> CveInfo:
    """One NVD API 2.0 ``cve`` object (or a CVE JSON 5 record) as ``CveInfo``.

    ``where`` names the file for error messages; ``path`` is the object's JSON path
    inside it (``vulnerabilities[3].cve`` in a page, ``""`` for a lone record).
    """
    if isinstance(obj, dict) and "cveMetadata" in obj and "id" not in obj:
        return parse_cve5(obj, where)
    value = _node(obj, path, where).value
    cve_id = _cve_id(value, "id", path, where)
    cve = _Node(value, path, _record(where, cve_id))
    return CveInfo(
        id=cve_id,
        description=_english(cve.children("descriptions")),
        published=cve.timestamp("published"),
        modified=cve.timestamp("lastModified"),
        status=cve.text("vulnStatus"),
        cvss=tuple(_nvd_scores(cve)),
        cwes=_nvd_cwes(cve),
    )


def parse_cve5(obj: object, where: str = "") -> CveInfo:
    """One CVE JSON 5 record (``cveMetadata`` + ``containers``) as ``CveInfo``."""
    root = _node(obj, "", where)
    meta = root.child("cveMetadata")
    if meta is None:
        raise root.error("cveMetadata", "is missing")
    cve_id = _cve_id(meta.value, "cveId", meta.path, where)
    record = _record(where, cve_id)
    meta = _Node(meta.value, meta.path, record)
    containers = _Node(root.value, "", record).child("containers")
    cna = containers.child("cna") if containers else None
    adps = containers.children("adp") if containers else []
    state = meta.text("state")
    scores: list[CvssScore] = []
    cwes: dict[str, None] = {}
    for container, primary in [(cna, True), *((adp, False) for adp in adps)]:
        if container is not None:
            scores += _cve5_scores(container, primary)
            cwes.update(dict.fromkeys(_cve5_cwes(container)))
    text = ""
    if cna is not None:
        text = _english(cna.children("descriptions"))
        text = text or _english(cna.children("rejectedReasons"))
    return CveInfo(
        id=cve_id,
        description=text,
        published=meta.timestamp("datePublished"),
        modified=meta.timestamp("dateUpdated"),
        status=CVE5_STATES.get(state, state),
        cvss=tuple(scores),
        cwes=tuple(cwes),
    )


def _cve5_scores(container: _Node, primary: bool) -> list[CvssScore]:
    provider = container.child("providerMetadata")
    source = provider.text("shortName") if provider else ""
    scores = []
    for metric in container.children("metrics"):
        for key, version in CVE5_METRICS:
            data = metric.child(key)
            if data is not None:
                scores.append(_score(data, version, source, primary))
    return scores


def _cve5_cwes(container: _Node) -> list[str]:
    found = []
    for problem in container.children("problemTypes"):
        for description in problem.children("descriptions"):
            cwe = description.text("cweId").strip()
            if not cwe and description.text("type") == "CWE":
                match = _CWE.match(description.text("description").strip())
                cwe = match.group() if match else ""
            if _CWE.fullmatch(cwe):
                found.append(cwe)
    return found


def iter_nvd(stream: BinaryIO, where: str = "") -> Iterator[CveInfo]:
    """Yield the CVEs of an NVD page or feed, or the one CVE of a single record.

    Raises ``FeedError`` for anything that is not UTF-8 JSON of one of the three
    shapes, or holds a value of the wrong type; records before the bad one may
    already have been yielded (the loader's transaction undoes them).
    """
    reader = _JsonReader(stream, where)
    if reader.at_end():
        raise FeedError(FEED, where, "the file is empty")
    reader.expect("{", "the document must be a JSON object")
    top: dict[str, object] = {}
    is_page = False
    for key in reader.members():
        if key == "vulnerabilities":
            is_page = True
            yield from _page_items(reader, where)
        else:
            top[key] = reader.value()
    reader.end()
    if is_page:
        return
    if "cveMetadata" in top or "id" in top:
        yield parse_cve(top, where)
        return
    raise FeedError(
        FEED,
        where,
        "expected an NVD page (vulnerabilities), a cve object or a CVE 5 record",
    )


def _page_items(reader: _JsonReader, where: str) -> Iterator[CveInfo]:
    reader.expect("[", "vulnerabilities must be a list")
    for index in reader.items():
        path = f"vulnerabilities[{index}]"
        item = _node(reader.value(), path, where)
        cve = item.value.get("cve")
        if cve is None:
            raise FeedError(FEED, where, f"{path}.cve is missing")
        yield parse_cve(cve, where, f"{path}.cve")


class _JsonReader:
    """Incremental reading of one JSON document: containers token by token, values
    whole (``json.JSONDecoder.raw_decode`` over a growing text buffer)."""

    def __init__(self, stream: BinaryIO, where: str) -> None:
        self._stream = stream
        self._where = where
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buffer = ""
        self._pos = 0
        self._offset = 0  # characters dropped from the front of the buffer
        self._eof = False

    def _fail(self, reason: str) -> FeedError:
        return FeedError(FEED, self._where, reason)

    def _fill(self) -> bool:
        """Read more text; False at the end of the stream."""
        if self._eof:
            return False
        self._offset += self._pos
        self._buffer = self._buffer[self._pos :]
        self._pos = 0
        data = self._stream.read(max(CHUNK, len(self._buffer)))
        try:
            self._buffer += self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self._fail(f"not UTF-8 text: {exc.reason}") from None
        self._eof = not data
        return True

    def _peek(self) -> str:
        """The next non-blank character, without consuming it; ``""`` at the end."""
        while True:
            match = _BLANKS.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def at_end(self) -> bool:
        """True when nothing but blanks is left."""
        return not self._peek()

    def expect(self, char: str, reason: str) -> None:
        """Consume ``char`` or fail with ``reason``."""
        found = self._peek()
        if found == char:
            self._pos += 1
            return
        raise self._fail(f"{reason}, found {found or 'the end of the file'!r}")

    def _separator(self, closing: str) -> bool:
        """After a member: True if another follows (``,``), False at ``closing``."""
        found = self._peek()
        if found in (",", closing) and found:
            self._pos += 1
            return found == ","
        where = found or "the end of the file"
        raise self._fail(f"invalid JSON: expected ',' or {closing!r}, found {where!r}")

    def members(self) -> Iterator[str]:
        """The keys of the object just opened; the caller reads each value."""
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self._fail("invalid JSON: object keys must be strings")
            self.expect(":", "invalid JSON: expected ':' after a key")
            yield key
            if not self._separator("}"):
                return

    def items(self) -> Iterator[int]:
        """Indices of the array just opened; the caller reads each element."""
        if self._peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            if not self._separator("]"):
                return

    def value(self) -> object:
        """Decode one whole JSON value."""
        self._peek()
        while True:
            try:
                value, end = self._json.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos < MAX_VALUE and self._fill():
                    continue
                at = self._offset + exc.pos
                raise self._fail(f"invalid JSON: {exc.msg} (character {at})") from None
            # A number ending with the buffer may continue in the next chunk.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return value

    def end(self) -> None:
        """Only blanks may follow the document."""
        if self._peek():
            raise self._fail("invalid JSON: extra data after the document")
