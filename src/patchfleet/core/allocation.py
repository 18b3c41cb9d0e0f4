"""Allocation: which dynamic configuration owns each device (DEC-07, CFG-02..CFG-07).

A device belongs to at most one dynamic configuration (CFG-05). The candidates are the
dynamic configurations whose scope includes the device's client and whose device query
matches it; the first in this order wins (DEC-07):

1. client level before partner level (MT-06);
2. lower precedence number (1 is the highest priority, CFG-24);
3. older ``created_at`` (CFG-07: creation time only breaks precedence ties);
4. lower id.

A partner-level configuration for All Clients includes clients created after it was
saved (MT-05). Static configurations are never allocated (CFG-03, CFG-04): ``allocate``
ignores them and ``static_members`` returns their device lists unchanged, so a device
can sit in static configurations as well as in its one dynamic configuration.
``diff`` tells a recompute which devices changed owner, so it touches only those
(CFG-25).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.policy import ALL_CLIENTS, ClientScope, Level
from patchfleet.core.queries import Query, evaluate


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """A device as allocation sees it: its client and its query record.

    ``record`` holds the device's attributes under ``DEVICE_FIELDS`` names.
    """

    device_id: int
    client_id: int
    record: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ConfigurationRef:
    """What allocation needs of a patch configuration.

    A configuration is dynamic when it has a device ``query`` and static when it has a
    fixed list of ``device_ids`` instead. Partner-level configurations select devices
    by query only (CFG-29).

    Attributes:
        precedence: 1 is the highest priority.
        client_id: The owning client of a client-level configuration.
        clients: The clients a partner-level configuration covers.
    """

    id: int
    level: Level
    precedence: int
    created_at: datetime
    query: Query | None = None
    device_ids: frozenset[int] = frozenset()
    client_id: int | None = None
    clients: ClientScope = ALL_CLIENTS

    def __post_init__(self) -> None:
        """Refuse configurations allocation could not place as written."""
        if self.precedence < 1:
            raise InvalidInputError(
                "precedence starts at 1 (the highest priority)",
                loc=("body", "precedence"),
            )
        if (self.level is Level.CLIENT) != (self.client_id is not None):
            raise InvalidInputError(
                "a client-level configuration names its client; "
                "a partner-level one does not",
                loc=("body", "client_id"),
            )
        if self.is_dynamic and self.device_ids:
            raise InvalidInputError(
                "select devices by query or by list, not both",
                loc=("body", "device_ids"),
            )
        if self.level is Level.PARTNER and not self.is_dynamic:
            raise InvalidInputError(
                "partner-level configurations select devices by query only",
                loc=("body", "query"),
            )

    @property
    def is_dynamic(self) -> bool:
        """True if devices are selected by query (and so allocated)."""
        return self.query is not None

    def includes_client(self, client_id: int) -> bool:
        """True if the configuration may hold devices of this client."""
        if self.level is Level.CLIENT:
            return self.client_id == client_id
        return self.clients.includes(client_id)


def allocation_order(
    configuration: ConfigurationRef,
) -> tuple[bool, int, datetime, int]:
    """Sort key: the configuration that sorts first wins a contested device."""
    return (
        configuration.level is not Level.CLIENT,
        configuration.precedence,
        configuration.created_at,
        configuration.id,
    )


def allocate(
    configurations: Iterable[ConfigurationRef],
    devices: Sequence[DeviceFacts],
    *,
    now: datetime,
) -> dict[int, int]:
    """Map each device id to the id of the dynamic configuration that owns it.

    Devices no dynamic configuration matches are left out. ``now`` measures age
    fields such as ``last_seen``.
    """
    ranked = sorted((c for c in configurations if c.is_dynamic), key=allocation_order)
    owners: dict[int, int] = {}
    for device in devices:
        owner = _first_match(ranked, device, now)
        if owner is not None:
            owners[device.device_id] = owner.id
    return owners


def _first_match(
    ranked: Sequence[ConfigurationRef], device: DeviceFacts, now: datetime
) -> ConfigurationRef | None:
    for configuration in ranked:
        query = configuration.query
        if (
            query is not None
            and configuration.includes_client(device.client_id)
            and evaluate(query, device.record, now)
        ):
            return configuration
    return None


def static_members(
    configurations: Iterable[ConfigurationRef],
) -> dict[int, frozenset[int]]:
    """Map each static configuration's id to its device ids, exactly as saved."""
    return {c.id: c.device_ids for c in configurations if not c.is_dynamic}


class AllocationChange(NamedTuple):
    """Devices whose owner changed between two allocations (device id → config id).

    A device that moved appears in both: removed from its old configuration and added
    to its new one.
    """

    added: dict[int, int]
    removed: dict[int, int]


def diff(old: Mapping[int, int], new: Mapping[int, int]) -> AllocationChange:
    """Compare two results of ``allocate``, so a recompute touches changed devices only."""
    added = {d: c for d, c in new.items() if old.get(d) != c}
    removed = {d: c for d, c in old.items() if new.get(d) != c}
    return AllocationChange(added, removed)
