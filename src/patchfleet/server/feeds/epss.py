"""FIRST's daily EPSS scores (CSV, optionally gzipped) -> ``EpssScore``.

The daily file (``epss_scores-YYYY-MM-DD.csv.gz``, about 280,000 rows) looks like::

    #model_version:v2023.03.01,score_date:2024-10-25T00:00:00+0000
    cve,epss,percentile
    CVE-1999-0005,0.91963,0.99030

It is read line by line, never whole. Gzip is recognised by its magic bytes, not by
the file name. The leading ``#`` comment is optional (older files lack it); its
``score_date`` becomes every score's ``score_date``. The header names the columns
(``cve``, ``epss`` and ``percentile`` are required, in any order). Probabilities and
percentiles must be numbers in [0, 1]; anything else raises ``FeedError`` with the
line number, as does a file without a single score.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, BinaryIO, Final

from patchfleet.core.advisories import CVE_ID, EpssScore
from patchfleet.server.feeds.errors import FeedError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

FEED: Final = "epss"
GZIP_MAGIC: Final = b"\x1f\x8b"
COLUMNS: Final = ("cve", "epss", "percentile")


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the columns are, and the date every score of the file carries."""

    width: int
    cve: int
    epss: int
    percentile: int
    score_date: date | None


class _Prefixed(io.RawIOBase):
    """``head`` followed by the rest of ``stream``: sniffing without seeking."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` from the head first, then from the stream."""
        view = memoryview(buffer).cast("B")
        data = self._head[: len(view)] if self._head else self._stream.read(len(view))
        self._head = self._head[len(data) :] if self._head else b""
        view[: len(data)] = data
        return len(data)


def _text(stream: BinaryIO) -> io.TextIOWrapper:
    """The stream as UTF-8 text, gunzipped when it starts with the gzip magic."""
    head = stream.read(len(GZIP_MAGIC))
    buffered = io.BufferedReader(_Prefixed(head, stream))
    if head == GZIP_MAGIC:
        unzipped = gzip.GzipFile(fileobj=buffered, mode="rb")
        return io.TextIOWrapper(unzipped, encoding="utf-8", newline=None)
    return io.TextIOWrapper(buffered, encoding="utf-8", newline=None)


def _fail(where: str, line: int, reason: str) -> FeedError:
    return FeedError(FEED, f"{where}: line {line}" if where else f"line {line}", reason)


def _score_date(comment: str, where: str, line: int) -> date | None:
    """``score_date`` of a ``#model_version:...,score_date:...`` comment line."""
    for part in comment.lstrip("#").split(","):
        key, _, value = part.partition(":")
        if key.strip() != "score_date":
            continue
        value = value.strip()
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            raise _fail(where, line, f"score_date is not a date: {value!r}") from None
    return None


def _layout(header: str, score_date: date | None, where: str, line: int) -> _Layout:
    names = [name.strip().lower() for name in header.split(",")]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise _fail(
            where,
            line,
            f"expected the header 'cve,epss,percentile', found {header.strip()!r}",
        )
    return _Layout(
        width=len(names),
        cve=names.index("cve"),
        epss=names.index("epss"),
        percentile=names.index("percentile"),
        score_date=score_date,
    )


def _fraction(text: str, column: str, where: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(where, line, f"{column} is not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise _fail(where, line, f"{column} must be between 0 and 1, not {text}")
    return value


def _row(text: str, layout: _Layout, where: str, line: int) -> EpssScore:
    cells = [cell.strip() for cell in text.split(",")]
    if len(cells) != layout.width:
        raise _fail(
            where,
            line,
            f"expected {layout.width} columns, found {len(cells)}: {text!r}",
        )
    cve = cells[layout.cve]
    if not CVE_ID.fullmatch(cve):
        raise _fail(where, line, f"not a CVE id: {cve!r}")
    return EpssScore(
        cve=cve,
        probability=_fraction(cells[layout.epss], "epss", where, line),
        percentile=_fraction(cells[layout.percentile], "percentile", where, line),
        score_date=layout.score_date,
    )


def _scores(lines: Iterator[str], where: str) -> Iterator[EpssScore]:
    layout: _Layout | None = None
    score_date: date | None = None
    number = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        if layout is None and text.startswith("#"):
            score_date = _score_date(text, where, number) or score_date
        elif layout is None:
            layout = _layout(text, score_date, where, number)
        else:
            yield _row(text, layout, where, number)
    if number == 0:
        raise FeedError(FEED, where, "the file is empty")
    if layout is None:
        raise FeedError(FEED, where, "no 'cve,epss,percentile' header line")


def iter_epss(stream: BinaryIO, where: str = "") -> Iterator[EpssScore]:
    """Yield every score of an EPSS CSV file, streaming (see the module docstring)."""
    count = 0
    try:
        for score in _scores(_text(stream), where):
            count += 1
            yield score
    except UnicodeDecodeError as exc:
        raise FeedError(FEED, where, f"not UTF-8 text: {exc.reason}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise FeedError(FEED, where, f"corrupt gzip data: {exc}") from None
    if count == 0:
        raise FeedError(FEED, where, "no scores after the header")
