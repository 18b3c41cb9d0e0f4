"""Agent configuration and its persisted identity (credential file, mode 0600)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/patchfleet-agent")


@dataclass(frozen=True)
class AgentConfig:
    """Where the agent keeps state and which backend it drives."""

    state_dir: Path
    backend: str = "auto"
    apt_config: Path | None = None
    dnf_installroot: Path | None = None
    hostname: str | None = None
    scan_interval_seconds: int = 6 * 3600
    jitter_fraction: float = 0.2
    interval_override: int | None = None
    reboot_command: tuple[str, ...] = ()  # empty: reboot the system (DEC-11)
    changelog_cves: str = "security"  # apt: CVEs from changelogs of security|all|off

    @property
    def identity_path(self) -> Path:
        """The file holding server URL, device id and credential."""
        return self.state_dir / "identity.json"

    @property
    def outbox_path(self) -> Path:
        """The local spool of unsent results."""
        return self.state_dir / "outbox.sqlite3"

    @property
    def changelog_dir(self) -> Path:
        """The apt changelog step's cache (and its scratch download directory)."""
        return self.state_dir / "changelogs"


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """``$PATCHFLEET_AGENT_STATE_DIR``, else /var/lib as root, else the user's state dir."""
    if environ.get("PATCHFLEET_AGENT_STATE_DIR"):
        return Path(environ["PATCHFLEET_AGENT_STATE_DIR"])
    if os.geteuid() == 0:
        return DEFAULT_STATE_DIR
    return (
        Path(environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
        / "patchfleet-agent"
    )


@dataclass(frozen=True)
class Identity:
    """What enrollment gave this device."""

    server_url: str
    device_id: str
    credential: str
    checkin_interval_seconds: int
    hostname: str | None = None


def save_identity(path: Path, identity: Identity) -> None:
    """Write the identity atomically with mode 0600 (the credential is a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(identity.__dict__, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_identity(path: Path) -> Identity | None:
    """The saved identity, or None before enrollment."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Identity(**data)
