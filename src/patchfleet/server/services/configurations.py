"""Patch configurations (CFG-*): devices, patches, schedule, reboot; runs and allocation.

A configuration selects devices statically or by query; a device belongs to at most
one dynamic configuration (``core.allocation``, DEC-07). Patches are the approved ones,
a query, or a hand-picked list (at most 100). Each run creates one install job per
device through ``jobs.plan_device``, the single guard every install path shares.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.allocation import ConfigurationRef, DeviceFacts, allocate
from patchfleet.core.errors import ConflictError, InvalidInputError, NotFoundError
from patchfleet.core.jobs import RebootPolicy
from patchfleet.core.policy import ALL_CLIENTS, ClientScope, Level, bulk
from patchfleet.core.queries import (
    DEVICE_FIELDS,
    PATCH_FIELDS,
    Fields,
    Query,
    QueryError,
    evaluate,
    parse,
)
from patchfleet.core.schedules import Frequency, Schedule, next_run, validate
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.server.db.queries import configurations, patches
from patchfleet.server.db.rows import ConfigurationRow, DeviceRow
from patchfleet.server.notify.mail import validate_address
from patchfleet.server.services import activity, jobs
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.patch_intel import PatchIntel
from patchfleet.server.services.policy import ClientPolicy, load_client_policy

SUMMARY_DELAY = timedelta(hours=2)  # DEC-13


class PatchSelection(StrEnum):
    """CFG-10..CFG-12."""

    APPROVED = "approved"
    DYNAMIC = "dynamic"
    SELECT = "select"


@dataclass(frozen=True)
class ConfigurationSpec:
    """What a user sets when creating a configuration."""

    name: str
    schedule: Schedule
    precedence: int = 10
    description: str = ""
    enabled: bool = True
    device_query: str = ""
    static_devices: tuple[uuid.UUID, ...] = ()
    clients: tuple[int, ...] | None = None
    patch_selection: PatchSelection = PatchSelection.APPROVED
    patch_query: str = ""
    selected_patches: tuple[str, ...] = ()
    reboot: RebootPolicy = RebootPolicy.NEVER
    notify: tuple[str, ...] = ()


def schedule_to_json(s: Schedule) -> dict[str, Any]:
    """A schedule as stored."""
    return {
        "frequency": str(s.frequency),
        "time_of_day": s.time_of_day.strftime("%H:%M"),
        "timezone": s.timezone,
        "start_date": s.start_date.isoformat() if s.start_date else None,
        "weekdays_only": s.weekdays_only,
        "weekdays": sorted(s.weekdays),
        "month_days": sorted(s.month_days),
        "months": sorted(s.months),
        "offset_days": s.offset_days,
        "end_date": s.end_date.isoformat() if s.end_date else None,
    }


def schedule_from_json(d: dict[str, Any]) -> Schedule:
    """A stored schedule as a core value."""
    return Schedule(
        frequency=Frequency(d["frequency"]),
        time_of_day=time.fromisoformat(d["time_of_day"]),
        timezone=d["timezone"],
        start_date=date.fromisoformat(d["start_date"]) if d.get("start_date") else None,
        weekdays_only=bool(d.get("weekdays_only")),
        weekdays=frozenset(d.get("weekdays", ())),
        month_days=frozenset(d.get("month_days", ())),
        months=frozenset(d.get("months", ())),
        offset_days=int(d.get("offset_days", 0)),
        end_date=date.fromisoformat(d["end_date"]) if d.get("end_date") else None,
    )


def parse_body_query(text: str, fields: Fields, field: str) -> Query:
    """Parse a query sent in a request body; errors point at that body field."""
    try:
        return parse(text, fields)
    except QueryError as exc:
        exc.loc = ("body", field)
        raise


def _check(spec: ConfigurationSpec, scope: Scope) -> None:
    validate(spec.schedule)
    for address in spec.notify:
        validate_address(address, loc=("body", "notify"))
    if spec.device_query:
        parse_body_query(spec.device_query, DEVICE_FIELDS, "device_query")
    elif scope.is_partner_level:
        raise InvalidInputError(
            "partner-level configurations select devices by query (CFG-29)",
            loc=("body", "device_query"),
        )
    elif not spec.static_devices:
        raise InvalidInputError(
            "select devices by query or by list", loc=("body", "static_devices")
        )
    if spec.patch_selection is PatchSelection.DYNAMIC:
        parse_body_query(spec.patch_query, PATCH_FIELDS, "patch_query")
    if spec.patch_selection is PatchSelection.SELECT:
        bulk(spec.selected_patches)
        if not spec.selected_patches:
            raise InvalidInputError(
                "select at least one patch", loc=("body", "selected_patches")
            )


def create(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    spec: ConfigurationSpec,
    now: datetime,
) -> ConfigurationRow:
    """Create a configuration at the scope's level (partner at All Clients)."""
    require_role(principal, Role.OPERATOR)
    _check(spec, scope)
    with session.begin():
        if any(
            c.name == spec.name and c.client_id == scope.client_id
            for c in configurations.in_scope(
                session,
                partner_id=scope.partner_id,
                client_ids=scope.client_ids,
                partner_level=scope.is_partner_level,
            )
        ):
            raise ConflictError(f"a configuration named {spec.name!r} exists here")
        row = configurations.add(
            session,
            uuid=uuid.uuid4(),
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            clients=list(spec.clients) if spec.clients is not None else None,
            name=spec.name,
            description=spec.description,
            enabled=spec.enabled,
            precedence=spec.precedence,
            device_query=spec.device_query,
            static_devices=[str(d) for d in spec.static_devices],
            patch_selection=str(spec.patch_selection),
            patch_query=spec.patch_query,
            selected_patches=list(spec.selected_patches),
            schedule=schedule_to_json(spec.schedule),
            reboot=str(spec.reboot),
            notify=list(spec.notify),
            created_at=now,
            created_by=principal.user_id,
            last_run_at=None,
            next_run_at=next_run(spec.schedule, now),
        )
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            object_type=ObjectType.CONFIGURATION,
            action="create",
            now=now,
            object_id=str(row.uuid),
            object_name=row.name,
        )
    return row


def list_in_scope(session: Session, *, scope: Scope) -> list[ConfigurationRow]:
    """Configurations in scope, by precedence."""
    with session.begin():
        return configurations.in_scope(
            session,
            partner_id=scope.partner_id,
            client_ids=scope.client_ids,
            partner_level=scope.is_partner_level,
        )


def get(session: Session, *, scope: Scope, config_id: uuid.UUID) -> ConfigurationRow:
    """One configuration in scope."""
    with session.begin():
        return _in_scope(session, scope, config_id)


def _in_scope(session: Session, scope: Scope, config_id: uuid.UUID) -> ConfigurationRow:
    row = configurations.by_uuid(
        session, partner_id=scope.partner_id, config_uuid=config_id
    )
    if row is None or not scope.sees(row.client_id):
        raise NotFoundError(f"configuration {config_id} not found")
    return row


def delete(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_id: uuid.UUID,
    now: datetime,
) -> None:
    """Delete a configuration."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = _in_scope(session, scope, config_id)
        configurations.remove(session, row)
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=row.client_id,
            object_type=ObjectType.CONFIGURATION,
            action="delete",
            now=now,
            object_id=str(config_id),
            object_name=row.name,
        )


def device_record(device: DeviceRow, client_name: str) -> dict[str, object]:
    """A device under DEVICE_FIELDS names, for queries and allocation."""
    return {
        "hostname": device.hostname,
        "name": device.hostname,
        "client": client_name,
        "os": device.os_name,
        "os_family": device.os_family,
        "os_version": device.os_version,
        "kernel": device.kernel,
        "arch": device.arch,
        "ip": tuple(device.ips or ()),
        "tag": (),
        "group": "",
        "agent_version": device.agent_version,
        "package_manager": device.package_manager,
        "last_seen": device.last_seen_at,
        "last_scan": device.last_scan_at,
        "reboot_required": device.reboot_required,
    }


def _ref(row: ConfigurationRow) -> ConfigurationRef:
    level = Level.PARTNER if row.client_id is None else Level.CLIENT
    clients = (
        ClientScope.select(row.clients) if row.clients is not None else ALL_CLIENTS
    )
    if row.device_query:
        return ConfigurationRef(
            id=row.id,
            level=level,
            precedence=row.precedence,
            created_at=row.created_at,
            query=parse(row.device_query, DEVICE_FIELDS),
            client_id=row.client_id,
            clients=clients,
        )
    return ConfigurationRef(
        id=row.id,
        level=level,
        precedence=row.precedence,
        created_at=row.created_at,
        client_id=row.client_id,
        clients=clients,
    )


def members(
    session: Session,
    row: ConfigurationRow,
    now: datetime,
    allocations: dict[int, dict[int, int]] | None = None,
) -> list[DeviceRow]:
    """The devices a configuration patches now: its static list, or its allocation.

    ``allocations`` caches each partner's device -> configuration map across the runs
    of one scheduler tick, so several due configurations allocate once.
    """
    everything = configurations.partner_devices(session, row.partner_id)
    if not row.device_query:
        wanted = set(row.static_devices)
        allowed = {row.client_id}
        return [
            d for d, _ in everything if str(d.uuid) in wanted and d.client_id in allowed
        ]
    cache = {} if allocations is None else allocations
    if row.partner_id not in cache:
        facts = [
            DeviceFacts(d.id, d.client_id, device_record(d, name))
            for d, name in everything
        ]
        dynamic = [
            _ref(c)
            for c in configurations.of_partner(session, row.partner_id)
            if c.device_query and c.enabled
        ]
        cache[row.partner_id] = allocate(dynamic, facts, now=now)
    owners = cache[row.partner_id]
    return [d for d, _ in everything if owners.get(d.id) == row.id]


def _wanted(
    row: ConfigurationRow,
    missing: list[Any],
    client: ClientPolicy,
    now: datetime,
    intel: Mapping[str, PatchIntel],
) -> set[str] | None:
    selection = PatchSelection(row.patch_selection)
    if selection is PatchSelection.APPROVED:
        return None
    if selection is PatchSelection.SELECT:
        return set(row.selected_patches)
    query: Query = parse(row.patch_query, PATCH_FIELDS)
    return {
        u.patch_id
        for u in missing
        if evaluate(
            query,
            jobs.facts(u, intel.get(u.patch_id)).record(client.rating(u.patch_id)),
            now,
        )
    }


def run(
    session: Session,
    *,
    row: ConfigurationRow,
    trigger: str,
    now: datetime,
    principal: Principal | None = None,
    allocations: dict[int, dict[int, int]] | None = None,
) -> uuid.UUID:
    """Run a configuration once (inside the caller's transaction): one job per device."""
    run_row = configurations.add_run(
        session,
        id=uuid.uuid4(),
        configuration_id=row.id,
        trigger=trigger,
        started_at=now,
        summary_due_at=now + SUMMARY_DELAY,
        summary_sent_at=None,
    )
    policies: dict[int, ClientPolicy] = {}
    selection_approves = row.patch_selection != PatchSelection.APPROVED
    created = 0
    for device in sorted(
        members(session, row, now, allocations), key=lambda d: d.hostname
    ):
        client = policies.get(device.client_id) or load_client_policy(
            session, partner_id=row.partner_id, client_id=device.client_id
        )
        policies[device.client_id] = client
        missing = patches.device_updates(session, device.id)
        intel = jobs.device_intel(session, device.client_id, missing, now)
        install, skipped = jobs.plan_device(
            missing,
            _wanted(row, missing, client, now, intel),
            client,
            now,
            selection_approves=selection_approves,
            intel=intel,
        )
        if install:
            jobs.create_job(
                session,
                device,
                install,
                skipped,
                RebootPolicy(row.reboot),
                principal,
                now,
                run_id=run_row.id,
            )
            created += 1
    row.last_run_at = now
    activity.record(
        session,
        principal=principal,
        partner_id=row.partner_id,
        client_id=row.client_id,
        object_type=ObjectType.CONFIGURATION,
        action=f"run ({trigger})",
        now=now,
        object_id=str(row.uuid),
        object_name=row.name,
        details={"jobs": created},
    )
    return run_row.id


def run_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    config_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID:
    """Run Now (SCH-10)."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = _in_scope(session, scope, config_id)
        return run(session, row=row, trigger="run now", now=now, principal=principal)


def run_due(session: Session, *, now: datetime) -> list[uuid.UUID]:
    """Run every configuration whose scheduled time has come; schedule the next run."""
    runs = []
    cache: dict[int, dict[int, int]] = {}
    with session.begin():
        for row in configurations.due(session, now):
            runs.append(
                run(session, row=row, trigger="schedule", now=now, allocations=cache)
            )
            row.next_run_at = next_run(schedule_from_json(row.schedule), now)
    return runs
