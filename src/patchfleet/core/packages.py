"""Installed packages and inventories: identity, hashing and deltas."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class PackageKey:
    """Identity of an installed package on one device: name and architecture."""

    name: str
    arch: str = ""


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package as the device's package manager reports it."""

    name: str
    version: str
    arch: str = ""
    source_name: str = ""
    source_version: str = ""

    @property
    def key(self) -> PackageKey:
        """The identity used for deltas."""
        return PackageKey(self.name, self.arch)


@dataclass(frozen=True, slots=True)
class InventoryDelta:
    """What changed between two inventories: packages upserted and keys removed."""

    upserted: tuple[Package, ...]
    removed: tuple[PackageKey, ...]

    @property
    def is_empty(self) -> bool:
        """True when nothing changed."""
        return not self.upserted and not self.removed


def _line(p: Package) -> str:
    return f"{p.name}\t{p.arch}\t{p.version}\t{p.source_name}\t{p.source_version}\n"


def inventory_hash(packages: Iterable[Package]) -> str:
    """Return a stable SHA-256 over the inventory, independent of order."""
    digest = hashlib.sha256()
    for line in sorted(_line(p) for p in packages):
        digest.update(line.encode())
    return digest.hexdigest()


def index(packages: Iterable[Package]) -> dict[PackageKey, Package]:
    """Map packages by identity; a later duplicate key replaces an earlier one."""
    return {p.key: p for p in packages}


def inventory_delta(
    old: Mapping[PackageKey, Package], new: Mapping[PackageKey, Package]
) -> InventoryDelta:
    """Return the delta that turns ``old`` into ``new``."""
    upserted = tuple(sorted((p for k, p in new.items() if old.get(k) != p), key=_line))
    removed = tuple(sorted(k for k in old if k not in new))
    return InventoryDelta(upserted=upserted, removed=removed)


def apply_delta(
    old: Mapping[PackageKey, Package], delta: InventoryDelta
) -> dict[PackageKey, Package]:
    """Return ``old`` with ``delta`` applied (the inverse of ``inventory_delta``)."""
    result = dict(old)
    for key in delta.removed:
        result.pop(key, None)
    for p in delta.upserted:
        result[p.key] = p
    return result
