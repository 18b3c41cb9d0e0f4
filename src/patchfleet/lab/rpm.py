"""The dnf lab (TESTLAB.md §3): local rpm repos, dnf installroot endpoints.

``build_repos`` runs ``build_rpm_repo.sh`` once: ``base`` holds version 1 of every lab
package, ``updates`` the next version plus ``updateinfo.xml`` (the table is in the
script). Repos are read through ``file://`` baseurls, so no server runs.
``make_endpoint`` creates a ``DnfEndpoint``: an installroot whose dnf config, ``.repo``
files, plugin config, cache and rpmdb all live inside it; ``enable_updates()``
"publishes" the updates by enabling their repo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from patchfleet.agent.runner import Completed, Runner, SubprocessRunner
from patchfleet.lab.tools import checked

RELEASEVER = "12"  # nothing in a bare installroot provides system-release
RPM_NAME_VR = "%{NAME}\t%{VERSION}-%{RELEASE}\n"
TIMEOUT = 300

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


@dataclass(frozen=True)
class RpmRepos:
    """The lab's two repositories."""

    root: Path
    base: Path
    updates: Path

    def baseurl(self, repo_id: str) -> str:
        """Return the file:// baseurl of repo ``base`` or ``updates``."""
        return (self.root / f"repo-{repo_id}").as_uri()


def build_repos(root: Path, *, runner: Runner | None = None) -> RpmRepos:
    """Build the lab packages and repositories into ``root`` (~1 s); ``LabError``."""
    script = resources.files("patchfleet.lab") / "build_rpm_repo.sh"
    with resources.as_file(script) as path:
        argv = ["bash", str(path), str(root)]
        checked(runner or SubprocessRunner(), argv, timeout=TIMEOUT)
    return RpmRepos(root=root, base=root / "repo-base", updates=root / "repo-updates")


@dataclass(frozen=True)
class DnfEndpoint:
    """One simulated endpoint: a dnf installroot with its own config and rpmdb."""

    root: Path
    releasever: str = RELEASEVER
    runner: Runner = field(default_factory=SubprocessRunner, repr=False, compare=False)

    @property
    def dnf_argv(self) -> list[str]:
        """The dnf prefix every command on this endpoint uses."""
        root, release = f"--installroot={self.root}", f"--releasever={self.releasever}"
        return ["dnf", "-y", root, release]

    def run(self, *args: str, check: bool = True) -> Completed:
        """Run ``dnf <args>`` against this endpoint; ``LabError`` if ``check`` fails."""
        argv = [*self.dnf_argv, *args]
        return checked(self.runner, argv, timeout=TIMEOUT, check=check)

    def installed(self) -> dict[str, str]:
        """Map installed package names to ``version-release`` (rpm, no dnf start-up)."""
        query = ["rpm", "--root", str(self.root), "-qa", "--qf", RPM_NAME_VR]
        out = checked(self.runner, query, timeout=TIMEOUT).stdout
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

    def _write_dnf_conf(self, extra: str = "") -> None:
        conf = DNF_CONF.format(root=self.root, extra=extra)
        (self.root / "etc/dnf/dnf.conf").write_text(conf)

    def _set_repo_enabled(self, repo_id: str, *, enabled: bool) -> None:
        path = self.root / "etc/yum.repos.d" / f"{repo_id}.repo"
        old, new = ("enabled=0", "enabled=1") if enabled else ("enabled=1", "enabled=0")
        path.write_text(path.read_text().replace(old, new))


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
