"""The dnf lab (TESTLAB.md §3): local rpm repos built once, dnf installroots per test.

``rpm_repos`` (session) runs ``build_rpm_repo.sh`` once: ``base`` holds version 1 of
every lab package, ``updates`` the next version plus ``updateinfo.xml`` (the table is
in the script). Repos are served through ``file://`` baseurls, so no server runs.

``dnf_endpoint`` (function) is a factory: ``dnf_endpoint(name="ep",
updates_enabled=False)`` returns a ``DnfEndpoint``, a fresh installroot under
``tmp_path`` whose dnf config, ``.repo`` files, plugin config, cache and rpmdb all
live inside it. ``enable_updates()`` "publishes" the updates by enabling its repo.

Missing tools (or not being root, which ``dnf install`` needs) skip the test, or fail
it when ``PATCHFLEET_REQUIRE_LAB=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
RPM_TOOLS = ("bash", "rpmbuild", "createrepo_c", "modifyrepo_c", "dnf", "rpm")
RELEASEVER = "12"  # nothing in a bare installroot provides system-release
RPM_NAME_VR = "%{NAME}\t%{VERSION}-%{RELEASE}\n"

DNF_CONF = """\
[main]
gpgcheck=0
install_weak_deps=False
pluginconfpath={root}/etc/dnf/plugins
{extra}"""
# Plugin config comes from the endpoint (see pluginconfpath above), never from the
# host's /etc/dnf/plugins; versionlock (dnf-plugins-core) fails without a locklist.
VERSIONLOCK_CONF = (
    "[main]\nenabled=1\nlocklist={root}/etc/dnf/plugins/versionlock.list\n"
)
REPO_FILE = """\
[{repo_id}]
name=lab {repo_id}
baseurl={baseurl}
enabled={enabled}
gpgcheck=0
metadata_expire=0
"""


def require_lab(tools: tuple[str, ...]) -> None:
    """Skip (or fail under PATCHFLEET_REQUIRE_LAB=1) unless the lab can run here."""
    problems = [f"missing {t}" for t in tools if not shutil.which(t)]
    if os.geteuid() != 0:
        problems.append("not root (dnf install needs root)")
    if problems:
        unavailable(f"dnf lab unavailable: {problems}")


def require_dnf_command(ep: DnfEndpoint, command: str) -> None:
    """Skip (or fail under PATCHFLEET_REQUIRE_LAB=1) unless dnf has ``command``."""
    if not ep.has_command(command):
        unavailable(f"dnf lacks the {command} command (apt: dnf-plugins-core)")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when CI demands the lab (PATCHFLEET_REQUIRE_LAB=1)."""
    if os.environ.get("PATCHFLEET_REQUIRE_LAB") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class RpmRepos:
    """The session's two lab repositories."""

    root: Path
    base: Path
    updates: Path

    def baseurl(self, repo_id: str) -> str:
        """Return the file:// baseurl of repo ``base`` or ``updates``."""
        return (self.root / f"repo-{repo_id}").as_uri()


@pytest.fixture(scope="session")
def rpm_repos(tmp_path_factory: pytest.TempPathFactory) -> RpmRepos:
    """Build the lab packages and repositories once per session (~1 s)."""
    require_lab(RPM_TOOLS)
    out = tmp_path_factory.mktemp("rpmrepos")
    build = ["bash", str(HERE / "build_rpm_repo.sh"), str(out)]
    done = subprocess.run(build, capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.fail(f"build_rpm_repo.sh failed ({done.returncode}):\n{done.stderr}")
    return RpmRepos(root=out, base=out / "repo-base", updates=out / "repo-updates")


@dataclass(frozen=True)
class DnfEndpoint:
    """One simulated endpoint: a dnf installroot with its own config and rpmdb."""

    root: Path
    releasever: str = RELEASEVER

    @property
    def dnf_argv(self) -> list[str]:
        """The dnf prefix every command on this endpoint uses."""
        root, release = f"--installroot={self.root}", f"--releasever={self.releasever}"
        return ["dnf", "-y", root, release]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``dnf <args>`` against this endpoint."""
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        argv = [*self.dnf_argv, *args]
        return subprocess.run(
            argv, env=env, check=check, capture_output=True, text=True
        )

    def installed(self) -> dict[str, str]:
        """Map installed package names to ``version-release`` (rpm, no dnf start-up)."""
        query = ["rpm", "--root", str(self.root), "-qa", "--qf", RPM_NAME_VR]
        out = subprocess.run(query, check=True, capture_output=True, text=True).stdout
        return dict(line.split("\t") for line in out.splitlines())

    def has_command(self, command: str) -> bool:
        """Whether dnf knows ``command`` (plugin commands need dnf-plugins-core)."""
        return self.run(command, "--help", check=False).returncode == 0

    def install(self, *names: str) -> None:
        """Install packages from the enabled repos."""
        self.run("-q", "install", *names)

    def enable_updates(self) -> None:
        """Publish the updates: enable the ``updates`` repo (metadata_expire=0)."""
        self._set_repo_enabled("updates", enabled=True)

    def add_repo(self, repo_id: str, baseurl: str) -> None:
        """Add an enabled repo, e.g. one whose baseurl is missing."""
        text = REPO_FILE.format(repo_id=repo_id, baseurl=baseurl, enabled=1)
        (self.root / "etc/yum.repos.d" / f"{repo_id}.repo").write_text(text)

    def exclude(self, *patterns: str) -> None:
        """Hold packages: set (replace) ``excludepkgs=`` in the endpoint's dnf.conf."""
        self._write_dnf_conf(f"excludepkgs={','.join(patterns)}\n")

    def versionlock(self, *specs: str) -> None:
        """Lock packages with the versionlock plugin's list (e.g. ``demo-lib-1.0-1``)."""
        (self.root / "etc/dnf/plugins/versionlock.list").write_text(
            "".join(f"{spec}\n" for spec in specs)
        )

    def _set_repo_enabled(self, repo_id: str, *, enabled: bool) -> None:
        path = self.root / "etc/yum.repos.d" / f"{repo_id}.repo"
        old, new = ("enabled=0", "enabled=1") if enabled else ("enabled=1", "enabled=0")
        path.write_text(path.read_text().replace(old, new))

    def _write_dnf_conf(self, extra: str = "") -> None:
        conf = DNF_CONF.format(root=self.root, extra=extra)
        (self.root / "etc/dnf/dnf.conf").write_text(conf)


def make_endpoint(repos: RpmRepos, root: Path, *, updates_enabled: bool) -> DnfEndpoint:
    """Create the directory tree and config of a fresh endpoint at ``root``."""
    for sub in ("etc/dnf/plugins", "etc/yum.repos.d"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ep = DnfEndpoint(root=root)
    ep._write_dnf_conf()
    (root / "etc/dnf/plugins/versionlock.conf").write_text(
        VERSIONLOCK_CONF.format(root=root)
    )
    (root / "etc/dnf/plugins/versionlock.list").touch()
    for repo_id, enabled in (("base", True), ("updates", updates_enabled)):
        text = REPO_FILE.format(
            repo_id=repo_id, baseurl=repos.baseurl(repo_id), enabled=int(enabled)
        )
        (root / "etc/yum.repos.d" / f"{repo_id}.repo").write_text(text)
    return ep


@pytest.fixture
def dnf_endpoint(rpm_repos: RpmRepos, tmp_path: Path) -> Callable[..., DnfEndpoint]:
    """Factory of fresh, isolated dnf endpoints under ``tmp_path``."""

    def make(name: str = "ep", updates_enabled: bool = False) -> DnfEndpoint:
        return make_endpoint(
            rpm_repos, tmp_path / name, updates_enabled=updates_enabled
        )

    return make
