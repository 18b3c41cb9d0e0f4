"""KEV parser on CISA's real catalog (shared data), and on bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from patchfleet.core.advisories import KevEntry
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.feeds.kev import KevCatalog, parse_kev


def catalog_path(shared_data: Path) -> Path:
    return shared_data / "kev" / "known_exploited_vulnerabilities.json"


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> bytes:
    return catalog_path(shared_data).read_bytes()


@pytest.fixture(scope="module")
def catalog(raw: bytes) -> KevCatalog:
    return parse_kev(raw, where="known_exploited_vulnerabilities.json")


def by_cve(catalog: KevCatalog) -> dict[str, KevEntry]:
    return {e.cve: e for e in catalog.entries}


def test_every_kev_file_parses(shared_data: Path) -> None:
    files = sorted((shared_data / "kev").glob("*.json"))
    assert files
    for path in files:
        assert parse_kev(path.read_bytes(), where=path.name).entries


def test_catalog_header(catalog: KevCatalog) -> None:
    assert catalog.catalog_version == "2025.08.25"
    assert catalog.date_released == datetime(2025, 8, 25, 17, 4, 19, 979600, tzinfo=UTC)
    assert len(catalog.entries) == 1404


def test_git_entry_dates_and_ransomware(catalog: KevCatalog) -> None:
    git = by_cve(catalog)["CVE-2025-48384"]
    assert git == KevEntry(
        cve="CVE-2025-48384",
        date_added=date(2025, 8, 25),
        due_date=date(2025, 9, 15),
        ransomware=False,  # "knownRansomwareCampaignUse": "Unknown"
        vendor="Git",
        product="Git",
        name="Git Link Following Vulnerability",
        required_action=(
            "Apply mitigations per vendor instructions, follow applicable BOD 22-01 "
            "guidance for cloud services, or discontinue use of the product if "
            "mitigations are unavailable."
        ),
    )


def test_looney_tunables_and_pwnkit(catalog: KevCatalog) -> None:
    entries = by_cve(catalog)
    glibc = entries["CVE-2023-4911"]
    assert (glibc.date_added, glibc.due_date) == (
        date(2023, 11, 21),
        date(2023, 12, 12),
    )
    assert (glibc.vendor, glibc.product) == ("GNU", "GNU C Library")
    polkit = entries["CVE-2021-4034"]
    assert (polkit.date_added, polkit.due_date) == (
        date(2022, 6, 27),
        date(2022, 7, 18),
    )
    assert polkit.required_action == "Apply updates per vendor instructions."


def test_known_ransomware_use_agrees_with_the_file(
    raw: bytes, catalog: KevCatalog
) -> None:
    doc = json.loads(raw)
    known = {
        v["cveID"]
        for v in doc["vulnerabilities"]
        if v["knownRansomwareCampaignUse"] == "Known"
    }
    assert len(known) == 293
    assert {e.cve for e in catalog.entries if e.ransomware} == known
    first_known = next(
        v for v in doc["vulnerabilities"] if v["knownRansomwareCampaignUse"] == "Known"
    )
    entry = by_cve(catalog)[first_known["cveID"]]
    assert entry.ransomware is True
    assert entry.date_added == date.fromisoformat(first_known["dateAdded"])
    assert entry.due_date == date.fromisoformat(first_known["dueDate"])


def test_entries_keep_file_order(raw: bytes, catalog: KevCatalog) -> None:
    doc = json.loads(raw)
    assert [e.cve for e in catalog.entries] == [
        v["cveID"] for v in doc["vulnerabilities"]
    ]


# ------------------------------------------------------------------ bad input


def mutated(raw: bytes, index: int, **changes: Any) -> bytes:
    doc = json.loads(raw)
    doc["vulnerabilities"][index].update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"dueDate": "2025-9-15"},
            "kev: kev.json: CVE-2025-48384: dueDate must be a YYYY-MM-DD date, not "
            "'2025-9-15'",
            id="due-date-format",
        ),
        pytest.param(
            {"dateAdded": "2025-02-30"},
            "kev: kev.json: CVE-2025-48384: dateAdded is not a real date: '2025-02-30'",
            id="impossible-date",
        ),
        pytest.param(
            {"dateAdded": None},
            "kev: kev.json: CVE-2025-48384: dateAdded must be a YYYY-MM-DD date, not ''",
            id="missing-date",
        ),
        pytest.param(
            {"knownRansomwareCampaignUse": "Yes"},
            "kev: kev.json: CVE-2025-48384: knownRansomwareCampaignUse must be 'Known' "
            "or 'Unknown', not 'Yes'",
            id="ransomware",
        ),
        pytest.param(
            {"product": ["Git"]},
            "kev: kev.json: CVE-2025-48384: product must be a string",
            id="product-type",
        ),
        pytest.param(
            {"cwes": "CWE-59"},
            "kev: kev.json: CVE-2025-48384: cwes must be a list of strings",
            id="cwes",
        ),
        pytest.param(
            {"cveID": "CVE-25-48384"},
            "kev: kev.json: vulnerabilities[0].cveID must be a CVE id, not "
            "'CVE-25-48384'",
            id="cve-id",
        ),
    ],
)
def test_bad_entry_names_the_cve(
    raw: bytes, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(FeedError) as caught:
        parse_kev(mutated(raw, 0, **changes), where="kev.json")
    assert str(caught.value) == message


def test_count_must_match_the_entries(raw: bytes) -> None:
    doc = json.loads(raw)
    del doc["vulnerabilities"][-1]
    with pytest.raises(FeedError) as caught:
        parse_kev(json.dumps(doc).encode(), where="kev.json")
    assert (
        str(caught.value)
        == "kev: kev.json: count says 1404 entries but the file has 1403"
    )


def test_duplicate_cve_is_refused(raw: bytes) -> None:
    doc = json.loads(raw)
    doc["vulnerabilities"].append(doc["vulnerabilities"][0])
    doc["count"] += 1
    with pytest.raises(FeedError) as caught:
        parse_kev(json.dumps(doc).encode(), where="kev.json")
    assert str(caught.value) == "kev: kev.json: CVE-2025-48384: listed twice"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "kev: kev.json: the file is empty", id="empty"),
        pytest.param(
            b"<!DOCTYPE html>",
            "kev: kev.json: not JSON: Expecting value: line 1 column 1 (char 0)",
            id="html",
        ),
        pytest.param(
            b"[]", "kev: kev.json: the catalog must be a JSON object", id="list"
        ),
        pytest.param(
            b'{"catalogVersion": "2025.08.25"}',
            "kev: kev.json: vulnerabilities must be a list",
            id="no-entries",
        ),
        pytest.param(
            b'{"catalogVersion": 2025.08, "vulnerabilities": []}',
            "kev: kev.json: catalogVersion must be a string",
            id="version-type",
        ),
        pytest.param(
            b'{"dateReleased": "25/08/2025", "vulnerabilities": []}',
            "kev: kev.json: dateReleased must be an ISO 8601 timestamp, not '25/08/2025'",
            id="released",
        ),
        pytest.param(
            b'{"vulnerabilities": [], "count": "0"}',
            "kev: kev.json: count must be an integer",
            id="count-type",
        ),
        pytest.param(
            b'{"vulnerabilities": ["CVE-2025-48384"]}',
            "kev: kev.json: vulnerabilities[0] must be an object",
            id="entry-type",
        ),
    ],
)
def test_not_a_catalog(data: bytes, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_kev(data, where="kev.json")
    assert str(caught.value) == message
