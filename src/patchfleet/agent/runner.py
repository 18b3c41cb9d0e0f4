"""The only module on an endpoint that starts processes.

``Runner`` contract:
    ``run(argv, env=None, timeout=None)`` runs ``argv`` (no shell) with the agent's
    environment, overlaid by ``env``, and ``LC_ALL=C.UTF-8`` so tools print parseable
    text. It returns a ``Completed`` whatever the exit code; interpreting the code is
    the caller's job (package managers keep tables of meanings). It raises
    ``RunnerError`` only when the program cannot be started or times out.
    ``which(name)`` returns the program's path or None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of one finished process."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""


class RunnerError(RuntimeError):
    """A program could not be started, or did not finish in time."""


class Runner(Protocol):
    """Starts processes for the agent (see the module docstring)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv`` to completion and return its outcome."""
        ...

    def which(self, name: str) -> str | None:
        """Return the path of program ``name``, or None."""
        ...


class SubprocessRunner:
    """Runs real processes."""

    def __init__(self, base_env: Mapping[str, str] | None = None) -> None:
        """Use ``base_env`` (default: this process's environment) for every run."""
        self._base_env = dict(os.environ if base_env is None else base_env)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv`` without a shell; see ``Runner``."""
        full_env = {**self._base_env, "LC_ALL": "C.UTF-8", **(env or {})}
        try:
            proc = subprocess.run(
                list(argv),
                env=full_env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RunnerError(f"{argv[0]}: {exc}") from exc
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    def which(self, name: str) -> str | None:
        """Look ``name`` up on PATH."""
        return shutil.which(name, path=self._base_env.get("PATH"))


@dataclass
class RecordedRunner:
    """Replays recorded outputs; fails loudly on any argv it was not given."""

    recordings: dict[tuple[str, ...], Completed] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def add(
        self,
        argv: Sequence[str],
        stdout: str = "",
        returncode: int = 0,
        stderr: str = "",
    ) -> None:
        """Record the outcome of ``argv``."""
        key = tuple(argv)
        self.recordings[key] = Completed(key, returncode, stdout, stderr)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Return the recorded outcome for ``argv``."""
        del env, timeout
        key = tuple(argv)
        self.calls.append(key)
        if key not in self.recordings:
            raise AssertionError(f"unexpected command: {key!r}")
        return self.recordings[key]

    def which(self, name: str) -> str | None:
        """Return the recorded path of ``name``."""
        return self.programs.get(name)
