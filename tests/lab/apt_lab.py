"""apt lab fixtures: one signed repo per session on 127.0.0.1, endpoints per test.

TESTLAB §2 and §9. ``apt_repo`` builds the repo with ``build_apt_repo.sh`` and serves
it from an in-process ``ThreadingHTTPServer`` on port 0. ``apt_endpoint`` makes
endpoints: each a directory with its own dpkg database, apt state and ``apt.conf``,
isolated from the host and from each other through ``APT_CONFIG`` (TESTLAB §2.4).
Tests that use these fixtures are marked ``apt`` automatically.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
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
SUITES = ("lab", "lab-security", "lab-updates", "lab-backports", "thirdparty")
TIMEOUT = 120


def require_lab(reason: str) -> None:
    """Skip, or fail when ``PATCHFLEET_REQUIRE_LAB=1`` (CI), because of ``reason``."""
    if os.environ.get("PATCHFLEET_REQUIRE_LAB") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class AptRepo:
    """The session's signed lab repository (read-only for tests)."""

    url: str  # http://127.0.0.1:<port>
    keyring: Path  # binary keyring for signed-by
    root: Path  # build output: www/, gnupg/, the keyring
    suites: tuple[str, ...] = SUITES

    @property
    def www(self) -> Path:
        """The directory the server publishes."""
        return self.root / "www"


@pytest.fixture(scope="session")
def apt_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AptRepo]:
    """Build the signed lab repo once and serve it on 127.0.0.1 (free port)."""
    if missing := [t for t in APT_TOOLS if not shutil.which(t)]:
        require_lab(f"apt lab tools missing: {missing}")
    out = tmp_path_factory.mktemp("aptrepo")
    (out / "www").mkdir()
    handler = functools.partial(_QuietHandler, directory=str(out / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        built = subprocess.run(
            ["bash", str(HERE / "build_apt_repo.sh"), str(out), str(port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if built.returncode != 0:
            pytest.fail(f"build_apt_repo.sh failed:\n{built.stderr}")
        thread.start()
        yield AptRepo(
            url=f"http://127.0.0.1:{port}",
            keyring=out / "lab-archive-keyring.gpg",
            root=out,
        )
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()
        subprocess.run(
            ["gpgconf", "--homedir", str(out / "gnupg"), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )


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


@dataclass(frozen=True)
class AptEndpoint:
    """One simulated endpoint: a root directory driven through its own APT_CONFIG."""

    root: Path
    env: dict[str, str]

    @property
    def apt_config(self) -> Path:
        """The endpoint's apt.conf (what the agent's apt backend is given)."""
        return self.root / "etc/apt/apt.conf"

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` with the endpoint's environment; raise on failure if ``check``."""
        proc = subprocess.run(
            cmd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

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
    """Create endpoint ``ep`` (a fresh directory) with sources for ``suites``.

    The ``apt_endpoint`` fixture wraps this; call it directly only for an endpoint
    shared read-only by a module (build it in a ``tmp_path_factory`` directory).
    """
    for d in EP_DIRS:
        (ep / d).mkdir(parents=True, exist_ok=True)
    (ep / "var/lib/dpkg/status").touch()
    # apt applies phasing only when it can read <Dir::Etc>/../machine-id
    (ep / "etc/machine-id").write_text(hashlib.md5(str(ep).encode()).hexdigest() + "\n")
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


@pytest.fixture
def apt_endpoint(apt_repo: AptRepo, tmp_path: Path) -> Callable[..., AptEndpoint]:
    """Factory: ``apt_endpoint(name="ep", suites=SUITES, signed=True)``."""

    def make(
        name: str = "ep", suites: tuple[str, ...] = SUITES, signed: bool = True
    ) -> AptEndpoint:
        return make_endpoint(apt_repo, tmp_path / name, tuple(suites), signed=signed)

    return make


_APT_FIXTURES = frozenset({"apt_repo", "apt_endpoint"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the apt lab with ``apt``."""
    for item in items:
        if _APT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.apt)
