"""Notifications: real SMTP to an aiosmtpd sink, real webhooks to a loopback receiver.

Feature IDs: NOTIF-01..04, NOTIF-06, NOTIF-07, SCN-21, CFG-22, CFG-23, CFG-46.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.jobs import JobStatus, PatchStatus
from patchfleet.server.notify import DeliveryError
from patchfleet.server.notify.mail import (
    MailMessage,
    NullMailer,
    SmtpMailer,
    build_email,
    make_mailer,
    validate_address,
)
from patchfleet.server.notify.messages import (
    MAIL_MESSAGE_LIMIT,
    DeviceResult,
    PatchLine,
    RunKind,
    RunSummary,
    WebhookEvent,
    run_summary,
    webhook_event,
    webhook_payload,
)
from patchfleet.server.notify.webhooks import (
    HttpWebhookSender,
    Webhook,
    make_webhook_client,
    verify_signature,
)
from patchfleet.server.settings import Settings
from support.live import free_port

TRIGGERED_AT = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
SECRET = "hook-secret-1"
DPKG_ERROR = (
    "dpkg: error processing archive /var/cache/apt/archives/demo-lib.deb:\n"
    " trying to overwrite '/usr/lib/demo/libdemo.so', "
    "which is also in package demo-tool 1.0-2"
)


def installed(name, version="2.0-1"):
    return PatchLine(name, version, PatchStatus.INSTALLED)


def weekly_summary(*, failing_host="db-01", url="") -> RunSummary:
    return RunSummary(
        kind=RunKind.CONFIGURATION,
        tenant="Acme Corp",
        name="Weekly servers",
        run_id="run-7",
        triggered_at=TRIGGERED_AT,
        url=url,
        devices=(
            DeviceResult(
                "web-01",
                JobStatus.COMPLETED,
                (
                    installed("openssl"),
                    installed("curl"),
                    PatchLine("nginx", "1.25-1", PatchStatus.SKIPPED),
                ),
            ),
            DeviceResult("web-02", JobStatus.COMPLETED, (installed("openssl"),)),
            DeviceResult(
                failing_host,
                JobStatus.FAILED,
                (
                    installed("openssl"),
                    PatchLine("demo-lib", "1.1-1", PatchStatus.FAILED, DPKG_ERROR),
                ),
            ),
        ),
    )


def smtp_settings(sink, **extra) -> Settings:
    return Settings(
        smtp_host=sink.host,
        smtp_port=sink.port,
        smtp_from="patchfleet@acme.example",
        smtp_timeout_seconds=5,
        **extra,
    )


# --- e-mail over real SMTP -------------------------------------------------------


def test_cfg23_delivers_to_users_and_external_cc_with_text_and_html(smtp_sink):
    message = MailMessage(
        to=("Jürgen Müller <ops@acme.example>",),
        cc=("auditor@extern.example",),
        subject="Grüße — a summary",
        text="Hallo Jürgen,\nall done.\n",
        html="<p>Hallo Jürgen, all done.</p>",
    )

    SmtpMailer(smtp_settings(smtp_sink)).send(message)

    [got] = smtp_sink.received
    assert got.mail_from == "patchfleet@acme.example"
    assert got.rcpt_tos == ("ops@acme.example", "auditor@extern.example")
    assert max(got.raw) < 128  # 7-bit clean: encoded words, quoted-printable
    mail = got.message
    assert mail["Subject"] == "Grüße — a summary"
    assert mail["To"].addresses[0].display_name == "Jürgen Müller"
    assert str(mail["Cc"]) == "auditor@extern.example"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@acme.example>")
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content() == "Hallo Jürgen,\nall done.\n"
    assert "Hallo Jürgen, all done." in mail.get_body(("html",)).get_content()


def test_text_only_message_is_not_multipart_and_cc_duplicates_are_dropped(smtp_sink):
    message = MailMessage(
        to=("ops@acme.example",),
        cc=("ops@acme.example", "cc@extern.example", "cc@extern.example"),
        subject="plain",
        text="just text",
    )

    SmtpMailer(smtp_settings(smtp_sink)).send(message)

    [got] = smtp_sink.received
    assert got.rcpt_tos == ("ops@acme.example", "cc@extern.example")
    assert got.message.get_content_type() == "text/plain"


def test_cfg46_run_summary_mail_arrives_with_non_ascii_hostname(smtp_sink):
    summary = weekly_summary(failing_host="büro-pc-ß")
    message = run_summary(summary, to=["ops@acme.example"], cc=["cc@extern.example"])

    SmtpMailer(smtp_settings(smtp_sink)).send(message)

    [mail] = smtp_sink.messages
    assert mail["Subject"] == (
        '[patchfleet] Acme Corp: "Weekly servers" — 2 of 3 devices patched, 1 failed'
    )
    assert "büro-pc-ß" in mail.get_body(("plain",)).get_content()
    assert "büro-pc-ß" in mail.get_body(("html",)).get_content()


def test_logs_in_when_a_username_is_set(smtp_sink):
    smtp_sink.accounts["mailer"] = "s3cret!"
    settings = smtp_settings(smtp_sink, smtp_username="mailer", smtp_password="s3cret!")

    SmtpMailer(settings).send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert smtp_sink.logins == ["mailer"]
    assert len(smtp_sink.received) == 1


def test_wrong_password_is_a_delivery_error(smtp_sink):
    smtp_sink.accounts["mailer"] = "right"
    settings = smtp_settings(smtp_sink, smtp_username="mailer", smtp_password="wrong")

    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(settings).send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert caught.value.status == 535
    assert smtp_sink.received == []


def test_non_ascii_credentials_are_a_clear_delivery_error(smtp_sink):
    smtp_sink.accounts["mailer"] = "pässword"
    settings = smtp_settings(
        smtp_sink, smtp_username="mailer", smtp_password="pässword"
    )

    with pytest.raises(DeliveryError, match="must be ASCII"):
        SmtpMailer(settings).send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert smtp_sink.received == []


def test_refusing_server_raises_delivery_error_with_its_reply(smtp_sink):
    smtp_sink.data_reply = "550 5.7.1 Message rejected by policy"

    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(smtp_settings(smtp_sink)).send(
            MailMessage(("ops@acme.example",), (), "s", "t")
        )

    assert caught.value.status == 550
    assert "Message rejected by policy" in caught.value.reason
    assert smtp_sink.received == []


def test_refused_recipient_is_named_and_the_others_still_receive(smtp_sink):
    smtp_sink.refuse["gone@extern.example"] = "550 5.1.1 No such user"
    message = MailMessage(("ops@acme.example",), ("gone@extern.example",), "s", "t")

    with pytest.raises(DeliveryError) as caught:
        SmtpMailer(smtp_settings(smtp_sink)).send(message)

    assert caught.value.refused == ("gone@extern.example",)
    assert caught.value.status == 550
    assert "No such user" in caught.value.reason
    assert [r.rcpt_tos for r in smtp_sink.received] == [("ops@acme.example",)]


def test_starttls_required_but_not_offered_is_a_delivery_error(smtp_sink):
    settings = smtp_settings(smtp_sink, smtp_starttls=True)

    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        SmtpMailer(settings).send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert caught.value.status is None
    assert smtp_sink.received == []


def test_unreachable_server_is_a_delivery_error():
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port())

    with pytest.raises(DeliveryError, match="Connection refused") as caught:
        SmtpMailer(settings).send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert caught.value.status is None


def test_without_smtp_host_the_null_mailer_sends_nothing(smtp_sink):
    mailer = make_mailer(Settings(smtp_host="", smtp_port=smtp_sink.port))

    mailer.send(MailMessage(("ops@acme.example",), (), "s", "t"))

    assert isinstance(mailer, NullMailer)
    assert isinstance(make_mailer(smtp_settings(smtp_sink)), SmtpMailer)
    assert smtp_sink.received == []


def test_subject_line_breaks_cannot_inject_headers():
    message = MailMessage(("ops@acme.example",), (), "hi\r\nBcc: evil@x.example", "t")

    mail = build_email(message, sender="patchfleet@acme.example")

    assert mail["Subject"] == "hi Bcc: evil@x.example"
    assert mail["Bcc"] is None


def test_a_message_needs_a_recipient():
    with pytest.raises(ValueError, match="recipient"):
        MailMessage((), (), "s", "t")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("ops@acme.example", "ops@acme.example", id="plain"),
        pytest.param(
            "  Jane Doe <jane.doe@Acme.EXAMPLE> ", "jane.doe@acme.example", id="named"
        ),
        pytest.param("<ops@acme.example>", "ops@acme.example", id="angle-only"),
        pytest.param(
            "o'brien+patches@mail.acme.co.uk",
            "o'brien+patches@mail.acme.co.uk",
            id="plus-and-apostrophe",
        ),
        pytest.param("x@bücher.example", "x@xn--bcher-kva.example", id="idn-domain"),
        pytest.param("x@xn--bcher-kva.example", "x@xn--bcher-kva.example", id="puny"),
    ],
)
def test_cfg23_valid_external_addresses(given, expected):
    assert validate_address(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param("not-an-address", id="no-at"),
        pytest.param("ops@acme", id="no-dot-domain"),
        pytest.param("ops@localhost", id="localhost"),
        pytest.param("ops@@acme.example", id="double-at"),
        pytest.param("a@acme.example, b@acme.example", id="two-addresses"),
        pytest.param("alice@acme.example)<bob@acme.example>", id="parseaddr-confusion"),
        pytest.param("ops@acme.example\r\nBcc: x@evil.example", id="crlf-injection"),
        pytest.param("jürgen@acme.example", id="non-ascii-local"),
        pytest.param(".ops@acme.example", id="leading-dot"),
        pytest.param("o..ps@acme.example", id="double-dot"),
        pytest.param("ops@-acme.example", id="label-hyphen"),
        pytest.param("ops@acme..example", id="empty-label"),
        pytest.param("a b@acme.example", id="space"),
        pytest.param("x" * 65 + "@acme.example", id="local-too-long"),
        pytest.param("x@" + "a" * 250 + ".example", id="too-long"),
        pytest.param("x@acme.example <y@acme.example>", id="address-as-name"),
    ],
)
def test_cfg23_invalid_external_addresses(given):
    with pytest.raises(InvalidInputError, match="not a valid e-mail address") as err:
        validate_address(given)
    assert err.value.loc == ("body", "emails")


# --- webhooks to a real receiver -------------------------------------------------


@pytest.fixture
def sender():
    with make_webhook_client(Settings(webhook_timeout_seconds=5)) as client:
        yield HttpWebhookSender(client)


def test_notif07_webhook_is_delivered_signed(hook_receiver, sender):
    data = webhook_payload(weekly_summary(failing_host="büro-pc"))
    hook = Webhook(url=f"{hook_receiver.url}/hooks/patchfleet?x=1", secret=SECRET)

    delivery = sender.send(
        hook, event=WebhookEvent.JOB_FAILED, data=data, sent_at=TRIGGERED_AT
    )

    [got] = hook_receiver.requests
    assert (got.method, got.path) == ("POST", "/hooks/patchfleet?x=1")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("patchfleet/")
    assert got.headers["x-patchfleet-event"] == "job.failed"
    assert got.headers["x-patchfleet-delivery"] == delivery
    assert uuid.UUID(delivery).version == 4
    signature = got.headers["x-patchfleet-signature"]
    independent = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={independent}"
    assert verify_signature(SECRET, got.body, signature)
    assert json.loads(got.body) == {
        "event": "job.failed",
        "sent_at": "2026-11-27T22:00:00+00:00",
        "data": data,
    }


def test_notif07_retry_keeps_the_delivery_id(hook_receiver, sender):
    hook = Webhook(url=hook_receiver.url, secret=SECRET)

    for _ in range(2):
        sender.send(
            hook, event="job.finished", data={}, sent_at=TRIGGERED_AT, delivery_id="d1"
        )

    assert [r.headers["x-patchfleet-delivery"] for r in hook_receiver.requests] == [
        "d1",
        "d1",
    ]


def test_notif07_tampered_body_or_wrong_secret_fails_verification(
    hook_receiver, sender
):
    hook = Webhook(url=hook_receiver.url, secret=SECRET)
    sender.send(hook, event="job.finished", data={"n": 1}, sent_at=TRIGGERED_AT)
    [got] = hook_receiver.requests
    signature = got.headers["x-patchfleet-signature"]
    tampered = got.body.replace(b'"n":1', b'"n":2')

    assert tampered != got.body
    assert not verify_signature(SECRET, tampered, signature)
    assert not verify_signature("other-secret", got.body, signature)
    assert not verify_signature(SECRET, got.body, signature.removeprefix("sha256="))
    assert not verify_signature(SECRET, got.body, "sha256=ünïcode")


@pytest.mark.parametrize("status", [500, 302, 404])
def test_non_2xx_answer_is_a_delivery_error(hook_receiver, sender, status):
    hook_receiver.status = status
    hook_receiver.reply = b"receiver says no"

    with pytest.raises(DeliveryError) as caught:
        sender.send(
            Webhook(url=hook_receiver.url, secret=SECRET),
            event="job.finished",
            data={},
            sent_at=TRIGGERED_AT,
        )

    assert caught.value.status == status
    assert "receiver says no" in caught.value.reason
    assert len(hook_receiver.requests) == 1  # a redirect is not followed


def test_refused_connection_is_a_delivery_error(sender):
    hook = Webhook(url=f"http://127.0.0.1:{free_port()}/hook", secret=SECRET)

    with pytest.raises(DeliveryError, match="ConnectError") as caught:
        sender.send(hook, event="job.finished", data={}, sent_at=TRIGGERED_AT)

    assert caught.value.status is None


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/hook", "file:///etc/passwd", "javascript:alert(1)", "http://"],
)
def test_only_http_urls_are_accepted(hook_receiver, sender, url):
    with pytest.raises(InvalidInputError, match="not an http or https URL") as err:
        sender.send(
            Webhook(url=url, secret=SECRET),
            event="job.finished",
            data={},
            sent_at=TRIGGERED_AT,
        )

    assert err.value.loc == ("body", "url")
    assert hook_receiver.requests == []


def test_naive_sent_at_is_refused(hook_receiver, sender):
    with pytest.raises(ValueError, match="aware"):
        sender.send(
            Webhook(url=hook_receiver.url, secret=SECRET),
            event="job.finished",
            data={},
            sent_at=datetime(2026, 11, 27, 22, 0),  # noqa: DTZ001
        )
    assert hook_receiver.requests == []


def test_webhook_secret_is_not_in_repr():
    assert SECRET not in repr(Webhook(url="https://hooks.example/x", secret=SECRET))


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def test_transport_timeout_is_a_delivery_error():
    hook = Webhook(url="http://127.0.0.1:9/hook", secret=SECRET)
    with httpx.Client(transport=httpx.MockTransport(time_out)) as client:
        sender = HttpWebhookSender(client)
        with pytest.raises(DeliveryError, match="ReadTimeout") as caught:
            sender.send(hook, event="job.finished", data={}, sent_at=TRIGGERED_AT)

    assert caught.value.status is None


# --- rendering of summaries ------------------------------------------------------


def test_cfg46_summary_text_lists_every_device_with_counts():
    message = run_summary(
        weekly_summary(url="https://pf.example/runs/run-7"), to=["ops@acme.example"]
    )

    assert message.to == ("ops@acme.example",)
    lines = message.text.splitlines()
    assert lines[:3] == [
        'Patch configuration "Weekly servers" for Acme Corp',
        "Triggered 2026-11-27 22:00 UTC, run run-7",
        "2 of 3 devices patched, 1 failed",
    ]
    assert lines[4:7] == [
        "web-01  patched  installed 2, failed 0, skipped 1",
        "web-02  patched  installed 1, failed 0, skipped 0",
        "db-01   failed   installed 1, failed 1, skipped 0",
    ]
    assert lines[7] == "    demo-lib 1.1-1:"
    assert lines[8].startswith("      dpkg: error processing archive")
    assert lines[-1] == "Details: https://pf.example/runs/run-7"


def test_long_package_manager_messages_are_truncated():
    long_failure = PatchLine("demo-lib", "1.1-1", PatchStatus.FAILED, "E" * 5000)
    device = DeviceResult("db-01", JobStatus.FAILED, (long_failure,))
    long_summary = replace(weekly_summary(), devices=(device,))

    message = run_summary(long_summary, to=["ops@acme.example"])

    shown = next(line for line in message.text.splitlines() if "EEE" in line).strip()
    assert len(shown) == MAIL_MESSAGE_LIMIT
    assert shown.endswith("…")
    assert "E" * MAIL_MESSAGE_LIMIT not in (message.html or "")


def test_html_part_escapes_hostnames_and_messages():
    summary = weekly_summary(failing_host="<script>alert(1)</script>")

    html = run_summary(summary, to=["ops@acme.example"]).html or ""

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#x27;/usr/lib/demo/libdemo.so&#x27;" in html
    assert html.count("<tr>") == 1 + 3 + 1  # header, devices, one failure row


def test_scn21_scan_summary_and_every_outcome_in_the_subject():
    summary = RunSummary(
        kind=RunKind.SCAN,
        tenant="Acme Corp",
        name="Nightly scan",
        run_id="scan-3",
        triggered_at=TRIGGERED_AT,
        devices=(
            DeviceResult("a", JobStatus.COMPLETED, missing=4),
            DeviceResult("b", JobStatus.LOST),
            DeviceResult("c", JobStatus.CANCELLED),
            DeviceResult("d", JobStatus.PENDING),
        ),
    )

    message = run_summary(summary, to=["ops@acme.example"])

    assert message.subject == (
        '[patchfleet] Acme Corp: "Nightly scan" — '
        "1 of 4 devices scanned, 1 failed, 1 cancelled, 1 not finished"
    )
    assert "a  scanned                         missing 4" in message.text
    assert "lost (agent stopped reporting)" in message.text
    assert webhook_event(summary) == WebhookEvent.JOB_FAILED


def test_webhook_payload_counts_devices_and_failures():
    summary = weekly_summary()

    data = webhook_payload(summary)

    assert webhook_event(summary) == WebhookEvent.JOB_FAILED
    assert data["counts"] == {
        "devices": 3,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 0,
        "not_finished": 0,
    }
    devices = data["devices"]
    assert isinstance(devices, list)
    failing = devices[2]
    assert (failing["hostname"], failing["status"]) == ("db-01", "failed")
    assert failing["failures"] == [
        {"name": "demo-lib", "version": "1.1-1", "message": DPKG_ERROR}
    ]
    assert json.loads(json.dumps(data)) == data


def test_all_completed_is_job_finished():
    done = DeviceResult("web-01", JobStatus.COMPLETED, (installed("openssl"),))
    summary = RunSummary(
        RunKind.CONFIGURATION, "Acme Corp", "W", "r", TRIGGERED_AT, (done,)
    )

    assert webhook_event(summary) == WebhookEvent.JOB_FINISHED
    assert run_summary(summary, to=["o@acme.example"]).subject.endswith(
        "— 1 of 1 device patched"
    )
