"""CVE ids from apt candidates' changelogs (``agent/managers/apt_changelogs.py``).

Three settings:

* this host's real Debian archive, read-only: a candidate from ``<codename>-security``
  is downloaded and its changelog read, checked against an independent download and
  ``dpkg --compare-versions``; then the apt backend's whole scan in ``security`` mode
  (the first run downloads one .deb per security source package: tens of MB), and the
  ``patchfleet agent scan`` command on the same cache. An unreachable archive skips.
* a lab endpoint (alternate root through ``APT_CONFIG``): the lab's security updates
  name CVE-2024-0001 and CVE-2024-0002 in their changelogs.
* packages built here with ``dpkg-deb`` around a real changelog of this machine, served
  by a runner that answers ``apt-get download`` from them (symlinked doc directories,
  zstd archives, source versions, failures, the cache).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.apt_lab import AptEndpoint, require_lab
from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.managers.apt_changelogs import (
    CACHE_FILE,
    MAX_CVES,
    ChangelogCves,
    ChangelogMode,
    ChangelogSettings,
    group_key,
)
from patchfleet.agent.runner import Completed, SubprocessRunner
from patchfleet.core.advisories import CVE_ID
from patchfleet.core.updates import Classification, Update

pytestmark = pytest.mark.apt

#: apt's words for an archive it cannot reach (DNS, routing, refused connections).
NETWORK_ERRORS = (
    "Temporary failure resolving",
    "Could not resolve",
    "Could not connect",
    "Unable to connect",
    "Connection failed",
    "Connection timed out",
    "Network is unreachable",
    "No route to host",
)
HEADER_LINE = re.compile(r"^[a-z0-9][a-z0-9+.-]* \(([^() \t]+)\)[^;\n]*;", re.M | re.I)
MAX_TRIES = 8


def run(
    *argv: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str:
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done.stdout


def dpkg_compare(a: str, relation: str, b: str) -> bool:
    """dpkg's own answer, independent of ``core.versions``."""
    return (
        subprocess.run(
            ["dpkg", "--compare-versions", a, relation, b], check=False
        ).returncode
        == 0
    )


def entries_of(text: str) -> list[tuple[str, str]]:
    """(version, body) of each changelog entry, split on header lines by a regex."""
    heads = list(HEADER_LINE.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return [(h[1], text[h.end() : end]) for h, end in zip(heads, ends, strict=True)]


def expected_fixes(text: str, installed: str) -> dict[str, list[str]]:
    """CVE -> versions of the entries above the installed one, newer than it."""
    found: dict[str, list[str]] = {}
    for version, body in entries_of(text):
        if dpkg_compare(version, "eq", installed):
            break
        if dpkg_compare(version, "gt", installed):
            for cve in CVE_ID.findall(body):
                found.setdefault(cve, []).append(version)
    return found


# ------------------------------------------------------------------ this host


@dataclass(frozen=True)
class HostPick:
    """A security candidate of this host, with what an independent reading found."""

    update: Update
    group: tuple[Update, ...]  # the updates of its source package and version
    changelog: str  # the candidate's changelog.Debian.gz, downloaded by the test
    expected: dict[str, list[str]]  # CVE -> newer entries naming it


@dataclass
class Host:
    env: dict[str, str]
    state_dir: Path
    updates: list[Update] = field(default_factory=list)

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "changelogs"  # AgentConfig.changelog_dir

    def runner(self) -> SubprocessRunner:
        return SubprocessRunner(base_env=self.env)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Host:
    """This host's apt, read-only; its scan without the changelog step."""
    lists = Path("/var/lib/apt/lists")
    if not shutil.which("apt-get") or not any(lists.glob("*_Packages*")):
        require_lab("this host has no apt package lists (run apt-get update)")
    env = {k: v for k, v in os.environ.items() if k != "APT_CONFIG"}
    found = Host({**env, "LC_ALL": "C.UTF-8"}, tmp_path_factory.mktemp("state"))
    found.updates = AptManager(found.runner()).upgradable()
    return found


def security_suite() -> str:
    release = Path("/etc/os-release").read_text()
    codename = re.search(r"^VERSION_CODENAME=(\S+)$", release, re.M)
    if "ID=debian" not in release or codename is None:
        require_lab("this host is not Debian: no Debian-Security candidates")
    assert codename is not None
    return f"{codename[1]}-security"


def published_in(
    suite: str, names: Sequence[str], env: Mapping[str, str]
) -> set[tuple[str, str]]:
    """``apt-cache madison``: the (name, version) pairs ``suite`` publishes."""
    rows = [
        line.split("|")
        for line in run("apt-cache", "madison", *names, env=env).splitlines()
    ]
    return {
        (r[0].strip(), r[1].strip())
        for r in rows
        if len(r) == 3 and f" {suite}/" in r[2]
    }


def download_sizes(updates: Sequence[Update], env: Mapping[str, str]) -> dict[str, int]:
    specs = [f"{u.name}={u.candidate_version}" for u in updates]
    out = run("apt-get", "download", "--print-uris", *specs, env=env)
    return {
        line.split()[1].split("_")[0]: int(line.split()[2]) for line in out.splitlines()
    }


def download(spec: str, folder: Path, env: Mapping[str, str]) -> Path:
    """``apt-get download`` by the test itself; skip when the archive is unreachable."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = ["apt-get", "download", spec]
    done = subprocess.run(
        argv, cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        if any(marker in done.stderr for marker in NETWORK_ERRORS):
            pytest.skip(f"the Debian archive is unreachable: {done.stderr.strip()}")
        pytest.fail(f"apt-get download {spec}: {done.stderr}")
    [deb] = folder.glob("*.deb")
    return deb


def own_changelog(deb: Path, name: str) -> str | None:
    """``usr/share/doc/<name>/changelog.Debian.gz`` when the package ships it itself."""
    tar_bytes = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        try:
            member = tar.getmember(f"./usr/share/doc/{name}/changelog.Debian.gz")
        except KeyError:
            return None
        content = tar.extractfile(member) if member.isfile() else None
        if content is None:
            return None
        return gzip.decompress(content.read()).decode("utf-8", errors="replace")


def installed_source_version(update: Update, env: Mapping[str, str]) -> str:
    spec = f"{update.name}:{update.arch}" if update.arch != "all" else update.name
    return run("dpkg-query", "-W", "-f=${source:Version}", spec, env=env)


@pytest.fixture(scope="module")
def pick(host: Host, tmp_path_factory: pytest.TempPathFactory) -> HostPick:
    """The smallest security candidate whose changelog names CVEs newer than installed."""
    suite = security_suite()
    labelled = [u for u in host.updates if u.classification is Classification.SECURITY]
    published = published_in(suite, sorted({u.name for u in labelled}), host.env)
    security = [
        u
        for u in labelled
        if "Debian-Security" in u.source and (u.name, u.candidate_version) in published
    ]
    if not security:
        require_lab(f"no upgradable package comes from {suite}")
    sizes = download_sizes(security, host.env)
    folder = tmp_path_factory.mktemp("oracle")
    by_size = sorted(security, key=lambda u: (sizes.get(u.name, 1 << 62), u.name))
    for update in by_size[:MAX_TRIES]:
        installed = installed_source_version(update, host.env)
        if installed != update.installed_version:
            continue  # keep binary == source version, so the bounds below are plain
        deb = download(
            f"{update.name}={update.candidate_version}", folder / update.name, host.env
        )
        text = own_changelog(deb, update.name)
        expected = expected_fixes(text, installed) if text else {}
        if text and expected:
            group = tuple(u for u in host.updates if group_key(u) == group_key(update))
            return HostPick(update, group, text, expected)
    require_lab(f"none of {MAX_TRIES} security candidates names a CVE in its changelog")
    raise AssertionError  # unreachable: require_lab skips or fails


def host_sources(host: Host) -> dict[tuple[str, str], str]:
    out = run(
        "dpkg-query",
        "-W",
        "-f=${Package}\t${Architecture}\t${source:Version}\n",
        env=host.env,
    )
    return {(n, a): v for n, a, v in (line.split("\t") for line in out.splitlines())}


def test_security_candidate_changelog_cves_on_the_real_archive(
    host: Host, pick: HostPick
) -> None:
    step = ChangelogCves(
        host.runner(),
        {"DEBIAN_FRONTEND": "noninteractive"},
        ChangelogSettings(ChangelogMode.SECURITY, host.cache_dir),
    )
    started = time.monotonic()
    [found, *_] = step.fixes(
        [pick.update, *(u for u in pick.group if u != pick.update)], host_sources(host)
    )
    took = time.monotonic() - started
    print(
        f"{pick.update.name} {pick.update.candidate_version}: {len(found)} CVEs, {took:.1f} s"
    )
    if any(marker in f for f in step.failures for marker in NETWORK_ERRORS):
        pytest.skip(f"the Debian archive is unreachable: {step.failures}")

    assert step.failures == []
    assert found, pick.update
    assert set(found) == set(pick.expected)
    for cve, version in found.items():
        assert version in pick.expected[cve], (cve, version)  # an entry naming it
        assert all(dpkg_compare(version, "le", v) for v in pick.expected[cve])  # oldest
        assert dpkg_compare(version, "gt", pick.update.installed_version)
        assert dpkg_compare(version, "le", pick.update.candidate_version)
        assert cve in pick.changelog
    cache = json.loads((host.cache_dir / CACHE_FILE).read_text())
    assert group_key(pick.update) in cache["changelogs"]
    assert not list(host.cache_dir.rglob("*.deb"))  # downloads are deleted
    assert not (host.cache_dir / "download").exists()


def test_scan_in_security_mode_attaches_changelog_cves(
    host: Host, pick: HostPick
) -> None:
    settings = ChangelogSettings(ChangelogMode.SECURITY, host.cache_dir)
    started = time.monotonic()
    updates = AptManager(host.runner(), changelogs=settings).upgradable()
    print(f"security scan with changelogs: {time.monotonic() - started:.1f} s")

    def listing(u: Update) -> tuple[str, str, str, str, str]:
        return (
            u.name,
            u.arch,
            u.installed_version,
            u.candidate_version,
            u.classification,
        )

    assert sorted(map(listing, updates)) == sorted(map(listing, host.updates))
    by_name = {(u.name, u.arch): u for u in updates}
    scanned = by_name[(pick.update.name, pick.update.arch)]
    assert set(scanned.cves) == set(pick.expected)
    assert len(scanned.cves) == len(set(scanned.cves))
    assert all(not u.cves for u in updates if not u.is_security)  # apt names none
    # every binary of the picked source package and version got the same CVEs
    for other in pick.group:
        assert set(by_name[(other.name, other.arch)].cves) == set(pick.expected)
    assert not list(host.cache_dir.rglob("*.deb"))


def test_agent_scan_command_uses_the_changelog_cache(
    host: Host, pick: HostPick
) -> None:
    def agent_scan(mode: str) -> dict[str, list[str]]:
        argv = [sys.executable, "-m", "patchfleet", "agent", "scan", "--json"]
        argv += ["--backend", "apt", "--state-dir", str(host.state_dir)]
        out = run(*argv, "--changelog-cves", mode, env=host.env)
        return {u["name"]: u["cves"] for u in json.loads(out)["updates"]}

    assert set(agent_scan("security")[pick.update.name]) == set(pick.expected)
    assert not any(agent_scan("off").values())


# ------------------------------------------------------------------ the lab


def lab_scan(ep: AptEndpoint, mode: ChangelogMode, cache: Path) -> dict[str, Update]:
    settings = ChangelogSettings(mode, cache)
    manager = AptManager(
        SubprocessRunner(), apt_config=ep.apt_config, changelogs=settings
    )
    return {u.name: u for u in manager.upgradable()}


def test_lab_endpoint_gets_the_cves_of_its_security_updates(
    apt_endpoint: Callable[..., AptEndpoint], tmp_path: Path
) -> None:
    ep = apt_endpoint()
    AptManager(SubprocessRunner(), apt_config=ep.apt_config).refresh()
    ep.install("demo-tool=1.0-1", "demo-held=1.0-1", "demo-lib=1.0-1")
    ep.run("apt-mark", "hold", "demo-held")

    updates = lab_scan(ep, ChangelogMode.SECURITY, tmp_path / "security")
    assert {n: u.cves for n, u in updates.items()} == {
        "demo-tool": (
            "CVE-2024-0001",
        ),  # "Fix buffer overflow in parser (CVE-2024-0001)."
        "demo-held": ("CVE-2024-0002",),  # held updates are reported too
        "demo-lib": (),  # a bugfix: out of the security scope
    }
    cached = json.loads((tmp_path / "security" / CACHE_FILE).read_text())["changelogs"]
    assert set(cached) == {"demo-held 1.0-2", "demo-tool 1.0-2"}

    everything = lab_scan(ep, ChangelogMode.ALL, tmp_path / "all")
    assert {n: u.cves for n, u in everything.items()} == {
        n: u.cves for n, u in updates.items()
    }
    cached = json.loads((tmp_path / "all" / CACHE_FILE).read_text())["changelogs"]
    assert cached["demo-lib 1.1-1"]["found"] is True  # read, and names no CVE
    assert not list(tmp_path.rglob("*.deb"))


# --------------------------------------------- built packages, served locally


@dataclass(frozen=True)
class RealChangelog:
    """A changelog of this machine whose newest entry names CVEs."""

    package: str
    text: str
    top: str  # newest entry's version: the "candidate"
    previous: str  # the entry below it: the "installed" version
    cves: frozenset[str]  # named by the newest entry


@pytest.fixture(scope="module")
def real_changelog() -> RealChangelog:
    for path in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        entries = entries_of(text)
        if len(entries) >= 2 and CVE_ID.search(entries[0][1]):
            cves = frozenset(CVE_ID.findall(entries[0][1]))
            return RealChangelog(
                path.parent.name, text, entries[0][0], entries[1][0], cves
            )
    require_lab("no installed changelog.Debian.gz names a CVE in its newest entry")
    raise AssertionError  # unreachable: require_lab skips or fails


def build_deb(
    out: Path,
    name: str,
    version: str,
    *,
    changelog: str | None = None,
    doc_link: str = "",
    source: str = "",
    compression: str = "xz",
) -> Path:
    """A Debian package built by dpkg-deb: a doc dir, or a symlink for it."""
    root = out / f"build-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
    control += f"Source: {source}\n" if source else ""
    control += "Maintainer: Lab <lab@example.invalid>\nDescription: test package\n"
    (root / "DEBIAN/control").write_text(control)
    doc = root / "usr/share/doc"
    doc.mkdir(parents=True)
    if doc_link:
        (doc / name).symlink_to(doc_link)
    elif changelog is not None:
        (doc / name).mkdir()
        (doc / name / "changelog.Debian.gz").write_bytes(
            gzip.compress(changelog.encode())
        )
    deb = out / f"{name}_{version.replace(':', '%3a')}_all.deb"
    run(
        "dpkg-deb",
        "--root-owner-group",
        f"-Z{compression}",
        "--build",
        str(root),
        str(deb),
    )
    return deb


@dataclass
class ArchiveRunner:
    """The real runner, but ``apt-get download`` is answered from built packages."""

    debs: dict[str, Path]  # "name=version" -> .deb
    unreachable: bool = False
    downloads: list[str] = field(default_factory=list)
    real: SubprocessRunner = field(default_factory=SubprocessRunner)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        argv = tuple(argv)
        if argv[:3] == ("apt-get", "download", "--print-uris"):
            return self._print_uris(argv)
        if argv[:2] == ("env", "-C") and argv[3:5] == ("apt-get", "download"):
            return self._download(argv, Path(argv[2]), argv[5])
        assert argv[0] == "dpkg-deb", argv  # nothing else may run
        return self.real.run(argv, env=env, timeout=timeout)

    def which(self, name: str) -> str | None:
        return self.real.which(name)

    def _print_uris(self, argv: tuple[str, ...]) -> Completed:
        debs = [self.debs[spec] for spec in argv[3:] if spec in self.debs]
        lines = [
            f"'file:///pool/{d.name}' {d.name} {d.stat().st_size} SHA256:0"
            for d in debs
        ]
        return Completed(argv, 0, "\n".join(lines) + "\n")

    def _download(self, argv: tuple[str, ...], folder: Path, spec: str) -> Completed:
        self.downloads.append(spec)
        if self.unreachable:
            err = "E: Failed to fetch http://deb.debian.org/x.deb  Temporary failure resolving 'deb.debian.org'\n"
            return Completed(argv, 100, "", err)
        if spec not in self.debs:
            return Completed(
                argv, 100, "", f"E: Can't find a source to download version '{spec}'\n"
            )
        shutil.copy(self.debs[spec], folder)
        return Completed(argv, 0, f"Get:1 file:/pool {spec}\n")


def update(
    name: str,
    installed: str,
    candidate: str,
    source: str,
    classification: Classification = Classification.SECURITY,
    cves: tuple[str, ...] = (),
) -> Update:
    return Update(
        name=name,
        installed_version=installed,
        candidate_version=candidate,
        arch="all",
        classification=classification,
        source_package=source,
        cves=cves,
    )


def step(
    runner: ArchiveRunner, cache: Path, mode: ChangelogMode = ChangelogMode.SECURITY
) -> ChangelogCves:
    return ChangelogCves(runner, {}, ChangelogSettings(mode, cache))


@pytest.fixture
def needs_dpkg_deb() -> None:
    if shutil.which("dpkg-deb") is None:
        require_lab("dpkg-deb is not installed")


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_symlinked_doc_dir_and_zstd_archive(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log, v = real_changelog, real_changelog.top
    # libdemo and demo-tool point their doc dir at demo-common (no candidate here),
    # whose archive is zstd: read through ``dpkg-deb -x``.
    debs = {
        f"libdemo={v}": build_deb(
            tmp_path, "libdemo", v, doc_link="demo-common", compression="gzip"
        ),
        f"demo-tool={v}": build_deb(
            tmp_path, "demo-tool", v, doc_link="/usr/share/doc/demo-common"
        ),
        f"demo-common={v}": build_deb(
            tmp_path, "demo-common", v, changelog=log.text, compression="zstd"
        ),
    }
    runner = ArchiveRunner(debs)
    updates = [
        update("libdemo", log.previous, v, "demo"),
        update("demo-tool", log.previous, v, "demo", cves=("CVE-1999-0001",)),
    ]
    cves = step(runner, tmp_path / "cache")
    annotated = cves.annotate(updates, {})

    assert cves.failures == []
    smallest = min(
        ("libdemo", "demo-tool"), key=lambda n: debs[f"{n}={v}"].stat().st_size
    )
    assert runner.downloads == [f"{smallest}={v}", f"demo-common={v}"]
    assert set(annotated[0].cves) == log.cves
    assert annotated[1].cves[0] == "CVE-1999-0001"  # the update's own first, then new
    assert set(annotated[1].cves) == log.cves | {"CVE-1999-0001"}
    assert not list((tmp_path / "cache").rglob("*.deb"))
    assert not (tmp_path / "cache" / "download").exists()


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_doc_dir_owner_missing_from_the_archive_tries_the_next_binary(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log, v = real_changelog, real_changelog.top
    debs = {
        f"demo-a={v}": build_deb(tmp_path, "demo-a", v, doc_link="demo-ghost"),
        f"demo-b={v}": build_deb(tmp_path, "demo-b", v, changelog=log.text),
    }
    assert debs[f"demo-a={v}"].stat().st_size < debs[f"demo-b={v}"].stat().st_size
    runner = ArchiveRunner(debs)
    updates = [update(n, log.previous, v, "demo") for n in ("demo-a", "demo-b")]
    cves = step(runner, tmp_path / "cache")
    annotated = cves.annotate(updates, {})
    assert runner.downloads == [f"demo-a={v}", f"demo-ghost={v}", f"demo-b={v}"]
    assert cves.failures == []
    assert [set(u.cves) for u in annotated] == [log.cves, log.cves]


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_source_versions_are_compared_not_binary_versions(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log = real_changelog
    binary = f"{log.top}+b1"  # a binNMU: the changelog speaks of the source version
    deb = build_deb(
        tmp_path, "demo", binary, changelog=log.text, source=f"demo ({log.top})"
    )
    runner = ArchiveRunner({f"demo={binary}": deb})
    u = update("demo", f"{log.previous}+b3", binary, "demo")
    [found] = step(runner, tmp_path / "cache").fixes(
        [u], {("demo", "all"): log.previous}
    )
    assert set(found) == log.cves
    assert set(found.values()) == {log.top}
    cache = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())
    assert cache["changelogs"][f"demo {binary}"]["source_version"] == log.top


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_unreachable_archive_never_fails_and_is_retried(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log, v = real_changelog, real_changelog.top
    debs = {
        f"demo{n}={v}": build_deb(tmp_path, f"demo{n}", v, changelog=log.text)
        for n in range(5)
    }
    updates = [update(f"demo{n}", log.previous, v, f"demo{n}") for n in range(5)]
    runner = ArchiveRunner(debs, unreachable=True)
    cves = step(runner, tmp_path / "cache")

    assert cves.annotate(updates, {}) == updates
    assert len(runner.downloads) == 3  # three groups in a row failed: the rest wait
    assert "Temporary failure resolving" in cves.failures[0]
    assert cves.failures[-1] == f"demo4 {v}: skipped after 3 failures"
    cache = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())
    assert cache["changelogs"] == {}  # nothing remembered: the next scan retries

    runner.unreachable = False
    again = step(runner, tmp_path / "cache").annotate(updates, {})
    assert all(set(u.cves) == log.cves for u in again)


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_cache_downloads_each_version_once_and_keeps_current_ones(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log, v = real_changelog, real_changelog.top
    debs = {
        f"demo={v}": build_deb(tmp_path, "demo", v, changelog=log.text),
        f"bare={v}": build_deb(tmp_path, "bare", v),  # no doc dir at all
    }
    runner = ArchiveRunner(debs)
    cache = tmp_path / "cache"
    both = [update("demo", log.previous, v, "demo"), update("bare", "0.1", v, "bare")]
    first = step(runner, cache).annotate(both, {})
    second = step(runner, cache).annotate(both, {})
    assert first == second
    assert (set(first[0].cves), first[1].cves) == (log.cves, ())
    assert runner.downloads == [f"bare={v}", f"demo={v}"]  # once each, sorted by key
    stored = json.loads((cache / CACHE_FILE).read_text())["changelogs"]
    assert stored[f"bare {v}"] == {"source_version": "", "found": False, "entries": []}

    step(runner, cache).annotate(both[:1], {})  # "bare" is no longer a candidate
    assert set(json.loads((cache / CACHE_FILE).read_text())["changelogs"]) == {
        f"demo {v}"
    }


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_modes_and_unreadable_packages(
    real_changelog: RealChangelog, tmp_path: Path
) -> None:
    log, v = real_changelog, real_changelog.top
    garbage = tmp_path / "broken.deb"
    garbage.write_bytes(b"<html>captive portal</html>")
    debs = {
        f"demo={v}": build_deb(tmp_path, "demo", v, changelog=log.text),
        f"broken={v}": garbage,
    }
    bugfix = update(
        "demo", log.previous, v, "demo", classification=Classification.BUGFIX
    )
    broken = update("broken", "0.1", v, "broken")

    runner = ArchiveRunner(debs)
    assert step(runner, tmp_path / "off", ChangelogMode.OFF).annotate(
        [bugfix, broken], {}
    ) == [bugfix, broken]
    assert runner.downloads == []

    security = step(runner, tmp_path / "security")
    assert security.annotate([bugfix, broken], {}) == [bugfix, broken]
    assert runner.downloads == [f"broken={v}"]  # the bugfix is out of scope
    assert security.failures == [f"broken {v}: not a Debian package (no ar magic)"]

    everything = step(runner, tmp_path / "all", ChangelogMode.ALL).annotate(
        [bugfix], {}
    )
    assert set(everything[0].cves) == log.cves


@pytest.mark.usefixtures("needs_dpkg_deb")
def test_cve_ids_are_capped_and_garbled_ids_dropped(tmp_path: Path) -> None:
    """A changelog naming more CVEs than an update may carry (chromium's does)."""
    for path in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        if len(set(CVE_ID.findall(text))) > MAX_CVES:
            break
    else:
        pytest.skip(f"no installed changelog names more than {MAX_CVES} CVEs")
    entries = entries_of(text)
    top, oldest = entries[0][0], entries[-1][0]
    garbled = "CVE-2024-" + "1" * 30
    header_end = text.index("\n") + 1
    text = f"{text[:header_end]}\n  * Garbled: {garbled}.\n{text[header_end:]}"
    runner = ArchiveRunner(
        {f"big={top}": build_deb(tmp_path, "big", top, changelog=text)}
    )
    u = update("big", oldest, top, "big", cves=("CVE-1999-0001",))
    [big] = step(runner, tmp_path / "cache").annotate([u], {})
    assert len(big.cves) == MAX_CVES
    assert big.cves[0] == "CVE-1999-0001"
    assert garbled not in big.cves
    newest = [c for c in CVE_ID.findall(entries[0][1]) if c != "CVE-1999-0001"]
    assert big.cves[1 : 1 + len(set(newest))] == tuple(dict.fromkeys(newest))
