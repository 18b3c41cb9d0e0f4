"""The ``patchfleet`` command: server, agent and demo in one entry point."""

from __future__ import annotations

import typer

from patchfleet.agent.cli import app as agent_app

app = typer.Typer(help="patchfleet: patch management for fleets of endpoints.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")


def _add_server_commands() -> None:
    try:
        from patchfleet.server import cli as server_cli
    except ImportError:  # agent-only install: no server extra
        return
    app.command()(server_cli.serve)
    app.command()(server_cli.migrate)


def _add_demo() -> None:
    try:
        from patchfleet import demo
    except ImportError:
        return
    app.command()(demo.demo)


_add_server_commands()
_add_demo()


def main() -> None:
    """Console-script entry point."""
    app()
