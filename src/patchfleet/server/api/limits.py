"""Request body size limits, enforced while the body streams in (413 on excess)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """Raised inside the app when the streamed body passes the limit."""


class BodyLimitMiddleware:
    """Refuse bodies over a per-path-prefix limit, by header and while streaming."""

    def __init__(self, app: ASGIApp, *, agent_limit: int, default_limit: int) -> None:
        """Limit ``/agent/`` bodies to ``agent_limit`` bytes and others to ``default_limit``."""
        self.app = app
        self.agent_limit = agent_limit
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass small requests through; answer 413 for large ones."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.agent_limit if scope["path"].startswith("/agent/") else self.default_limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLargeError:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes", "error": "BodyTooLarge"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
