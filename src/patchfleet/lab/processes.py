"""Long-running lab children (the demo's server and agents): start them, stop them all.

The agent's ``Runner`` contract covers one-shot commands: run to completion, capture
the output. The demo also keeps a server and one agent per endpoint running until
Ctrl-C, which that contract does not cover, so this module is the lab's only starter
of long-running children (and the only lab module exempt from ruff's subprocess ban).

Each child gets its own session, so a terminal's Ctrl-C reaches only the demo, which
then stops its children in order: SIGTERM, a bounded wait, SIGKILL for the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Child:
    """One started child process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.popen.pid

    def is_running(self) -> bool:
        """Whether the child has not exited yet."""
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the child's output."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> Child:
    """Start ``argv`` (no shell) in a new session; stdout and stderr go to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, popen, log_path)


def stop_all(children: Sequence[Child], *, timeout: float) -> dict[str, int]:
    """SIGTERM every child, wait up to ``timeout`` s, SIGKILL what is left.

    Returns each child's exit code by name. Whatever a child left running in its
    process group (a package manager mid-scan) is killed too.
    """
    for child in children:
        if child.is_running():
            child.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes: dict[str, int] = {}
    for child in children:
        try:
            child.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.popen.kill()
            child.popen.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        codes[child.name] = child.popen.returncode
    return codes
