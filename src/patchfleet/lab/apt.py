"""The apt lab (TESTLAB.md §2): a signed repo served on 127.0.0.1, APT_CONFIG endpoints.

``AptRepoServer`` builds the repo with ``build_apt_repo.sh`` and serves it from an
in-process ``ThreadingHTTPServer`` on a free loopback port until ``stop()``.
``make_endpoint`` creates an endpoint: a directory with its own dpkg database, apt
state and ``apt.conf``, isolated from the host and from other endpoints through
``APT_CONFIG`` (TESTLAB.md §2.4).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from patchfleet.agent.runner import Completed, Runner, SubprocessRunner
from patchfleet.lab.tools import LabError, checked

SUITES = ("lab", "lab-security", "lab-updates", "lab-backports", "thirdparty")
TIMEOUT = 120

APT_CONF = """\
Dir "{ep}/";
Dir::State::status "{ep}/var/lib/dpkg/status";
Dir::Etc::parts "{ep}/etc/apt/apt.conf.d";
Dir::Etc::main "/dev/null";
APT::Sandbox::User "root";
DPkg::Options {{ "--root={ep}"; "--log={ep}/var/log/dpkg.log"; "--force-script-chrootless";{extra} }};
DPkg::Use-Pty "false";
APT::Keep-Downloaded-Packages "false";
"""
EP_DIRS = (
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "etc/apt/keyrings",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/log/apt",
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class AptRepo:
    """A built, served lab repository (read-only for its users)."""

    url: str  # http://127.0.0.1:<port>
    keyring: Path  # binary keyring for signed-by
    root: Path  # build output: www/, gnupg/, the keyring
    suites: tuple[str, ...] = SUITES

    @property
    def www(self) -> Path:
        """The directory the server publishes."""
        return self.root / "www"


class AptRepoServer:
    """The lab repo built under ``root`` and served on 127.0.0.1 until ``stop()``."""

    def __init__(self, root: Path, *, runner: Runner | None = None) -> None:
        """Build the repo into ``root`` (a fresh directory) and start serving it.

        Raises ``LabError`` when the build fails; nothing is left running then.
        """
        self._runner = runner or SubprocessRunner()
        (root / "www").mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(root / "www"))
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        port = self._http.server_address[1]
        self.repo = AptRepo(
            url=f"http://127.0.0.1:{port}",
            keyring=root / "lab-archive-keyring.gpg",
            root=root,
        )
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        try:
            with resources.as_file(
                resources.files("patchfleet.lab") / "build_apt_repo.sh"
            ) as script:
                argv = ["bash", str(script), str(root), str(port)]
                checked(self._runner, argv, timeout=TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self._thread.start()

    @property
    def url(self) -> str:
        """The repo's base URL."""
        return self.repo.url

    @property
    def keyring(self) -> Path:
        """The repo's signing keyring (for ``signed-by``)."""
        return self.repo.keyring

    def stop(self) -> None:
        """Stop serving and end the gpg-agent (and helpers) the build started."""
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()
        gnupg = self.repo.root / "gnupg"
        if gnupg.is_dir():
            argv = ["gpgconf", "--homedir", str(gnupg), "--kill", "all"]
            with contextlib.suppress(LabError):  # no gpgconf: no agent to end
                checked(self._runner, argv, timeout=TIMEOUT, check=False)

    def __enter__(self) -> AptRepoServer:
        """Use as a context manager: stop on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()


@dataclass(frozen=True)
class AptEndpoint:
    """One simulated endpoint: a root directory driven through its own APT_CONFIG."""

    root: Path
    env: dict[str, str]
    runner: Runner = field(default_factory=SubprocessRunner, repr=False, compare=False)

    @property
    def apt_config(self) -> Path:
        """The endpoint's apt.conf (what the agent's apt backend is given)."""
        return self.root / "etc/apt/apt.conf"

    def run(self, *cmd: str, check: bool = True) -> Completed:
        """Run ``cmd`` with the endpoint's environment; ``LabError`` if ``check`` fails."""
        return checked(self.runner, cmd, env=self.env, timeout=TIMEOUT, check=check)

    def update(self) -> None:
        """``apt-get update`` against the lab repo."""
        self.run("apt-get", "update", "-qq")

    def install(self, *specs: str) -> None:
        """``apt-get install -y`` the given ``name=version`` specs."""
        self.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *specs)

    def installed(self) -> dict[str, str]:
        """Installed packages (state ``ii``/``hi``) as ``{name: version}``."""
        out = self.run(
            "dpkg-query",
            f"--admindir={self.root}/var/lib/dpkg",
            "-W",
            "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n",
        ).stdout
        rows = (line.split("\t") for line in out.splitlines())
        return {name: version for name, version, status in rows if status[1] == "i"}


def make_endpoint(
    repo: AptRepo, ep: Path, suites: tuple[str, ...] = SUITES, *, signed: bool = True
) -> AptEndpoint:
    """Create endpoint ``ep`` (a fresh directory) with sources for ``suites``."""
    for d in EP_DIRS:
        (ep / d).mkdir(parents=True, exist_ok=True)
    (ep / "var/lib/dpkg/status").touch()
    # apt applies phasing only when it can read <Dir::Etc>/../machine-id
    machine_id = hashlib.md5(str(ep).encode(), usedforsecurity=False).hexdigest()
    (ep / "etc/machine-id").write_text(machine_id + "\n")
    key = ep / "etc/apt/keyrings/lab.gpg"
    shutil.copyfile(repo.keyring, key)
    opt = f"[signed-by={key}] " if signed else ""
    (ep / "etc/apt/sources.list").write_text(
        "".join(f"deb {opt}{repo.url} {s} main\n" for s in suites)
    )
    extra = ' "--force-not-root";' if os.geteuid() != 0 else ""
    (ep / "etc/apt/apt.conf").write_text(APT_CONF.format(ep=ep, extra=extra))
    env = dict(
        os.environ,
        APT_CONFIG=str(ep / "etc/apt/apt.conf"),
        DEBIAN_FRONTEND="noninteractive",
        LC_ALL="C.UTF-8",
    )
    return AptEndpoint(root=ep, env=env)
