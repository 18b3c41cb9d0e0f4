"""This machine's real package set through CVE matching: nothing fixed is flagged.

The agent scans the host in-process (read-only: dpkg database and ``apt list
--upgradable``). Real Debian fix data comes from the host itself: every installed
package's ``changelog.Debian.gz`` names the CVEs fixed in each of its versions, which
gives thousands of real (source package, CVE, fixed version) facts for ``debian:12``.
Together with every OSV and OVAL sample of the shared data they are stored through
the real advisory path, the host's inventory and pending updates go in through the
agent API, and the fleet is recomputed.  Then:

* no CVE is reported for a package whose installed version is at or above the
  version that fixed it (its own changelog says so for every one of them);
* every CVE that *is* reported has an installed version below its fixed version.
"""

from __future__ import annotations

import gzip
import shutil
import uuid
from pathlib import Path

import pytest

from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.runner import SubprocessRunner
from patchfleet.core.advisories import Advisory, AffectedPackage
from patchfleet.core.changelogs import ChangelogEntry, parse
from patchfleet.core.packages import inventory_hash
from patchfleet.core.versions import Scheme, compare
from patchfleet.protocol import convert
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.services import vulns

pytestmark = pytest.mark.apt
DOCS = Path("/usr/share/doc")


def scan_body(clock, updates: list[dict[str, object]]) -> dict[str, object]:
    """A successful apt scan report in the agent protocol."""
    return {
        "scan_id": str(uuid.uuid4()),
        "started_at": clock().isoformat(),
        "finished_at": clock().isoformat(),
        "backend": "apt",
        "status": "ok",
        "updates": updates,
    }


def history_fixes(entries: list[ChangelogEntry]) -> dict[str, str]:
    """CVE → the lowest version known to contain its fix.

    A changelog is the package's history: every entry above (newer than) the one
    naming a CVE contains the fix, whatever its version sorts as (a stable backport
    ``590-2.1~deb12u1`` sorts below the unstable ``590-2.1`` that names the CVE).
    """
    fixes: dict[str, str] = {}
    lowest = ""
    for entry in entries:  # newest first
        if not lowest or compare("deb", entry.version, lowest) < 0:
            lowest = entry.version
        for cve in entry.cves:
            fixes[cve] = lowest
    return fixes


def changelog_advisories(sources: dict[str, str]) -> list[Advisory]:
    """Real fixes from installed changelogs: source → CVEs fixed at each version."""
    found: dict[tuple[str, str], set[str]] = {}
    for changelog in DOCS.glob("*/changelog.Debian.gz"):
        try:
            text = gzip.decompress(changelog.read_bytes()).decode("utf-8", "replace")
        except OSError:
            continue
        entries = [e for e in parse(text) if e.package in sources]
        for cve, version in history_fixes(entries).items():
            found.setdefault((entries[0].package, version), set()).add(cve)
    return [
        Advisory(
            id=f"changelog:{package}@{version}",
            source="changelog",
            cves=tuple(sorted(cves)),
            affected=(
                AffectedPackage("debian:12", package, Scheme.DEB, fixed=version),
            ),
        )
        for (package, version), cves in sorted(found.items())
    ]


def test_no_cve_is_reported_for_a_fixed_version_on_this_host(
    api, engine, clock, shared_data
):
    if not shutil.which("apt") or not (Path("/etc/debian_version")).exists():
        pytest.skip("not a Debian host")
    manager = AptManager(SubprocessRunner())
    packages = manager.installed()
    updates = manager.upgradable()
    sources = {p.source_name or p.name: p.source_version or p.version for p in packages}
    real_fixes = changelog_advisories(sources)
    assert len(real_fixes) > 100, "installed changelogs should name many CVE fixes"

    session = make_sessionmaker(engine)()
    with session.begin():
        vulns.store_advisories(session, "changelog", real_fixes)
    for kind, folder in (
        (FeedKind.OSV, shared_data / "osv/ubuntu"),
        (FeedKind.OSV, shared_data / "osv/debian"),
        (FeedKind.OSV, shared_data / "osv/redhat"),
    ):
        import_file(session, kind, folder, now=clock())
    for oval in sorted((shared_data / "oval").iterdir()):
        import_file(session, FeedKind.OVAL, oval, now=clock())

    device_id, cred = api.enroll(
        api.enrollment_token, "this-host", os_id="debian", os_version="12"
    )
    r = api.http.post(
        "/agent/v1/inventory",
        json={
            "kind": "full",
            "hash": inventory_hash(packages),
            "packages": [
                convert.package_to_item(p).model_dump(mode="json") for p in packages
            ],
        },
        headers=cred,
    )
    assert r.status_code == 204, r.text
    items = [convert.update_to_item(u).model_dump(mode="json") for u in updates]
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=items), headers=cred
    )
    assert r.status_code == 204, r.text
    vulns.refresh(session, now=clock())

    reported = api.http.get(f"/api/v1/devices/{device_id}/cves", headers=api.admin)
    assert reported.status_code == 200
    fixed_in = {
        (a.affected[0].package, cve): a.affected[0].fixed
        for a in real_fixes
        for cve in a.cves
    }
    for row in reported.json():
        installed = sources[row["package"]]
        assert row["fixed"], row
        assert compare("deb", installed, row["fixed"]) < 0, row
        assert row["version"] == installed
        earlier = fixed_in.get((row["package"], row["cve"]))
        if earlier is not None:
            assert compare("deb", installed, earlier) < 0, (row, earlier)
    flagged_by_changelogs = {
        (row["package"], row["cve"])
        for row in reported.json()
        if (row["package"], row["cve"]) in fixed_in
    }
    assert flagged_by_changelogs == set(), "installed changelogs list these as fixed"
    candidate_cves = {(u.source_package or u.name, c) for u in updates for c in u.cves}
    assert {
        (row["package"], row["cve"])
        for row in reported.json()
        if row["state"] == "fixed-installable"
    } >= {pair for pair in candidate_cves if pair[0] in sources}
