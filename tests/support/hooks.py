"""A real HTTP webhook receiver on 127.0.0.1, port 0, in a thread; records requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class HookRequest:
    """One request as received; header names in lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookReceiver:
    """The running receiver; set ``status`` and ``reply`` to change its answer."""

    url: str = ""
    status: int = 204
    reply: bytes = b""
    requests: list[HookRequest] = field(default_factory=list)


def _handler_for(receiver: HookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.requests.append(
                HookRequest(self.command, self.path, headers, body)
            )
            self.send_response(receiver.status)
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        do_POST = do_PUT = do_GET = _record

        def log_message(self, format, *args):  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def hook_receiver() -> Iterator[HookReceiver]:
    """A running webhook receiver on loopback; shut down after the test."""
    receiver = HookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
