"""Run the real agent CLI (``python -m patchfleet agent ...``) for lab endpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LabAgent:
    """One endpoint's agent: its state dir and backend options."""

    hostname: str
    state_dir: Path
    backend_args: list[str] = field(default_factory=list)

    def argv(self, command: str, *args: str) -> list[str]:
        """The command line of ``patchfleet agent COMMAND``."""
        return [
            sys.executable,
            "-m",
            "patchfleet",
            "agent",
            command,
            "--state-dir",
            str(self.state_dir),
            *self.backend_args,
            *args,
        ]

    def run(
        self, command: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run an agent command to completion."""
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        done = subprocess.run(
            self.argv(command, *args),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode:
            raise AssertionError(
                f"agent {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``agent run`` in the background; its output goes to ``log``."""
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            return subprocess.Popen(
                self.argv("run", *args), env=env, stdout=log, stderr=log
            )

    @property
    def log(self) -> Path:
        """Where a background agent writes its output."""
        return self.state_dir.parent / f"{self.state_dir.name}.log"

    def enroll(self, server: str, token: str) -> None:
        """Enroll with the server."""
        self.run(
            "enroll", "--server", server, "--token", token, "--hostname", self.hostname
        )


def apt_agent(tmp: Path, hostname: str, apt_config: Path) -> LabAgent:
    """An agent driving an apt lab endpoint."""
    return LabAgent(
        hostname,
        tmp / f"agent-{hostname}",
        ["--backend", "apt", "--apt-config", str(apt_config)],
    )


def dnf_agent(tmp: Path, hostname: str, root: Path) -> LabAgent:
    """An agent driving a dnf lab endpoint."""
    return LabAgent(
        hostname,
        tmp / f"agent-{hostname}",
        ["--backend", "dnf", "--dnf-root", str(root)],
    )
