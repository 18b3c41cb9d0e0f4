"""Debian changelog parsing and CVE attribution, on this machine's real changelogs.

The real changelogs are the ``/usr/share/doc/<package>/changelog.Debian.gz`` files of
the installed packages; their installed (source) versions come from the dpkg status
file. Both are read as files: unit tests start no process.
"""

from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchfleet.core.advisories import CVE_ID
from patchfleet.core.changelogs import ChangelogEntry, fixed_since, parse
from patchfleet.core.versions import Scheme, VersionError, compare

DOC = Path("/usr/share/doc")
STATUS = Path("/var/lib/dpkg/status")
#: A header line, found independently of the module: ``name (version) dists;``.
HEADER_LINE = re.compile(r"^[a-z0-9][a-z0-9+.-]* \(([^() \t]+)\)[^;\n]*;", re.M | re.I)
OLD_CHANGELOG = re.compile(r"^Old Changelog:", re.M)


@dataclass(frozen=True)
class RealChangelog:
    """One installed package's Debian changelog and its installed source version."""

    package: str
    installed: str  # the source version: changelog entries carry source versions
    text: str


def installed_source_versions() -> dict[str, str]:
    """Binary package -> installed source version, from the dpkg status file."""
    versions = {}
    for stanza in STATUS.read_text(errors="replace").split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if " installed" not in fields.get("Status", "") or "Version" not in fields:
            continue
        source = re.fullmatch(r"\S+ \((\S+)\)", fields.get("Source", ""))
        versions[fields["Package"]] = source[1] if source else fields["Version"]
    return versions


@cache
def real_changelogs() -> tuple[RealChangelog, ...]:
    """Distinct installed changelogs that name at least one CVE."""
    if not STATUS.is_file():
        return ()
    installed = installed_source_versions()
    found: dict[bytes, RealChangelog] = {}
    for folder in sorted(DOC.iterdir()):
        path = folder / "changelog.Debian.gz"
        if folder.is_symlink() or folder.name not in installed or not path.is_file():
            continue
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode("utf-8", errors="replace")
        if raw not in found and CVE_ID.search(text):
            found[raw] = RealChangelog(folder.name, installed[folder.name], text)
    return tuple(found.values())


@pytest.fixture(scope="module")
def changelogs() -> tuple[RealChangelog, ...]:
    logs = real_changelogs()
    if len(logs) < 3:
        pytest.skip(f"fewer than 3 installed changelog.Debian.gz name a CVE in {DOC}")
    return logs


def independent_entries(text: str) -> list[tuple[str, str]]:
    """(version, body text) of each entry, split on header lines by a plain regex."""
    end = OLD_CHANGELOG.search(text)
    text = text[: end.start()] if end else text
    heads = list(HEADER_LINE.finditer(text))
    bounds = [h.start() for h in heads[1:]] + [len(text)]
    return [(h[1], text[h.end() : stop]) for h, stop in zip(heads, bounds, strict=True)]


def expected_fixes(text: str, installed: str) -> dict[str, str]:
    """The oracle: CVEs named above the installed entry, newer than it, oldest version."""
    expected: dict[str, str] = {}
    for version, body in independent_entries(text):
        if compare(Scheme.DEB, version, installed) == 0:
            break
        if compare(Scheme.DEB, version, installed) < 0:
            continue
        for cve in CVE_ID.findall(body):
            if cve not in expected or compare(Scheme.DEB, version, expected[cve]) < 0:
                expected[cve] = version
    return expected


# ------------------------------------------------------------ real changelogs


def test_parse_finds_every_entry_of_real_changelogs(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    for log in changelogs:
        entries = parse(log.text)
        independent = independent_entries(log.text)
        assert [e.version for e in entries] == [v for v, _ in independent], log.package
        named = {cve for _, body in independent for cve in CVE_ID.findall(body)}
        assert {c for e in entries for c in e.cves} == named, log.package
        assert entries[0].urgency, log.package
        assert entries[0].distributions, log.package


def test_header_fields_of_real_changelogs(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    header = re.compile(
        r"^(\S+) \(([^() \t]+)\) ([^;\n]+);.*?urgency=(\w+)", re.M | re.I
    )
    for log in changelogs:
        end = OLD_CHANGELOG.search(log.text)
        heads = header.findall(log.text[: end.start()] if end else log.text)
        expected = [(p, v, tuple(d.split()), u.lower()) for p, v, d, u in heads]
        entries = [
            (e.package, e.version, e.distributions, e.urgency) for e in parse(log.text)
        ]
        assert entries == expected, log.package


def test_installed_changelog_top_entry_is_the_installed_version(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    for log in changelogs:
        top = parse(log.text)[0]
        assert compare(Scheme.DEB, top.version, log.installed) == 0, log.package


def test_nothing_installed_counts_as_fixed_by_an_update(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    for log in changelogs:
        assert fixed_since(parse(log.text), log.installed) == {}, log.package


def test_older_installed_version_gets_the_cves_of_newer_entries(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    checked = 0
    for log in changelogs:
        entries = parse(log.text)
        with_cves = [i for i, e in enumerate(entries) if e.cves]
        # As if installed at the entry below the newest one naming a CVE, and lower.
        for index in {with_cves[0] + 1, len(entries) // 2, len(entries) - 1}:
            if index >= len(entries):
                continue
            older = entries[index].version
            found = fixed_since(entries, older)
            assert found == expected_fixes(log.text, older), (log.package, older)
            assert all(compare(Scheme.DEB, v, older) > 0 for v in found.values())
            checked += bool(found)
    assert checked >= len(changelogs)  # at least one non-empty answer per changelog


def test_up_to_drops_entries_above_the_candidate(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    for log in changelogs:
        entries = parse(log.text)
        if len(entries) < 3:
            continue
        oldest, middle = entries[-1].version, entries[len(entries) // 2].version
        found = fixed_since(entries, oldest, up_to=middle)
        assert all(
            compare(Scheme.DEB, oldest, v) < 0 <= compare(Scheme.DEB, middle, v)
            for v in found.values()
        ), log.package


def test_backported_unstable_entries_below_the_installed_entry_count_as_installed(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    """A ``~deb12uN`` stable update lists the higher unstable upload it came from."""
    parsed = [(log, parse(log.text)) for log in changelogs]
    cases = [
        (log, entries)
        for log, entries in parsed
        if any(
            compare(Scheme.DEB, e.version, log.installed) > 0 and e.cves
            for e in entries
        )
    ]
    if not cases:
        pytest.skip("no installed changelog lists a higher version below its top")
    for log, entries in cases:
        assert fixed_since(entries, log.installed) == {}, log.package
        higher = [
            e for e in entries if compare(Scheme.DEB, e.version, log.installed) > 0
        ]
        assert all(entries.index(e) > 0 for e in higher)  # all of them below the top


def test_malformed_header_without_trailer_above_still_skips_its_body() -> None:
    text = (
        "curl (7.88.1-10+deb12u5) bookworm-security; urgency=high\n"
        "  * Fix CVE-2023-38545.\n"
        "curl 7.88.1-10+deb12u4) bookworm; urgency=medium\n"
        "  * Fix CVE-2023-28322.\n"
    )
    [entry] = parse(text)
    assert (entry.version, entry.cves) == ("7.88.1-10+deb12u5", ("CVE-2023-38545",))


def test_malformed_header_and_its_body_are_skipped(
    changelogs: tuple[RealChangelog, ...],
) -> None:
    log = next(
        log for log in changelogs if len([e for e in parse(log.text) if e.cves]) >= 2
    )
    entries = parse(log.text)
    victim = next(e for e in entries if e.cves)
    header = re.compile(
        rf"^{re.escape(victim.package)} \({re.escape(victim.version)}\)", re.M
    )
    broken = header.sub(f"{victim.package} {victim.version})", log.text, count=1)
    assert broken != log.text
    after = parse(broken)
    assert [e.version for e in after] == [e.version for e in entries if e is not victim]
    assert after == [e for e in entries if e is not victim]


# ----------------------------------------------------------- small and bad input


def test_unusual_header_fields_and_repeated_cves() -> None:
    text = (
        "curl (7.88.1-10+deb12u5) bookworm-security bookworm; urgency=HIGH (security)\n"
        "\n"
        "  * Fix CVE-2023-38546 and CVE-2023-38545.\n"
        "  * CVE-2023-38546: cookie injection (again).\n"
        "\n"
        " -- Samuel Henrique <samueloph@debian.org>  Tue, 10 Oct 2023 12:00:00 +0100\n"
    )
    assert parse(text) == [
        ChangelogEntry(
            package="curl",
            version="7.88.1-10+deb12u5",
            distributions=("bookworm-security", "bookworm"),
            urgency="high",
            cves=("CVE-2023-38546", "CVE-2023-38545"),
        )
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "not a changelog\n  * CVE-2023-38545\n",
        "curl 7.88.1-10 unstable; urgency=low\n  * CVE-2023-38545\n",
        "\x00\xff garbage (((\n",
    ],
)
def test_unreadable_text_gives_no_entries(text: str) -> None:
    assert parse(text) == []


def test_invalid_versions() -> None:
    entries = [
        ChangelogEntry("x", "not a version!", ("unstable",), "low", ("CVE-2024-0001",))
    ]
    assert fixed_since(entries, "1.0-1") == {}
    with pytest.raises(VersionError):
        fixed_since(entries, "")


# ------------------------------------------------------------------ properties

versions = st.builds(
    lambda epoch, parts, rev: (
        f"{epoch}:{'.'.join(map(str, parts))}-{rev}"
        if epoch
        else f"{'.'.join(map(str, parts))}-{rev}"
    ),
    st.integers(0, 2),
    st.lists(st.integers(0, 30), min_size=1, max_size=3),
    st.sampled_from(["1", "2", "1+deb12u1", "1+deb12u2", "1~bpo12+1", "2.1"]),
)
cve_ids = st.builds(
    lambda year, number: f"CVE-{year}-{number:04d}",
    st.integers(1999, 2026),
    st.integers(1, 99_999),
)
entry_lists = st.lists(
    st.builds(
        ChangelogEntry,
        package=st.just("pkg"),
        version=versions,
        distributions=st.just(("unstable",)),
        urgency=st.sampled_from(["low", "medium", "high"]),
        cves=st.lists(cve_ids, max_size=4, unique=True).map(tuple),
    ),
    max_size=12,
)


def render(entries: list[ChangelogEntry]) -> str:
    blocks = []
    for e in entries:
        body = "".join(f"  * Fix {cve}.\n" for cve in e.cves) or "  * No change.\n"
        blocks.append(
            f"{e.package} ({e.version}) {' '.join(e.distributions)}; urgency={e.urgency}\n\n"
            f"{body}\n -- A Maintainer <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
        )
    return "\n".join(blocks)


@given(entry_lists)
def test_parse_reads_back_what_was_written(entries: list[ChangelogEntry]) -> None:
    assert parse(render(entries)) == entries


@given(entry_lists, versions)
def test_fixed_since_properties(entries: list[ChangelogEntry], installed: str) -> None:
    found = fixed_since(entries, installed)
    stop = next(
        (
            i
            for i, e in enumerate(entries)
            if compare(Scheme.DEB, e.version, installed) == 0
        ),
        len(entries),
    )
    counted = [
        e for e in entries[:stop] if compare(Scheme.DEB, e.version, installed) > 0
    ]
    # every returned version is newer than installed, and names the CVE
    for cve, version in found.items():
        assert compare(Scheme.DEB, version, installed) > 0
        assert any(e.version == version and cve in e.cves for e in counted)
    # every CVE of a counted entry is returned, at that entry's version or older
    for e in counted:
        for cve in e.cves:
            assert compare(Scheme.DEB, found[cve], e.version) <= 0
    # nothing else
    assert set(found) == {cve for e in counted for cve in e.cves}


@given(entry_lists, versions, st.randoms(use_true_random=False))
def test_fixed_since_ignores_order_without_an_installed_entry(
    entries: list[ChangelogEntry], installed: str, rnd: random.Random
) -> None:
    entries = [e for e in entries if compare(Scheme.DEB, e.version, installed) != 0]
    shuffled = entries[:]
    rnd.shuffle(shuffled)
    assert sorted(fixed_since(shuffled, installed).items()) == sorted(
        fixed_since(entries, installed).items()
    )


@given(entry_lists, versions, versions)
def test_up_to_bounds_every_version(
    entries: list[ChangelogEntry], installed: str, up_to: str
) -> None:
    everything = fixed_since(entries, installed)
    assert fixed_since(entries, installed, up_to=up_to) == {
        cve: v for cve, v in everything.items() if compare(Scheme.DEB, v, up_to) <= 0
    }
