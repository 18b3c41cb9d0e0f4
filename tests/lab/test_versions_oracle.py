"""Fuzz patchfleet.core.versions against the real tools on real version strings.

dpkg: versions from the machine's apt lists and dpkg status, checked one pair per
``dpkg --compare-versions`` call (in parallel). rpm: EVRs from the shared updateinfo,
OVAL and OSV samples plus variants built from them, checked by ``rpm.vercmp`` in one
``rpm --eval`` Lua process. The acceptance criterion is zero disagreements.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from patchfleet.core.versions import compare_deb, compare_rpm, deb_key, rpm_key

REPO_ROOT = Path(__file__).resolve().parents[2]
APT_LISTS = Path("/var/lib/apt/lists")
DPKG_STATUS = Path("/var/lib/dpkg/status")
APT_HELPER = Path("/usr/lib/apt/apt-helper")
MIN_PAIRS = 5_000
SEED = 20_240_601
C_ENV = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
RELATION = {-1: "lt", 0: "eq", 1: "gt"}

Pair = tuple[str, str]


def shared_data() -> Path:
    """The shared data folder: $PATCHFLEET_SHARED_DATA or ../shared/data."""
    configured = os.environ.get("PATCHFLEET_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


def lab_missing(what: str) -> None:
    """Skip, or fail when PATCHFLEET_REQUIRE_LAB=1 says the lab must be there."""
    if os.environ.get("PATCHFLEET_REQUIRE_LAB") == "1":
        pytest.fail(f"lab required but {what}")
    pytest.skip(what)


# ----------------------------------------------------------------------------- loading


def read_compressed(path: Path) -> bytes:
    """Bytes of a file, gunzipped, bunzipped or unxzed by its suffix."""
    decompress = {
        ".gz": gzip.decompress,
        ".bz2": bz2.decompress,
        ".xz": lzma.decompress,
    }
    raw = path.read_bytes()
    return decompress[path.suffix](raw) if path.suffix in decompress else raw


def read_index(path: Path) -> str:
    """Text of an apt index file, whatever compression apt kept it in."""
    if path.suffix in {".gz", ".xz", ".bz2"}:
        return read_compressed(path).decode("utf-8")
    if path.suffix in {".lz4", ".zst"}:
        done = subprocess.run(
            [str(APT_HELPER), "cat-file", str(path)],
            capture_output=True,
            check=True,
            env=C_ENV,
        )
        return done.stdout.decode("utf-8")
    return path.read_text(encoding="utf-8")


def stanzas(text: str) -> Iterator[dict[str, str]]:
    """Package/Version/Source/Status fields of each deb822 stanza."""
    fields: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line:
            if fields:
                yield fields
            fields = {}
        elif line[0] not in " \t" and ":" in line:
            name, _, value = line.partition(":")
            if name in {"Package", "Version", "Source", "Status"}:
                fields[name] = value.strip()


def packages_files() -> list[Path]:
    """The apt lists' Packages indexes (any compression)."""
    if not APT_LISTS.is_dir():
        return []
    return sorted(p for p in APT_LISTS.glob("*_Packages*") if ".diff" not in p.name)


def load_apt_lists() -> list[list[dict[str, str]]]:
    """One list of stanzas per Packages file."""
    return [list(stanzas(read_index(path))) for path in packages_files()]


def installed_versions() -> dict[str, str]:
    """Package -> version of what dpkg says is installed on this machine."""
    if not DPKG_STATUS.is_file():
        return {}
    return {
        s["Package"]: s["Version"]
        for s in stanzas(DPKG_STATUS.read_text(encoding="utf-8"))
        if "Version" in s and s.get("Status", "").endswith(" installed")
    }


# ------------------------------------------------------------------------------ pairing


class PairSet:
    """Ordered, de-duplicated pairs with a count per source."""

    def __init__(self) -> None:
        self.pairs: list[Pair] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._seen: set[Pair] = set()

    def add(self, source: str, pairs: Iterable[Pair]) -> None:
        for pair in pairs:
            if pair not in self._seen:
                self._seen.add(pair)
                self.pairs.append(pair)
                self.counts[source] += 1


def random_pairs(rng: random.Random, pool: list[str], n: int) -> Iterator[Pair]:
    for _ in range(n):
        yield rng.choice(pool), rng.choice(pool)


def two_of_each(rng: random.Random, groups: list[list[str]]) -> Iterator[Pair]:
    for group in groups:
        a, b = rng.sample(group, 2)
        yield a, b


def neighbour_pairs(rng: random.Random, ordered: list[str], n: int) -> Iterator[Pair]:
    """Pairs of versions next to each other in *our* order: the sharpest test."""
    gaps = max(0, len(ordered) - 1)
    for i in rng.sample(range(gaps), min(n, gaps)):
        a, b = ordered[i], ordered[i + 1]
        yield (a, b) if rng.random() < 0.5 else (b, a)


def deb_pairs(files: list[list[dict[str, str]]], installed: dict[str, str]) -> PairSet:
    rng = random.Random(SEED)
    by_package: dict[str, set[str]] = defaultdict(set)
    by_source: dict[str, set[str]] = defaultdict(set)
    for stanzas_of_file in files:
        for s in stanzas_of_file:
            if "Package" in s and "Version" in s:
                by_package[s["Package"]].add(s["Version"])
                source = s.get("Source", s["Package"]).split(" ")[0]
                by_source[source].add(s["Version"])
    every = sorted({v for vs in by_package.values() for v in vs})
    result = PairSet()
    result.add(
        "same package across files",
        (
            (a, b)
            for vs in by_package.values()
            for a in sorted(vs)
            for b in sorted(vs)
            if a != b
        ),
    )
    result.add(
        "installed vs candidates",
        (
            (version, candidate)
            for package, version in sorted(installed.items())
            for candidate in sorted(by_package.get(package, ()))
        ),
    )
    multi = sorted(sorted(vs) for vs in by_source.values() if len(vs) > 1)
    result.add(
        "same source package",
        two_of_each(rng, rng.sample(multi, min(1_500, len(multi)))),
    )
    result.add(
        "neighbours in our order",
        neighbour_pairs(rng, sorted(every, key=deb_key), 1_500),
    )
    result.add("random", random_pairs(rng, every, 2_000))
    sample = rng.sample(every, min(300, len(every)))
    result.add("identical", ((v, v) for v in sample))
    result.add("v vs 0:v", ((v, "0:" + v) for v in sample if ":" not in v))
    result.add("v vs v-0", ((v, v + "-0") for v in sample if "-" not in v))
    return result


# ------------------------------------------------------------------------- dpkg oracle


def dpkg_holds(a: str, relation: str, b: str) -> bool:
    done = subprocess.run(
        ["dpkg", "--compare-versions", a, relation, b],
        capture_output=True,
        check=False,
        env=C_ENV,
    )
    if done.returncode not in (0, 1):
        raise AssertionError(f"dpkg rejected {a!r} {relation} {b!r}: {done.stderr!r}")
    return done.returncode == 0


def dpkg_says(a: str, b: str) -> str:
    return next(r for r in ("lt", "eq", "gt") if dpkg_holds(a, r, b))


@pytest.mark.apt
def test_compare_deb_agrees_with_dpkg_on_real_versions() -> None:
    if not packages_files():
        lab_missing(f"no Packages files in {APT_LISTS}")
    if shutil.which("dpkg") is None:
        lab_missing("dpkg is not installed")
    pairs = deb_pairs(load_apt_lists(), installed_versions())
    ours = [RELATION[compare_deb(a, b)] for a, b in pairs.pairs]

    # One process per pair, asking dpkg to confirm our answer: exactly one of lt, eq
    # and gt holds, so a confirmation proves the pair, a refusal is a disagreement.
    questions = [(a, r, b) for (a, b), r in zip(pairs.pairs, ours, strict=True)]
    with ThreadPoolExecutor(4) as pool:
        confirmed = list(pool.map(lambda q: dpkg_holds(*q), questions))
    disagreements = [
        f"{a!r} {relation} {b!r}: dpkg says {dpkg_says(a, b)}"
        for (a, b), relation, ok in zip(pairs.pairs, ours, confirmed, strict=True)
        if not ok
    ]

    print(f"dpkg oracle: {len(pairs.pairs)} pairs {dict(pairs.counts)}")
    assert len(pairs.pairs) >= MIN_PAIRS
    assert disagreements == [], "\n".join(disagreements[:50])


# ------------------------------------------------------------------------ rpm oracle


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def updateinfo_evrs(folder: Path) -> dict[str, set[str]]:
    """Package name -> EVRs from updateinfo ``<package epoch= version= release=>``."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(folder.glob("*.xml*")):
        for element in ET.fromstring(read_compressed(path)).iter():
            if local_name(element.tag) == "package" and "version" in element.attrib:
                epoch = element.get("epoch")
                version = element.attrib["version"]
                release = element.get("release")
                evr = version if release is None else f"{version}-{release}"
                found[element.attrib["name"]].add(
                    evr if epoch is None else f"{epoch}:{evr}"
                )
    return found


def oval_and_osv_evrs(data: Path) -> set[str]:
    """EVRs of OVAL ``<evr>`` states and Red Hat OSV fixed events."""
    found: set[str] = set()
    for path in sorted((data / "oval").glob("*.xml*")):
        for element in ET.fromstring(read_compressed(path)).iter():
            if local_name(element.tag) == "evr" and element.text:
                found.add(element.text.strip())
    for path in sorted((data / "osv" / "redhat").glob("*.json")):
        for affected in json.loads(path.read_text(encoding="utf-8")).get(
            "affected", []
        ):
            for span in affected.get("ranges", []):
                found.update(e["fixed"] for e in span.get("events", []) if "fixed" in e)
    return found


def rpm_variants(evr: str) -> list[str]:
    """Release-less, epoch-less, ``~`` and ``^`` versions built from one real EVR."""
    epoch, colon, rest = evr.partition(":")
    if not (colon and epoch.isdigit()):
        epoch, colon, rest = "", "", evr
    version, hyphen, release = rest.rpartition("-")
    if not hyphen:
        version, release = rest, ""
    prefix = epoch + colon
    out = [rest, version, prefix + version, f"{version}~rc1", f"{version}^20240101git"]
    if release:
        out += [
            f"{prefix}{version}~rc1-{release}",
            f"{prefix}{version}^post1-{release}",
            f"{prefix}{version}-{release}~1",
            f"{prefix}{version}-{release}^1",
            f"{prefix}{version}-{release}.1",
            f"{prefix}{version}.0-{release}",
            f"{version}-{release.partition('.')[0]}",
        ]
    return out


def rpm_pairs(data: Path, deb_versions: list[str]) -> PairSet:
    rng = random.Random(SEED)
    by_name = updateinfo_evrs(data / "updateinfo")
    real = sorted({v for vs in by_name.values() for v in vs} | oval_and_osv_evrs(data))
    variants = sorted({x for evr in real for x in rpm_variants(evr)} - set(real))
    result = PairSet()
    result.add(
        "same name across advisories",
        ((a, b) for vs in by_name.values() for a in sorted(vs) for b in sorted(vs)),
    )
    result.add("real EVR x real EVR", ((a, b) for a in real for b in real))
    result.add("real EVR x variant", ((a, b) for a in real for b in variants))
    result.add("variant x variant", random_pairs(rng, variants, 2_500))
    both = real + variants
    result.add(
        "neighbours in our order", neighbour_pairs(rng, sorted(both, key=rpm_key), 400)
    )
    if deb_versions:  # Debian's real version strings are rpm EVR strings too
        pool = [v for v in deb_versions if "\t" not in v]
        result.add("deb strings as EVRs", random_pairs(rng, pool, 1_500))
        result.add(
            "deb strings, neighbours",
            neighbour_pairs(
                rng, sorted(rng.sample(pool, min(5_000, len(pool))), key=rpm_key), 1_000
            ),
        )
    return result


LUA_VERCMP = """
local sep = string.char(9)
local out = io.open([[{out}]], "w")
for line in io.lines([[{inp}]]) do
  local at = string.find(line, sep, 1, true)
  out:write(rpm.vercmp(string.sub(line, 1, at - 1), string.sub(line, at + 1)), "\\n")
end
out:close()
"""


def rpm_vercmp_all(pairs: list[Pair], folder: Path) -> list[int]:
    """rpm.vercmp(a, b) for every pair, in one ``rpm --eval`` process."""
    inp, out = folder / "pairs.tsv", folder / "results.txt"
    inp.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    lua = LUA_VERCMP.format(inp=inp, out=out)
    subprocess.run(
        ["rpm", "--eval", f"%{{lua:{lua}}}"], check=True, capture_output=True, env=C_ENV
    )
    return [int(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.mark.dnf
def test_compare_rpm_agrees_with_rpm_vercmp(tmp_path: Path) -> None:
    data = shared_data()
    if not any((data / "updateinfo").glob("*.xml*")):
        lab_missing(f"no updateinfo files under {data}")
    if shutil.which("rpm") is None:
        lab_missing("rpm is not installed")
    deb_versions = sorted(
        {s["Version"] for f in load_apt_lists() for s in f if "Version" in s}
    )
    pairs = rpm_pairs(data, deb_versions)
    assert all("\t" not in a + b and "\n" not in a + b for a, b in pairs.pairs)

    theirs = rpm_vercmp_all(pairs.pairs, tmp_path)
    ours = [compare_rpm(a, b) for a, b in pairs.pairs]
    disagreements = [
        f"{a!r} vs {b!r}: ours {mine}, rpm.vercmp {rpm}"
        for (a, b), mine, rpm in zip(pairs.pairs, ours, theirs, strict=True)
        if mine != rpm
    ]

    print(f"rpm oracle: {len(pairs.pairs)} pairs {dict(pairs.counts)}")
    assert len(theirs) == len(pairs.pairs)
    assert len(pairs.pairs) >= MIN_PAIRS
    assert disagreements == [], "\n".join(disagreements[:50])
