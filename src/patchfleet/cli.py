"""The ``patchfleet`` command: server, agent and demo in one entry point.

``patchfleet agent ...`` never imports the server stack, so the agent starts fast and
runs on installs without the ``server`` extra.
"""

from __future__ import annotations

import sys

import typer

from patchfleet.agent.cli import app as agent_app


def build_app() -> typer.Typer:
    """The full command tree (server commands only when the server extra is installed)."""
    app = typer.Typer(
        help="patchfleet: patch management for fleets of endpoints.",
        no_args_is_help=True,
    )
    app.add_typer(agent_app, name="agent")
    try:
        from patchfleet import demo
        from patchfleet.server import cli as server_cli
        from patchfleet.server import feeds_cli
    except ImportError:  # agent-only install: no server extra
        return app
    app.command()(server_cli.serve)
    app.command()(server_cli.migrate)
    app.command()(demo.demo)
    app.add_typer(feeds_cli.app, name="feeds")
    return app


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["agent"]:
        agent_app(args=sys.argv[2:], prog_name="patchfleet agent")
        return
    build_app()()
