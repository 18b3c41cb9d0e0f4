"""NVD parser on the real NVD samples in the shared data folder, and on bad input."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from patchfleet.core.advisories import CveInfo, CvssScore
from patchfleet.server.feeds import nvd
from patchfleet.server.feeds.errors import FeedError


def read(path: Path) -> list[CveInfo]:
    with path.open("rb") as stream:
        return list(nvd.iter_nvd(stream, where=path.name))


def one(shared_data: Path, name: str) -> CveInfo:
    [info] = read(shared_data / "nvd" / f"{name}.json")
    return info


def parse_bytes(data: bytes, where: str = "bad.json") -> list[CveInfo]:
    return list(nvd.iter_nvd(io.BytesIO(data), where=where))


def dump(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def nvd_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "nvd").glob("*.json"))
    assert len(files) == 7, files
    return files


def test_every_nvd_file_parses_to_the_ids_it_holds(shared_data: Path) -> None:
    for path in nvd_files(shared_data):
        doc = json.loads(path.read_text())
        page = doc.get("vulnerabilities")
        records = [v["cve"] for v in page] if page is not None else [doc]
        infos = read(path)
        assert [i.id for i in infos] == [r["id"] for r in records], path.name
        for info, record in zip(infos, records, strict=True):
            assert info.status == record["vulnStatus"]
            assert info.published is not None
            assert info.published.tzinfo is UTC
            assert info.modified is not None
            assert info.modified.tzinfo is UTC
            metrics = record.get("metrics", {})
            assert len(info.cvss) == sum(len(v) for v in metrics.values())


def test_curl_socks5_cvss_31_critical(shared_data: Path) -> None:
    info = one(shared_data, "CVE-2023-38545")
    assert info.id == "CVE-2023-38545"
    assert info.status == "Analyzed"
    assert info.cvss == (
        CvssScore(
            version="3.1",
            score=9.8,
            vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            severity="CRITICAL",
            source="nvd@nist.gov",
            primary=True,
        ),
    )
    assert info.best_cvss == info.cvss[0]
    assert info.cwes == ("CWE-787",)
    assert info.description.startswith(
        "This flaw makes curl overflow a heap based buffer in the SOCKS5 proxy\nhandshake."
    )
    # NVD writes "2023-10-18T04:15:11.077" without a zone: it is UTC.
    assert info.published == datetime(2023, 10, 18, 4, 15, 11, 77000, tzinfo=UTC)
    assert info.modified == datetime(2024, 1, 21, 2, 23, 3, 223000, tzinfo=UTC)


def test_libxml2_received_without_metrics_has_no_cvss(shared_data: Path) -> None:
    info = one(shared_data, "CVE-2024-25062")
    assert info.status == "Received"
    assert info.cvss == ()
    assert info.best_cvss is None
    assert info.cwes == ()
    assert info.description.startswith(
        "An issue was discovered in libxml2 before 2.11.7"
    )


def test_git_cna_score_is_secondary_and_description_is_english(
    shared_data: Path,
) -> None:
    info = one(shared_data, "CVE-2025-48384")
    assert info.cvss == (
        CvssScore(
            version="3.1",
            score=8.0,
            vector="CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:H/I:H/A:H",
            severity="HIGH",
            source="security-advisories@github.com",
            primary=False,
        ),
    )
    assert info.cwes == ("CWE-59", "CWE-436")
    assert info.description.startswith("Git is a fast, scalable, distributed")
    assert "Git es un sistema" not in info.description  # the Spanish one is skipped


def test_perl_nvd_and_red_hat_scores(shared_data: Path) -> None:
    info = one(shared_data, "CVE-2023-47038")
    assert info.status == "Modified"
    assert [(s.source, s.score, s.primary) for s in info.cvss] == [
        ("nvd@nist.gov", 7.8, True),
        ("secalert@redhat.com", 7.0, False),
    ]
    assert info.cvss[1].vector == "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H"
    assert info.best_cvss is not None
    assert info.best_cvss.source == "nvd@nist.gov"
    assert info.cwes == ("CWE-787", "CWE-122")


def test_sudo_record(shared_data: Path) -> None:
    info = one(shared_data, "CVE-2023-22809")
    assert [(s.version, s.score, s.severity) for s in info.cvss] == [
        ("3.1", 7.8, "HIGH")
    ]
    assert info.cwes == ("CWE-269",)
    assert info.published == datetime(2023, 1, 18, 17, 15, 10, 353000, tzinfo=UTC)


def test_vunnel_page_has_38_cves_in_file_order(shared_data: Path) -> None:
    infos = read(shared_data / "nvd" / "vunnel-nvd-api2-full-page.json")
    assert len(infos) == 38
    assert [i.id for i in infos[:3]] == [
        "CVE-2023-27314",
        "CVE-2023-45109",
        "CVE-2023-45391",
    ]
    assert infos[-1].id == "CVE-2023-20261"
    statuses = [i.status for i in infos]
    assert (statuses.count("Analyzed"), statuses.count("Awaiting Analysis")) == (25, 13)
    without = sorted(i.id for i in infos if not i.cvss)
    assert without == ["CVE-2023-43250", "CVE-2023-45383", "CVE-2023-46009"]


def test_nvd_cwe_noinfo_is_not_a_weakness(shared_data: Path) -> None:
    infos = read(shared_data / "nvd" / "vunnel-nvd-api2-full-page.json")
    ontap = next(i for i in infos if i.id == "CVE-2023-27314")
    # weaknesses: nvd@nist.gov "NVD-CWE-noinfo", security-alert@netapp.com "CWE-400"
    assert ontap.cwes == ("CWE-400",)
    assert [(s.source, s.primary, s.score) for s in ontap.cvss] == [
        ("nvd@nist.gov", True, 7.5),
        ("security-alert@netapp.com", False, 7.5),
    ]
    assert ontap.description.startswith("ONTAP 9 versions prior to 9.8P19")


def test_claircore_page_all_cvss_versions_and_a_rejected_cve(shared_data: Path) -> None:
    infos = {
        i.id: i for i in read(shared_data / "nvd" / "claircore-nvd-api2-feed.json")
    }
    assert list(infos) == ["CVE-2016-2781", "CVE-2016-3197", "CVE-2016-3674"]
    coreutils = infos["CVE-2016-2781"]
    assert [(s.version, s.score, s.severity, s.primary) for s in coreutils.cvss] == [
        ("3.1", 4.6, "MEDIUM", False),
        ("3.0", 6.5, "MEDIUM", True),
        ("2.0", 2.1, "LOW", True),  # v2's baseSeverity sits beside cvssData
    ]
    assert coreutils.cvss[2].vector == "AV:L/AC:L/Au:N/C:N/I:P/A:N"
    assert coreutils.cvss[0].source == "134c704f-9b21-4f2e-91b3-4a467353bcc0"
    assert coreutils.status == "Deferred"
    assert coreutils.cwes == ("CWE-20",)
    rejected = infos["CVE-2016-3197"]
    assert (rejected.status, rejected.cvss, rejected.cwes) == ("Rejected", (), ())
    assert rejected.description.startswith("Rejected reason:")
    assert [s.version for s in infos["CVE-2016-3674"].cvss] == ["3.1", "2.0"]


def test_page_is_read_incrementally(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / "nvd" / "vunnel-nvd-api2-full-page.json"
    whole = read(path)
    monkeypatch.setattr(nvd, "CHUNK", 4096)
    data = path.read_bytes()
    stream = io.BytesIO(data)
    items = nvd.iter_nvd(stream, where=path.name)
    first = next(items)
    assert stream.tell() < len(data) // 4  # the first CVE came before the rest was read
    assert [first, *items] == whole


def test_single_record_and_page_item_parse_the_same(shared_data: Path) -> None:
    page = json.loads(
        (shared_data / "nvd" / "claircore-nvd-api2-feed.json").read_text()
    )
    record = page["vulnerabilities"][0]["cve"]
    assert nvd.parse_cve(record) == parse_bytes(dump(record))[0]


# ------------------------------------------------------------------ bad input


def real_page(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (shared_data / "nvd" / "claircore-nvd-api2-feed.json").read_text()
    )
    return data


def test_wrong_score_type_names_the_cve_and_json_path(shared_data: Path) -> None:
    page = real_page(shared_data)
    metric = page["vulnerabilities"][2]["cve"]["metrics"]["cvssMetricV31"][0]
    metric["cvssData"]["baseScore"] = "7.5"
    with pytest.raises(FeedError) as caught:
        parse_bytes(dump(page), "page.json")
    assert str(caught.value) == (
        "nvd: page.json: CVE-2016-3674: vulnerabilities[2].cve.metrics.cvssMetricV31[0]"
        ".cvssData.baseScore must be a number"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda cve: cve.update(descriptions="chroot"),
            "CVE-2016-2781: vulnerabilities[0].cve.descriptions must be a list",
            id="descriptions",
        ),
        pytest.param(
            lambda cve: cve.update(published=20170207),
            "CVE-2016-2781: vulnerabilities[0].cve.published must be a string",
            id="published-type",
        ),
        pytest.param(
            lambda cve: cve.update(published="07/02/2017"),
            "CVE-2016-2781: vulnerabilities[0].cve.published must be an ISO 8601 "
            "timestamp, not '07/02/2017'",
            id="published-format",
        ),
        pytest.param(
            lambda cve: cve["metrics"]["cvssMetricV2"][0]["cvssData"].update(
                baseScore=21
            ),
            "CVE-2016-2781: vulnerabilities[0].cve.metrics.cvssMetricV2[0].cvssData"
            ".baseScore must be between 0 and 10, not 21.0",
            id="score-range",
        ),
        pytest.param(
            lambda cve: cve["metrics"].update(cvssMetricV30={"source": "nvd"}),
            "CVE-2016-2781: vulnerabilities[0].cve.metrics.cvssMetricV30 must be a list",
            id="metric-list",
        ),
        pytest.param(
            lambda cve: cve["weaknesses"][0].update(description=[["CWE-20"]]),
            "CVE-2016-2781: vulnerabilities[0].cve.weaknesses[0].description[0] must "
            "be an object",
            id="weakness",
        ),
        pytest.param(
            lambda cve: cve.update(id="2016-2781"),
            "vulnerabilities[0].cve.id is not a CVE id: '2016-2781'",
            id="id",
        ),
    ],
)
def test_wrong_json_types(shared_data: Path, change: Any, message: str) -> None:
    page = real_page(shared_data)
    change(page["vulnerabilities"][0]["cve"])
    with pytest.raises(FeedError) as caught:
        parse_bytes(dump(page), "page.json")
    assert str(caught.value) == f"nvd: page.json: {message}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "nvd: bad.json: the file is empty", id="empty"),
        pytest.param(b"  \n", "nvd: bad.json: the file is empty", id="blank"),
        pytest.param(
            b"<html>rate limited</html>",
            "nvd: bad.json: the document must be a JSON object, found '<'",
            id="html",
        ),
        pytest.param(
            b'[{"id": "CVE-2016-2781"}]',
            "nvd: bad.json: the document must be a JSON object, found '['",
            id="array",
        ),
        pytest.param(
            b'{"vulnerabilities": {"cve": {}}}',
            "nvd: bad.json: vulnerabilities must be a list, found '{'",
            id="vulnerabilities-object",
        ),
        pytest.param(
            b'{"vulnerabilities": [{"cve": {"id": "CVE-2016-2781"}}',
            "nvd: bad.json: invalid JSON: expected ',' or ']', found 'the end of the "
            "file'",
            id="truncated",
        ),
        pytest.param(
            b'{"vulnerabilities": [{"cve": {"id": "CVE-2016-2781", "publ',
            "nvd: bad.json: invalid JSON: Unterminated string starting at (character 53)",
            id="truncated-string",
        ),
        pytest.param(
            b'{"vulnerabilities": [{"vuln": {}}]}',
            "nvd: bad.json: vulnerabilities[0].cve is missing",
            id="no-cve",
        ),
        pytest.param(
            b'{"resultsPerPage": 0}',
            "nvd: bad.json: expected an NVD page (vulnerabilities), a cve object or a "
            "CVE 5 record",
            id="unknown-shape",
        ),
        pytest.param(
            b'{"id": "CVE-2016-2781"} {}',
            "nvd: bad.json: invalid JSON: extra data after the document",
            id="extra",
        ),
        pytest.param(
            b'{"id": "CVE-2016-2781\xff"}',
            "nvd: bad.json: not UTF-8 text: invalid start byte",
            id="not-utf8",
        ),
    ],
)
def test_not_an_nvd_document(data: bytes, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_bytes(data)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param(
            {"cveMetadata": {"cveId": 48384}},
            "nvd: cve5.json: cveMetadata.cveId must be a string",
            id="cve-id",
        ),
        pytest.param(
            {
                "cveMetadata": {"cveId": "CVE-2025-48384", "state": "PUBLISHED"},
                "containers": {
                    "cna": {"metrics": [{"cvssV3_1": {"baseScore": "8.1"}}]}
                },
            },
            "nvd: cve5.json: CVE-2025-48384: containers.cna.metrics[0].cvssV3_1"
            ".baseScore must be a number",
            id="score",
        ),
        pytest.param(
            {
                "cveMetadata": {"cveId": "CVE-2025-48384"},
                "containers": {"cna": {}, "adp": {"metrics": []}},
            },
            "nvd: cve5.json: CVE-2025-48384: containers.adp must be a list",
            id="adp",
        ),
        pytest.param(
            {
                "cveMetadata": {
                    "cveId": "CVE-2025-48384",
                    "datePublished": "yesterday",
                },
            },
            "nvd: cve5.json: CVE-2025-48384: cveMetadata.datePublished must be an ISO "
            "8601 timestamp, not 'yesterday'",
            id="date",
        ),
    ],
)
def test_bad_cve5_records(record: dict[str, Any], message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_bytes(dump(record), "cve5.json")
    assert str(caught.value) == message
