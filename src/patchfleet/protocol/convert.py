"""Protocol models <-> core values."""

from __future__ import annotations

from collections.abc import Iterable

from patchfleet.core.packages import Package, PackageKey
from patchfleet.core.updates import Update
from patchfleet.protocol import v1


def package_to_item(p: Package) -> v1.PackageItem:
    """Core package -> protocol item."""
    return v1.PackageItem(
        name=p.name,
        version=p.version,
        arch=p.arch,
        source_name=p.source_name,
        source_version=p.source_version,
    )


def item_to_package(i: v1.PackageItem) -> Package:
    """Protocol item -> core package."""
    return Package(
        name=i.name,
        version=i.version,
        arch=i.arch,
        source_name=i.source_name,
        source_version=i.source_version,
    )


def ref_to_key(r: v1.PackageRef) -> PackageKey:
    """Protocol ref -> core key."""
    return PackageKey(r.name, r.arch)


def key_to_ref(k: PackageKey) -> v1.PackageRef:
    """Core key -> protocol ref."""
    return v1.PackageRef(name=k.name, arch=k.arch)


def update_to_item(u: Update) -> v1.UpdateItem:
    """Core update -> protocol item."""
    return v1.UpdateItem(
        name=u.name,
        installed_version=u.installed_version,
        candidate_version=u.candidate_version,
        arch=u.arch,
        classification=u.classification,
        severity=u.severity,
        raw_severity=u.raw_severity,
        source=u.source,
        advisory_id=u.advisory_id,
        cves=list(u.cves),
        state=u.state,
        source_package=u.source_package,
    )


def item_to_update(i: v1.UpdateItem) -> Update:
    """Protocol item -> core update."""
    return Update(
        name=i.name,
        installed_version=i.installed_version,
        candidate_version=i.candidate_version,
        arch=i.arch,
        classification=i.classification,
        severity=i.severity,
        raw_severity=i.raw_severity,
        source=i.source,
        advisory_id=i.advisory_id,
        cves=tuple(i.cves),
        state=i.state,
        source_package=i.source_package,
    )


def updates_to_items(updates: Iterable[Update]) -> list[v1.UpdateItem]:
    """Convert many updates, sorted by name for stable output."""
    return [update_to_item(u) for u in sorted(updates, key=lambda u: (u.name, u.arch))]
