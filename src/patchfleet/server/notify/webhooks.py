"""Outgoing webhooks: HMAC-signed JSON POSTs through an injected ``httpx.Client``."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx

from patchfleet import __version__
from patchfleet.core.errors import InvalidInputError
from patchfleet.server.notify import DeliveryError
from patchfleet.server.settings import Settings

SIGNATURE_PREFIX = "sha256="
_SCHEMES = frozenset({"http", "https"})
_REPLY_SNIPPET_BYTES = 512


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where to deliver and the shared secret that signs each body.

    Attributes:
        url: An ``http`` or ``https`` URL (``validate_url``).
        secret: The key of the HMAC-SHA256 in ``X-Patchfleet-Signature``.
    """

    url: str
    secret: str = field(repr=False)


class WebhookSender(Protocol):
    """Delivers one event to one webhook; one narrow interface for outgoing HTTP.

    The body is ``{"event": event, "sent_at": ISO 8601 UTC, "data": data}`` as
    compact UTF-8 JSON, signed with the hook's secret (``sign``). ``send`` returns
    the delivery id (``X-Patchfleet-Delivery``) once the receiver answered 2xx;
    any other status, a redirect included, or a transport error raises
    ``DeliveryError``. It never retries: a caller that retries (NOTIF-07) passes
    the same ``delivery_id`` again so that receivers can drop duplicates.
    """

    def send(
        self,
        hook: Webhook,
        *,
        event: str,
        data: Mapping[str, object],
        sent_at: datetime,
        delivery_id: str | None = None,
    ) -> str:
        """Deliver once; return the delivery id or raise ``DeliveryError``."""
        ...


class HttpWebhookSender:
    """``WebhookSender`` over an ``httpx.Client`` the caller owns and closes."""

    def __init__(self, client: httpx.Client) -> None:
        """Keep the client (see ``make_webhook_client`` for the usual one)."""
        self._client = client

    def send(
        self,
        hook: Webhook,
        *,
        event: str,
        data: Mapping[str, object],
        sent_at: datetime,
        delivery_id: str | None = None,
    ) -> str:
        """POST the signed event to ``hook.url``; see ``WebhookSender``.

        Raises:
            InvalidInputError: ``hook.url`` is not an http(s) URL.
            DeliveryError: No 2xx answer; ``status`` is ``None`` without a reply.
        """
        url = validate_url(hook.url)
        delivery = delivery_id or str(uuid.uuid4())
        body = encode_body(event=event, data=data, sent_at=sent_at)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"patchfleet/{__version__}",
            "X-Patchfleet-Event": event,
            "X-Patchfleet-Delivery": delivery,
            "X-Patchfleet-Signature": sign(hook.secret, body),
        }
        try:
            with self._client.stream(
                "POST", url, content=body, headers=headers
            ) as response:
                if not response.is_success:
                    raise DeliveryError(_reason(response), status=response.status_code)
        except httpx.TransportError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return delivery


def make_webhook_client(settings: Settings) -> httpx.Client:
    """A client with ``webhook_timeout_seconds`` that never follows redirects."""
    return httpx.Client(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False
    )


def validate_url(url: str, *, loc: tuple[str, ...] = ("body", "url")) -> str:
    """``url`` itself, if it is an absolute ``http`` or ``https`` URL with a host.

    Raises:
        InvalidInputError: Any other scheme, no host, or not a URL at all.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in _SCHEMES or not parsed.host:
        shown = url if len(url) <= 80 else f"{url[:79]}…"
        raise InvalidInputError(f"{shown!r} is not an http or https URL", loc=loc)
    return url


def encode_body(*, event: str, data: Mapping[str, object], sent_at: datetime) -> bytes:
    """The exact bytes that are sent and signed.

    Raises:
        ValueError: ``sent_at`` is naive.
        TypeError: ``data`` holds something JSON cannot encode.
    """
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be an aware datetime")
    envelope = {
        "event": str(event),
        "sent_at": sent_at.astimezone(UTC).isoformat(),
        "data": data,
    }
    text = json.dumps(
        envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return text.encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Patchfleet-Signature`` value: ``sha256=`` + hex HMAC of ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of exactly ``body`` (constant time)."""
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.encode("utf-8", "replace"))


def _reason(response: httpx.Response) -> str:
    """The reason phrase and the start of the receiver's answer."""
    snippet = b""
    try:
        for chunk in response.iter_bytes():
            snippet += chunk
            if len(snippet) >= _REPLY_SNIPPET_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status alone says enough
    text = snippet[:_REPLY_SNIPPET_BYTES].decode("utf-8", "replace").strip()
    return f"{response.reason_phrase}: {text}" if text else response.reason_phrase
