"""Compliance configurations, their runs and results, and the scan data they read."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patchfleet.server.db.compliance_rows import (
    ComplianceConfigurationRow,
    ComplianceResultRow,
    ComplianceRunRow,
)
from patchfleet.server.db.rows import (
    ActivityRow,
    ApprovalRow,
    ClientRow,
    DeviceRow,
    DeviceUpdateRow,
    ScanRow,
)

BATCH = 1000


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def add(session: Session, **values: Any) -> ComplianceConfigurationRow:
    """Insert a configuration."""
    row = ComplianceConfigurationRow(**values)
    session.add(row)
    session.flush()
    return row


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def in_scope(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...],
    partner_level: bool,
    search: str = "",
) -> list[ComplianceConfigurationRow]:
    """Configurations in a scope (the clients' own, plus the partner's at All Clients)."""
    row = ComplianceConfigurationRow
    cond: ColumnElement[bool] = row.client_id.in_(client_ids)
    if partner_level:
        cond = or_(cond, row.client_id.is_(None))
    stmt = select(row).where(row.partner_id == partner_id, cond)
    if search:
        stmt = stmt.where(
            or_(
                func.lower(row.name).like(_like(search), escape="\\"),
                func.lower(row.description).like(_like(search), escape="\\"),
            )
        )
    return list(session.scalars(stmt.order_by(func.lower(row.name), row.id)))


def by_uuid(
    session: Session, *, partner_id: int, config_uuid: uuid.UUID
) -> ComplianceConfigurationRow | None:
    """One configuration of a partner."""
    return session.scalar(
        select(ComplianceConfigurationRow).where(
            ComplianceConfigurationRow.partner_id == partner_id,
            ComplianceConfigurationRow.uuid == config_uuid,
        )
    )


def by_name(
    session: Session, *, partner_id: int, client_id: int | None, name: str
) -> ComplianceConfigurationRow | None:
    """The configuration of that name at one level (partner or one client)."""
    row = ComplianceConfigurationRow
    level = row.client_id.is_(None) if client_id is None else row.client_id == client_id
    return session.scalar(
        select(row).where(row.partner_id == partner_id, level, row.name == name)
    )


def due(session: Session, now: datetime) -> list[ComplianceConfigurationRow]:
    """Enabled configurations whose next run has come."""
    row = ComplianceConfigurationRow
    return list(
        session.scalars(
            select(row)
            .where(row.enabled.is_(True), row.next_run_at <= now)
            .order_by(row.partner_id, row.id)
        )
    )


def remove(session: Session, row: ComplianceConfigurationRow) -> None:
    """Delete a configuration with its runs and results."""
    session.execute(
        delete(ComplianceConfigurationRow).where(
            ComplianceConfigurationRow.id == row.id
        )
    )


def devices_of_clients(session: Session, client_ids: Collection[int]) -> list[Any]:
    """Every device of the clients with its client's name, by hostname."""
    if not client_ids:
        return []
    return list(
        session.execute(
            select(DeviceRow, ClientRow.name)
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .where(DeviceRow.client_id.in_(list(client_ids)))
            .order_by(DeviceRow.hostname, DeviceRow.id)
        )
    )


def scanned(session: Session, device_ids: Sequence[int]) -> set[int]:
    """The devices with at least one successful scan."""
    found: set[int] = set()
    for chunk in _chunks(device_ids):
        found.update(
            session.scalars(
                select(ScanRow.device_id)
                .where(ScanRow.device_id.in_(chunk), ScanRow.status == "ok")
                .distinct()
            )
        )
    return found


def missing_updates(
    session: Session, device_ids: Sequence[int], names: Collection[str] | None
) -> dict[int, list[DeviceUpdateRow]]:
    """Each device's missing patches from its latest scan (only ``names`` if given)."""
    found: dict[int, list[DeviceUpdateRow]] = defaultdict(list)
    if names is not None and not names:
        return found
    for chunk in _chunks(device_ids):
        stmt = select(DeviceUpdateRow).where(DeviceUpdateRow.device_id.in_(chunk))
        if names is not None:
            stmt = stmt.where(DeviceUpdateRow.name.in_(sorted(names)))
        for u in session.scalars(stmt.order_by(DeviceUpdateRow.name)):
            found[u.device_id].append(u)
    return found


def add_run(session: Session, **values: Any) -> ComplianceRunRow:
    """Insert a run."""
    row = ComplianceRunRow(**values)
    session.add(row)
    session.flush()
    return row


def add_results(session: Session, results: Sequence[dict[str, Any]]) -> None:
    """Insert the per-device results of a run in batches."""
    for start in range(0, len(results), BATCH):
        session.execute(insert(ComplianceResultRow), results[start : start + BATCH])


def runs_of(
    session: Session, configuration_id: int, *, limit: int
) -> list[ComplianceRunRow]:
    """A configuration's latest runs, newest first."""
    return list(
        session.scalars(
            select(ComplianceRunRow)
            .where(ComplianceRunRow.configuration_id == configuration_id)
            .order_by(ComplianceRunRow.started_at.desc(), ComplianceRunRow.id)
            .limit(limit)
        )
    )


def run_by_id(
    session: Session, configuration_id: int, run_id: uuid.UUID
) -> ComplianceRunRow | None:
    """One run of a configuration."""
    return session.scalar(
        select(ComplianceRunRow).where(
            ComplianceRunRow.configuration_id == configuration_id,
            ComplianceRunRow.id == run_id,
        )
    )


def full_runs(
    session: Session, configuration_ids: Sequence[int], *, until: datetime
) -> list[Any]:
    """(configuration id, started at, counts) of full runs up to ``until``."""
    if not configuration_ids:
        return []
    run = ComplianceRunRow
    return list(
        session.execute(
            select(
                run.configuration_id,
                run.started_at,
                run.compliant,
                run.non_compliant,
                run.unknown,
            )
            .where(
                run.configuration_id.in_(list(configuration_ids)),
                run.is_partial.is_(False),
                run.started_at <= until,
            )
            .order_by(run.started_at)
        )
    )


def results_of(session: Session, run_id: uuid.UUID) -> list[Any]:
    """A run's results with each device's id, hostname and client name."""
    return list(
        session.execute(
            select(
                ComplianceResultRow,
                DeviceRow.uuid,
                DeviceRow.hostname,
                ClientRow.name,
            )
            .join(DeviceRow, DeviceRow.id == ComplianceResultRow.device_id)
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .where(ComplianceResultRow.run_id == run_id)
            .order_by(DeviceRow.hostname)
        )
    )


def prune(
    session: Session,
    configuration_id: int,
    *,
    keep_runs: int,
    keep_results: int,
    before: datetime,
) -> None:
    """Bound a configuration's history: at most ``keep_runs`` runs, none before
    ``before``, and per-device results for the newest ``keep_results`` runs only."""
    ids = list(
        session.scalars(
            select(ComplianceRunRow.id)
            .where(ComplianceRunRow.configuration_id == configuration_id)
            .order_by(ComplianceRunRow.started_at.desc(), ComplianceRunRow.id)
        )
    )
    session.execute(
        delete(ComplianceRunRow).where(
            ComplianceRunRow.configuration_id == configuration_id,
            or_(
                ComplianceRunRow.started_at < before,
                ComplianceRunRow.id.in_(ids[keep_runs:]),
            ),
        )
    )
    stale = ids[keep_results:keep_runs]
    for start in range(0, len(stale), BATCH):
        session.execute(
            delete(ComplianceResultRow).where(
                ComplianceResultRow.run_id.in_(stale[start : start + BATCH])
            )
        )


def add_approvals(
    session: Session,
    *,
    client_id: int,
    patch_ids: Sequence[str],
    user_id: int | None,
    now: datetime,
) -> None:
    """Approve patches for a client that have no manual decision yet (CMP-10)."""
    session.add_all(
        ApprovalRow(
            client_id=client_id,
            patch_id=p,
            approved=True,
            decided_by=user_id,
            decided_at=now,
        )
        for p in patch_ids
    )
    session.flush()


def log_entries(
    session: Session, *, partner_id: int, object_type: str, object_id: str, limit: int
) -> list[ActivityRow]:
    """The newest activity entries about one object."""
    return list(
        session.scalars(
            select(ActivityRow)
            .where(
                ActivityRow.partner_id == partner_id,
                ActivityRow.object_type == object_type,
                ActivityRow.object_id == object_id,
            )
            .order_by(ActivityRow.at.desc(), ActivityRow.id.desc())
            .limit(limit)
        )
    )
