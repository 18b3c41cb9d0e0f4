"""``patchfleet agent scan --json`` on this very machine equals ``apt list --upgradable``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.apt

LINE = re.compile(
    r"^(?P<name>[^/\s]+)/\S+ (?P<cand>\S+) (?P<arch>\S+) \[upgradable from: (?P<inst>[^\]]+)\]$"
)


def apt_list_upgradable() -> set[tuple[str, str, str]]:
    out = subprocess.run(
        ["apt", "list", "--upgradable"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    ).stdout
    found = set()
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            found.add((m["name"], m["inst"], m["cand"]))
    return found


def test_agent_scan_json_matches_apt_list_upgradable():
    if not shutil.which("apt") or not list(
        Path("/var/lib/apt/lists").glob("*Packages*")
    ):
        (pytest.fail if os.environ.get("PATCHFLEET_REQUIRE_LAB") else pytest.skip)(
            "no apt lists on this host"
        )
    expected = apt_list_upgradable()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "patchfleet",
            "agent",
            "scan",
            "--json",
            "--backend",
            "apt",
            "--changelog-cves",
            "off",  # changelog CVEs on this host: tests/e2e/test_changelog_cves.py
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    got = {
        (u["name"], u["installed_version"], u["candidate_version"])
        for u in data["updates"]
    }
    assert got == expected
    for u in data["updates"]:
        assert {
            "name",
            "installed_version",
            "candidate_version",
            "classification",
            "source",
        } <= set(u)
    if any("-security" in u["source"].lower() for u in data["updates"]):
        assert any(u["classification"] == "security" for u in data["updates"])
