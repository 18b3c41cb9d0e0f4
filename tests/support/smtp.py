"""A real SMTP sink (aiosmtpd) on 127.0.0.1, port 0, in a thread; keeps what it gets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope, raw bytes and the parsed e-mail."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


@dataclass
class SmtpSink:
    """The running sink. Set ``data_reply``, ``refuse`` or ``accounts`` to vary it.

    Attributes:
        data_reply: Answer DATA with this (e.g. ``"550 5.7.1 No"``) instead of 250.
        refuse: Recipient address -> reply that refuses it at RCPT.
        accounts: Username -> password accepted by AUTH (offered without TLS).
        logins: Usernames that logged in successfully, in order.
    """

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None
    refuse: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[EmailMessage]:
        """The parsed e-mails received so far."""
        return [r.message for r in self.received]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refuse:
            return self.sink.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.data_reply is not None:
            return self.sink.data_reply
        raw = envelope.original_content
        # Parsed with plain "\n" line ends, as a mail client would present it.
        unix = raw.replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(unix)
        assert isinstance(message, EmailMessage)
        self.sink.received.append(
            Received(envelope.mail_from, tuple(envelope.rcpt_tos), raw, message)
        )
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        ok = self.sink.accounts.get(user) == auth_data.password.decode()
        if ok:
            self.sink.logins.append(user)
        return AuthResult(success=ok, handled=False)


class _LoopbackController(Controller):
    """aiosmtpd's controller, but on the port the OS picked for ``port=0``."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SMTP sink on loopback; stopped after the test."""
    sink = SmtpSink()
    handler = _Handler(sink)
    options: dict[str, Any] = {
        "authenticator": handler.authenticate,
        "auth_require_tls": False,
        "server_hostname": "smtp-sink.test",
        "ready_timeout": 10,
    }
    controller = _LoopbackController(handler, hostname=sink.host, port=0, **options)
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()
