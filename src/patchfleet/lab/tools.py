"""Host programs the lab runs: which it needs, where they come from, and failures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from patchfleet.agent.runner import Completed, Runner, RunnerError

APT_TOOLS = (
    "bash",
    "awk",
    "gzip",
    "dpkg-deb",
    "dpkg-query",
    "apt-ftparchive",
    "gpg",
    "gpgconf",
    "apt-get",
    "apt-cache",
    "apt-config",
    "apt-mark",
    "apt",
)
RPM_TOOLS = ("bash", "rpmbuild", "createrepo_c", "modifyrepo_c", "dnf", "rpm")

# The Debian package of each tool whose package is named otherwise.
DEBIAN_PACKAGES: Mapping[str, str] = {
    "awk": "mawk",
    "dpkg-deb": "dpkg",
    "dpkg-query": "dpkg",
    "apt-ftparchive": "apt-utils",
    "gpg": "gnupg",
    "gpgconf": "gnupg",
    "apt-get": "apt",
    "apt-cache": "apt",
    "apt-config": "apt",
    "apt-mark": "apt",
    "apt": "apt",
    "rpmbuild": "rpm",
    "rpm": "rpm",
    "createrepo_c": "createrepo-c",
    "modifyrepo_c": "createrepo-c",
    "dnf": "dnf",
}


class LabError(RuntimeError):
    """A lab build or endpoint command failed."""


def missing(tools: Iterable[str], runner: Runner) -> list[str]:
    """The programs of ``tools`` that are not on PATH, in order, without repeats."""
    return [t for t in dict.fromkeys(tools) if runner.which(t) is None]


def install_command(tools: Iterable[str]) -> str:
    """The ``apt-get install`` line that provides ``tools`` on Debian."""
    packages = sorted({DEBIAN_PACKAGES.get(t, t) for t in tools})
    return "apt-get install -y --no-install-recommends " + " ".join(packages)


def checked(
    runner: Runner,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Completed:
    """Run ``argv``; raise ``LabError`` if it cannot run, or fails under ``check``."""
    try:
        done = runner.run(argv, env=env, timeout=timeout)
    except RunnerError as exc:
        raise LabError(str(exc)) from exc
    if check and done.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}{done.stdout}"
        )
    return done
