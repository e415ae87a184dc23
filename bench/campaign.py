"""Offline drafting speed: drafts per second for 10,000 customers on the embedded default, and
the Claude prompt's size per draft split into its cached and uncached parts.

Builds a fresh SQLite home with N synthetic customers of a small shop (orders from a 20-product
catalog, a chat each, 0-4 stated facts, recent intents, blocked candidates), then runs the three
campaigns (welcome, post-purchase, win-back) as of one date with the template drafter. Each
draft is the whole path: gated context, template, grounding check, insert into the review
queue. Goal: at least 200 drafts/s. Then builds Claude requests for a sample of the same
customers and reports the prompt split (bench/claude_tokens.py; estimates, no network).
Last, approves a sample of the drafts and sends them through `send_due` with an SmtpTransport
to an SMTP server on loopback (aiosmtpd, in this process as in tests/smtp.py, so it shares the
CPU with the sender): sends per second (goal: 100/s), and each message received exactly once.

    .venv/bin/python bench/campaign.py [--customers 10000] [--sends 2000]
"""

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

# Run as a script, bench/ is on the path: its siblings hold the port helper and the prompt split.
from _net import free_port
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession
from claude_tokens import prompt_token_split
from sqlalchemy import func, insert, select, update

from engine.customers.context import build_context, monetary_cuts
from engine.customers.lifecycle import SEQUENCES
from engine.db import Database
from engine.drafting.base import DraftRequest
from engine.drafting.claude import build_claude_drafter
from engine.drafting.service import load_catalog, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import VoiceGuide, current_voice, set_voice
from engine.email.sender import SenderConfig, send_due
from engine.email.transports import SmtpServer, SmtpTransport
from engine.models import (
    DRAFT_KINDS,
    BlockedCandidate,
    Conversation,
    Customer,
    Draft,
    EmailSend,
    Fact,
    Message,
    MessageIntent,
    Order,
    OrderItem,
    Product,
)
from engine.settings import Settings

AS_OF = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PRODUCTS = [
    ("BEAN-HOUSE", "House Espresso Blend 1kg", "coffee", "32.00"),
    ("BEAN-ETH", "Ethiopia Yirgacheffe 250g", "coffee", "14.00"),
    ("BEAN-COL", "Colombia Huila 250g", "coffee", "13.00"),
    ("BEAN-DECAF", "Swiss Water Decaf 250g", "coffee", "13.50"),
    ("BEAN-GUAT", "Guatemala Antigua 1kg", "coffee", "30.00"),
    ("GEAR-V60", "Hario V60 Dripper", "gear", "24.00"),
    ("GEAR-AERO", "AeroPress Go", "gear", "39.00"),
    ("GEAR-GRIND", "Burr Grinder Pro", "gear", "189.00"),
    ("GEAR-KETTLE", "Gooseneck Kettle", "gear", "59.00"),
    ("GEAR-SCALE", "Brew Scale", "gear", "35.00"),
    ("ACC-FILTER", "Paper Filters 100pk", "accessories", "6.00"),
    ("ACC-PITCHER", "Milk Frothing Pitcher", "accessories", "18.00"),
    ("ACC-TAMPER", "Steel Tamper", "accessories", "29.00"),
    ("ACC-CLEAN", "Grinder Cleaning Tablets", "accessories", "12.00"),
    ("SUB-HOME", "Home Plan monthly", "subscriptions", "24.00"),
    ("SUB-STUDIO", "Studio Plan monthly", "subscriptions", "59.00"),
    ("SUB-OFFICE", "Office Plan monthly", "subscriptions", "99.00"),
    ("GIFT-25", "Gift Card 25", "gifts", "25.00"),
    ("GIFT-50", "Gift Card 50", "gifts", "50.00"),
    ("MERCH-MUG", "Kettle Mug", "merch", "16.00"),
]
FACTS = [
    ("business", "small bakery", "I run a small bakery"),
    ("business", "coworking space", "we run a coworking space"),
    ("business", "cafe", "I own a cafe"),
    ("role", "office manager", "I'm the office manager"),
    ("role", "barista", "I work as a barista"),
    ("uses", "aeropress", "we brew with an AeroPress at home"),
    ("uses", "gaggia", "just got a Gaggia"),
    ("uses", "v60", "I use a V60 every morning"),
    ("preference", "ethiopian", "I love the Ethiopian"),
    ("preference", "oat milk", "I prefer oat milk"),
    ("interest", "low acid coffee", "looking for a low acid coffee"),
    ("interest", "decaf", "want to try the decaf"),
    ("plan", "opening a second cafe in march", "we're opening a second cafe in March"),
    ("pain_point", "grinder keeps jamming", "the grinder keeps jamming"),
    ("pain_point", "shots run too fast", "my shots run too fast"),
]
INTENTS = ["setup_trouble", "pricing_interest", "upgrade_interest", "shipping_delivery", "praise"]
NAMES = ["Maya", "Daniel", "Lucía", "Tom", "Priya", "Ben", "Aisha", "Mateo", "Jo", None]


def build_store(db: Database, *, customers: int, seed: int = 7) -> None:
    """Write the synthetic shop straight into the tables (the pipeline is not what is timed)."""
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {
        "customers": [],
        "conversations": [],
        "messages": [],
        "orders": [],
        "items": [],
        "facts": [],
        "intents": [],
        "blocked": [],
    }
    for n in range(customers):
        cid = f"cus_{n:06d}"
        # A third each: new subscribers, recent buyers, lapsed buyers (plus a few without
        # consent, who are never drafted).
        group = n % 3
        subscribed = AS_OF - timedelta(days=rng.uniform(0, 14.9) if group == 0 else 400)
        rows["customers"].append(
            {
                "id": cid,
                "email": f"{cid}@example.com",
                "first_name": rng.choice(NAMES),
                "subscribed_at": subscribed,
                "marketing_consent": rng.random() > 0.03,
            }
        )
        orders = 0 if group == 0 else rng.randint(1, 4)
        for o in range(orders):
            days = rng.uniform(0, 30.9) if group == 1 and o == orders - 1 else rng.uniform(95, 400)
            placed = AS_OF - timedelta(days=days)
            oid = f"ord_{n:06d}_{o}"
            picks = rng.sample(PRODUCTS, rng.randint(1, 3))
            total = sum(Decimal(p[3]) for p in picks)
            rows["orders"].append(
                {
                    "id": oid,
                    "customer_id": cid,
                    "placed_at": placed,
                    "currency": "USD",
                    "total": total,
                    "source": "bench",
                }
            )
            for position, (sku, name, category, price) in enumerate(picks):
                rows["items"].append(
                    {
                        "order_id": oid,
                        "position": position,
                        "sku": sku,
                        "name": name,
                        "category": category,
                        "quantity": 1,
                        "unit_price": Decimal(price),
                    }
                )
        conversation = f"conv_{n:06d}"
        said = AS_OF - timedelta(days=rng.uniform(95, 300) if group == 2 else rng.uniform(1, 60))
        rows["conversations"].append(
            {"id": conversation, "customer_id": cid, "source": "bench", "started_at": said}
        )
        facts = rng.sample(FACTS, rng.randint(0, 4))
        text = ". ".join(quote for _, _, quote in facts) or "hi, quick question about my order"
        message_id = n + 1
        rows["messages"].append(
            {
                "id": message_id,
                "message_id": f"msg_{n:06d}",
                "conversation_id": conversation,
                "customer_id": cid,
                "role": "customer",
                "text": text + ". my sister has diabetes so she can't have sugar",
                "redacted_text": text + ". my sister has diabetes so she can't have sugar",
                "sent_at": said,
                "state": "processed",
            }
        )
        for category, value, quote in facts:
            start = text.find(quote)
            rows["facts"].append(
                {
                    "customer_id": cid,
                    "message_id": message_id,
                    "category": category,
                    "value": value,
                    "quote": quote,
                    "span_start": start,
                    "span_end": start + len(quote),
                    "said_at": said,
                    "extractor": "bench",
                }
            )
        for intent in rng.sample(INTENTS, rng.randint(0, 2)):
            rows["intents"].append(
                {
                    "message_id": message_id,
                    "customer_id": cid,
                    "intent": intent,
                    "score": 0.8,
                    "sent_at": said,
                    "source": "builtin",
                }
            )
        rows["blocked"].append(
            {"customer_id": cid, "message_id": message_id, "reason": "sensitive", "count": 1}
        )
    with db.write() as session:
        session.execute(
            insert(Product),
            [{"sku": s, "name": n, "category": c, "price": Decimal(p)} for s, n, c, p in PRODUCTS],
        )
        for model, key in (
            (Customer, "customers"),
            (Conversation, "conversations"),
            (Message, "messages"),
            (Order, "orders"),
            (OrderItem, "items"),
            (Fact, "facts"),
            (MessageIntent, "intents"),
            (BlockedCandidate, "blocked"),
        ):
            for start in range(0, len(rows[key]), 5000):
                session.execute(insert(model), rows[key][start : start + 5000])


class Inbox:
    """The loopback SMTP server's handler: keeps each message's Message-ID and recipients."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.recipients: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: SmtpSession, envelope: Envelope) -> str:
        """Keep the message (aiosmtpd's handler hook); only the headers are parsed."""
        headers = BytesHeaderParser().parsebytes(envelope.original_content or b"")
        with self._lock:
            # The header wraps the stored id in angle brackets.
            self.message_ids.append(str(headers["Message-ID"]).strip().strip("<>"))
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def send_part(db: Database, *, sends: int, seed: int = 7) -> None:
    """Approve `sends` drafts (a sample across the campaigns), send them all to the loopback
    SMTP server through send_due, and check each arrived exactly once."""
    with db.write() as session:
        ids = list(session.scalars(select(Draft.id).where(Draft.status == "pending_review")))
        chosen = sorted(random.Random(seed).sample(ids, min(sends, len(ids))))
        for start in range(0, len(chosen), 1000):
            session.execute(
                update(Draft)
                .where(Draft.id.in_(chosen[start : start + 1000]))
                .values(status="approved", reviewed_at=AS_OF, reviewed_by="bench")
            )
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    transport = SmtpTransport(
        SmtpServer(host="127.0.0.1", port=port, username=None, password=None, implicit_tls=False)
    )
    config = SenderConfig(
        from_address="Kettle & Co <hello@kettle.example>",
        reply_to=None,
        business_address="1 Roastery Lane, Portland, OR 97201",
        public_url="https://kettle.example",
        shop_url="https://shop.kettle.example",
        track_clicks=True,
    )
    try:
        started = time.perf_counter()
        report = send_due(db, transport=transport, config=config)
        seconds = time.perf_counter() - started
    finally:
        transport.close()
        controller.stop()
    with db.read() as session:
        sent_ids = set(
            session.scalars(select(EmailSend.message_id).where(EmailSend.state == "sent"))
        )
    received = Counter(inbox.message_ids)
    once = sum(1 for m, times in received.items() if times == 1 and m in sent_ids)
    rate = report.sent / seconds
    verdict = "meets" if rate >= 100 else "MISSES"
    print(
        f"sending: {len(chosen):,} approved, queued {report.queued:,}, sent {report.sent:,}, "
        f"withdrawn {report.withdrawn}, retrying {report.retrying}, failed {report.failed} "
        f"in {seconds:.1f} s = {rate:.0f} sends/s (render, consent check, SMTP to aiosmtpd on "
        f"loopback, commit); {verdict} the goal of 100/s"
    )
    print(
        f"SMTP server received {received.total():,} messages, {len(received):,} distinct; "
        f"received once: {once:,} of {len(sent_ids):,} sent"
    )
    if report.errors:
        print(f"send errors: {report.errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--claude-sample", type=int, default=50)
    parser.add_argument("--sends", type=int, default=2000, help="drafts approved and sent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(personalize_home=Path(home), database_url=None, qdrant_url=None)
        db = Database(settings)
        db.migrate()
        started = time.perf_counter()
        build_store(db, customers=args.customers)
        print(f"built {args.customers:,} customers in {time.perf_counter() - started:.1f} s")
        sample_voice = Path(__file__).resolve().parents[1] / "engine" / "sample" / "voice.json"
        with db.write() as session:
            set_voice(
                session,
                guide=VoiceGuide.model_validate_json(sample_voice.read_text(encoding="utf-8")),
                actor="bench",
            )
        drafter = TemplateDrafter()
        total_drafts = 0
        total_seconds = 0.0
        for kind in DRAFT_KINDS:
            started = time.perf_counter()
            report = run_campaign(db, drafter=drafter, kind=kind, as_of=AS_OF, actor="bench")
            seconds = time.perf_counter() - started
            total_drafts += report.created
            total_seconds += seconds
            print(
                f"{kind:<14} due {report.due:>6,}  drafted {report.created:>6,}  "
                f"needs attention {report.needs_attention:>4}  failed {len(report.failed)}  "
                f"{seconds:6.1f} s  {report.created / seconds:7.1f} drafts/s"
            )
        again = time.perf_counter()
        rerun = sum(
            run_campaign(db, drafter=drafter, kind=k, as_of=AS_OF, actor="bench").created
            for k in DRAFT_KINDS
        )
        print(f"second run of all three: {rerun} new drafts in {time.perf_counter() - again:.1f} s")
        rate = total_drafts / total_seconds
        verdict = "meets" if rate >= 200 else "MISSES"
        print(
            f"offline drafting: {total_drafts:,} drafts in {total_seconds:.1f} s = "
            f"{rate:.0f} drafts/s end to end (context, template, grounding check, insert); "
            f"{verdict} the goal of 200/s"
        )
        with db.read() as session:
            by_template = session.execute(
                select(Draft.template, func.count()).group_by(Draft.template)
            ).all()
            variants = len(by_template)
            print(f"{variants} template variants used")
            catalog = load_catalog(session)
            voice = current_voice(session)
            cuts = monetary_cuts(session)
            requests = []
            for n in range(args.claude_sample):
                kind = DRAFT_KINDS[n % 3]  # the synthetic groups: new, recent buyer, lapsed
                requests.append(
                    DraftRequest(
                        key=f"r{n}",
                        kind=kind,
                        step=SEQUENCES[kind][0].name,
                        context=build_context(
                            session, customer_id=f"cus_{n:06d}", as_of=AS_OF, cuts=cuts
                        ),
                        voice=voice,
                        catalog=catalog,
                    )
                )
        send_part(db, sends=args.sends)
        db.dispose()
    claude = build_claude_drafter(api_key="offline", model=settings.anthropic_model)
    split = prompt_token_split(claude, requests)
    print(
        f"Claude prompt per draft over {len(requests)} requests (estimates, see claude_tokens.py):"
    )
    for name, value in split.items():
        print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
