"""Sending approved drafts to a real SMTP server: headers, STARTTLS, retries, consent lost
between approval and send, the webhook transport, and a sender killed mid-send."""

import ssl
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.customers.consent import unsubscribe
from engine.db import Database
from engine.email.keys import link_key
from engine.email.sender import SenderConfig, send_due
from engine.email.tokens import read_unsubscribe_token
from engine.email.transports import SmtpServer, SmtpTransport, WebhookTransport, parse_smtp_url
from engine.models import Customer, Draft, DraftEvent, EmailSend, WebhookDelivery, utcnow
from tests.builders import approved_drafts
from tests.smtp import smtp_server

CONFIG = SenderConfig(
    from_address="Ridgeline Coffee <hello@ridgeline.example>",
    reply_to="help@ridgeline.example",
    business_address="12 Roast Lane, Leeds LS1 1AA",
    public_url="https://shop.example",
    shop_url="https://ridgeline.example/shop",
    track_clicks=True,
)


def part(message: EmailMessage, subtype: str) -> str:
    """The text of one part of a multipart/alternative message."""
    body = message.get_body((subtype,))
    assert body is not None, f"no text/{subtype} part"
    return str(body.get_content())


def smtp(port: int, *, cert: Path | None = None) -> SmtpTransport:
    """A transport to the test server, trusting its self-signed certificate if it has one."""
    context = ssl.create_default_context(cafile=str(cert)) if cert else None
    server = SmtpServer(
        host="127.0.0.1", port=port, username=None, password=None, implicit_tls=False
    )
    return SmtpTransport(server, context=context)


def test_approved_drafts_go_out_with_every_header(db: Database) -> None:
    drafts = approved_drafts(db, "c1", "c2")
    with smtp_server() as (inbox, port, _):
        transport = smtp(port)
        report = send_due(db, transport=transport, config=CONFIG)
        transport.close()
    assert (report.queued, report.sent, report.failed) == (2, 2, 0)
    assert sorted(r[0] for r in inbox.recipients) == ["c1@example.com", "c2@example.com"]
    message = inbox.messages[0]
    draft_id = int(str(message["X-Personalize-Draft"]))
    assert draft_id in drafts
    assert message["From"] == CONFIG.from_address
    assert message["Reply-To"] == CONFIG.reply_to
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in str(message["List-Unsubscribe"])
    assert str(message["X-PM-Metadata-draft_id"]) == str(draft_id)
    assert f'"draft_id": "{draft_id}"' in str(message["X-SMTPAPI"])
    assert f'"draft_id": "{draft_id}"' in str(message["X-Mailgun-Variables"])
    assert CONFIG.business_address in part(message, "plain")
    assert CONFIG.business_address in part(message, "html")
    link = str(message["List-Unsubscribe"]).split("<", 1)[1].split(">", 1)[0]
    assert link.startswith("https://shop.example/u/")
    with db.read() as session:
        customer_id, token_draft = read_unsubscribe_token(link_key(db), link.rsplit("/", 1)[1])
        sends = session.scalars(select(EmailSend).order_by(EmailSend.id)).all()
        statuses = set(session.scalars(select(Draft.status)))
    assert token_draft == draft_id and customer_id in {"c1", "c2"}
    assert statuses == {"sent"}
    assert all(s.state == "sent" and s.sent_at is not None for s in sends)
    # The Message-ID on the wire is the one stored, and a second pass sends nothing again.
    assert {str(m["Message-ID"]).strip("<>") for m in inbox.messages} == {
        s.message_id for s in sends
    }
    with smtp_server() as (again, port, _):
        assert send_due(db, transport=smtp(port), config=CONFIG).sent == 0
    assert again.messages == []


def test_starttls_is_used_when_the_server_offers_it(db: Database, tmp_path: Path) -> None:
    approved_drafts(db, "c1")
    with smtp_server(tls_dir=tmp_path) as (inbox, port, cert):
        transport = smtp(port, cert=cert)
        report = send_due(db, transport=transport, config=CONFIG)
        transport.close()
    assert report.sent == 1
    assert inbox.starttls_used == [True]


def test_smtps_speaks_tls_from_the_first_byte(db: Database, tmp_path: Path) -> None:
    approved_drafts(db, "c1")
    with smtp_server(tls_dir=tmp_path, implicit_tls=True) as (inbox, port, cert):
        assert cert is not None
        server = parse_smtp_url(f"smtps://127.0.0.1:{port}")
        transport = SmtpTransport(server, context=ssl.create_default_context(cafile=str(cert)))
        report = send_due(db, transport=transport, config=CONFIG)
        transport.close()
        # The server speaks nothing but TLS: a plain client gets nowhere.
        approved_drafts(db, "c2")
        plain = send_due(db, transport=smtp(port), config=CONFIG)
    assert (server.implicit_tls, report.sent, plain.sent, plain.retrying) == (True, 1, 0, 1)
    assert len(inbox.messages) == 1


def test_an_untrusted_certificate_is_a_failure_not_a_plain_send(
    db: Database, tmp_path: Path
) -> None:
    approved_drafts(db, "c1")
    with smtp_server(tls_dir=tmp_path) as (inbox, port, _):
        report = send_due(db, transport=smtp(port), config=CONFIG)
    assert (report.sent, report.retrying) == (0, 1)
    assert inbox.messages == []


def test_a_customer_who_unsubscribed_after_approval_is_not_sent(db: Database) -> None:
    approved_drafts(db, "c1", "c2")
    with db.write() as session:
        unsubscribe(session, customer_id="c2", actor="customer")
    with smtp_server() as (inbox, port, _):
        report = send_due(db, transport=smtp(port), config=CONFIG)
    assert (report.sent, report.withdrawn) == (1, 1)
    assert [r[0] for r in inbox.recipients] == ["c1@example.com"]
    with db.read() as session:
        withdrawn = session.scalars(select(Draft).where(Draft.customer_id == "c2")).one()
        events = session.scalars(
            select(DraftEvent.action).where(DraftEvent.draft_id == withdrawn.id)
        ).all()
    assert withdrawn.status == "withdrawn" and events[-1] == "withdrawn"


def test_a_suppressed_address_is_not_sent(db: Database) -> None:
    approved_drafts(db, "c1")
    with db.write() as session:
        session.execute(
            update(Customer).values(suppressed_at=utcnow(), suppression_reason="hard_bounce")
        )
    with smtp_server() as (inbox, port, _):
        report = send_due(db, transport=smtp(port), config=CONFIG)
    assert (report.sent, report.withdrawn) == (0, 1)
    assert inbox.messages == []


def test_a_temporary_refusal_is_retried_with_backoff_and_a_permanent_one_gives_up(
    db: Database,
) -> None:
    approved_drafts(db, "c1")
    with smtp_server() as (inbox, port, _):
        inbox.refuse_with = "451 4.3.0 try again later"
        first = send_due(db, transport=smtp(port), config=CONFIG)
        # Not due again until the backoff has passed.
        assert send_due(db, transport=smtp(port), config=CONFIG).sent == 0
        inbox.refuse_with = None
        later = utcnow() + timedelta(minutes=5)
        second = send_due(db, transport=smtp(port), config=CONFIG, now=later)
    assert (first.retrying, second.sent) == (1, 1)
    assert len(inbox.messages) == 1
    approved_drafts(db, "c2")
    with smtp_server() as (inbox, port, _):
        inbox.refuse_with = "550 5.1.1 no such user"
        report = send_due(db, transport=smtp(port), config=CONFIG)
    assert report.failed == 1
    with db.read() as session:
        states = {c: s for c, s in session.execute(select(EmailSend.customer_id, EmailSend.state))}
    assert states == {"c1": "sent", "c2": "failed"}


def test_a_sender_killed_after_the_server_accepted_resends_with_the_same_message_id(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst a crash between the server's acceptance and our commit does: one duplicate,
    with the same Message-ID; the send is never lost."""
    approved_drafts(db, "c1")

    class Killed(BaseException):
        """Stands for the process dying: nothing after it runs."""

    with smtp_server() as (inbox, port, _):
        transport = smtp(port)
        real_send = transport.send

        def send_then_die(message: object) -> None:
            real_send(message)  # type: ignore[arg-type]
            raise Killed

        monkeypatch.setattr(transport, "send", send_then_die)
        with pytest.raises(Killed):
            send_due(db, transport=transport, config=CONFIG)
        with db.read() as session:
            assert session.scalars(select(EmailSend.state)).one() == "pending"
        # Within the lease nothing is resent; after it, the send is retried and recorded.
        fresh = smtp(port)
        assert send_due(db, transport=fresh, config=CONFIG).sent == 0
        report = send_due(db, transport=fresh, config=CONFIG, now=utcnow() + timedelta(minutes=3))
    assert report.sent == 1
    assert len(inbox.messages) == 2
    assert inbox.messages[0]["Message-ID"] == inbox.messages[1]["Message-ID"]


def test_the_webhook_transport_queues_the_rendered_message_once(db: Database) -> None:
    (draft_id,) = approved_drafts(db, "c1")
    transport = WebhookTransport("https://provider.example/hook")
    assert send_due(db, transport=transport, config=CONFIG).sent == 1
    assert send_due(db, transport=transport, config=CONFIG).sent == 0
    with db.read() as session:
        rows = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.draft_id == draft_id)
        ).all()
    pushed = [r for r in rows if '"draft.approved"' in r.payload]
    assert len(pushed) == 1
    assert "List-Unsubscribe" in pushed[0].payload and CONFIG.business_address in pushed[0].payload


def test_no_click_tracking_leaves_the_shop_link_plain(db: Database) -> None:
    approved_drafts(db, "c1")
    with smtp_server() as (inbox, port, _):
        send_due(db, transport=smtp(port), config=replace(CONFIG, track_clicks=False))
    html = part(inbox.messages[0], "html")
    assert "https://ridgeline.example/shop" in html and "/r/" not in html
