"""Benchmark the web pages at scale: p50/p95 server-side, SQLite and PostgreSQL.

Run from the repository root: ``.venv/bin/python bench/bench_pages.py`` (10,000
devices, 1,000,000 device-patch rows; seeding takes a few minutes per database) or
``--quick`` (1,000 devices, 100,000 rows). FEATURES BP-14: pages p95 ≤ 300 ms at
10,000 devices and 1 M device-patch rows.

The fleet: 20 clients; 92 % of devices scanned, with a realistic mix of
classifications, severities and actionable states in ``device_updates``; two
install jobs per scanned device on average (``orders`` + ``job_patches``, with
failures, successes, skips and reboots); CVE states for the CVE pages; a few
configurations and scan schedules with runs around now. Rows are bulk loaded: COPY
on PostgreSQL, ``executemany`` on SQLite.

Every page is requested in-process through the real FastAPI app (``TestClient``
with a signed-in session): the Overview, each of its drill-downs, Devices, Missing
Patches BY PATCH and BY DEVICE, Installed (jobs) and CVE Insights. The table shows
p50 and p95 over ``--requests`` requests after ``--warmup`` unmeasured ones. The
CSV export of the largest drill-down is timed once, for information.
PostgreSQL runs in a database ``patchfleet_pages`` created (and dropped) on
``--pg-url``'s server.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, func, select, text

from patchfleet.server.app import create_app
from patchfleet.server.db import migrate
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.db.rows import DeviceRow, DeviceUpdateRow, JobPatchRow
from patchfleet.server.services import auth
from patchfleet.server.services.overview_views import Tile
from patchfleet.server.settings import Settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PASSWORD = "bench-password-1"
TARGET_MS = 300.0
DB_NAME = "patchfleet_pages"
CLIENTS = 20
console = Console()

# (classification, weight, severities to draw from)
CLASSES = [
    ("security", 20, ("critical", "high", "high", "medium", "medium", "low")),
    ("critical", 3, ("critical", "high")),
    ("bugfix", 45, ("none", "none", "low", "medium")),
    ("enhancement", 15, ("none",)),
    ("firmware", 3, ("none", "medium")),
    ("driver", 2, ("none",)),
    ("definition", 2, ("none",)),
    ("rollup", 1, ("none",)),
    ("other", 9, ("none",)),
]
STATES = [("installable", 80), ("phased", 10), ("held", 5), ("blocked", 5)]
JOB_RESULTS = [("installed", 80), ("failed", 10), ("not_applicable", 5), ("skipped", 5)]
OS_NAMES = ["Debian GNU/Linux 12", "Ubuntu 24.04 LTS", "Rocky Linux 9.4", "Debian 11"]


@dataclass(frozen=True)
class Patch:
    """One patch of the catalog the fleet misses from."""

    name: str
    version: str
    classification: str
    severity: str
    patch_id: str


def pick(rng: random.Random, weighted: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def catalog(rng: random.Random, size: int) -> list[Patch]:
    patches = []
    weights = [(c, w) for c, w, _ in CLASSES]
    severities = {c: s for c, _, s in CLASSES}
    for i in range(size):
        classification = pick(rng, weights)
        name = f"pkg{i:05d}"
        version = f"{rng.randint(1, 9)}.{rng.randint(0, 40)}-{rng.randint(1, 9)}"
        patches.append(
            Patch(
                name,
                version,
                classification,
                rng.choice(severities[classification]),
                f"apt:{name}@{version}",
            )
        )
    return patches


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[Engine]:
    """A fresh, migrated database of the kind, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/pages.db")
            migrate.upgrade(engine)
            yield engine
            engine.dispose()
        return
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB_NAME}"))
    engine = make_engine(pg_url.rsplit("/", 1)[0] + f"/{DB_NAME}")
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
        admin.dispose()


def load(
    engine: Engine, table: str, columns: Sequence[str], rows: Iterable[tuple]
) -> int:  # type: ignore[type-arg]
    """Bulk load: COPY on PostgreSQL, executemany on SQLite; returns the row count."""
    n = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    n += 1
        else:
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple] = []  # type: ignore[type-arg]
            for row in rows:
                batch.append(row)
                if len(batch) >= 50_000:
                    cur.executemany(sql, batch)
                    n += len(batch)
                    batch.clear()
            cur.executemany(sql, batch)
            n += len(batch)
        raw.commit()
    finally:
        raw.close()
    return n


class Values:
    """Per-backend spelling of uuids and timestamps for raw bulk loads."""

    def __init__(self, engine: Engine) -> None:
        self.pg = engine.dialect.name == "postgresql"

    def id(self, value: uuid.UUID) -> str:
        return str(value) if self.pg else value.hex

    def at(self, value: datetime | None) -> object:
        if value is None or self.pg:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def json(self, value: str) -> str:
        return value


@dataclass
class Seeded:
    """What was loaded, for the table header."""

    devices: int
    updates: int
    jobs: int
    job_patches: int
    device_cves: int
    seconds: float


def seed(engine: Engine, devices: int, rows: int, rng: random.Random) -> Seeded:
    """Tenants, devices, missing patches, jobs, CVE states and schedules."""
    start = time.perf_counter()
    sessions = make_sessionmaker(engine)
    boot = auth.bootstrap(sessions(), now=NOW, password=PASSWORD)
    assert boot is not None
    v = Values(engine)
    load(
        engine,
        "clients",
        ["partner_id", "name", "created_at", "use_parent_level", "approval_type"],
        (
            (boot.partner_id, f"Client {i:02d}", v.at(NOW), False, "manual")
            for i in range(1, CLIENTS)
        ),
    )
    with engine.connect() as c:
        client_ids = list(c.scalars(text("SELECT id FROM clients ORDER BY id")))
    scanned = _devices(engine, v, rng, devices, client_ids)
    with engine.connect() as c:
        ids = list(c.scalars(select(DeviceRow.id).order_by(DeviceRow.id)))
    scanned_ids = [i for i, s in zip(ids, scanned, strict=True) if s]
    patches = catalog(rng, max(rows // 300, 200))
    n_updates, missing = _updates(engine, v, rng, scanned_ids, patches, rows)
    n_jobs, n_patches = _jobs(engine, v, rng, missing)
    n_cves = _cves(engine, v, rng, ids)
    _schedules(engine, v, rng, boot.partner_id, client_ids)
    settle(engine)
    return Seeded(
        devices, n_updates, n_jobs, n_patches, n_cves, time.perf_counter() - start
    )


def settle(engine: Engine) -> None:
    """Statistics and visibility map as autovacuum leaves them after bulk inserts.

    Without VACUUM the index-only scans the pages rely on would fetch every heap
    page of a freshly loaded table, which a running server does not do.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM (ANALYZE)"))


def _devices(
    engine: Engine, v: Values, rng: random.Random, n: int, client_ids: list[int]
) -> list[bool]:
    scanned = [rng.random() < 0.92 for _ in range(n)]
    load(
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
            "last_scan_at",
            "last_scan_status",
            "last_scan_error",
            "reboot_required",
            "release",
            "cves_dirty",
        ],
        (
            (
                v.id(uuid.uuid4()),
                client_ids[i % len(client_ids)],
                uuid.uuid4().hex,
                f"host-{i:05d}",
                "debian",
                rng.choice(OS_NAMES),
                "12",
                "6.1.0-28-amd64",
                "x86_64",
                f'["10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"]',
                "0.1.0",
                "apt",
                v.at(NOW - timedelta(days=90)),
                v.at(NOW - timedelta(minutes=rng.randint(0, 600))),
                f"h{i}",
                v.at(NOW - timedelta(hours=rng.randint(1, 48))) if s else None,
                "ok" if s else "",
                "",
                s and rng.random() < 0.1,
                "debian:12",
                False,
            )
            for i, s in enumerate(scanned)
        ),
    )
    return scanned


def _updates(
    engine: Engine,
    v: Values,
    rng: random.Random,
    device_ids: list[int],
    patches: list[Patch],
    rows: int,
) -> tuple[int, dict[int, list[Patch]]]:
    per_device = rows // len(device_ids)
    extra = rows - per_device * len(device_ids)
    missing = {
        d: rng.sample(patches, per_device + (1 if i < extra else 0))
        for i, d in enumerate(device_ids)
    }
    states = STATES
    n = load(
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
                d,
                p.name,
                "amd64",
                "apt",
                "0.9-1",
                p.version,
                p.classification,
                p.severity,
                p.severity.capitalize(),
                "bookworm-security" if p.classification == "security" else "bookworm",
                f"DSA-{p.name[3:]}-1" if p.classification == "security" else "",
                "",
                pick(rng, states),
                p.name,
                p.patch_id,
                v.at(NOW - timedelta(days=rng.randint(0, 60))),
            )
            for d, chosen in missing.items()
            for p in chosen
        ),
    )
    return n, missing


def _jobs(
    engine: Engine, v: Values, rng: random.Random, missing: dict[int, list[Patch]]
) -> tuple[int, int]:
    """About two install jobs per scanned device, five patches each."""
    orders: list[tuple[object, ...]] = []
    patches: list[tuple[object, ...]] = []
    for device_id, chosen in missing.items():
        for _ in range(rng.choice((1, 2, 2, 3))):
            order_id = uuid.uuid4()
            at = NOW - timedelta(hours=rng.randint(1, 24 * 30))
            rebooted = rng.random() < 0.1
            orders.append(
                (
                    v.id(order_id),
                    device_id,
                    "install",
                    "completed",
                    v.at(at),
                    v.at(at),
                    v.at(at),
                    "yes" if rebooted else "no",
                    v.at(at),
                    v.at(at),
                    v.at(at + timedelta(hours=1)),
                    "",
                    rebooted,
                    rebooted,
                )
            )
            for p in rng.sample(chosen, min(5, len(chosen))):
                status = pick(rng, JOB_RESULTS)
                patches.append(
                    (
                        v.id(order_id),
                        p.name,
                        "amd64",
                        p.version,
                        p.patch_id,
                        "",
                        status,
                        "E: dpkg error" if status == "failed" else "",
                        v.at(at + timedelta(minutes=10)),
                    )
                )
    load(
        engine,
        "orders",
        [
            "id",
            "device_id",
            "kind",
            "status",
            "created_at",
            "delivered_at",
            "completed_at",
            "reboot",
            "started_at",
            "updated_at",
            "deadline_at",
            "message",
            "reboot_required",
            "rebooted",
        ],
        orders,
    )
    load(
        engine,
        "job_patches",
        [
            "order_id",
            "name",
            "arch",
            "version",
            "patch_id",
            "advisory_id",
            "status",
            "message",
            "updated_at",
        ],
        patches,
    )
    return len(orders), len(patches)


def _cves(engine: Engine, v: Values, rng: random.Random, device_ids: list[int]) -> int:
    """2,000 CVEs (100 in KEV) and about 20 CVE states per device."""
    cves = [f"CVE-2025-{10000 + i}" for i in range(2000)]
    load(
        engine,
        "cves",
        [
            "id",
            "description",
            "status",
            "cvss_score",
            "cvss_version",
            "cvss_vector",
            "cvss_severity",
            "cwes",
        ],
        (
            (
                c,
                f"{c} in a package",
                "Analyzed",
                round(rng.uniform(2, 10), 1),
                "3.1",
                "",
                "",
                "[]",
            )
            for c in cves
        ),
    )
    load(
        engine,
        "kev_entries",
        [
            "cve",
            "date_added",
            "ransomware",
            "vendor",
            "product",
            "name",
            "required_action",
        ],
        ((c, date(2026, 10, 1), False, "v", "p", "n", "patch") for c in cves[:100]),
    )
    states = ["fixed-installable", "fixed-not-installable", "no-fix-yet"]
    return load(
        engine,
        "device_cves",
        ["device_id", "cve", "package", "version", "fixed", "state", "first_seen_at"],
        (
            (
                d,
                c,
                "pkg",
                "1.0",
                "1.1",
                rng.choice(states),
                v.at(NOW - timedelta(days=rng.randint(0, 40))),
            )
            for d in device_ids
            for c in rng.sample(cves, rng.randint(5, 35))
        ),
    )


def _schedules(
    engine: Engine,
    v: Values,
    rng: random.Random,
    partner_id: int,
    client_ids: list[int],
) -> None:
    """Ten configurations and scan schedules, runs over the last two days."""
    schedule = '{"frequency": "daily", "time_of_day": "02:00", "timezone": "UTC"}'
    configs, scans = [], []
    for i in range(10):
        nxt = v.at(NOW + timedelta(hours=rng.randint(1, 48)))
        configs.append(
            (
                v.id(uuid.uuid4()),
                partner_id,
                client_ids[i],
                f"Nightly {i}",
                "",
                True,
                10,
                "hostname = host-*",
                "[]",
                "approved",
                "",
                "[]",
                schedule,
                "no",
                "[]",
                v.at(NOW - timedelta(days=30)),
                nxt,
            )
        )
        scans.append(
            (
                v.id(uuid.uuid4()),
                partner_id,
                client_ids[i],
                f"Scan {i}",
                "hostname = host-*",
                "[]",
                schedule,
                True,
                v.at(NOW - timedelta(days=30)),
                "[]",
                nxt,
            )
        )
    load(
        engine,
        "configurations",
        [
            "uuid",
            "partner_id",
            "client_id",
            "name",
            "description",
            "enabled",
            "precedence",
            "device_query",
            "static_devices",
            "patch_selection",
            "patch_query",
            "selected_patches",
            "schedule",
            "reboot",
            "notify",
            "created_at",
            "next_run_at",
        ],
        configs,
    )
    load(
        engine,
        "scan_schedules",
        [
            "uuid",
            "partner_id",
            "client_id",
            "name",
            "device_query",
            "static_devices",
            "schedule",
            "enabled",
            "created_at",
            "notify",
            "next_run_at",
        ],
        scans,
    )
    with engine.connect() as c:
        config_ids = list(c.scalars(text("SELECT id FROM configurations")))
        scan_ids = list(c.scalars(text("SELECT id FROM scan_schedules")))
    runs = [NOW - timedelta(hours=h) for h in (2, 20, 30, 40)]
    load(
        engine,
        "configuration_runs",
        ["id", "configuration_id", "trigger", "started_at", "summary_due_at"],
        (
            (
                v.id(uuid.uuid4()),
                cid,
                "schedule",
                v.at(at),
                v.at(at + timedelta(hours=2)),
            )
            for cid in config_ids
            for at in runs
        ),
    )
    load(
        engine,
        "scan_runs",
        ["id", "schedule_id", "trigger", "started_at", "device_ids", "summary_due_at"],
        (
            (
                v.id(uuid.uuid4()),
                sid,
                "schedule",
                v.at(at),
                "[]",
                v.at(at + timedelta(hours=2)),
            )
            for sid in scan_ids
            for at in runs
        ),
    )


def pages() -> list[tuple[str, str]]:
    """(label, path) of every page measured."""
    found = [("Overview", "/")]
    found += [(f"Overview > {t}", f"/overview/{t}") for t in Tile]
    found += [
        ("Devices", "/devices"),
        ("Missing Patches BY PATCH", "/patches/by-patch"),
        ("Missing Patches BY DEVICE", "/patches/by-device"),
        ("Installed (jobs)", "/jobs"),
        ("CVE Insights", "/cves/insights"),
    ]
    return found


def measure(http: TestClient, path: str, requests: int, warmup: int) -> list[float]:
    """Milliseconds per request, after ``warmup`` unmeasured requests."""
    for _ in range(warmup):
        r = http.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        r = http.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def bench(kind: str, args: argparse.Namespace) -> list[list[str]]:
    rows: list[list[str]] = []
    with database(kind, args.pg_url) as engine:
        seeded = seed(engine, args.devices, args.rows, random.Random(1))
        with engine.connect() as c:
            n_updates = c.scalar(select(func.count()).select_from(DeviceUpdateRow))
            n_job_patches = c.scalar(select(func.count()).select_from(JobPatchRow))
        console.print(
            f"[bold]{kind}[/]: seeded {seeded.devices:,} devices, {n_updates:,} "
            f"device-patch rows, {seeded.jobs:,} jobs with {n_job_patches:,} patches, "
            f"{seeded.device_cves:,} device CVEs in {seeded.seconds:.0f} s"
        )
        app = create_app(
            Settings(public_url="http://testserver"), engine=engine, clock=lambda: NOW
        )
        with TestClient(app) as http:
            r = http.post("/login", data={"username": "admin", "password": PASSWORD})
            assert r.status_code == 200, r.text[:300]
            for label, path in pages():
                times = measure(http, path, args.requests, args.warmup)
                p50, top = statistics.median(times), p95(times)
                met = "[green]yes[/]" if top <= TARGET_MS else "[red]no[/]"
                rows.append([kind, label, f"{p50:,.0f}", f"{top:,.0f}", met])
                console.print(f"  {label}: p50 {p50:,.0f} ms, p95 {top:,.0f} ms")
            start = time.perf_counter()
            r = http.get("/overview/security.csv")
            lines = r.text.count("\n") - 1
            seconds = time.perf_counter() - start
            rows.append(
                [
                    kind,
                    f"CSV export, security ({lines:,} rows, once)",
                    f"{seconds * 1000:,.0f}",
                    "",
                    "info",
                ]
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="device-patch rows")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 devices, 100,000 rows"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PATCHFLEET_BENCH_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rows = 1_000, 100_000
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    load_avg = os.getloadavg()[0]
    rows: list[list[str]] = []
    for kind in kinds:
        rows += bench(kind, args)
    table = Table(
        title=f"Pages at {args.devices:,} devices / {args.rows:,} device-patch rows "
        f"(p95 target {TARGET_MS:.0f} ms; load 1m {load_avg:.1f} at start)"
    )
    for name, justify in (
        ("backend", "left"),
        ("page", "left"),
        ("p50 ms", "right"),
        ("p95 ms", "right"),
        ("≤ 300 ms", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
