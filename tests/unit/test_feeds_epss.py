"""EPSS parser on FIRST's real CSV slices (shared data), gzipped or not, and bad input."""

from __future__ import annotations

import gzip
import io
from datetime import date
from pathlib import Path

import pytest

from patchfleet.core.advisories import EpssScore
from patchfleet.server.feeds.epss import iter_epss
from patchfleet.server.feeds.errors import FeedError

CLAIRCORE = "claircore-epss-data.csv"
VUNNEL = "vunnel-epss-example-1.csv"


def read(data: bytes, where: str = "epss.csv") -> list[EpssScore]:
    return list(iter_epss(io.BytesIO(data), where=where))


def epss_file(shared_data: Path, name: str) -> bytes:
    return (shared_data / "epss" / name).read_bytes()


def data_rows(data: bytes) -> list[list[str]]:
    """The rows below the header, split independently of the parser."""
    lines = data.decode().splitlines()
    assert lines[1] == "cve,epss,percentile"
    return [line.split(",") for line in lines[2:] if line]


def test_every_epss_file_parses_row_for_row(shared_data: Path) -> None:
    files = sorted((shared_data / "epss").glob("*.csv*"))
    assert [f.name for f in files] == [CLAIRCORE, VUNNEL]
    for path in files:
        data = path.read_bytes()
        scores = read(data, path.name)
        assert [(s.cve, s.probability, s.percentile) for s in scores] == [
            (cve, float(p), float(q)) for cve, p, q in data_rows(data)
        ]


def test_claircore_score_date_and_rows(shared_data: Path) -> None:
    data = epss_file(shared_data, CLAIRCORE)
    assert data.startswith(
        b"#model_version:v2023.03.01,score_date:2024-10-25T00:00:00+0000\n"
    )
    scores = read(data, CLAIRCORE)
    assert len(scores) == 29
    assert {s.score_date for s in scores} == {date(2024, 10, 25)}
    assert scores[0] == EpssScore("CVE-1999-0005", 0.91963, 0.99030, date(2024, 10, 25))
    assert scores[-1] == EpssScore(
        "CVE-2024-9987", 0.00043, 0.09778, date(2024, 10, 25)
    )
    by_cve = {s.cve: s for s in scores}
    assert (
        by_cve["CVE-2022-34668"].probability,
        by_cve["CVE-2022-34668"].percentile,
    ) == (
        0.00311,
        0.70519,
    )


def test_vunnel_score_date(shared_data: Path) -> None:
    scores = read(epss_file(shared_data, VUNNEL), VUNNEL)
    assert [s.cve for s in scores] == [f"CVE-1999-000{n}" for n in range(1, 6)]
    assert {s.score_date for s in scores} == {date(2025, 2, 20)}
    # The same CVE scored on two days, in the two files: same probability, new rank.
    assert scores[-1] == EpssScore("CVE-1999-0005", 0.91963, 0.99214, date(2025, 2, 20))


def test_gzip_is_detected_by_magic_bytes(shared_data: Path) -> None:
    data = epss_file(shared_data, CLAIRCORE)
    assert read(gzip.compress(data), "epss_scores-current.csv") == read(data)


def test_reads_line_by_line(shared_data: Path) -> None:
    data = epss_file(shared_data, CLAIRCORE)
    big = data + b"\n".join(data.splitlines()[2:]) * 2_000  # a long file, in memory
    stream = io.BytesIO(big)
    scores = iter_epss(stream, where="big.csv")
    first = next(scores)
    assert first.cve == "CVE-1999-0005"
    assert stream.tell() < len(big) // 10  # not read to the end for one row


# ------------------------------------------------------------------ bad input


def replace_line(data: bytes, number: int, line: bytes) -> bytes:
    lines = data.splitlines()
    lines[number - 1] = line
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            b"CVE-1999-0005,1.5,0.99030",
            "epss: epss.csv: line 3: epss must be between 0 and 1, not 1.5",
            id="probability",
        ),
        pytest.param(
            b"CVE-1999-0005,0.91963,-0.1",
            "epss: epss.csv: line 3: percentile must be between 0 and 1, not -0.1",
            id="percentile",
        ),
        pytest.param(
            b"CVE-1999-0005,nan,0.99030",
            "epss: epss.csv: line 3: epss must be between 0 and 1, not nan",
            id="nan",
        ),
        pytest.param(
            b"CVE-1999-0005,high,0.99030",
            "epss: epss.csv: line 3: epss is not a number: 'high'",
            id="word",
        ),
        pytest.param(
            b"CVE-1999-0005,0.91963",
            "epss: epss.csv: line 3: expected 3 columns, found 2: 'CVE-1999-0005,0.91963'",
            id="columns",
        ),
        pytest.param(
            b"CAN-1999-0005,0.91963,0.99030",
            "epss: epss.csv: line 3: not a CVE id: 'CAN-1999-0005'",
            id="cve",
        ),
        pytest.param(
            b"cve,probability,percentile",
            "epss: epss.csv: line 2: expected the header 'cve,epss,percentile', found "
            "'cve,probability,percentile'",
            id="header",
        ),
        pytest.param(
            b"#model_version:v2023.03.01,score_date:yesterday",
            "epss: epss.csv: line 1: score_date is not a date: 'yesterday'",
            id="score-date",
        ),
    ],
)
def test_bad_line_is_named(shared_data: Path, line: bytes, message: str) -> None:
    data = epss_file(shared_data, CLAIRCORE)
    number = {b"#": 1, b"c": 2}.get(line[:1], 3)
    with pytest.raises(FeedError) as caught:
        read(replace_line(data, number, line))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "epss: epss.csv: the file is empty", id="empty"),
        pytest.param(
            gzip.compress(b""), "epss: epss.csv: the file is empty", id="empty-gzip"
        ),
        pytest.param(
            b"#model_version:v2023.03.01,score_date:2024-10-25T00:00:00+0000\n",
            "epss: epss.csv: no 'cve,epss,percentile' header line",
            id="comment-only",
        ),
        pytest.param(
            b"cve,epss,percentile\n",
            "epss: epss.csv: no scores after the header",
            id="header-only",
        ),
        pytest.param(
            b"\x1f\x8b\x08\x00garbage",
            "epss: epss.csv: corrupt gzip data: ",
            id="bad-gzip",
        ),
        pytest.param(
            b"cve,epss,percentile\nCVE-1999-0005,0.9\xff,0.99\n",
            "epss: epss.csv: not UTF-8 text: invalid start byte",
            id="not-utf8",
        ),
    ],
)
def test_not_an_epss_file(data: bytes, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        read(data)
    assert str(caught.value).startswith(message)


def test_truncated_gzip(shared_data: Path) -> None:
    packed = gzip.compress(epss_file(shared_data, CLAIRCORE))
    with pytest.raises(FeedError) as caught:
        read(packed[: len(packed) // 2])
    assert str(caught.value) == (
        "epss: epss.csv: corrupt gzip data: "
        "Compressed file ended before the end-of-stream marker was reached"
    )
