"""Benchmark CVE recompute in the database: full fleet and one device's delta.

Run from the repository root: ``.venv/bin/python bench/bench_cve_db.py`` (SQLite and
PostgreSQL; seeding 15 M package rows takes a few minutes) or ``--quick`` (1,000
devices). Uses the generators of ``bench_vulns.py``: 10,000 devices x 1,500
installed packages from 20 OS images, 50,000 advisory ranges.  Devices that lag
behind their image are offered the image's version as an update (``device_updates``).

Prints, per database, each phase of ``services.vulns.refresh``: a *full* recompute
(what runs after a feed import) and a *delta* (one device's inventory changed).
Targets (issue 4): full recompute ≤ 5 s, delta ≤ 20 ms.  PostgreSQL runs in a
database ``patchfleet_bench`` created (and dropped) on ``--pg-url``'s server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).parent))
from bench_vulns import changed_inventory, make_advisories, make_fleet

from patchfleet.core.vulns import Installed
from patchfleet.server.db import migrate
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.db.rows import (
    ClientRow,
    DeviceCveRow,
    DevicePackageRow,
    DeviceRow,
    DeviceUpdateRow,
    PartnerRow,
)
from patchfleet.server.services import vulns

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
console = Console()


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[Engine]:
    """A fresh, migrated database of the kind."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            migrate.upgrade(engine)
            yield engine
            engine.dispose()
        return
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text("DROP DATABASE IF EXISTS patchfleet_bench"))
        c.execute(text("CREATE DATABASE patchfleet_bench"))
    url = pg_url.rsplit("/", 1)[0] + "/patchfleet_bench"
    engine = make_engine(url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS patchfleet_bench"))
        admin.dispose()


def _copy(
    engine: Engine, table: str, columns: Sequence[str], rows: Iterator[tuple]
) -> None:  # type: ignore[type-arg]
    """Bulk load: COPY on PostgreSQL, executemany on SQLite."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple] = []  # type: ignore[type-arg]
            for row in rows:
                batch.append(row)
                if len(batch) >= 50_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()


def seed(
    engine: Engine, devices: int, packages: int
) -> tuple[list[tuple[Installed, ...]], float]:
    """Partner, client, devices, their packages and lagging-package updates."""
    fleet = make_fleet(devices, packages, seed=1)
    start = time.perf_counter()
    sessions = make_sessionmaker(engine)
    with sessions() as s, s.begin():
        partner = PartnerRow(name="Bench MSP", created_at=NOW)
        s.add(partner)
        s.flush()
        client = ClientRow(partner_id=partner.id, name="Bench client", created_at=NOW)
        s.add(client)
        s.flush()
        client_id = client.id
    image_tuples = {t for image in fleet.images for t in image.installed}
    newest: dict[tuple[str, str], Installed] = {}
    for t in image_tuples:
        cur = newest.get((t.release, t.package))
        if cur is None or t.version > cur.version:
            newest[(t.release, t.package)] = t
    _copy(
        engine,
        "devices",
        [
            "uuid",
            "client_id",
            "credential_hash",
            "hostname",
            "os_family",
            "os_name",
            "os_version",
            "kernel",
            "arch",
            "ips",
            "agent_version",
            "package_manager",
            "enrolled_at",
            "last_seen_at",
            "inventory_hash",
            "last_scan_status",
            "last_scan_error",
            "reboot_required",
            "release",
            "cves_dirty",
        ],
        (
            (
                str(uuid.uuid4())
                if engine.dialect.name == "postgresql"
                else uuid.uuid4().hex,
                client_id,
                uuid.uuid4().hex,
                f"host-{i:05d}",
                "linux",
                inv[0].release,
                inv[0].release.split(":")[1],
                "",
                "x86_64",
                "[]",
                "bench",
                "apt",
                NOW.replace(tzinfo=None),
                NOW.replace(tzinfo=None),
                f"h{i}",
                "ok",
                "",
                False,
                inv[0].release,
                False,
            )
            for i, inv in enumerate(fleet.devices)
        ),
    )
    with engine.connect() as c:
        ids = [r[0] for r in c.execute(select(DeviceRow.id).order_by(DeviceRow.id))]
    _copy(
        engine,
        "device_packages",
        ["device_id", "name", "arch", "version", "source_name", "source_version"],
        (
            (device_id, t.package, "amd64", t.version, t.package, t.version)
            for device_id, inv in zip(ids, fleet.devices, strict=True)
            for t in inv
        ),
    )
    _copy(
        engine,
        "device_updates",
        [
            "device_id",
            "name",
            "arch",
            "backend",
            "installed_version",
            "candidate_version",
            "classification",
            "severity",
            "raw_severity",
            "source",
            "advisory_id",
            "cves",
            "state",
            "source_package",
            "patch_id",
            "first_seen_at",
        ],
        (
            (
                device_id,
                t.package,
                "amd64",
                "apt",
                t.version,
                n.version,
                "security",
                "high",
                "",
                "",
                "",
                "",
                "installable",
                t.package,
                f"apt:{t.package}@{n.version}",
                NOW.replace(tzinfo=None),
            )
            for device_id, inv in zip(ids, fleet.devices, strict=True)
            for t in inv
            if t not in image_tuples
            and (n := newest.get((t.release, t.package))) is not None
            and n.version != t.version
        ),
    )
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            c.execute(text("ANALYZE"))
            c.commit()
    return fleet.devices, time.perf_counter() - start


def timed(run: Callable[[Callable[[str], None]], object]) -> list[tuple[str, float]]:
    """Run with a phase marker; (phase, seconds) in order, then the total."""
    phases: list[tuple[str, float]] = []
    last = start = time.perf_counter()

    def mark(phase: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases.append((phase, now - last))
        last = now

    run(mark)
    phases.append(("total", time.perf_counter() - start))
    return phases


def bench(
    kind: str, pg_url: str, devices: int, packages: int, ranges: int
) -> list[list[str]]:
    rows: list[list[str]] = []
    with database(kind, pg_url) as engine:
        fleet, seconds = seed(engine, devices, packages)
        with engine.connect() as c:
            n_pkgs = c.scalar(select(func.count()).select_from(DevicePackageRow))
            n_upd = c.scalar(select(func.count()).select_from(DeviceUpdateRow))
        rows.append(
            [
                kind,
                "seed",
                f"{n_pkgs:,} packages, {n_upd:,} updates",
                f"{seconds:.1f} s",
            ]
        )
        sessions = make_sessionmaker(engine)
        advisories = make_advisories(ranges, seed=2)
        start = time.perf_counter()
        with sessions() as s, s.begin():
            vulns.store_advisories(s, "osv", advisories)
        rows.append(
            [
                kind,
                "store advisories",
                f"{ranges:,} ranges",
                f"{time.perf_counter() - start:.1f} s",
            ]
        )
        with sessions() as s:
            s.execute(update(DeviceRow).values(cves_dirty=True))
            s.commit()
            phases = timed(lambda mark: vulns.refresh(s, now=NOW, full=True, mark=mark))
        with engine.connect() as c:
            pairs = c.scalar(select(func.count()).select_from(DeviceCveRow))
        for phase, sec in phases:
            rows.append(
                [
                    kind,
                    f"full: {phase}",
                    f"{pairs:,} device-CVE rows" if phase == "total" else "",
                    f"{sec:.2f} s",
                ]
            )
        delta_ms: list[float] = []
        for attempt in range(5):
            device_id = 1 + attempt * 7
            before, after = changed_inventory(
                make_fleet_stub(fleet), device_id - 1, seed=attempt
            )
            with sessions() as s:
                s.execute(
                    DevicePackageRow.__table__.delete().where(
                        DevicePackageRow.device_id == device_id
                    )
                )  # type: ignore[attr-defined]
                s.execute(
                    insert(DevicePackageRow),
                    [
                        {
                            "device_id": device_id,
                            "name": t.package,
                            "arch": "amd64",
                            "version": t.version,
                            "source_name": t.package,
                            "source_version": t.version,
                        }
                        for t in after
                    ],
                )
                s.execute(
                    update(DeviceRow)
                    .where(DeviceRow.id == device_id)
                    .values(cves_dirty=True)
                )
                s.commit()
                start = time.perf_counter()
                result = vulns.refresh(s, now=NOW)
                delta_ms.append((time.perf_counter() - start) * 1000)
                assert not result.full
                assert result.devices == 1
            del before
        rows.append(
            [
                kind,
                "delta: one device",
                "median of 5",
                f"{statistics.median(delta_ms):.1f} ms",
            ]
        )
    return rows


class _FleetStub:
    def __init__(self, devices: list[tuple[Installed, ...]]) -> None:
        self.devices = devices


def make_fleet_stub(devices: list[tuple[Installed, ...]]) -> _FleetStub:
    return _FleetStub(devices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--packages", type=int, default=1_500)
    parser.add_argument("--ranges", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="1,000 devices")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    devices = 1_000 if args.quick else args.devices
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    table = Table(
        "db",
        "phase",
        "size",
        "time",
        title=f"CVE recompute: {devices:,} devices x {args.packages:,} packages, {args.ranges:,} ranges",
    )
    for kind in kinds:
        for row in bench(kind, args.pg_url, devices, args.packages, args.ranges):
            table.add_row(*row)
            console.print(" | ".join(row))
    console.print(table)


if __name__ == "__main__":
    main()
