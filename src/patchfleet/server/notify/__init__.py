"""Outgoing notifications: e-mail over SMTP and signed JSON webhooks.

An edge at the ``db`` level: services import it; it imports only settings, core,
the stdlib and httpx. ``mail`` and ``webhooks`` send one message per call with no
retries or queues (the caller decides); ``messages`` renders summaries purely.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A message could not be handed over to the mail server or webhook receiver.

    Attributes:
        status: The SMTP reply code or HTTP status, or ``None`` when no reply came
            (refused connection, timeout, TLS failure).
        reason: The receiver's reply text, or a description of the transport error.
        refused: E-mail recipients the server refused. When some but not all were
            refused, the others have received the message: retry only these.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        refused: tuple[str, ...] = (),
    ) -> None:
        """Keep the receiver's status and reply text."""
        prefix = f"{status} " if status is not None else ""
        super().__init__(f"{prefix}{reason}")
        self.status = status
        self.reason = reason
        self.refused = refused
