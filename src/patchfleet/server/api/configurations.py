"""Patch configurations (CFG-*): CRUD, Run Now, next and last run."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import ConfigurationIn, ConfigurationOut, RunOut
from patchfleet.server.services import configurations
from patchfleet.server.services.configurations import ConfigurationSpec

router = APIRouter(
    prefix="/api/v1/configurations",
    tags=["configurations"],
    dependencies=[Depends(reject_unknown_query)],
)


def _out(row: Any) -> ConfigurationOut:
    return ConfigurationOut(
        id=row.uuid,
        name=row.name,
        description=row.description,
        level="partner" if row.client_id is None else "client",
        client_id=row.client_id,
        enabled=row.enabled,
        precedence=row.precedence,
        device_query=row.device_query,
        static_devices=row.static_devices,
        patch_selection=row.patch_selection,
        patch_query=row.patch_query,
        selected_patches=row.selected_patches,
        schedule=row.schedule,
        reboot=row.reboot,
        notify=row.notify,
        created_at=row.created_at,
        last_run_at=row.last_run_at,
        next_run_at=row.next_run_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: ConfigurationIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ConfigurationOut:
    """Create a configuration at partner level (All Clients) or for one client."""
    spec = ConfigurationSpec(
        name=body.name,
        schedule=body.schedule.to_core(),
        precedence=body.precedence,
        description=body.description,
        enabled=body.enabled,
        device_query=body.device_query,
        static_devices=tuple(body.static_devices),
        clients=tuple(body.clients) if body.clients is not None else None,
        patch_selection=body.patch_selection,
        patch_query=body.patch_query,
        selected_patches=tuple(body.selected_patches),
        reboot=body.reboot,
        notify=tuple(body.notify),
    )
    return _out(
        configurations.create(
            session, principal=principal, scope=scope, spec=spec, now=now
        )
    )


@router.get("")
def list_configurations(scope: ScopeDep, session: SessionDep) -> list[ConfigurationOut]:
    """Configurations in scope: Name, Schedule, Precedence (DEC-10)."""
    return [_out(r) for r in configurations.list_in_scope(session, scope=scope)]


@router.get("/{config_id}")
def get(config_id: uuid.UUID, scope: ScopeDep, session: SessionDep) -> ConfigurationOut:
    """One configuration."""
    return _out(configurations.get(session, scope=scope, config_id=config_id))


@router.delete("/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    config_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Delete a configuration."""
    configurations.delete(
        session, principal=principal, scope=scope, config_id=config_id, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{config_id}/run", status_code=status.HTTP_202_ACCEPTED)
def run_now(
    config_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> RunOut:
    """Run Now: create the install jobs of this configuration immediately."""
    return RunOut(
        run_id=configurations.run_now(
            session, principal=principal, scope=scope, config_id=config_id, now=now
        )
    )
