"""Patch compliance (CMP-*): configurations that evaluate instead of installing.

One concept in one module, hence its length: configurations (create, edit, remove),
their evaluation, recorded runs and the Overview figures. The rules are pure
(``core.compliance``); this module loads devices and scans, calls them and stores.

* **Evaluation on read** (CMP-19): every list, detail and Overview figure evaluates
  the latest scans as they are now, so a device scan changes them at once.
* **Runs** (schedule, Run Now) also record the counts and per-device results for
  trends, and with the approval toggle approve the selection's missing patches for
  each device's client (CMP-10, DEC-06).
* **History is bounded** per configuration on every run: runs older than
  ``HISTORY`` go, at most ``RUNS_KEPT`` stay, and per-device results are kept for the
  newest ``RESULTS_KEPT`` runs only (older runs keep their counts).
* The Overview (OV-04, OV-05, CMP-18) counts enabled configurations in scope only.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.compliance import (
    ComplianceSpec,
    ComplianceStatus,
    DeviceEvidence,
    DeviceResult,
    DeviceTarget,
    MissingPatch,
    OsType,
    PatchMode,
    PatchSelection,
    RunPoint,
    Tally,
    approvable,
    daily_trend,
    evaluate_device,
    tally,
)
from patchfleet.core.errors import ConflictError, InvalidInputError, NotFoundError
from patchfleet.core.policy import bulk
from patchfleet.core.queries import DEVICE_FIELDS, PATCH_FIELDS, parse
from patchfleet.core.schedules import next_run
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.core.updates import split_patch_id
from patchfleet.server.db.compliance_rows import (
    ComplianceConfigurationRow,
    ComplianceRunRow,
)
from patchfleet.server.db.queries import activity as activity_rows
from patchfleet.server.db.queries import compliance as q
from patchfleet.server.db.queries import configurations as config_rows
from patchfleet.server.db.rows import DeviceRow, DeviceUpdateRow
from patchfleet.server.services import jobs
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.compliance_views import (
    ComplianceCounts,
    ComplianceDeviceView,
    ComplianceItem,
    CompliancePatchView,
    ComplianceResultView,
    ComplianceRunDetail,
    ComplianceRunView,
    ComplianceSummary,
    ComplianceSummaryItem,
    ComplianceView,
    NonCompliantDeviceView,
    TrendPointView,
)
from patchfleet.server.services.configurations import (
    device_record,
    schedule_from_json,
    schedule_to_json,
)
from patchfleet.server.services.patch_intel import PatchIntel, client_patch_intel
from patchfleet.server.services.policy import ClientPolicy, load_client_policy
from patchfleet.server.services.views import ActivityView

OBJECT_TYPE = ObjectType.COMPLIANCE  # the activity log's object type (LOG-04)
HISTORY = timedelta(days=400)
RUNS_KEPT = 1000
RESULTS_KEPT = 30
MAX_TREND_DAYS = 400
LOG_ENTRIES = 100

Member = tuple[DeviceRow, str]  # a device and its client's name
Evaluated = tuple[DeviceRow, str, DeviceResult]


SPEC_FIELDS = frozenset(f.name for f in fields(ComplianceSpec))


def _fail(message: str, field: str) -> InvalidInputError:
    return InvalidInputError(message, loc=("body", field))


def _check_in_tenant(
    session: Session, spec: ComplianceSpec, *, client_id: int | None, scope: Scope
) -> None:
    """Static devices belong to the client; selected clients to the partner."""
    if spec.clients is not None:
        unknown = sorted(set(spec.clients) - set(scope.client_ids))
        if unknown:
            raise _fail(f"unknown client ids: {unknown}", "clients")
    if spec.static_devices and client_id is not None:
        known = {d.uuid for d, _ in q.devices_of_clients(session, [client_id])}
        for device_id in spec.static_devices:
            if device_id not in known:
                raise _fail(
                    f"device {device_id} is not in this client", "static_devices"
                )


def _check_unique(
    session: Session, values: Mapping[str, Any], except_id: int | None = None
) -> None:
    same = q.by_name(
        session,
        partner_id=values["partner_id"],
        client_id=values["client_id"],
        name=values["name"],
    )
    if same is not None and same.id != except_id:
        raise ConflictError(
            f"a compliance configuration named {values['name']!r} exists here"
        )


# Rows and views ----------------------------------------------------------------------


def _values(spec: ComplianceSpec, now: datetime) -> dict[str, Any]:
    return {
        "name": spec.name.strip(),
        "description": spec.description.strip(),
        "os_type": str(spec.os_type),
        "enabled": spec.enabled,
        "device_query": spec.device_query.strip(),
        "static_devices": [str(d) for d in dict.fromkeys(spec.static_devices)],
        "clients": sorted(set(spec.clients)) if spec.clients is not None else None,
        "patch_selection": str(spec.patch_selection),
        "patch_query": spec.patch_query.strip(),
        "selected_patches": list(dict.fromkeys(spec.selected_patches)),
        "schedule": schedule_to_json(spec.schedule),
        "approve_missing": spec.approve_missing,
        "next_run_at": next_run(spec.schedule, now),
    }


def spec_of(row: ComplianceConfigurationRow) -> ComplianceSpec:
    """A stored configuration as the spec that would recreate it (edits start here)."""
    return ComplianceSpec(
        name=row.name,
        os_type=OsType(row.os_type),
        schedule=schedule_from_json(dict(row.schedule)),
        description=row.description,
        enabled=row.enabled,
        device_query=row.device_query,
        static_devices=tuple(uuid.UUID(d) for d in row.static_devices),
        clients=tuple(row.clients) if row.clients is not None else None,
        patch_selection=PatchMode(row.patch_selection),
        patch_query=row.patch_query,
        selected_patches=tuple(row.selected_patches),
        approve_missing=row.approve_missing,
    )


def _view(row: ComplianceConfigurationRow) -> ComplianceView:
    return ComplianceView(
        id=row.uuid,
        name=row.name,
        description=row.description,
        level="partner" if row.client_id is None else "client",
        client_id=row.client_id,
        clients=row.clients,
        os_type=row.os_type,
        device_query=row.device_query,
        static_devices=list(row.static_devices),
        patch_selection=row.patch_selection,
        patch_query=row.patch_query,
        selected_patches=list(row.selected_patches),
        schedule=dict(row.schedule),
        approve_missing=row.approve_missing,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_run_at=row.last_run_at,
        next_run_at=row.next_run_at,
    )


def _counts(results: Iterable[DeviceResult]) -> ComplianceCounts:
    t = tally(results)
    return ComplianceCounts(
        compliant=t.compliant,
        non_compliant=t.non_compliant,
        unknown=t.unknown,
        devices=t.devices,
        percent=t.percent,
    )


def _item(
    row: ComplianceConfigurationRow, evaluated: list[Evaluated]
) -> ComplianceItem:
    counts = _counts(r for _, _, r in evaluated)
    return ComplianceItem(**_view(row).model_dump(), counts=counts)


def _run_view(run: ComplianceRunRow) -> ComplianceRunView:
    t = Tally(run.compliant, run.non_compliant, run.unknown)
    return ComplianceRunView(
        id=run.id,
        trigger=run.trigger,
        started_at=run.started_at,
        is_partial=run.is_partial,
        compliant=run.compliant,
        non_compliant=run.non_compliant,
        unknown=run.unknown,
        approved=run.approved,
        percent=t.percent,
    )


def _log(
    session: Session,
    *,
    principal: Principal | None,
    row: ComplianceConfigurationRow,
    action: str,
    now: datetime,
    client_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    activity_rows.record(
        session,
        at=now,
        partner_id=row.partner_id,
        client_id=client_id if client_id is not None else row.client_id,
        actor_id=principal.user_id if principal else None,
        actor=principal.username if principal else "patchfleet",
        object_type=OBJECT_TYPE,
        object_id=str(row.uuid),
        object_name=row.name[:600],
        action=action,
        details=details or {},
    )


# Evaluation --------------------------------------------------------------------------


def _target(row: ComplianceConfigurationRow) -> DeviceTarget:
    return DeviceTarget(
        os_type=OsType(row.os_type),
        client_id=row.client_id,
        clients=frozenset(row.clients) if row.clients is not None else None,
        query=parse(row.device_query, DEVICE_FIELDS) if row.device_query else None,
        static_devices=frozenset(row.static_devices),
    )


def members(
    row: ComplianceConfigurationRow, devices: Sequence[Member], now: datetime
) -> list[Member]:
    """The devices a configuration checks (``core.compliance.DeviceTarget``)."""
    target = _target(row)
    return [
        (device, client_name)
        for device, client_name in devices
        if target.includes_client(device.client_id)
        and target.selects(
            device_id=str(device.uuid),
            client_id=device.client_id,
            os_family=device.os_family,
            record=device_record(device, client_name),
            now=now,
        )
    ]


def _selection(row: ComplianceConfigurationRow) -> PatchSelection:
    if row.patch_selection == PatchMode.DYNAMIC:
        return PatchSelection(query=parse(row.patch_query, PATCH_FIELDS))
    return PatchSelection(patch_ids=frozenset(row.selected_patches))


class _Evidence:
    """The scans of the devices one evaluation looks at, loaded once.

    Hand-picked selections need only the named packages' updates; dynamic ones need
    every update with the client's ratings and CVE facts, as approval rules see them.
    """

    def __init__(
        self,
        session: Session,
        now: datetime,
        client_of: Mapping[int, int],
        rows: Sequence[ComplianceConfigurationRow],
    ) -> None:
        names = (
            None
            if any(r.patch_selection == PatchMode.DYNAMIC for r in rows)
            else {split_patch_id(p)[1] for r in rows for p in r.selected_patches}
        )
        ids = sorted(client_of)
        self._session, self._now, self._client_of = session, now, client_of
        self.scanned = q.scanned(session, ids)
        self.missing = q.missing_updates(session, ids, names)
        self._clients: dict[int, tuple[ClientPolicy, dict[str, PatchIntel]]] = {}
        self._cache: dict[tuple[int, bool], DeviceEvidence] = {}

    def _client(
        self, partner_id: int, client_id: int
    ) -> tuple[ClientPolicy, dict[str, PatchIntel]]:
        if client_id not in self._clients:
            patch_ids = {
                u.patch_id
                for device_id, updates in self.missing.items()
                if self._client_of.get(device_id) == client_id
                for u in updates
            }
            self._clients[client_id] = (
                load_client_policy(
                    self._session, partner_id=partner_id, client_id=client_id
                ),
                client_patch_intel(
                    self._session, client_id, patch_ids, today=self._now.date()
                ),
            )
        return self._clients[client_id]

    def _patch(
        self, u: DeviceUpdateRow, client: tuple[ClientPolicy, dict[str, PatchIntel]]
    ) -> MissingPatch:
        policy, intel = client
        return MissingPatch(
            jobs.facts(u, intel.get(u.patch_id)),
            u.installed_version,
            policy.rating(u.patch_id),
        )

    def of(
        self, device: DeviceRow, partner_id: int, *, dynamic: bool
    ) -> DeviceEvidence:
        """What one device's latest scan says, for a dynamic or hand-picked selection."""
        key = (device.id, dynamic)
        if key not in self._cache:
            updates = self.missing.get(device.id, [])
            if dynamic:
                client = self._client(partner_id, device.client_id)
                missing = tuple(self._patch(u, client) for u in updates)
            else:
                missing = tuple(
                    MissingPatch(jobs.facts(u), u.installed_version) for u in updates
                )
            self._cache[key] = DeviceEvidence(
                device.id, device.id in self.scanned, missing
            )
        return self._cache[key]


def _evaluate(
    session: Session,
    rows: Sequence[ComplianceConfigurationRow],
    devices: Sequence[Member],
    now: datetime,
) -> dict[int, list[Evaluated]]:
    """Each configuration's members with their results, from the latest scans."""
    chosen = {r.id: members(r, devices, now) for r in rows}
    client_of = {d.id: d.client_id for found in chosen.values() for d, _ in found}
    evidence = _Evidence(session, now, client_of, rows)
    out: dict[int, list[Evaluated]] = {}
    for row in rows:
        selection = _selection(row)
        dynamic = selection.query is not None
        out[row.id] = [
            (
                device,
                client_name,
                evaluate_device(
                    selection,
                    evidence.of(device, row.partner_id, dynamic=dynamic),
                    now,
                ),
            )
            for device, client_name in chosen[row.id]
        ]
    return out


def _devices_of(
    session: Session,
    row: ComplianceConfigurationRow,
    cache: dict[int, list[Member]] | None = None,
) -> list[Member]:
    """The devices a configuration may check (``members`` narrows them down);
    ``cache`` shares each partner's devices across the runs of one tick."""
    if cache is None and row.client_id is not None:
        return q.devices_of_clients(session, [row.client_id])
    if cache is None or row.partner_id not in cache:
        found = [
            (d, n) for d, n in config_rows.partner_devices(session, row.partner_id)
        ]
        if cache is None:
            return found
        cache[row.partner_id] = found
    return cache[row.partner_id]


# Configurations ----------------------------------------------------------------------


def _in_scope(
    session: Session, scope: Scope, config_id: uuid.UUID
) -> ComplianceConfigurationRow:
    row = q.by_uuid(session, partner_id=scope.partner_id, config_uuid=config_id)
    if row is None or not scope.sees(row.client_id):
        raise NotFoundError(f"compliance configuration {config_id} not found")
    return row


def _rows(
    session: Session, scope: Scope, search: str = ""
) -> list[ComplianceConfigurationRow]:
    return q.in_scope(
        session,
        partner_id=scope.partner_id,
        client_ids=scope.client_ids,
        partner_level=scope.is_partner_level,
        search=search,
    )


def create(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    spec: ComplianceSpec,
    now: datetime,
) -> ComplianceView:
    """Create a compliance configuration at the scope's level (partner at All Clients)."""
    require_role(principal, Role.OPERATOR)
    spec.check(partner_level=scope.is_partner_level)
    with session.begin():
        _check_in_tenant(session, spec, client_id=scope.client_id, scope=scope)
        values = {
            **_values(spec, now),
            "partner_id": scope.partner_id,
            "client_id": scope.client_id,
        }
        _check_unique(session, values)
        row = q.add(
            session,
            uuid=uuid.uuid4(),
            created_at=now,
            created_by=principal.user_id,
            updated_at=None,
            last_run_at=None,
            **values,
        )
        _log(session, principal=principal, row=row, action="create", now=now)
        return _view(row)


def update(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_id: uuid.UUID,
    changes: Mapping[str, Any],
    now: datetime,
) -> ComplianceView:
    """Edit a configuration: ``changes`` are ComplianceSpec fields (all of them for a
    replacement); the level stays, the next run is recomputed."""
    require_role(principal, Role.OPERATOR)
    unknown = sorted(set(changes) - SPEC_FIELDS)
    if unknown:
        raise _fail(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    with session.begin():
        row = _in_scope(session, scope, config_id)
        spec = replace(spec_of(row), **changes)
        spec.check(partner_level=row.client_id is None)
        _check_in_tenant(session, spec, client_id=row.client_id, scope=scope)
        values = _values(spec, now)
        _check_unique(
            session,
            {**values, "partner_id": row.partner_id, "client_id": row.client_id},
            except_id=row.id,
        )
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        _log(
            session,
            principal=principal,
            row=row,
            action="update",
            now=now,
            details={"fields": sorted(changes)},
        )
        return _view(row)


def delete(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_ids: Sequence[uuid.UUID],
    now: datetime,
) -> int:
    """Remove one or several configurations (multi-select, at most 100, CMP-15)."""
    require_role(principal, Role.OPERATOR)
    ids = bulk(list(dict.fromkeys(config_ids)))
    with session.begin():
        rows = [_in_scope(session, scope, i) for i in ids]
        for row in rows:
            _log(session, principal=principal, row=row, action="delete", now=now)
            q.remove(session, row)
    return len(rows)


def list_in_scope(
    session: Session, *, scope: Scope, now: datetime, search: str = ""
) -> list[ComplianceItem]:
    """Configurations in scope by name, each with its counts now (CMP-14, CMP-15)."""
    with session.begin():
        rows = _rows(session, scope, search.strip())
        devices = q.devices_of_clients(session, scope.client_ids)
        evaluated = _evaluate(session, rows, devices, now)
        return [_item(r, evaluated[r.id]) for r in rows]


def get(
    session: Session, *, scope: Scope, config_id: uuid.UUID, now: datetime
) -> ComplianceItem:
    """One configuration with its counts now (Properties, CMP-17)."""
    with session.begin():
        row = _in_scope(session, scope, config_id)
        evaluated = _evaluate(session, [row], _devices_of(session, row), now)
        return _item(row, evaluated[row.id])


def devices(
    session: Session, *, scope: Scope, config_id: uuid.UUID, now: datetime
) -> list[ComplianceDeviceView]:
    """The Devices tab: each selected device, its status and missing patches."""
    with session.begin():
        row = _in_scope(session, scope, config_id)
        evaluated = _evaluate(session, [row], _devices_of(session, row), now)[row.id]
    return [
        ComplianceDeviceView(
            id=device.uuid,
            hostname=device.hostname,
            client_id=device.client_id,
            client_name=client_name,
            os_family=device.os_family,
            last_scan_at=device.last_scan_at,
            status=str(result.status),
            missing_count=len(result.missing),
            missing=list(result.missing),
        )
        for device, client_name, result in evaluated
    ]


def patches(
    session: Session, *, scope: Scope, config_id: uuid.UUID, now: datetime
) -> list[CompliancePatchView]:
    """The Patches tab: each selected patch and how many selected devices miss it.

    Hand-picked patches are all listed; a dynamic selection lists what it matches.
    """
    with session.begin():
        row = _in_scope(session, scope, config_id)
        evaluated = _evaluate(session, [row], _devices_of(session, row), now)[row.id]
    counts: dict[str, int] = dict.fromkeys(row.selected_patches, 0)
    for _, _, result in evaluated:
        for patch_id in result.missing:
            counts[patch_id] = counts.get(patch_id, 0) + 1
    views = []
    for patch_id, missing in counts.items():
        backend, name, version = split_patch_id(patch_id)
        views.append(
            CompliancePatchView(
                patch_id=patch_id,
                backend=backend,
                name=name,
                version=version,
                devices_missing=missing,
            )
        )
    return sorted(views, key=lambda v: (-v.devices_missing, v.patch_id))


def logs(session: Session, *, scope: Scope, config_id: uuid.UUID) -> list[ActivityView]:
    """The Logs tab: the newest activity entries about this configuration."""
    with session.begin():
        row = _in_scope(session, scope, config_id)
        entries = q.log_entries(
            session,
            partner_id=row.partner_id,
            object_type=OBJECT_TYPE,
            object_id=str(row.uuid),
            limit=LOG_ENTRIES,
        )
        return [ActivityView.model_validate(e) for e in entries]


# Runs --------------------------------------------------------------------------------


def _chosen(
    evaluated: list[Evaluated], device_ids: Sequence[uuid.UUID]
) -> list[Evaluated]:
    wanted = set(bulk(list(device_ids)))
    if not wanted:
        raise _fail("choose at least one device", "device_ids")
    found = [e for e in evaluated if e[0].uuid in wanted]
    missing = wanted - {e[0].uuid for e in found}
    if missing:
        raise _fail(
            f"not checked by this compliance configuration: {sorted(map(str, missing))}",
            "device_ids",
        )
    return found


def _approve(
    session: Session,
    row: ComplianceConfigurationRow,
    evaluated: list[Evaluated],
    principal: Principal | None,
    now: datetime,
) -> int:
    """CMP-10: approve each client's missing selected patches (never blocklisted ones,
    never over a technician's own decision)."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for device, _, result in evaluated:
        wanted[device.client_id].update(result.missing)
    added = 0
    for client_id, patch_ids in sorted(wanted.items()):
        policy = load_client_policy(
            session, partner_id=row.partner_id, client_id=client_id
        )
        ids = approvable(
            patch_ids,
            ratings={p: policy.rating(p) for p in patch_ids},
            decided=policy.approvals.keys(),
        )
        if not ids:
            continue
        q.add_approvals(
            session,
            client_id=client_id,
            patch_ids=ids,
            user_id=principal.user_id if principal else None,
            now=now,
        )
        _log(
            session,
            principal=principal,
            row=row,
            action="approve",
            now=now,
            client_id=client_id,
            details={"patch_ids": list(ids)},
        )
        added += len(ids)
    return added


def run(
    session: Session,
    *,
    row: ComplianceConfigurationRow,
    trigger: str,
    now: datetime,
    principal: Principal | None = None,
    device_ids: Sequence[uuid.UUID] | None = None,
    devices_cache: dict[int, list[Member]] | None = None,
) -> ComplianceRunRow:
    """Evaluate, approve if toggled, record the run (inside the caller's transaction).

    ``device_ids`` restricts a Run Now to chosen devices (a partial run, CMP-15);
    ``devices_cache`` shares each partner's devices across the runs of one tick.
    """
    devices_now = _devices_of(session, row, devices_cache)
    evaluated = _evaluate(session, [row], devices_now, now)[row.id]
    if device_ids is not None:
        evaluated = _chosen(evaluated, device_ids)
    approved = (
        _approve(session, row, evaluated, principal, now) if row.approve_missing else 0
    )
    counts = tally(r for _, _, r in evaluated)
    run_row = q.add_run(
        session,
        id=uuid.uuid4(),
        configuration_id=row.id,
        trigger=trigger,
        started_at=now,
        is_partial=device_ids is not None,
        compliant=counts.compliant,
        non_compliant=counts.non_compliant,
        unknown=counts.unknown,
        approved=approved,
    )
    q.add_results(
        session,
        [
            {
                "run_id": run_row.id,
                "device_id": device.id,
                "status": str(result.status),
                "missing_count": len(result.missing),
                "missing": list(result.missing),
            }
            for device, _, result in evaluated
        ],
    )
    q.prune(
        session,
        row.id,
        keep_runs=RUNS_KEPT,
        keep_results=RESULTS_KEPT,
        before=now - HISTORY,
    )
    row.last_run_at = now
    _log(
        session,
        principal=principal,
        row=row,
        action=f"run ({trigger})",
        now=now,
        details={
            "compliant": counts.compliant,
            "non_compliant": counts.non_compliant,
            "unknown": counts.unknown,
            "approved": approved,
            **({"devices": len(evaluated)} if device_ids is not None else {}),
        },
    )
    return run_row


def approve_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_id: uuid.UUID,
    now: datetime,
) -> int:
    """Approve (CMP-15): what the run-time toggle does, once and now; returns how many
    approvals were added (blocklisted and hand-decided patches are left alone)."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = _in_scope(session, scope, config_id)
        evaluated = _evaluate(session, [row], _devices_of(session, row), now)[row.id]
        return _approve(session, row, evaluated, principal, now)


def run_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_ids: Sequence[uuid.UUID],
    now: datetime,
    device_ids: Sequence[uuid.UUID] | None = None,
) -> list[ComplianceRunView]:
    """Run Now (SCH-10, CMP-15): several configurations, or one for chosen devices."""
    require_role(principal, Role.OPERATOR)
    ids = bulk(list(dict.fromkeys(config_ids)))
    if not ids:
        raise _fail("choose at least one compliance configuration", "ids")
    if device_ids is not None and len(ids) != 1:
        raise _fail("choose devices for one configuration at a time", "device_ids")
    with session.begin():
        rows = [_in_scope(session, scope, i) for i in ids]
        return [
            _run_view(
                run(
                    session,
                    row=row,
                    trigger="run now",
                    now=now,
                    principal=principal,
                    device_ids=device_ids,
                )
            )
            for row in rows
        ]


def run_due(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """Run every enabled configuration whose time has come; schedule its next run."""
    runs = []
    cache: dict[int, list[Member]] = {}
    with session.begin():
        for row in q.due(session, now):
            runs.append(
                run(
                    session, row=row, trigger="schedule", now=now, devices_cache=cache
                ).id
            )
            row.next_run_at = next_run(schedule_from_json(dict(row.schedule)), now)
    return runs


def runs(
    session: Session, *, scope: Scope, config_id: uuid.UUID, limit: int = 100
) -> list[ComplianceRunView]:
    """The recorded runs of a configuration, newest first."""
    with session.begin():
        row = _in_scope(session, scope, config_id)
        return [_run_view(r) for r in q.runs_of(session, row.id, limit=limit)]


def run_detail(
    session: Session, *, scope: Scope, config_id: uuid.UUID, run_id: uuid.UUID
) -> ComplianceRunDetail:
    """One run with its per-device results (empty once pruned, see RESULTS_KEPT)."""
    with session.begin():
        row = _in_scope(session, scope, config_id)
        found = q.run_by_id(session, row.id, run_id)
        if found is None:
            raise NotFoundError(f"run {run_id} not found")
        results = [
            ComplianceResultView(
                device_id=device_uuid,
                hostname=hostname,
                client_name=client_name,
                status=r.status,
                missing_count=r.missing_count,
                missing=list(r.missing),
            )
            for r, device_uuid, hostname, client_name in q.results_of(session, run_id)
        ]
        return ComplianceRunDetail(**_run_view(found).model_dump(), results=results)


# Overview (OV-04, OV-05, CMP-18) -----------------------------------------------------


def _enabled_in_scope(
    session: Session, scope: Scope, now: datetime
) -> tuple[list[ComplianceConfigurationRow], dict[int, list[Evaluated]]]:
    rows = [r for r in _rows(session, scope) if r.enabled]
    if not rows:  # nothing to evaluate: don't load the scope's devices
        return rows, {}
    devices_now = q.devices_of_clients(session, scope.client_ids)
    return rows, _evaluate(session, rows, devices_now, now)


def _non_compliant(
    rows: Sequence[ComplianceConfigurationRow], evaluated: dict[int, list[Evaluated]]
) -> list[NonCompliantDeviceView]:
    found: dict[int, tuple[DeviceRow, str, list[str], set[str]]] = {}
    for row in rows:
        for device, client_name, result in evaluated[row.id]:
            if result.status is not ComplianceStatus.NON_COMPLIANT:
                continue
            entry = found.setdefault(device.id, (device, client_name, [], set()))
            entry[2].append(row.name)
            entry[3].update(result.missing)
    return [
        NonCompliantDeviceView(
            id=device.uuid,
            hostname=device.hostname,
            client_id=device.client_id,
            client_name=client_name,
            configurations=sorted(names),
            missing=sorted(missing),
        )
        for device, client_name, names, missing in sorted(
            found.values(), key=lambda e: (e[0].hostname, e[0].id)
        )
    ]


def compliance_summary(
    session: Session, *, scope: Scope, now: datetime
) -> ComplianceSummary:
    """Per enabled configuration in scope: its counts and percent; plus the number of
    distinct non-compliant devices (equal to ``len(non_compliant_devices(...))``)."""
    with session.begin():
        rows, evaluated = _enabled_in_scope(session, scope, now)
    items = []
    for row in rows:
        counts = _counts(r for _, _, r in evaluated[row.id])
        items.append(
            ComplianceSummaryItem(
                id=row.uuid,
                name=row.name,
                compliant=counts.compliant,
                non_compliant=counts.non_compliant,
                unknown=counts.unknown,
                percent=counts.percent,
            )
        )
    return ComplianceSummary(
        items=items, non_compliant_devices=len(_non_compliant(rows, evaluated))
    )


def non_compliant_devices(
    session: Session, *, scope: Scope, now: datetime
) -> list[NonCompliantDeviceView]:
    """Distinct devices non-compliant in any enabled configuration in scope, by name."""
    with session.begin():
        rows, evaluated = _enabled_in_scope(session, scope, now)
    return _non_compliant(rows, evaluated)


def trend(
    session: Session, *, scope: Scope, days: int, now: datetime
) -> list[TrendPointView]:
    """Compliance % per UTC day over the last ``days`` days, from recorded full runs
    of the enabled configurations in scope (each carried forward to later days)."""
    if not 1 <= days <= MAX_TREND_DAYS:
        raise InvalidInputError(
            f"days must be between 1 and {MAX_TREND_DAYS}", loc=("query", "days")
        )
    with session.begin():
        rows = [r for r in _rows(session, scope) if r.enabled]
        recorded = q.full_runs(session, [r.id for r in rows], until=now)
    points = daily_trend(
        (RunPoint(r[0], r[1], Tally(r[2], r[3], r[4])) for r in recorded),
        days=days,
        now=now,
    )
    return [
        TrendPointView(
            day=p.day,
            compliant=p.tally.compliant,
            non_compliant=p.tally.non_compliant,
            unknown=p.tally.unknown,
            percent=p.percent,
        )
        for p in points
    ]
