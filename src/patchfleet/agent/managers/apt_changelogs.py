"""CVE ids for apt candidates, read from each candidate's own Debian changelog.

Debian's apt metadata names no CVEs, but every upload's changelog does. For each
candidate update in scope (``security`` mode: the candidates classified security;
``all``: every candidate; ``off``: none) this step

1. downloads the candidate ``.deb`` with ``apt-get download name=version``, with the
   apt configuration of the backend (``APT_CONFIG`` included, so lab endpoints and
   other alternate roots keep working), into ``<cache>/download`` (``env -C``: apt
   downloads into the working directory); the binaries of one source package at one
   version share a changelog, so the smallest of them is tried first;
2. reads ``usr/share/doc/<name>/changelog.Debian.gz`` (``changelog.gz`` for native
   packages) from the package's data archive with ``tarfile``, streaming; when
   ``/usr/share/doc/<name>`` is a symlink to another binary of the same source (as
   Debian often does), that binary is downloaded instead; archives ``tarfile`` cannot
   decompress (zstd, lzma) are unpacked with ``dpkg-deb -x`` into a scratch directory;
3. deletes the download, parses the changelog (``core.changelogs``) and adds
   ``fixed_since(entries, installed source version, up_to=candidate source version)``
   to the update's ``cves``. Changelog versions are source versions, so the installed
   source version (from dpkg) and the candidate's (``dpkg-deb --field``) are compared.

Results are cached per (source package, candidate version) in
``<cache>/changelog-cves.json``, so each version is downloaded once; the cache keeps
only the current candidates; a lock file lets one scan at a time fill it. Nothing
here fails a scan: a download or archive that cannot be read leaves those updates
without changelog CVEs (``failures`` says why, and a warning is logged), and is
retried on the next scan. An update keeps at most MAX_CVES ids.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import json
import logging
import lzma
import os
import posixpath
import shutil
import tarfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from patchfleet.agent.runner import Completed, Runner, RunnerError
from patchfleet.core.changelogs import ChangelogEntry, fixed_since, parse
from patchfleet.core.updates import Update
from patchfleet.core.versions import VersionError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

TIMEOUT: Final = 120.0
DOWNLOAD_TIMEOUT: Final = 900.0
#: ``apt-get download`` writes into the working directory: ``env -C DIR`` sets it.
DOWNLOAD: Final = ("apt-get", "download")
PRINT_URIS: Final = ("apt-get", "download", "--print-uris")
FIELDS: Final = ("dpkg-deb", "--field")  # + deb, Source, Version
UNPACK: Final = ("dpkg-deb", "-x")  # + deb, directory
CACHE_FILE: Final = "changelog-cves.json"
LOCK_FILE: Final = "lock"  # one changelog step at a time per cache directory
CACHE_FORMAT: Final = 1
#: Downloads per source package and version (a symlinked doc dir costs one more).
MAX_DOWNLOADS: Final = 3
#: After this many groups in a row failed to download, the archive is unreachable.
MAX_FAILED_GROUPS: Final = 3
MAX_CHANGELOG: Final = 64 << 20  # bytes, compressed or not
#: CVE ids one update may carry, and their length (``protocol.v1.UpdateItem.cves``):
#: the newest are kept, and absurd ids from a garbled changelog dropped.
MAX_CVES: Final = 5_000
MAX_CVE_LENGTH: Final = 32
MAX_LINKS: Final = 8
UNKNOWN_SIZE: Final = 1 << 62  # sorts last
#: apt's words for a package or version the archive does not have (no retry helps).
NOT_IN_ARCHIVE: Final = (
    "E: Unable to locate package",
    "E: Can't find a source to download version",
    "was not found",
)
DOC: Final = "usr/share/doc"
CHANGELOG: Final = "changelog.Debian.gz"
NATIVE_CHANGELOG: Final = "changelog.gz"  # a native package's Debian changelog
_DEB_MAGIC: Final = b"!<arch>\n"


class ChangelogMode(StrEnum):
    """Which candidates get CVEs from their changelogs."""

    OFF = "off"
    SECURITY = "security"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ChangelogSettings:
    """The changelog step's configuration: its scope and its cache directory."""

    mode: ChangelogMode
    cache_dir: Path


class DebError(ValueError):
    """A downloaded file is not a readable Debian binary package."""


# ------------------------------------------------------------ reading a .deb


@dataclass(frozen=True, slots=True)
class DocFiles:
    """What a package holds under /usr/share/doc: symlinks and changelog files.

    Paths are relative to the root (``usr/share/doc/jq/changelog.Debian.gz``).
    """

    links: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)

    def resolve(self, path: str) -> str:
        """``path`` with the package's own symlinks followed (at most MAX_LINKS)."""
        for _ in range(MAX_LINKS):
            parts = path.split("/")
            for end in range(1, len(parts) + 1):
                prefix = "/".join(parts[:end])
                target = self.links.get(prefix)
                if target is not None:
                    base = "" if target.startswith("/") else posixpath.dirname(prefix)
                    joined = posixpath.join(base, target.lstrip("/"), *parts[end:])
                    path = posixpath.normpath(joined)
                    break
            else:
                return path
        return path

    def changelog(self, name: str) -> tuple[bytes | None, str]:
        """Binary ``name``'s changelog, or None and the package whose doc dir has it.

        The second value is set when ``/usr/share/doc/<name>`` (or the changelog)
        is a symlink into another package's doc directory.
        """
        path = self.resolve(f"{DOC}/{name}/{CHANGELOG}")
        if path in self.files:
            return self.files[path], ""
        owner = _doc_owner(path)
        if owner and owner != name:
            return None, owner
        native = self.resolve(f"{DOC}/{name}/{NATIVE_CHANGELOG}")
        return self.files.get(native), ""


def _doc_owner(path: str) -> str:
    """``X`` of ``usr/share/doc/X/...``, else ``""``."""
    parts = path.split("/")
    return parts[3] if len(parts) >= 5 and "/".join(parts[:3]) == DOC else ""


def _member_path(name: str) -> str:
    """A tar member name as a root-relative path (``./usr/x`` -> ``usr/x``)."""
    return posixpath.normpath(name.removeprefix("./").lstrip("/"))


def _wanted(path: str) -> bool:
    """Doc dir entries and changelog files: all a DocFiles needs."""
    parts = path.split("/")
    if "/".join(parts[:3]) != DOC:
        return False
    if len(parts) == 4:
        return True
    return len(parts) == 5 and parts[4] in (CHANGELOG, NATIVE_CHANGELOG)


class _Slice(io.RawIOBase):
    """``size`` bytes of ``stream`` from its current position: one ar member."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        super().__init__()
        self._stream = stream
        self._left = size

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Read at most what is left of the member."""
        view = memoryview(buffer).cast("B")
        data = self._stream.read(min(len(view), self._left))
        self._left -= len(data)
        view[: len(data)] = data
        return len(data)


def _ar_members(stream: BinaryIO) -> Iterator[tuple[str, int]]:
    """(name, size) of each member of an ar archive, the stream at its data."""
    if stream.read(len(_DEB_MAGIC)) != _DEB_MAGIC:
        raise DebError("not a Debian package (no ar magic)")
    while header := stream.read(60):
        if len(header) != 60 or header[58:60] != b"`\n":
            raise DebError("truncated or corrupt ar member header")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58])
        except ValueError:
            raise DebError(f"bad ar member size {header[48:58]!r}") from None
        start = stream.tell()
        yield name, size
        stream.seek(start + size + size % 2)


def read_deb_docs(deb: Path) -> DocFiles | None:
    """The doc files of a .deb, read in-process; None when ``tarfile`` cannot
    decompress its data archive (zstd, lzma: use ``dpkg-deb -x`` then)."""
    with deb.open("rb") as stream:
        for name, size in _ar_members(stream):
            if not name.startswith("data.tar"):
                continue
            if name not in ("data.tar", "data.tar.gz", "data.tar.xz", "data.tar.bz2"):
                return None
            raw = io.BufferedReader(_Slice(stream, size), buffer_size=1 << 16)
            return _scan_tar(raw)
    raise DebError("no data.tar member")


def _scan_tar(raw: BinaryIO) -> DocFiles:
    links: dict[str, str] = {}
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=raw, mode="r|*") as tar:
        for member in tar:
            path = _member_path(member.name)
            if not _wanted(path):
                continue
            if member.issym():
                links[path] = member.linkname
            elif member.isfile() and member.size <= MAX_CHANGELOG:
                content = tar.extractfile(member)
                if content is not None:
                    files[path] = content.read()
    return DocFiles(links, files)


def read_tree_docs(root: Path) -> DocFiles:
    """The doc files of a package unpacked under ``root`` (``dpkg-deb -x``)."""
    links: dict[str, str] = {}
    files: dict[str, bytes] = {}
    doc = root / DOC
    if not doc.is_dir() or doc.is_symlink():
        return DocFiles()
    for entry in sorted(doc.iterdir()):
        if entry.is_symlink():
            links[entry.relative_to(root).as_posix()] = os.readlink(entry)
            continue
        for path in (entry / CHANGELOG, entry / NATIVE_CHANGELOG):
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                links[relative] = os.readlink(path)
            elif path.is_file() and path.stat().st_size <= MAX_CHANGELOG:
                files[relative] = path.read_bytes()
    return DocFiles(links, files)


def changelog_text(data: bytes) -> str:
    """A changelog file's text: gunzipped (by magic), at most MAX_CHANGELOG, UTF-8."""
    if data[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            data = unzipped.read(MAX_CHANGELOG + 1)
        if len(data) > MAX_CHANGELOG:
            raise DebError("changelog larger than 64 MiB")
    return data.decode("utf-8", errors="replace")


def source_version(fields: str, binary_version: str) -> str:
    """The source version from ``dpkg-deb --field DEB Source Version`` output.

    ``Source: name (version)`` names it when it differs from the binary version.
    """
    values = dict(
        line.partition(": ")[::2] for line in fields.splitlines() if ": " in line
    )
    source = values.get("Source", "").strip()
    if source.endswith(")") and " (" in source:
        return source[source.index(" (") + 2 : -1]
    return values.get("Version", "").strip() or binary_version


def parse_print_uris(text: str) -> dict[str, int]:
    """``apt-get download --print-uris``: package name -> .deb size in bytes."""
    sizes = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0].startswith("'") and words[2].isdigit():
            sizes[words[1].partition("_")[0]] = int(words[2])
    return sizes


# ------------------------------------------------------------------ the cache


@dataclass(frozen=True, slots=True)
class Changelog:
    """What one candidate's changelog says, as cached.

    ``found`` False: the packages tried hold no changelog (cached too, so they are
    not downloaded again). ``entries`` keep every entry's version (``fixed_since``
    needs the installed version's own entry) with the CVEs it names.
    """

    source_version: str
    found: bool
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def fixes(self, source: str, installed: str) -> dict[str, str]:
        """CVE id -> changelog version that first fixed it, newer than ``installed``."""
        entries = [
            ChangelogEntry(source, version, (), "", cves)
            for version, cves in self.entries
        ]
        return fixed_since(entries, installed, up_to=self.source_version)

    def to_json(self) -> dict[str, object]:
        """The cache file form."""
        return {
            "source_version": self.source_version,
            "found": self.found,
            "entries": [[version, list(cves)] for version, cves in self.entries],
        }

    @classmethod
    def from_json(cls, data: object) -> Changelog | None:
        """From the cache file form; None when it is not that."""
        if not isinstance(data, dict):
            return None
        entries = data.get("entries")
        version, found = data.get("source_version"), data.get("found")
        if not (isinstance(version, str) and isinstance(found, bool)):
            return None
        if not isinstance(entries, list) or not all(_is_entry(e) for e in entries):
            return None
        return cls(version, found, tuple((v, tuple(c)) for v, c in entries))


def _is_entry(item: object) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], list)
        and all(isinstance(c, str) for c in item[1])
    )


def load_cache(path: Path) -> dict[str, Changelog]:
    """The cache file's records; empty when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    records = data.get("changelogs")
    if not isinstance(records, dict):
        return {}
    loaded = {key: Changelog.from_json(value) for key, value in records.items()}
    return {key: value for key, value in loaded.items() if value is not None}


def save_cache(path: Path, records: Mapping[str, Changelog]) -> None:
    """Write the cache atomically (mode 0600)."""
    data = {
        "format": CACHE_FORMAT,
        "changelogs": {key: records[key].to_json() for key in sorted(records)},
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    os.replace(tmp, path)


# ------------------------------------------------------------------ the step


class _CommandError(Exception):
    """A download or ``dpkg-deb`` call failed: worth a retry at the next scan, unless
    apt says the package or version does not exist (``missing``)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def apt_download_spec(name: str, arch: str, version: str) -> str:
    """``name:arch=version``; ``name=version`` for ``all`` or an unknown arch."""
    return f"{name}:{arch}={version}" if arch and arch != "all" else f"{name}={version}"


def group_key(update: Update) -> str:
    """The cache key: source package and candidate version."""
    return f"{update.source_package or update.name} {update.candidate_version}"


class ChangelogCves:
    """The changelog step of one apt scan (see the module docstring)."""

    def __init__(
        self, runner: Runner, env: Mapping[str, str], settings: ChangelogSettings
    ) -> None:
        """Run apt with ``env`` (the backend's own, ``APT_CONFIG`` included)."""
        self._runner = runner
        self._env = dict(env)
        self._settings = settings
        self.failures: list[str] = []  # why some updates got no changelog CVEs

    @property
    def _cache_file(self) -> Path:
        return self._settings.cache_dir / CACHE_FILE

    @property
    def _download_dir(self) -> Path:
        return self._settings.cache_dir / "download"

    def in_scope(self, update: Update) -> bool:
        """Whether the mode looks at this candidate's changelog."""
        mode = self._settings.mode
        return mode is ChangelogMode.ALL or (
            mode is ChangelogMode.SECURITY and update.is_security
        )

    def annotate(
        self,
        updates: Sequence[Update],
        installed_sources: Mapping[tuple[str, str], str],
    ) -> list[Update]:
        """``updates`` with the CVEs their candidates' changelogs fixed merged in.

        ``installed_sources`` maps (name, arch) to the installed source version.
        """
        found = self.fixes(updates, installed_sources)
        return [
            replace(u, cves=_merged(u.cves, fixes)) if fixes else u
            for u, fixes in zip(updates, found, strict=True)
        ]

    def fixes(
        self,
        updates: Sequence[Update],
        installed_sources: Mapping[tuple[str, str], str],
    ) -> list[dict[str, str]]:
        """Per update, in order: CVE id -> the changelog version that first fixed it.

        Empty for updates out of scope or whose changelog could not be read.
        """
        scoped = [u for u in updates if self.in_scope(u)]
        if not scoped:
            return [{} for _ in updates]
        changelogs = self._changelogs(scoped)
        results = []
        for update in updates:
            changelog = (
                changelogs.get(group_key(update)) if self.in_scope(update) else None
            )
            results.append(self._fixes(update, changelog, installed_sources))
        if self.failures:
            log.warning(
                "no changelog CVEs for %d package(s): %s",
                len(self.failures),
                "; ".join(self.failures[:5]),
            )
        return results

    def _fixes(
        self,
        update: Update,
        changelog: Changelog | None,
        installed_sources: Mapping[tuple[str, str], str],
    ) -> dict[str, str]:
        if changelog is None or not changelog.found:
            return {}
        source = update.source_package or update.name
        installed = installed_sources.get((update.name, update.arch), "")
        try:
            return changelog.fixes(source, installed or update.installed_version)
        except VersionError as exc:
            self.failures.append(f"{update.name}: {exc}")
            return {}

    def _changelogs(self, updates: Sequence[Update]) -> dict[str, Changelog]:
        """One Changelog per group in scope: cached, else downloaded and read."""
        groups: dict[str, list[Update]] = {}
        for update in updates:
            groups.setdefault(group_key(update), []).append(update)
        try:
            self._settings.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = os.open(
                self._settings.cache_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600
            )
        except OSError as exc:
            self.failures.append(f"cache directory: {exc}")
            return {}
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another scan may be filling the cache
            return self._changelogs_locked(groups)
        finally:
            os.close(lock)

    def _changelogs_locked(
        self, groups: Mapping[str, list[Update]]
    ) -> dict[str, Changelog]:
        cached = load_cache(self._cache_file)
        missing = [
            u for key, group in groups.items() if key not in cached for u in group
        ]
        sizes = self._sizes(missing)
        result: dict[str, Changelog] = {}
        failed_in_a_row = 0
        for key in sorted(groups):
            if key in cached:
                result[key] = cached[key]
            elif failed_in_a_row >= MAX_FAILED_GROUPS:
                self.failures.append(
                    f"{key}: skipped after {MAX_FAILED_GROUPS} failures"
                )
            elif (changelog := self._read_group(key, groups[key], sizes)) is not None:
                result[key] = changelog
                failed_in_a_row = 0
            else:
                failed_in_a_row += 1
        with contextlib.suppress(OSError):
            save_cache(self._cache_file, result)
        return result

    def _sizes(self, updates: Sequence[Update]) -> dict[str, int]:
        """Download sizes by package name, from one ``--print-uris`` call (it only
        resolves, no network); empty when apt cannot say or there is no choice."""
        if len({u.name for u in updates}) == len({group_key(u) for u in updates}):
            return {}  # one binary per group: nothing to order
        specs = [
            apt_download_spec(u.name, u.arch, u.candidate_version) for u in updates
        ]
        try:
            return parse_print_uris(self._run((*PRINT_URIS, *specs)).stdout)
        except _CommandError:
            return {}

    def _read_group(
        self, key: str, group: Sequence[Update], sizes: Mapping[str, int]
    ) -> Changelog | None:
        """Download the group's binaries (smallest first) until one has a changelog;
        None after a failure worth retrying."""
        try:
            return self._search(group, sizes)
        except (_CommandError, DebError, RunnerError, OSError) as exc:
            self.failures.append(f"{key}: {exc}")
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
            self.failures.append(f"{key}: unreadable package: {exc}")
        return None

    def _search(self, group: Sequence[Update], sizes: Mapping[str, int]) -> Changelog:
        version = group[0].candidate_version
        specs = {u.name: apt_download_spec(u.name, u.arch, version) for u in group}
        queue = sorted(specs, key=lambda name: (sizes.get(name, UNKNOWN_SIZE), name))
        tried: set[str] = set()
        while queue and len(tried) < MAX_DOWNLOADS:
            name = queue.pop(0)
            if name in tried:
                continue
            tried.add(name)
            try:
                found = self._read_one(
                    name, specs.get(name, f"{name}={version}"), version
                )
            except _CommandError as exc:
                if name in specs or not exc.missing:
                    raise
                continue  # the doc dir's owner is not in the archive at this version
            if isinstance(found, Changelog):
                return found
            if found:
                queue.insert(0, found)  # the doc dir is a symlink into that binary's
        return Changelog("", found=False)

    def _read_one(self, name: str, spec: str, version: str) -> Changelog | str:
        """Download one binary; its Changelog, or the binary its doc dir points to."""
        try:
            deb = self._download(spec)
            docs = read_deb_docs(deb)
            if docs is None:
                docs = self._unpack_docs(deb)
            fields = self._run((*FIELDS, str(deb), "Source", "Version")).stdout
        finally:
            shutil.rmtree(self._download_dir, ignore_errors=True)
        data, owner = docs.changelog(name)
        if data is None:
            return owner
        entries = parse(changelog_text(data))
        return Changelog(
            source_version=source_version(fields, version),
            found=True,
            entries=tuple((e.version, e.cves) for e in entries),
        )

    def _download(self, spec: str) -> Path:
        """``apt-get download spec`` into a fresh download dir; the .deb's path."""
        folder = self._download_dir
        shutil.rmtree(folder, ignore_errors=True)  # a crash may have left files
        folder.mkdir(parents=True, mode=0o700)
        argv = ("env", "-C", str(folder), *DOWNLOAD, spec)
        done = self._runner.run(argv, env=self._env, timeout=DOWNLOAD_TIMEOUT)
        debs = sorted(folder.glob("*.deb"))
        if done.returncode != 0 or len(debs) != 1:
            missing = any(words in done.stderr for words in NOT_IN_ARCHIVE)
            message = f"apt-get download {spec}: {_message(done)}"
            raise _CommandError(message, missing=missing)
        return debs[0]

    def _unpack_docs(self, deb: Path) -> DocFiles:
        """``dpkg-deb -x`` into a scratch directory, for compressions tarfile lacks."""
        scratch = self._download_dir / "unpacked"
        self._run((*UNPACK, str(deb), str(scratch)), timeout=DOWNLOAD_TIMEOUT)
        return read_tree_docs(scratch)

    def _run(self, argv: Sequence[str], *, timeout: float = TIMEOUT) -> Completed:
        done = self._runner.run(argv, env=self._env, timeout=timeout)
        if done.returncode != 0:
            raise _CommandError(f"{' '.join(argv[:2])}: {_message(done)}")
        return done


def _merged(cves: tuple[str, ...], fixes: Mapping[str, str]) -> tuple[str, ...]:
    """The update's own CVEs, then the changelog's new ones, at most MAX_CVES."""
    new = (c for c in fixes if c not in cves and len(c) <= MAX_CVE_LENGTH)
    return (*cves, *new)[:MAX_CVES]


def _message(done: Completed) -> str:
    """apt's ``E:`` lines, else the last line of stderr, else the exit code."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("E:")]
    lines = errors or done.stderr.strip().splitlines()[-1:]
    return "; ".join(lines) or f"exit {done.returncode}"
