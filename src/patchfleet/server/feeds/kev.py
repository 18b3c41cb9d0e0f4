"""CISA's Known Exploited Vulnerabilities catalog (KEV JSON) -> ``KevCatalog``.

The catalog is one small JSON document (about 1.3 MB for 1,400 entries), read whole::

    {"title": ..., "catalogVersion": "2025.08.25", "dateReleased": "2025-08-25T17:04:19.9796Z",
     "count": 1404, "vulnerabilities": [{"cveID": "CVE-2025-48384", "dateAdded":
     "2025-08-25", "dueDate": "2025-09-15", "knownRansomwareCampaignUse": "Unknown", ...}]}

Every field is checked: strings are strings, dates are ``YYYY-MM-DD``, the ransomware
flag is ``Known`` or ``Unknown``, ``cwes`` is a list of strings, each CVE appears once
and ``count`` (when present) matches the entries. A bad entry raises ``FeedError``
naming its ``cveID`` and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

from patchfleet.core.advisories import CVE_ID, KevEntry
from patchfleet.server.feeds.errors import FeedError

FEED: Final = "kev"
RANSOMWARE: Final = {"Known": True, "Unknown": False}
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Entry fields that must be strings when present (``notes`` may be empty).
_TEXT_FIELDS: Final = (
    "vendorProject",
    "product",
    "vulnerabilityName",
    "shortDescription",
    "requiredAction",
    "notes",
)


@dataclass(frozen=True, slots=True)
class KevCatalog:
    """One release of the KEV catalog: its version, release time and entries."""

    catalog_version: str
    date_released: datetime | None
    entries: tuple[KevEntry, ...] = field(default_factory=tuple)


def _text(obj: Mapping[str, object], key: str, where: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FeedError(FEED, where, f"{key} must be a string")
    return value


def _date(value: str, key: str, where: str) -> date:
    if not _DATE.fullmatch(value):
        raise FeedError(FEED, where, f"{key} must be a YYYY-MM-DD date, not {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FeedError(FEED, where, f"{key} is not a real date: {value!r}") from None


def _entry(item: object, index: int, where: str) -> KevEntry:
    at = f"vulnerabilities[{index}]"
    if not isinstance(item, dict):
        raise FeedError(FEED, where, f"{at} must be an object")
    cve = item.get("cveID")
    if not isinstance(cve, str) or not CVE_ID.fullmatch(cve):
        raise FeedError(FEED, where, f"{at}.cveID must be a CVE id, not {cve!r}")
    record = f"{where}: {cve}" if where else cve
    for key in _TEXT_FIELDS:
        _text(item, key, record)
    cwes = item.get("cwes", [])
    if not isinstance(cwes, list) or not all(isinstance(c, str) for c in cwes):
        raise FeedError(FEED, record, "cwes must be a list of strings")
    ransomware = _text(item, "knownRansomwareCampaignUse", record)
    if ransomware not in RANSOMWARE:
        raise FeedError(
            FEED,
            record,
            f"knownRansomwareCampaignUse must be 'Known' or 'Unknown', not {ransomware!r}",
        )
    due = _text(item, "dueDate", record)
    return KevEntry(
        cve=cve,
        date_added=_date(_text(item, "dateAdded", record), "dateAdded", record),
        due_date=_date(due, "dueDate", record) if due else None,
        ransomware=RANSOMWARE[ransomware],
        vendor=_text(item, "vendorProject", record),
        product=_text(item, "product", record),
        name=_text(item, "vulnerabilityName", record),
        required_action=_text(item, "requiredAction", record),
    )


def _released(value: str, where: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FeedError(
            FEED, where, f"dateReleased must be an ISO 8601 timestamp, not {value!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_kev(data: bytes, where: str = "") -> KevCatalog:
    """Parse and check a whole KEV catalog (see the module docstring)."""
    if not data.strip():
        raise FeedError(FEED, where, "the file is empty")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(FEED, where, f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise FeedError(FEED, where, "the catalog must be a JSON object")
    items = doc.get("vulnerabilities")
    if not isinstance(items, list):
        raise FeedError(FEED, where, "vulnerabilities must be a list")
    version = _text(doc, "catalogVersion", where)
    released = _released(_text(doc, "dateReleased", where), where)
    entries = tuple(_entry(item, i, where) for i, item in enumerate(items))
    count = doc.get("count", len(entries))
    if isinstance(count, bool) or not isinstance(count, int):
        raise FeedError(FEED, where, "count must be an integer")
    if count != len(entries):
        raise FeedError(
            FEED, where, f"count says {count} entries but the file has {len(entries)}"
        )
    seen: set[str] = set()
    for entry in entries:
        if entry.cve in seen:
            raise FeedError(
                FEED, f"{where}: {entry.cve}" if where else entry.cve, "listed twice"
            )
        seen.add(entry.cve)
    return KevCatalog(catalog_version=version, date_released=released, entries=entries)
