"""A real server under uvicorn on 127.0.0.1 (port 0), in a thread, on a fresh database."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from patchfleet.server.app import create_app
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.services import auth
from patchfleet.server.settings import Settings

ADMIN_PASSWORD = "admin-password-1"


@dataclass
class LiveServer:
    """A running server and what it was built from."""

    url: str
    app: FastAPI
    engine: Engine
    bootstrap: auth.BootstrapResult

    def admin_token(self) -> str:
        """A bearer token of the bootstrap admin."""
        r = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        )
        r.raise_for_status()
        return str(r.json()["token"])


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_uvicorn(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve ``app`` on a free loopback port in a thread; returns when it accepts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    started = threading.Event()
    while not started.wait(0.01):
        if server.started:
            started.set()
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live_server(engine: Engine, clock) -> Iterator[LiveServer]:
    """A live server on the parametrised database, with the injected clock."""
    result = auth.bootstrap(
        make_sessionmaker(engine)(), now=clock(), password=ADMIN_PASSWORD
    )
    assert result is not None
    settings = Settings(checkin_interval_seconds=1)
    app = create_app(settings, engine=engine, clock=clock)
    server, thread, url = start_uvicorn(app)
    app.state.settings = settings.model_copy(update={"public_url": url})
    yield LiveServer(url=url, app=app, engine=engine, bootstrap=result)
    server.should_exit = True
    thread.join(10)
