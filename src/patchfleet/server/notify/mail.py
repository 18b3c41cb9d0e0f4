"""E-mail: the ``Mailer`` interface, SMTP delivery and recipient address validation."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

from patchfleet.core.errors import InvalidInputError
from patchfleet.server.notify import DeliveryError
from patchfleet.server.settings import Settings

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TLD}")
_NAME_FORBIDDEN = frozenset("<>@,;")
_MAX_LOCAL = 64
_MAX_ADDRESS = 254

_SendErrors = dict[str, tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an e-mail (base64-encoded), e.g. a PDF report."""

    filename: str
    content_type: str  # e.g. "application/pdf"
    data: bytes


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One e-mail to send; the sender comes from the mailer's settings.

    Attributes:
        to: Primary recipients (platform users), as ``addr`` or ``Name <addr>``.
        cc: Copy recipients (external CC addresses, CFG-23); those also in ``to``
            are dropped when the e-mail is built.
        subject: One line; runs of whitespace, line breaks included, become a space.
        text: The plain-text body, always sent.
        html: An HTML alternative of the same content, or ``None`` for text only.
        attachments: Files sent along; the e-mail becomes multipart/mixed.
    """

    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a message nobody would receive."""
        if not self.to and not self.cc:
            raise ValueError("a mail message needs at least one recipient")


class Mailer(Protocol):
    """Hands e-mails to a mail server; one narrow interface for SMTP.

    ``send`` blocks until the server accepted the message for every recipient, or
    raises ``DeliveryError`` with the server's reply (no reply code when the server
    could not be reached). If the server refused only some recipients, the others
    got the message and ``DeliveryError.refused`` names the refused ones. It never
    retries and keeps no queue: the caller decides whether and when to try again.
    Each call uses its own connection, so one mailer may be shared between threads.
    """

    def send(self, message: MailMessage) -> None:
        """Deliver ``message`` once or raise ``DeliveryError``."""


class NullMailer:
    """The mailer when no SMTP host is configured: sends, records and logs nothing."""

    def send(self, message: MailMessage) -> None:
        """Drop ``message``: mail is disabled."""
        del message


class SmtpMailer:
    """Delivers through the SMTP server in the settings (``PATCHFLEET_SMTP_*``).

    Uses STARTTLS (verifying the server's certificate against the system's trust
    store) when ``smtp_starttls`` is set, and AUTH when ``smtp_username`` is set
    (ASCII credentials only: a limit of the stdlib ``smtplib``).
    """

    def __init__(self, settings: Settings) -> None:
        """Keep the settings; nothing connects until ``send``."""
        self._settings = settings

    def send(self, message: MailMessage) -> None:
        """Deliver ``message`` once or raise ``DeliveryError`` with the reply."""
        email = build_email(message, sender=self._settings.smtp_from)
        try:
            refused = self._deliver(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(_text(exc.smtp_error), status=exc.smtp_code) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if refused:
            raise _refused(refused)

    def _deliver(self, email: EmailMessage) -> _SendErrors:
        s = self._settings
        with smtplib.SMTP(
            s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds
        ) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                _login(smtp, s.smtp_username, s.smtp_password)
            return smtp.send_message(email)


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    try:
        smtp.login(username, password)
    except UnicodeEncodeError as exc:  # smtplib's AUTH takes ASCII only
        raise DeliveryError("SMTP username and password must be ASCII") from exc


def make_mailer(settings: Settings) -> Mailer:
    """``SmtpMailer`` when ``smtp_host`` is set, else ``NullMailer``."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return NullMailer()


def build_email(message: MailMessage, *, sender: str) -> EmailMessage:
    """The MIME message for ``message``: text, or multipart/alternative with HTML.

    Non-ASCII names and subjects become RFC 2047 encoded words and bodies are
    quoted-printable (attachments base64, in multipart/mixed), so the result is
    7-bit clean for any SMTP server.

    Raises:
        ValueError: A header value holds a line break (header injection).
    """
    cc = tuple(a for a in dict.fromkeys(message.cc) if a not in message.to)
    email = EmailMessage()
    email["From"] = sender
    if message.to:
        email["To"] = list(message.to)
    if cc:
        email["Cc"] = list(cc)
    email["Subject"] = " ".join(message.subject.split())
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=_domain_of(sender))
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    email.set_content(message.text, cte="quoted-printable")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", cte="quoted-printable")
    for item in message.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        email.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return email


def validate_address(addr: str, *, loc: tuple[str, ...] = ("body", "emails")) -> str:
    """The bare address in ``addr`` (``x@example.com`` or ``Name <x@example.com>``).

    Syntax only, no DNS: a dot-atom local part and a dotted domain name. A non-ASCII
    domain is returned in its IDNA (``xn--``) form, in lower case; a non-ASCII local
    part is refused, as it would need SMTPUTF8.

    Raises:
        InvalidInputError: ``addr`` is not exactly one valid address (CFG-23).
    """
    text = addr.strip()
    spec = parseaddr(text)[1] if _is_printable(text) else ""
    if not spec or not (text == spec or _is_named_form(text, spec)):
        raise _invalid_address(addr, loc)
    local, _, domain = spec.rpartition("@")
    try:
        address = f"{local}@{domain.encode('idna').decode('ascii').lower()}"
    except UnicodeError:
        raise _invalid_address(addr, loc) from None
    too_long = len(local) > _MAX_LOCAL or len(address) > _MAX_ADDRESS
    if too_long or not _ADDRESS.fullmatch(address):
        raise _invalid_address(addr, loc)
    return address


def _is_printable(text: str) -> bool:
    return bool(text) and not any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _is_named_form(text: str, spec: str) -> bool:
    suffix = f"<{spec}>"
    name = text.removesuffix(suffix)
    return name != text and not _NAME_FORBIDDEN.intersection(name)


def _invalid_address(addr: str, loc: tuple[str, ...]) -> InvalidInputError:
    shown = addr if len(addr) <= 80 else f"{addr[:79]}…"
    return InvalidInputError(f"{shown!r} is not a valid e-mail address", loc=loc)


def _domain_of(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply


def _refused(recipients: _SendErrors) -> DeliveryError:
    details = "; ".join(
        f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in recipients.items()
    )
    first_code = next(iter(recipients.values()))[0]
    return DeliveryError(
        f"recipients refused: {details}", status=first_code, refused=tuple(recipients)
    )
