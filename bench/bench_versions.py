"""Benchmark patchfleet.core.versions on real version strings.

Run from the repository root: ``.venv/bin/python bench/bench_versions.py``.

deb: every ``Version:`` of the machine's apt lists (/var/lib/apt/lists/*_Packages*)
and dpkg status. rpm: the EVRs of the shared updateinfo, OVAL and Red Hat OSV samples,
padded with the Debian strings read as rpm EVRs (the samples hold only a few dozen).
Prints one table: comparisons per second for compare() with warm caches, raw key
tuple comparisons, sorting, and python-debian for reference.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import os
import random
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from debian import debian_support
from rich.console import Console
from rich.table import Table

from patchfleet.core.versions import (
    Scheme,
    VersionKey,
    compare,
    compare_deb,
    deb_key,
    rpm_key,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
APT_LISTS = Path("/var/lib/apt/lists")
DPKG_STATUS = Path("/var/lib/dpkg/status")
APT_HELPER = "/usr/lib/apt/apt-helper"

Row = tuple[str, str, int, float]  # what, data, operations, seconds


# ------------------------------------------------------------------------------ data


def read_bytes(path: Path) -> bytes:
    """A file's bytes; gz/bz2/xz in process, lz4/zst through apt-helper."""
    decompress = {
        ".gz": gzip.decompress,
        ".bz2": bz2.decompress,
        ".xz": lzma.decompress,
    }
    if path.suffix in decompress:
        return decompress[path.suffix](path.read_bytes())
    if path.suffix in {".lz4", ".zst"}:
        argv = [APT_HELPER, "cat-file", str(path)]
        return subprocess.run(argv, capture_output=True, check=True).stdout
    return path.read_bytes()


def deb_versions() -> list[str]:
    """Every Version field of the apt lists and dpkg status, duplicates kept."""
    paths = [p for p in sorted(APT_LISTS.glob("*_Packages*")) if ".diff" not in p.name]
    paths += [DPKG_STATUS] if DPKG_STATUS.is_file() else []
    return [
        line[len("Version:") :].strip()
        for path in paths
        for line in read_bytes(path).decode("utf-8").splitlines()
        if line.startswith("Version:")
    ]


def shared_data() -> Path:
    configured = os.environ.get("PATCHFLEET_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


def rpm_evrs(data: Path) -> list[str]:
    """EVRs of updateinfo packages, OVAL evr states and Red Hat OSV fixed events."""
    found: set[str] = set()
    for path in sorted(data.glob("updateinfo/*.xml*")) + sorted(
        data.glob("oval/*.xml*")
    ):
        for el in ET.fromstring(read_bytes(path)).iter():
            tag = el.tag.rpartition("}")[2]
            if tag == "package" and "version" in el.attrib:
                evr = el.attrib["version"]
                evr += f"-{el.attrib['release']}" if "release" in el.attrib else ""
                found.add(
                    f"{el.attrib['epoch']}:{evr}" if "epoch" in el.attrib else evr
                )
            elif tag == "evr" and el.text:
                found.add(el.text.strip())
    for path in sorted(data.glob("osv/redhat/*.json")):
        for affected in json.loads(path.read_text(encoding="utf-8")).get(
            "affected", []
        ):
            for span in affected.get("ranges", []):
                found.update(e["fixed"] for e in span.get("events", []) if "fixed" in e)
    return sorted(found)


# ------------------------------------------------------------------------- measuring


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def loop_compare(
    fn: Callable[[str, str], object], pairs: list[tuple[str, str]]
) -> None:
    for a, b in pairs:
        fn(a, b)


def loop_keys(key_pairs: list[tuple[VersionKey, VersionKey]]) -> None:
    for x, y in key_pairs:
        x < y  # noqa: B015


def python_debian_lt(a: str, b: str) -> bool:
    return debian_support.Version(a) < debian_support.Version(b)


def scheme_rows(
    scheme: Scheme,
    versions: list[str],
    pairs: list[tuple[str, str]],
    key: Callable[[str], VersionKey],
    repeats: int,
) -> Iterable[Row]:
    label = f"{len(versions):,} versions ({len(set(versions)):,} distinct)"
    key.cache_clear()  # type: ignore[attr-defined]
    yield (
        f"{scheme} key build, cold (op = 1 parse)",
        label,
        len(set(versions)),
        best_of(1, lambda: [key(v) for v in set(versions)]),
    )
    for v in versions:  # warm: every key cached
        key(v)
    fn = partial(compare, scheme)
    yield (
        f"{scheme} compare(), keys warm",
        f"{len(pairs):,} pairs",
        len(pairs),
        best_of(repeats, lambda: loop_compare(fn, pairs)),
    )
    key_pairs = [(key(a), key(b)) for a, b in pairs]
    yield (
        f"{scheme} raw key tuple <",
        "precomputed keys",
        len(pairs),
        best_of(repeats, lambda: loop_keys(key_pairs)),
    )
    key.cache_clear()  # type: ignore[attr-defined]
    yield (
        f"{scheme} sorted(key=sort_key), cold (op = 1 version)",
        label,
        len(versions),
        best_of(1, lambda: sorted(versions, key=key)),
    )
    yield (
        f"{scheme} sorted(key=sort_key), warm (op = 1 version)",
        label,
        len(versions),
        best_of(repeats, lambda: sorted(versions, key=key)),
    )
    keys = [key(v) for v in versions]
    yield (
        f"{scheme} sorted(precomputed keys) (op = 1 version)",
        label,
        len(versions),
        best_of(repeats, lambda: sorted(keys)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200_000, help="pairs for our code")
    parser.add_argument(
        "--reference-pairs", type=int, default=20_000, help="pairs for python-debian"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20_240_601)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    debs = deb_versions()
    real_rpm = rpm_evrs(shared_data())
    rpms = real_rpm + debs
    deb_pairs = [(rng.choice(debs), rng.choice(debs)) for _ in range(args.pairs)]
    rpm_pairs = [(rng.choice(rpms), rng.choice(rpms)) for _ in range(args.pairs)]
    ref_pairs = deb_pairs[: args.reference_pairs]

    rows = [
        *scheme_rows(Scheme.DEB, debs, deb_pairs, deb_key, args.repeats),
        *scheme_rows(Scheme.RPM, rpms, rpm_pairs, rpm_key, args.repeats),
        (
            "python-debian version_compare(a, b)",
            f"{len(ref_pairs):,} deb pairs",
            len(ref_pairs),
            best_of(1, lambda: loop_compare(debian_support.version_compare, ref_pairs)),
        ),
        (
            f"python-debian {debian_support.Version.__name__}(a) < (b)",
            f"{len(ref_pairs):,} deb pairs",
            len(ref_pairs),
            best_of(1, lambda: loop_compare(python_debian_lt, ref_pairs)),
        ),
    ]
    disagree = sum(
        compare_deb(a, b) != debian_support.version_compare(a, b) for a, b in ref_pairs
    )

    table = Table(title="patchfleet.core.versions on real versions")
    for name in ("operation", "data", "ops", "seconds", "ops/s", "ns/op"):
        table.add_column(
            name, justify="left" if name in ("operation", "data") else "right"
        )
    for what, data, ops, seconds in rows:
        table.add_row(
            what,
            data,
            f"{ops:,}",
            f"{seconds:.3f}",
            f"{ops / seconds:,.0f}",
            f"{seconds / ops * 1e9:,.0f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"rpm data: {len(real_rpm)} real rpm EVRs from {shared_data()} + {len(debs):,} Debian strings; "
        f"python-debian disagreements on {len(ref_pairs):,} deb pairs: {disagree}"
    )


if __name__ == "__main__":
    main()
