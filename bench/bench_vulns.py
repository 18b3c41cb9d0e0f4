"""Benchmark the vulnerability matching engine (patchfleet.core.vulns) on a big fleet.

Run from the repository root: ``.venv/bin/python bench/bench_vulns.py`` (about 40 s,
half of it the device-by-device expansion; ``--quick`` about 5 s).

Generates, from a seed, a fleet that looks like a real one: 10,000 devices with 1,500
installed packages each, drawn from 20 OS images (two per release: Debian 11 and 12,
Ubuntu 20.04, 22.04 and 24.04, RHEL 8 and 9, AlmaLinux 9, Rocky Linux 8 and 9). One
image of each release is current, the other an older snapshot; most devices run their
image unchanged and a few percent lag behind on some packages. Then 50,000 advisory
ranges over ~6,000 packages, shaped like the feeds: per-CVE records
(``DEBIAN-CVE-…``, ``UBUNTU-CVE-…``, ``RHEL-CVE-…``) covering one to three releases,
vendor advisories (DSA, USN, RHSA) repeating some of their fixes, unfixed CVEs,
not-affected statements, ``last_affected`` ranges, a few withdrawn advisories and a
few unparsable versions. Versions look like the distributions' own
(``2.36-9+deb12u4``, ``1:3.0.11-1~deb12u2``, ``2.35-0ubuntu3.6``, ``2.34-83.el9_3.7``)
and CVE-prone packages get more ranges (Zipf).

Prints one table: index build, matching every distinct installed tuple, expanding the
findings to devices per CVE in Python (the server does this in SQL), and the
one-device inventory-change path (:func:`patchfleet.core.vulns.delta`), each with
wall and CPU time (CPU time barely moves when other work shares the machine). Targets:
full recompute (build + match) ≤ 5 s wall; one device's delta ≤ 20 ms CPU.

The generators (:class:`Catalog`, :func:`make_fleet`, :func:`make_advisories`,
:func:`changed_inventory`) are importable for other benchmarks.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from patchfleet.core.advisories import Advisory, AffectedPackage, scheme_of
from patchfleet.core.versions import Scheme, deb_key, rpm_key, sort_key
from patchfleet.core.vulns import AdvisoryIndex, Finding, Installed, delta

T = TypeVar("T")

BUILD_MATCH_TARGET_S = 5.0
DELTA_TARGET_MS = 20.0

# release key -> version suffix family (its scheme follows from the key)
RELEASES: dict[str, str] = {
    "debian:11": "deb11u",
    "debian:12": "deb12u",
    "ubuntu:20.04": "ubuntu",
    "ubuntu:22.04": "ubuntu",
    "ubuntu:24.04": "ubuntu",
    "rhel:8": "el8",
    "rhel:9": "el9",
    "almalinux:9": "el9",
    "rocky:8": "el8",
    "rocky:9": "el9",
}
# Packages every image has and feeds talk about most, most CVE-prone first.
CORE_PACKAGES = [
    "linux",
    "kernel",
    "firefox-esr",
    "thunderbird",
    "chromium",
    "openjdk-17",
    "webkit2gtk",
    "qemu",
    "imagemagick",
    "php8.2",
    "mysql-8.0",
    "mariadb",
    "postgresql-15",
    "openssl",
    "glibc",
    "curl",
    "openssh",
    "sudo",
    "bash",
    "systemd",
    "zlib",
    "xz-utils",
    "libxml2",
    "python3.11",
    "perl",
    "git",
    "nginx",
    "apache2",
    "samba",
    "bind9",
    "vim",
    "tiff",
    "libpng1.6",
    "libjpeg-turbo",
    "expat",
    "sqlite3",
    "krb5",
    "gnutls28",
    "nss",
    "libx11",
    "cups",
    "ghostscript",
    "poppler",
    "binutils",
    "gcc-12",
    "libssh",
    "libssh2",
    "pam",
    "shadow",
    "util-linux",
    "coreutils",
    "tar",
    "gzip",
    "bzip2",
    "unzip",
    "file",
    "less",
    "grub2",
    "dbus",
    "polkit",
    "policykit-1",
    "nghttp2",
    "c-ares",
    "libgcrypt20",
    "gnupg2",
    "libtasn1-6",
    "p11-kit",
    "libidn2",
    "pcre2",
    "e2fsprogs",
    "libcap2",
    "rsync",
    "wget",
    "procps",
    "iproute2",
    "iptables",
    "nftables",
    "dnsmasq",
    "avahi",
    "ntp",
    "chrony",
    "openldap",
    "cyrus-sasl2",
    "ca-certificates",
    "tzdata",
    "libseccomp",
    "jq",
]
WORDS = [
    "alpha",
    "arc",
    "atom",
    "bolt",
    "cairo",
    "core",
    "data",
    "dns",
    "echo",
    "flux",
    "gdk",
    "glib",
    "gtk",
    "http",
    "icu",
    "json",
    "kit",
    "lib",
    "link",
    "lua",
    "mime",
    "net",
    "nss",
    "ofx",
    "pango",
    "pixel",
    "proto",
    "qt",
    "rpc",
    "ruby",
    "sasl",
    "scan",
    "sdl",
    "soup",
    "ssl",
    "tcl",
    "text",
    "tls",
    "usb",
    "uuid",
    "vnc",
    "wave",
    "web",
    "xml",
    "yaml",
    "zip",
    "zstd",
]
CVE_YEARS = range(2014, 2026)


def _pick_many(rng: random.Random, items: Sequence[T], k: int) -> list[T]:
    return rng.sample(list(items), min(k, len(items)))


# ------------------------------------------------------------------------- catalog


@dataclass
class Catalog:
    """The package universe and each release's version history, all from one seed.

    A package's history in a release is generated on first use from
    ``(seed, release, package)`` alone, so fleets and advisories made from the same
    catalog seed agree, in whatever order they are made.
    """

    seed: int = 20_251_127
    size: int = 8_000
    names: list[str] = field(init=False)
    _history: dict[tuple[str, str], tuple[str, ...]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        names = list(CORE_PACKAGES)
        seen = set(names)
        while len(names) < self.size:
            name = f"{rng.choice(('lib', 'lib', 'python3-', 'golang-', ''))}"
            name += f"{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randint(0, 9)}"
            if name not in seen:
                seen.add(name)
                names.append(name)
        self.names = names

    def history(self, release: str, package: str) -> tuple[str, ...]:
        """The versions ``release`` shipped of ``package``, oldest first."""
        found = self._history.get((release, package))
        if found is None:
            rng = random.Random(f"{self.seed}:{release}:{package}")
            versions = set(_history(rng, RELEASES[release], release))
            found = tuple(
                sorted(versions, key=lambda v: sort_key(scheme_of(release), v))
            )
            self._history[(release, package)] = found
        return found


def _upstream(rng: random.Random) -> str:
    major = rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 7, 9, 12, 24, 115))
    parts = [str(major), str(rng.randint(0, 40))]
    if rng.random() < 0.7:
        parts.append(str(rng.randint(0, 20)))
    upstream = ".".join(parts)
    roll = rng.random()
    if roll < 0.08:
        upstream += "+dfsg"
    elif roll < 0.11:
        upstream += f"p{rng.randint(1, 9)}"
    elif roll < 0.13:
        upstream += f"~rc{rng.randint(1, 4)}"
    return upstream


def _epoch(rng: random.Random) -> str:
    roll = rng.random()
    return "1:" if roll < 0.08 else "2:" if roll < 0.09 else ""


def _history(rng: random.Random, family: str, release: str) -> list[str]:
    """One package's versions in one release: the release version and its updates."""
    epoch, upstream, updates = (
        _epoch(rng),
        _upstream(rng),
        rng.choice((0, 1, 1, 2, 3, 4, 6, 9)),
    )
    if family.startswith("deb"):  # 2.36-9, 2.36-9+deb12u1 …, 3.0.11-1~deb12u2
        base = f"{epoch}{upstream}-{rng.randint(1, 12)}"
        versions = [base] + [f"{base}+{family}{k}" for k in range(1, updates + 1)]
        if rng.random() < 0.15:
            newer = f"{upstream.split('.')[0]}.{rng.randint(41, 60)}"
            versions.append(f"{epoch}{newer}-1~{family}{rng.randint(1, 3)}")
        return versions
    if family == "ubuntu":  # 2.35-0ubuntu3, 2.35-0ubuntu3.6; 1.2.11.dfsg-2ubuntu9.2
        series = release.partition(":")[2]
        base = f"{epoch}{upstream}-{rng.randint(0, 4)}ubuntu{rng.randint(1, 9)}"
        if rng.random() < 0.2:  # Debian's version with Ubuntu security updates
            plain = f"{epoch}{upstream}-{rng.randint(1, 9)}"
            return [plain] + [
                f"{plain}ubuntu0.{series}.{k}" for k in range(1, updates + 1)
            ]
        return [base] + [f"{base}.{k}" for k in range(1, updates + 1)]
    # rpm: 2.34-60.el9, 2.34-83.el9_3, 2.34-83.el9_3.7
    release_number = rng.randint(1, 120)
    versions = [f"{epoch}{upstream}-{release_number}.{family}"]
    for k in range(1, updates + 1):
        release_number += rng.randint(1, 6)
        built = f"{epoch}{upstream}-{release_number}.{family}_{min(k, 5)}"
        versions.append(built)
        if rng.random() < 0.2:
            versions.append(f"{built}.{rng.randint(1, 9)}")
    return versions


def newer(release: str, version: str, n: int) -> str:
    """A version just above ``version`` (a rebuild), new to the fleet."""
    return f"{version}+b{n}" if scheme_of(release) is Scheme.DEB else f"{version}.{n}"


# --------------------------------------------------------------------------- fleet


@dataclass(frozen=True)
class Image:
    """An OS image: one release and the package versions it installs."""

    name: str
    release: str
    installed: tuple[Installed, ...]


@dataclass
class Fleet:
    """Images and devices; each device is its tuple of installed tuples.

    Devices running their image unchanged share the image's tuple object.
    """

    images: list[Image]
    devices: list[tuple[Installed, ...]]

    def distinct(self) -> set[Installed]:
        """Every distinct installed tuple of the fleet."""
        shared = {id(inventory): inventory for inventory in self.devices}
        return set().union(*shared.values())


def make_fleet(
    devices: int = 10_000,
    packages: int = 1_500,
    seed: int = 1,
    *,
    catalog: Catalog | None = None,
    lagging: float = 0.05,
) -> Fleet:
    """A fleet of ``devices`` devices with ``packages`` installed packages each.

    Args:
        devices: How many devices.
        packages: Installed packages per device (the image's).
        seed: Seed of the fleet's choices (the catalog has its own).
        catalog: Versions and package names; the default catalog otherwise.
        lagging: Share of devices that lag behind their image on 5 to 60 packages.

    Returns:
        Two images per release (one current, one an older snapshot), and the devices
        spread over them.
    """
    catalog = catalog or Catalog()
    rng = random.Random(seed)
    images = []
    common = catalog.names[: min(400, packages)]
    for release in RELEASES:
        for current in (True, False):
            names = common + _pick_many(
                rng, catalog.names[len(common) :], packages - len(common)
            )
            stale = 0.1 if current else 0.4
            installed = []
            for name in names:
                history = catalog.history(release, name)
                back = 0 if rng.random() > stale else rng.randint(1, 3)
                version = history[max(0, len(history) - 1 - back)]
                installed.append(Installed(release, name, version))
            label = f"{release} {'current' if current else 'older'}"
            images.append(Image(label, release, tuple(installed)))
    fleet = []
    for _ in range(devices):
        image = rng.choice(images)
        if rng.random() >= lagging:
            fleet.append(image.installed)
            continue
        items = list(image.installed)
        for at in rng.sample(range(len(items)), rng.randint(5, min(60, len(items)))):
            item = items[at]
            history = catalog.history(item.release, item.package)
            index = history.index(item.version)
            older = history[max(0, index - rng.randint(1, 2))]
            items[at] = Installed(item.release, item.package, older)
        fleet.append(tuple(items))
    return Fleet(images, fleet)


def changed_inventory(
    fleet: Fleet,
    device: int,
    seed: int,
    *,
    catalog: Catalog | None = None,
    upgraded: int = 30,
    swapped: int = 3,
) -> tuple[list[Installed], list[Installed]]:
    """One device's inventory before and after an update run.

    ``upgraded`` packages move to versions new to the fleet; ``swapped`` packages are
    removed and as many others installed.
    """
    catalog = catalog or Catalog()
    rng = random.Random(seed)
    before = list(fleet.devices[device])
    after = list(before)
    for n, at in enumerate(rng.sample(range(len(after)), upgraded)):
        item = after[at]
        after[at] = Installed(
            item.release,
            item.package,
            newer(item.release, item.version, seed * 100 + n),
        )
    present = {item.package for item in after}
    release = after[0].release
    absent = [name for name in catalog.names if name not in present]
    for at, name in zip(
        rng.sample(range(len(after)), swapped), rng.sample(absent, swapped), strict=True
    ):
        after[at] = Installed(release, name, catalog.history(release, name)[-1])
    return before, after


# ---------------------------------------------------------------------- advisories

_VENDOR = {"debian": ("DEBIAN", "DSA"), "ubuntu": ("UBUNTU", "USN")}


def _vendor(release: str) -> tuple[str, str]:
    return _VENDOR.get(release.partition(":")[0], ("RHEL", "RHSA"))


def _entry(
    rng: random.Random, catalog: Catalog, release: str, package: str, serial: int
) -> AffectedPackage:
    """One affected entry: mostly a fix that shipped, sometimes none yet."""
    history = catalog.history(release, package)
    scheme = scheme_of(release)
    roll = rng.random()
    introduced = ""
    if rng.random() < 0.08 and len(history) > 2:
        introduced = history[rng.randint(0, len(history) - 2)]
    lowest = history.index(introduced) + 1 if introduced else 1
    if roll < 0.70 and lowest < len(history):
        fixed = history[rng.randint(lowest, len(history) - 1)]
        return AffectedPackage(release, package, scheme, introduced, fixed)
    if roll < 0.80:  # fixed in an update newer than anything installed
        return AffectedPackage(
            release, package, scheme, introduced, newer(release, history[-1], serial)
        )
    if roll < 0.92:
        return AffectedPackage(release, package, scheme, introduced)  # no fix yet
    if roll < 0.97:
        return AffectedPackage(release, package, scheme, not_affected=True)
    last = history[rng.randint(0, len(history) - 1)]
    return AffectedPackage(release, package, scheme, introduced, last_affected=last)


def make_advisories(
    n_ranges: int = 50_000,
    seed: int = 2,
    *,
    catalog: Catalog | None = None,
    packages: int = 6_000,
) -> list[Advisory]:
    """Advisories holding about ``n_ranges`` (entry x CVE) ranges.

    Args:
        n_ranges: Ranges to produce (vendor advisories repeating a per-CVE record's
            fix count too).
        seed: Seed of the advisories' choices.
        catalog: Versions and package names; the default catalog otherwise.
        packages: How many of the catalog's packages advisories talk about; the first
            ones get the most (Zipf).

    Returns:
        Per-CVE records and vendor advisories, with ~0.5 % withdrawn and ~0.1 % of
        entries carrying a version the scheme rejects.
    """
    catalog = catalog or Catalog()
    rng = random.Random(seed)
    names = catalog.names[:packages]
    cumulative = list(accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(names))))
    releases = list(RELEASES)
    advisories: list[Advisory] = []
    made = serial = 0
    while made < n_ranges:
        serial += 1
        cve = f"CVE-{rng.choice(CVE_YEARS)}-{1000 + serial}"
        package = rng.choices(names, cum_weights=cumulative)[0]
        by_vendor: dict[tuple[str, str], list[AffectedPackage]] = {}
        for release in _pick_many(rng, releases, rng.choice((1, 1, 2, 3))):
            entry = _entry(rng, catalog, release, package, serial)
            if rng.random() < 0.001 and scheme_of(release) is Scheme.DEB:
                entry = AffectedPackage(release, package, Scheme.DEB, fixed="1.0 beta")
            by_vendor.setdefault(_vendor(release), []).append(entry)
        for (record, notice), entries in by_vendor.items():
            withdrawn = rng.random() < 0.005
            advisories.append(
                Advisory(
                    f"{record}-{cve}",
                    "osv",
                    (cve,),
                    tuple(entries),
                    withdrawn=withdrawn,
                )
            )
            made += len(entries)
            fixed = tuple(e for e in entries if e.fixed)
            if fixed and rng.random() < 0.3:
                notice_id = f"{notice}-{serial}-1"
                advisories.append(Advisory(notice_id, "osv", (cve,), fixed))
                made += len(fixed)
    return advisories


# ------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Timing:
    """Wall and CPU seconds of one run; CPU time barely moves with other load."""

    wall: float
    cpu: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


def timed(run: Callable[[], T]) -> tuple[T, Timing]:
    """``run()``'s result and its times, without garbage collection."""
    gc.collect()
    gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        gc.enable()


def cves_by_tuple(findings: Iterable[Finding]) -> dict[Installed, frozenset[str]]:
    """The CVEs of each affected tuple."""
    found: dict[Installed, set[str]] = {}
    for finding in findings:
        found.setdefault(finding.installed, set()).add(finding.cve)
    return {item: frozenset(cves) for item, cves in found.items()}


def inventory_cves(
    cves_of: dict[Installed, frozenset[str]], inventory: Iterable[Installed]
) -> set[str]:
    """The CVEs affecting one inventory (each counted once)."""
    return set().union(*[cves_of[item] for item in inventory if item in cves_of])


def devices_per_cve_grouped(
    findings: Iterable[Finding], devices: Sequence[tuple[Installed, ...]]
) -> Counter[str]:
    """Devices affected by each CVE; devices with identical inventories computed once.

    Like the server's SQL: group devices by inventory (here: the shared tuple object;
    there: the inventory hash), find each inventory's CVEs once, and weigh them by the
    devices sharing it.
    """
    cves_of = cves_by_tuple(findings)
    sharing = Counter(id(inventory) for inventory in devices)
    inventories = {id(inventory): inventory for inventory in devices}
    counts: Counter[str] = Counter()
    for key, inventory in inventories.items():
        weight = sharing[key]
        for cve in inventory_cves(cves_of, inventory):
            counts[cve] += weight
    return counts


def devices_per_cve_naive(
    findings: Iterable[Finding], devices: Sequence[tuple[Installed, ...]]
) -> Counter[str]:
    """Devices affected by each CVE, device by device (the reference figure)."""
    cves_of = cves_by_tuple(findings)
    counts: Counter[str] = Counter()
    for inventory in devices:
        counts.update(inventory_cves(cves_of, inventory))
    return counts


Row = tuple[str, str, Timing | None, str]  # step, figures, times, target


def recompute_rows(
    advisories: list[Advisory], distinct: set[Installed]
) -> tuple[list[Row], AdvisoryIndex, list[Finding]]:
    """Index build and matching of every distinct tuple, version-key caches cold."""
    deb_key.cache_clear()
    rpm_key.cache_clear()
    index, build = timed(lambda: AdvisoryIndex.build(advisories))
    tuples = sorted(distinct, key=lambda i: (i.release, i.package, i.version))
    findings, match = timed(lambda: list(index.findings(tuples)))
    _, rematch = timed(lambda: list(index.findings(tuples)))
    unfixed = sum(not f.fixed for f in findings)
    affected = len({f.installed for f in findings})
    cves = len({f.cve for f in findings})
    total = build + match
    verdict = "met" if total.wall <= BUILD_MATCH_TARGET_S else "NOT met"
    rows: list[Row] = [
        (
            "index build",
            f"{index.packages:,} (release, package); {index.ranges:,} distinct "
            f"ranges; {len(index.skipped):,} entries skipped",
            build,
            "",
        ),
        (
            "match every distinct tuple",
            f"{len(findings):,} findings ({unfixed:,} without a fix) on "
            f"{affected:,} tuples; {cves:,} CVEs",
            match,
            "",
        ),
        (
            "  again, installed keys cached",
            f"{len(tuples) / rematch.wall:,.0f} tuples/s",
            rematch,
            "",
        ),
        (
            "full recompute (build + match)",
            "",
            total,
            f"≤ {BUILD_MATCH_TARGET_S:.0f} s wall: {verdict}",
        ),
    ]
    return rows, index, findings


def expansion_rows(findings: list[Finding], fleet: Fleet) -> list[Row]:
    """Devices per CVE in Python, grouped by inventory and device by device."""
    grouped, by_inventory = timed(
        lambda: devices_per_cve_grouped(findings, fleet.devices)
    )
    naive, by_device = timed(lambda: devices_per_cve_naive(findings, fleet.devices))
    if naive != grouped:
        raise SystemExit("the two expansions disagree")
    inventories = len({id(inventory) for inventory in fleet.devices})
    pairs = sum(grouped.values())
    return [
        (
            "devices per CVE, grouped by inventory",
            f"{inventories:,} distinct inventories; {pairs:,} (device, CVE) pairs, "
            f"{pairs / len(fleet.devices):,.0f} CVEs per device",
            by_inventory,
            "",
        ),
        (
            "devices per CVE, device by device",
            f"{len(fleet.devices):,} devices",
            by_device,
            "",
        ),
    ]


def delta_rows(
    index: AdvisoryIndex,
    fleet: Fleet,
    known: set[Installed],
    *,
    catalog: Catalog,
    deltas: int,
    seed: int,
) -> list[Row]:
    """One device's inventory change, ``deltas`` times on random devices."""
    rng = random.Random(seed)
    times: list[Timing] = []
    computed = found = 0
    for n in range(deltas):
        device = rng.randrange(len(fleet.devices))
        before, after = changed_inventory(fleet, device, n + 1, catalog=catalog)
        result, timing = timed(
            lambda b=before, a=after: delta(index, b, a, known=known)
        )
        times.append(timing)
        computed += len(result.computed)
        found += len(result.findings)
    median = Timing(
        statistics.median(t.wall for t in times),
        statistics.median(t.cpu for t in times),
    )
    worst = Timing(max(t.wall for t in times), max(t.cpu for t in times))
    verdict = "met" if worst.cpu * 1000 <= DELTA_TARGET_MS else "NOT met"
    return [
        (
            "one-device delta, median",
            f"{deltas} devices, 1,500 packages each: 30 upgraded to versions new to "
            f"the fleet, 3 swapped; {computed / deltas:.0f} tuples matched, "
            f"{found / deltas:.1f} findings",
            median,
            "",
        ),
        (
            "one-device delta, worst",
            "",
            worst,
            f"≤ {DELTA_TARGET_MS:.0f} ms CPU: {verdict}",
        ),
    ]


def show(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 devices, 10,000 ranges"
    )
    parser.add_argument(
        "--devices", type=int, help="devices (default 10,000; --quick 1,000)"
    )
    parser.add_argument(
        "--packages", type=int, default=1_500, help="installed packages per device"
    )
    parser.add_argument(
        "--ranges", type=int, help="advisory ranges (default 50,000; --quick 10,000)"
    )
    parser.add_argument(
        "--deltas", type=int, default=20, help="one-device deltas to time"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n_devices = args.devices or (1_000 if args.quick else 10_000)
    n_ranges = args.ranges or (10_000 if args.quick else 50_000)
    console = Console(highlight=False, width=max(Console().width, 160))
    load = os.getloadavg()[0]

    catalog = Catalog()
    with console.status("generating the fleet and the advisories…"):
        fleet, made_fleet = timed(
            lambda: make_fleet(n_devices, args.packages, args.seed, catalog=catalog)
        )
        advisories, made_advisories = timed(
            lambda: make_advisories(n_ranges, args.seed + 1, catalog=catalog)
        )
        distinct, made_distinct = timed(fleet.distinct)
    images = {id(image.installed) for image in fleet.images}
    lagging = sum(id(inventory) not in images for inventory in fleet.devices)
    ranges = sum(len(a.affected) * len(a.cves) for a in advisories)
    rows: list[Row] = [
        (
            "generate the fleet",
            f"{n_devices:,} devices x {args.packages:,} packages, "
            f"{len(fleet.images)} images, {lagging:,} devices lagging",
            made_fleet,
            "",
        ),
        (
            "generate the advisories",
            f"{len(advisories):,} advisories, {ranges:,} ranges",
            made_advisories,
            "",
        ),
        ("distinct installed tuples", f"{len(distinct):,}", made_distinct, ""),
    ]
    with console.status("measuring…"):
        recompute, index, findings = recompute_rows(advisories, distinct)
        rows += recompute
        rows += expansion_rows(findings, fleet)
        rows += delta_rows(
            index, fleet, distinct, catalog=catalog, deltas=args.deltas, seed=args.seed
        )

    table = Table(
        title=f"patchfleet.core.vulns on a generated fleet (seed {args.seed})"
    )
    for name in ("step", "figures", "wall", "CPU", "target"):
        table.add_column(name, justify="right" if name in ("wall", "CPU") else "left")
    for step, figures, timing, target in rows:
        wall, cpu = (
            ("", "") if timing is None else (show(timing.wall), show(timing.cpu))
        )
        table.add_row(step, figures, wall, cpu, target)
    console.print(table)
    console.print(
        f"1-minute load average at the start: {load:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
