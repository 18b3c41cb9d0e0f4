"""One agent cycle: finish a cut-off job, flush the outbox, check in, run orders.

``run_once`` returns how long to sleep; ``run_forever`` is a few lines around it. Every
result is written to the outbox *before* it is sent, so a crash or an unreachable
server loses nothing: the next cycle sends it. An install job that a crash cut off is
finished (repaired, reported final) at the start of the next cycle, before check-in.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from patchfleet.agent.client import (
    ServerClient,
    ServerRejectedError,
    ServerUnavailableError,
    StaleBaseError,
)
from patchfleet.agent.jobs import (
    JOB_KIND,
    JobContext,
    finish_interrupted,
    order_key,
    run_install,
)
from patchfleet.agent.managers.base import PackageManager, PackageManagerError
from patchfleet.agent.outbox import Outbox
from patchfleet.agent.reboot import DisabledRebooter, Rebooter
from patchfleet.agent.runner import RunnerError
from patchfleet.core.checkins import next_delay
from patchfleet.core.packages import Package, index, inventory_delta, inventory_hash
from patchfleet.protocol import convert, v1

Clock = Callable[[], datetime]


@dataclass
class Agent:
    """Everything one agent cycle needs, wired by the CLI (or a test)."""

    client: ServerClient
    manager: PackageManager
    outbox: Outbox
    facts: Callable[[], v1.Facts]
    clock: Clock
    interval: int
    scan_interval: timedelta = timedelta(hours=6)
    jitter_fraction: float = 0.2
    refresh_before_scan: bool = True
    failures: int = 0
    rebooter: Rebooter = field(default_factory=DisabledRebooter)


def scan(
    manager: PackageManager, *, clock: Clock, order_id: uuid.UUID | None, refresh: bool
) -> v1.ScanReport:
    """Run one missing-patch scan; a failing package manager gives a failed report."""
    started = clock()
    try:
        if refresh:
            manager.refresh()
        updates = manager.upgradable()
        reboot = manager.reboot_required()
    except (PackageManagerError, RunnerError) as exc:
        return v1.ScanReport(
            scan_id=uuid.uuid4(),
            order_id=order_id,
            started_at=started,
            finished_at=clock(),
            backend=manager.name,
            status=v1.ScanStatus.FAILED,
            error=str(exc)[:8000],
        )
    return v1.ScanReport(
        scan_id=uuid.uuid4(),
        order_id=order_id,
        started_at=started,
        finished_at=clock(),
        backend=manager.name,
        reboot_required=reboot,
        updates=convert.updates_to_items(updates),
    )


def send_job_report(client: ServerClient, payload: str) -> None:
    """POST a spooled ``JobReport`` as stored (``/agent/v1/jobs``)."""
    client.send_job_report(payload)


#: How each kind of spooled message is sent (the server validates the payload).
SENDERS: dict[str, Callable[[ServerClient, str], None]] = {
    "scan": ServerClient.send_scan,
    JOB_KIND: send_job_report,
}


def flush(agent: Agent) -> int:
    """Send spooled results, oldest first; returns how many were delivered or refused."""
    handled = 0
    for message in agent.outbox.pending():
        sender = SENDERS.get(message.kind)
        if sender is None:
            agent.outbox.reject(message.id, f"unknown message kind {message.kind!r}")
        else:
            try:
                sender(agent.client, message.payload)
                agent.outbox.done(message.id)
            except ServerRejectedError as exc:
                agent.outbox.reject(message.id, str(exc))
        handled += 1
    return handled


def publish(agent: Agent) -> None:
    """Send what is spooled if the server is there; otherwise the next cycle does."""
    with contextlib.suppress(ServerUnavailableError):
        flush(agent)


def _snapshot(packages: list[Package], digest: str) -> str:
    rows = [
        [p.name, p.arch, p.version, p.source_name, p.source_version] for p in packages
    ]
    return json.dumps({"hash": digest, "packages": rows})


def _last_sent(outbox: Outbox) -> tuple[str, list[Package]] | None:
    data = outbox.get_json("inventory")
    if not isinstance(data, dict):
        return None
    return str(data["hash"]), [
        Package(
            name=r[0], arch=r[1], version=r[2], source_name=r[3], source_version=r[4]
        )
        for r in data["packages"]
    ]


def send_inventory(
    agent: Agent, packages: list[Package], digest: str, wanted: v1.InventoryWanted
) -> None:
    """Send a delta from the last acknowledged inventory, or the full one."""
    last = _last_sent(agent.outbox)
    full = v1.InventoryReport(
        kind="full",
        hash=digest,
        packages=[convert.package_to_item(p) for p in packages],
    )
    if wanted == v1.InventoryWanted.DELTA and last is not None:
        delta = inventory_delta(index(last[1]), index(packages))
        report = v1.InventoryReport(
            kind="delta",
            base_hash=last[0],
            hash=digest,
            packages=[convert.package_to_item(p) for p in delta.upserted],
            removed=[convert.key_to_ref(k) for k in delta.removed],
        )
        try:
            agent.client.send_inventory(report)
        except StaleBaseError:
            agent.client.send_inventory(full)
    else:
        agent.client.send_inventory(full)
    agent.outbox.set("inventory", _snapshot(packages, digest))


def spool_scan(
    agent: Agent, order_id: uuid.UUID | None, *, refresh: bool | None = None
) -> None:
    """Scan and write the result to the outbox; ``flush`` sends it.

    ``refresh`` None means the agent's setting (``refresh_before_scan``).
    """
    report = scan(
        agent.manager,
        clock=agent.clock,
        order_id=order_id,
        refresh=agent.refresh_before_scan if refresh is None else refresh,
    )
    agent.outbox.put("scan", report.model_dump_json(), report.finished_at.isoformat())
    if order_id is not None:
        agent.outbox.set(order_key(order_id), "done")
    agent.outbox.set("last_scan_at", report.finished_at.isoformat())


def run_scan(agent: Agent, order_id: uuid.UUID | None) -> None:
    """Scan, spool the result, then send everything spooled."""
    spool_scan(agent, order_id)
    flush(agent)


def job_context(agent: Agent) -> JobContext:
    """What install jobs need from this agent; after an install it rescans (no refresh:
    the install used the current metadata)."""
    return JobContext(
        manager=agent.manager,
        outbox=agent.outbox,
        clock=agent.clock,
        rebooter=agent.rebooter,
        publish=lambda: publish(agent),
        rescan=lambda: spool_scan(agent, None, refresh=False),
    )


def run_orders(agent: Agent, orders: list[v1.Order]) -> None:
    """Scan orders, then install orders; each order id runs at most once."""
    fresh = [o for o in orders if agent.outbox.get(order_key(o.id)) is None]
    for order in fresh:
        if order.kind == v1.OrderKind.SCAN:
            run_scan(agent, order.id)
    for order in fresh:
        if order.kind == v1.OrderKind.INSTALL:
            run_install(job_context(agent), order)


def _reboot_required(manager: PackageManager) -> bool | None:
    try:
        return manager.reboot_required()
    except (PackageManagerError, RunnerError):
        return None


def _scan_due(agent: Agent) -> bool:
    last = agent.outbox.get("last_scan_at")
    return (
        last is None
        or agent.clock() - datetime.fromisoformat(last) >= agent.scan_interval
    )


def cycle(agent: Agent) -> None:
    """One full exchange with the server; raises ServerUnavailableError when it is down.

    A scheduled scan runs even when the server is unreachable: its result waits in
    the outbox, like the final report of an install job finished here after a crash.
    """
    finish_interrupted(job_context(agent))
    if _scan_due(agent):
        spool_scan(agent, None)
    flush(agent)
    try:
        packages: list[Package] | None = agent.manager.installed()
    except (PackageManagerError, RunnerError):
        packages = (
            None  # still check in; the scan will report the package manager's error
        )
    digest = inventory_hash(packages) if packages is not None else ""
    facts = agent.facts()
    facts_json = facts.model_dump_json()
    changed = agent.outbox.get("facts") != facts_json
    response = agent.client.checkin(
        v1.CheckIn(
            agent_version=facts.agent_version,
            inventory_hash=digest,
            facts=facts if changed else None,
            reboot_required=_reboot_required(agent.manager),
        )
    )
    if changed:
        agent.outbox.set("facts", facts_json)
    agent.interval = response.checkin_interval_seconds
    if packages is not None and response.inventory != v1.InventoryWanted.NONE:
        send_inventory(agent, packages, digest, response.inventory)
    run_orders(agent, response.orders)


def run_once(agent: Agent, *, random_unit: float) -> float:
    """One cycle; returns the seconds to wait before the next one."""
    try:
        cycle(agent)
        agent.failures = 0
    except ServerUnavailableError:
        agent.failures += 1
    return next_delay(
        interval=agent.interval,
        failures=agent.failures,
        jitter_fraction=agent.jitter_fraction,
        random_unit=random_unit,
    )


def run_forever(
    agent: Agent,
    *,
    sleep: Callable[[float], None],
    random: Callable[[], float],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Cycle until ``should_stop``; ``sleep`` and ``random`` are injected."""
    while not should_stop():
        sleep(run_once(agent, random_unit=random()))
