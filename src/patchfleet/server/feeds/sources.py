"""Opening feed files as binary streams: plain, gzip, bzip2 or xz, and zip archives.

Feeds ship compressed (``rhel-9.oval.xml.bz2``, ``suse…-affected.xml.gz``, OSV's
per-ecosystem ``all.zip``).  Parsers never care: :func:`open_stream` recognises the
compression by its magic bytes (not the file name, so a renamed mirror copy still
works) and hands back a stream that decompresses as it is read, and
:func:`iter_zip_members` opens an archive's members one at a time, so neither the
compressed nor the decompressed file is ever held in memory whole.

Corrupt or truncated compressed data surfaces while reading, as one of
:data:`STREAM_ERRORS`; :func:`read_limited` turns those into :class:`FeedError`.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, BinaryIO, Final, cast

from patchfleet.server.feeds.errors import FeedError

__all__ = [
    "STREAM_ERRORS",
    "Kind",
    "iter_zip_members",
    "open_stream",
    "read_limited",
    "sniff",
]

STREAM_ERRORS: Final = (
    OSError,  # gzip.BadGzipFile, bz2 "Invalid data stream", I/O errors
    EOFError,  # truncated gzip/bzip2/xz stream
    zlib.error,  # corrupt deflate data (gzip, zip members)
    lzma.LZMAError,
    zipfile.BadZipFile,  # bad CRC-32, bad local header
    NotImplementedError,  # zip member with an unsupported compression method
    RuntimeError,  # encrypted zip member
)
"""What reading a corrupt or truncated (compressed) stream may raise."""


_CHUNK: Final = 1 << 20
_READ_BUFFER: Final = 1 << 18


class Kind(StrEnum):
    """What a feed file is, by its first bytes."""

    PLAIN = "plain"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZIP = "zip"


_DECOMPRESSORS: Final[Mapping[Kind, Callable[[IO[bytes]], IO[bytes]]]] = {
    Kind.GZIP: lambda raw: cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")),
    Kind.BZIP2: bz2.BZ2File,
    Kind.XZ: lzma.LZMAFile,
}
_MAGIC: Final = (
    (b"\x1f\x8b", Kind.GZIP),
    (b"BZh", Kind.BZIP2),
    (b"\xfd7zXZ\x00", Kind.XZ),
    (b"PK\x03\x04", Kind.ZIP),
    (b"PK\x05\x06", Kind.ZIP),  # an empty archive
)


def sniff(path: Path) -> Kind:
    """Tells a file's compression or archive format from its magic bytes.

    Args:
        path: The file.

    Returns:
        The :class:`Kind`; ``Kind.PLAIN`` for anything not recognised.

    Raises:
        OSError: The file cannot be read.
    """
    with path.open("rb") as fh:
        head = fh.read(8)
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), Kind.PLAIN)


@contextmanager
def open_stream(path: Path, feed: str) -> Iterator[BinaryIO]:
    """Opens a plain, gzip, bzip2 or xz file as one decompressing binary stream.

    Args:
        path: The file; its compression is recognised from its content.
        feed: The feed kind to name in errors (``oval``…).

    Yields:
        A binary stream of the decompressed bytes, closed on leaving the block.

    Raises:
        FeedError: ``path`` is a zip archive (read it with :func:`iter_zip_members`).
        OSError: The file cannot be opened.
    """
    kind = sniff(path)
    if kind is Kind.ZIP:
        raise FeedError(feed, path.name, "is a zip archive, not a single file")
    with ExitStack() as stack:
        raw: IO[bytes] = stack.enter_context(path.open("rb"))
        decompress = _DECOMPRESSORS.get(kind)
        stream = raw
        if decompress is not None:
            # Readers ask for small pieces (iterparse: 16 KiB); bz2 decompresses
            # about 3 x slower in those than in larger ones, hence the buffer.
            unpacked = cast(io.RawIOBase, stack.enter_context(decompress(raw)))
            stream = stack.enter_context(io.BufferedReader(unpacked, _READ_BUFFER))
        yield cast(BinaryIO, stream)


def iter_zip_members(
    path: Path, feed: str, suffix: str = ""
) -> Iterator[tuple[str, BinaryIO]]:
    """Opens a zip archive's file members one after the other, in archive order.

    Only the archive's central directory is held in memory; each member is a
    decompressing stream that is closed before the next one is opened.

    Args:
        path: The archive.
        feed: The feed kind to name in errors (``osv``…).
        suffix: Only members whose name ends with this (``".json"``); all if empty.

    Yields:
        ``(member name, binary stream)``; directories are skipped.

    Raises:
        FeedError: The file is not a readable zip archive.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FeedError(feed, path.name, f"not a readable zip archive: {exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(suffix):
                continue
            try:
                member = archive.open(info)
            except STREAM_ERRORS as exc:
                where = f"{path.name}!{info.filename}"
                raise FeedError(feed, where, f"corrupt archive member: {exc}") from exc
            with member:
                yield info.filename, cast(BinaryIO, member)


def read_limited(stream: IO[bytes], limit: int | None, feed: str, where: str) -> bytes:
    """Reads a whole stream, refusing more than ``limit`` bytes.

    Args:
        stream: A (possibly decompressing) binary stream.
        limit: Largest accepted size in bytes (against a zip bomb), or ``None``.
        feed: The feed kind to name in errors.
        where: The file or member to name in errors.

    Returns:
        The bytes read.

    Raises:
        FeedError: The data is corrupt, truncated or larger than ``limit``.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if limit is not None and size > limit:
                raise FeedError(feed, where, f"larger than the {limit:,}-byte limit")
            chunks.append(chunk)
    except STREAM_ERRORS as exc:
        raise FeedError(feed, where, f"corrupt or truncated data: {exc}") from exc
    return b"".join(chunks)
