"""`demo`: load the bundled sample business into a fresh home (embedded default) and show it."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

import engine
from chat_ingest.jsonl import ImportSummary, Kind, import_file
from cli.base import JsonFlag, console, err_console, print_json
from cli.output import print_campaign, print_context, print_drafts_side_by_side, print_matches
from cli.report import print_report
from cli.simulate import MONTH, SimulationRates, SimulationSummary, simulate_month
from engine.customers.context import CustomerContext, build_context
from engine.db import Database, insert_ignoring_conflicts
from engine.drafting.arms import ARM_KEY
from engine.drafting.review import DraftRead, approve, list_drafts
from engine.drafting.service import CampaignReport, run_campaign
from engine.drafting.voice import VoiceGuide, set_voice
from engine.email.sender import SenderConfig, SendReport, send_due
from engine.email.transports import SmtpServer, SmtpTransport
from engine.measure.report import FlowReport, flow_report
from engine.models import (
    DRAFT_KINDS,
    PURCHASED,
    REVIEWABLE,
    BlockedCandidate,
    Customer,
    Draft,
    Fact,
    Message,
    Order,
    OrderItem,
    Secret,
)
from engine.settings import Settings
from engine.status import Status, read_status

if TYPE_CHECKING:  # the models and the vector store's clients take seconds to import
    from engine.intents.service import IntentCount
    from engine.search.service import CustomerMatch

SAMPLE_DIR = Path(engine.__file__).parent / "sample"
DEMO_QUERY = "customers whose grinder is broken or noisy"
# The sample business's chats end on 2026-11-19: campaigns run as of the next day, so the demo
# drafts the same emails whatever today's date is.
DEMO_AS_OF = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SAMPLE_FILES: tuple[tuple[Kind, str], ...] = (
    ("customers", "customers.jsonl"),
    ("orders", "orders.jsonl"),
    ("transcripts", "transcripts.jsonl"),
)
# The demo's campaigns hold a fifth of the due customers out and split the rest between the
# personal draft and the generic one, with a fixed arm key so every run splits them the same.
DEMO_HOLDOUT = 0.2
DEMO_ARM_KEY = hashlib.sha256(b"personalize demo arms").hexdigest()
DEMO_REVIEWER = "demo reviewer"
# The demo's stand-in reviewer leaves these kinds waiting: the console's queue has work in it.
LEFT_FOR_REVIEW = frozenset({"win_back"})
# Made up for the sample business (.example domains reach nobody).
DEMO_SENDER = SenderConfig(
    from_address="Kettle & Crumb Coffee Co. <hello@kettleandcrumb.example>",
    reply_to=None,
    business_address="Kettle & Crumb Coffee Co., 214 Roastery Lane, Portland, OR 97214, USA",
    public_url="https://mail.kettleandcrumb.example",
    shop_url="https://shop.kettleandcrumb.example",
    track_clicks=True,
)
DEMO_SEED = 2026
DEMO_RATES = SimulationRates()
SHOWN_HEADERS = ("From", "To", "Subject", "List-Unsubscribe")
SIMULATED_BANNER = "SIMULATED: events and orders below are generated from stated rates, not real"


def demo(
    home: Annotated[
        Path | None,
        typer.Option(help="Where to build the demo (default: PERSONALIZE_HOME/demo, wiped)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Load the bundled sample business into a fresh home and show what it holds."""
    with err_console.status("starting") as spinner:
        result = run_demo(
            home=home or Settings().personalize_home / "demo",
            on_step=lambda text: spinner.update(text),
        )
    if as_json:
        print_json(result.as_dict())
    else:
        print_demo(console, result)


@dataclass
class DemoResult:
    """What the demo loaded and what the store now holds."""

    home: Path
    imports: dict[str, ImportSummary]
    status: Status
    consenting_customers: int
    revenue: dict[str, Decimal]
    top_products: list[tuple[str, int]]
    excerpt: list[tuple[str, str]] = field(default_factory=list)
    processed: int = 0
    intents: list[IntentCount] = field(default_factory=list)
    query: str = DEMO_QUERY
    matches: list[CustomerMatch] = field(default_factory=list)
    facts_by_category: dict[str, int] = field(default_factory=dict)
    blocked_by_reason: dict[str, int] = field(default_factory=dict)
    context: CustomerContext | None = None
    campaigns: list[CampaignReport] = field(default_factory=list)
    queue: dict[str, int] = field(default_factory=dict)
    side_by_side: list[DraftRead] = field(default_factory=list)
    # Closing the loop: approved as a stand-in reviewer, sent to a loopback SMTP server, a
    # simulated month of events and orders, and the flow report over it.
    approved: int = 0
    left_for_review: int = 0
    sending: SendReport | None = None
    received: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    simulation: SimulationSummary | None = None
    report: FlowReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data."""
        return {
            "home": str(self.home),
            "imports": {
                kind: {
                    "imported": s.imported,
                    "duplicates": s.duplicates,
                    "rejected": s.rejected,
                }
                for kind, s in self.imports.items()
            },
            "status": self.status.as_dict(),
            "consenting_customers": self.consenting_customers,
            "revenue": {currency: str(total) for currency, total in self.revenue.items()},
            "top_products": [{"name": n, "units": u} for n, u in self.top_products],
            "excerpt": [{"role": r, "text": t} for r, t in self.excerpt],
            "processed": self.processed,
            "intents": [asdict(i) for i in self.intents],
            "search": {"query": self.query, "customers": [asdict(m) for m in self.matches]},
            "facts_by_category": self.facts_by_category,
            "blocked_by_reason": self.blocked_by_reason,
            "context": self.context.model_dump(mode="json") if self.context else None,
            "campaigns": [
                {
                    "kind": c.kind,
                    "as_of": c.as_of.isoformat(),
                    "due": c.due,
                    "created": c.created,
                    "already_drafted": c.already_drafted,
                    "lost_consent": c.lost_consent,
                    "needs_attention": c.needs_attention,
                    "failed": [vars(f) for f in c.failed],
                    "draft_ids": c.draft_ids,
                    "held_out": c.held_out,
                    "generic": c.generic,
                }
                for c in self.campaigns
            ],
            "review_queue": self.queue,
            "side_by_side": [d.model_dump(mode="json") for d in self.side_by_side],
            "approved": self.approved,
            "left_for_review": self.left_for_review,
            "sending": asdict(self.sending) if self.sending else None,
            "received": {"messages": self.received, "headers": self.headers},
            "simulation": self.simulation.as_dict() if self.simulation else None,
            "report": self.report.as_dict() if self.report else None,
        }


def run_demo(*, home: Path, on_step: Callable[[str], None] | None = None) -> DemoResult:
    """Wipe `home`, load the sample business into it (embedded default), process its
    messages, and summarize: what it holds, its top intents, one search with quotes, the facts
    customers stated and what the gate blocked, and one customer's context."""
    # Imported here: the models and the vector store's clients take seconds to import.
    from engine.intents.service import list_intents
    from engine.runtime import build_services
    from engine.search.service import search_customers

    step = on_step or (lambda _: None)
    if home.exists():
        shutil.rmtree(home)
    # The demo always runs on the embedded default, whatever DATABASE_URL or QDRANT_URL say.
    settings = Settings(personalize_home=home, database_url=None, qdrant_url=None)
    db = Database(settings)
    db.migrate()
    step("loading the encoder and the intent model")
    services = build_services(settings, db=db)
    try:
        step("importing the sample business")
        imports: dict[str, ImportSummary] = {
            kind: import_file(db, path=SAMPLE_DIR / name, kind=kind) for kind, name in SAMPLE_FILES
        }
        step("processing customer messages")
        processed = services.pipeline().run_until_idle()
        with db.read() as session:
            intents = [i for i in list_intents(session) if i.customers]
            intents.sort(key=lambda i: (-i.customers, -i.messages))
            matches = search_customers(
                session,
                query=DEMO_QUERY,
                encoder=services.question_encoder(),
                store=services.store,
                limit=5,
            )
            status = read_status(session)
            consenting = session.scalar(
                select(func.count()).select_from(Customer).where(Customer.marketing_consent)
            )
            revenue = dict(
                session.execute(
                    select(Order.currency, func.sum(Order.total))
                    .where(PURCHASED)
                    .group_by(Order.currency)
                ).all()
            )
            units = func.sum(OrderItem.quantity)
            top = session.execute(
                select(OrderItem.name, units)
                .join(Order, Order.id == OrderItem.order_id)
                .where(PURCHASED, OrderItem.is_product.is_(True))
                .group_by(OrderItem.name)
                .order_by(units.desc())
                .limit(5)
            ).all()
            # The conversation behind the top answer, to show a quote in its chat.
            shown = (
                matches[0].evidence[0].conversation_id
                if matches and matches[0].evidence
                else session.scalar(select(Message.conversation_id).limit(1))
            )
            excerpt = session.execute(
                select(Message.role, Message.text)
                .where(Message.conversation_id == shown)
                .order_by(Message.sent_at, Message.id)
                .limit(6)
            ).all()
            facts_by_category = dict(
                session.execute(
                    select(Fact.category, func.count(Fact.id)).group_by(Fact.category)
                ).all()
            )
            blocked = dict(
                session.execute(
                    select(BlockedCandidate.reason, func.sum(BlockedCandidate.count)).group_by(
                        BlockedCandidate.reason
                    )
                ).all()
            )
            # The customer who said most about themselves, to show a whole context.
            talkative = session.scalar(
                select(Fact.customer_id)
                .group_by(Fact.customer_id)
                .order_by(func.count(Fact.id).desc(), Fact.customer_id)
                .limit(1)
            )
            context = build_context(session, customer_id=talkative) if talkative else None
        step("drafting welcome, post-purchase and win-back emails")
        campaigns, queue, side_by_side = _draft_campaigns(db, settings)
        step("approving, sending to a loopback SMTP server, simulating a month")
        loop = _close_the_loop(db, settings)
    finally:
        services.close()
    return DemoResult(
        home=home,
        imports=imports,
        status=status,
        consenting_customers=int(consenting or 0),
        revenue={c: Decimal(t) for c, t in revenue.items()},
        top_products=[(name, int(n)) for name, n in top],
        excerpt=list(excerpt),
        processed=processed,
        intents=intents,
        matches=matches,
        facts_by_category={k: int(v) for k, v in sorted(facts_by_category.items())},
        blocked_by_reason={k: int(v) for k, v in sorted(blocked.items())},
        context=context,
        campaigns=campaigns,
        queue=queue,
        side_by_side=side_by_side,
        **loop,
    )


def _draft_campaigns(
    db: Database, settings: Settings
) -> tuple[list[CampaignReport], dict[str, int], list[DraftRead]]:
    """Set the sample voice guide, run the three campaigns, and pick two drafts to compare:
    the two that rest on most of what customers said, of two kinds if there are."""
    from engine.runtime import build_drafter

    guide = VoiceGuide.model_validate(
        json.loads((SAMPLE_DIR / "voice.json").read_text(encoding="utf-8"))
    )
    with db.write() as session:
        set_voice(session, guide=guide, actor="demo")
        insert_ignoring_conflicts(
            session, Secret, {"name": ARM_KEY, "value": DEMO_ARM_KEY}, key=["name"]
        )
    drafter = build_drafter(settings)
    campaigns = [
        run_campaign(
            db,
            drafter=drafter,
            kind=kind,
            as_of=DEMO_AS_OF,
            actor="demo",
            holdout=DEMO_HOLDOUT,
            ab=True,
        )
        for kind in DRAFT_KINDS
    ]
    with db.read() as session:
        drafts = list_drafts(session, statuses=REVIEWABLE, limit=1000)
    queue: dict[str, int] = {}
    for d in drafts:
        queue[d.kind] = queue.get(d.kind, 0) + 1
    ranked = sorted(drafts, key=lambda d: (-sum(len(e.facts) for e in d.evidence), d.id))
    shown = ranked[:1]
    for d in ranked[1:]:
        if shown and d.kind != shown[0].kind and d.customer_id != shown[0].customer_id:
            shown.append(d)
            break
    if len(shown) < 2 and len(ranked) > 1:
        shown = ranked[:2]
    return campaigns, queue, shown


@dataclass
class _Inbox:
    """What the demo's SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (aiosmtpd's handler hook)."""
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        if isinstance(parsed, EmailMessage):
            self.messages.append(parsed)
        return "250 OK"


@contextmanager
def loopback_smtp() -> Iterator[tuple[_Inbox, int]]:
    """An SMTP server on a free loopback port that keeps what it is sent (and relays nothing)."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _close_the_loop(db: Database, settings: Settings) -> dict[str, Any]:
    """Approve the welcome and post-purchase drafts without problems (as a stand-in for a
    person), send them with the real sender to a loopback SMTP server, simulate a month after
    them, and report. The win-back drafts stay in the queue, for a person to try the console on."""
    with db.write() as session:
        waiting = session.execute(
            select(Draft.id, Draft.kind, Draft.problems)
            .where(Draft.status.in_(REVIEWABLE))
            .order_by(Draft.id)
        ).all()
        clean = [
            draft_id
            for draft_id, kind, problems in waiting
            if not problems and kind not in LEFT_FOR_REVIEW
        ]
        for draft_id in clean:
            approve(session, draft_id=draft_id, actor=DEMO_REVIEWER)
    with loopback_smtp() as (inbox, port):
        transport = SmtpTransport(
            SmtpServer(
                host="127.0.0.1", port=port, username=None, password=None, implicit_tls=False
            ),
            timeout=10,
        )
        try:
            sending = send_due(db, transport=transport, config=DEMO_SENDER)
        finally:
            transport.close()
        received = list(inbox.messages)
    headers = {name: str(received[0][name]) for name in SHOWN_HEADERS} if received else {}
    simulation = simulate_month(db, seed=DEMO_SEED, start=DEMO_AS_OF, rates=DEMO_RATES)
    with db.write() as session:
        report = flow_report(
            session,
            since=None,
            until=None,
            click_days=settings.attribution_click_days,
            delivered_days=settings.attribution_delivered_days,
            now=DEMO_AS_OF + MONTH,
        )
    return {
        "approved": len(clean),
        "left_for_review": len(waiting) - len(clean),
        "sending": sending,
        "received": len(received),
        "headers": headers,
        "simulation": simulation,
        "report": report,
    }


def _print_loop(console: Console, result: DemoResult) -> None:
    """Approval, sending, the simulated month and the flow report."""
    console.print(
        f"\n[bold]Approved {result.approved} drafts[/] as [cyan]{DEMO_REVIEWER}[/]: the demo "
        "approves the welcome and post-purchase drafts without problems as a stand-in for a "
        "person, who would read each one first; it leaves the win-back drafts "
        f"({result.left_for_review} in all) for you to review in the console."
    )
    sending = result.sending
    if sending is not None:
        console.print(
            f"[bold]Sent {sending.sent} emails[/] with the real sender to an SMTP server the demo "
            f"runs on 127.0.0.1 (it relays nothing); it received {result.received}"
            + (f", {sending.failed} failed" if sending.failed else "")
            + (f", {sending.withdrawn} withdrawn" if sending.withdrawn else "")
            + "."
        )
    if result.headers:
        console.print("One of them as it arrived:")
        for name, value in result.headers.items():
            console.print(f"  [cyan]{name}[/]: {escape(value)}", highlight=False)
    simulation = result.simulation
    if simulation is None or result.report is None:
        return
    console.rule(f"[bold yellow]{SIMULATED_BANNER}")
    console.print(
        f"[yellow]SIMULATED[/] a month from {simulation.start:%Y-%m-%d} (seed {simulation.seed}) "
        f"at these rates: {simulation.rates.describe()}.",
        highlight=False,
    )
    revenue = ", ".join(f"{total:,.2f} {cur}" for cur, total in simulation.revenue.items())
    console.print(
        f"[yellow]SIMULATED[/] outcome: of {simulation.sends} emails {simulation.delivered} "
        f"delivered, {simulation.hard_bounced} hard and {simulation.soft_bounced} soft bounces, "
        f"{simulation.opened} opened, {simulation.clicked} clicked, {simulation.unsubscribed} "
        f"unsubscribed, {simulation.complained} complaints; {simulation.held_out} held out; "
        f'{simulation.orders} orders ({revenue or "no revenue"}, source "simulated"); '
        f"{simulation.suppressed} addresses suppressed by list hygiene.",
        highlight=False,
    )
    console.print(
        f"[bold]The flow report[/] (simulated: {result.report.simulated}); with a sample this "
        'small, expect "need more data": that is the honest answer.'
    )
    print_report(result.report)


def print_demo(console: Console, result: DemoResult) -> None:
    """Print the demo's summary for a person."""
    console.rule("[bold]Kettle & Crumb Coffee Co.: the bundled sample business")
    loaded = Table("file", "imported", "duplicates", "rejected", title="Loaded")
    for kind, summary in result.imports.items():
        loaded.add_row(kind, str(summary.imported), str(summary.duplicates), str(summary.rejected))
    console.print(loaded)
    status = result.status
    console.print(
        f"{status.customers} customers ({result.consenting_customers} with marketing consent), "
        f"{status.conversations} conversations, {status.messages} messages "
        f"({status.customer_messages} from customers), {status.orders} orders, "
        f"{status.products} products."
    )
    console.print(
        "Revenue: " + ", ".join(f"{total:,.2f} {cur}" for cur, total in result.revenue.items())
    )
    products = Table("product", "units sold", title="Top products")
    for name, units in result.top_products:
        products.add_row(name, str(units))
    console.print(products)
    console.print(
        f"\nProcessed {result.processed} customer messages (agent and bot turns are never "
        "embedded): PII redacted, split into sentences, embedded, indexed, intents found."
    )
    intents = Table("intent", "customers", "messages", title="Top intents")
    for intent in result.intents[:8]:
        intents.add_row(intent.name, str(intent.customers), str(intent.messages))
    console.print(intents)
    print_matches(console, result.query, result.matches)
    console.print("[bold]The chat behind the top answer (bot, agent and customer turns):[/]")
    for role, text in result.excerpt:
        console.print(f"  [cyan]{role:>8}[/]: {text}", highlight=False)
    kept = ", ".join(f"{category} {n}" for category, n in result.facts_by_category.items())
    blocked = ", ".join(f"{reason} {n}" for reason, n in result.blocked_by_reason.items())
    console.print(
        f"\n[bold]What customers said about themselves[/] (kept: {kept}).\n"
        f"Blocked by the surveillance gate, counted but never stored: {blocked}."
    )
    if result.context is not None:
        console.print("[bold]One customer's context, all a draft may be written from:[/]")
        print_context(console, result.context)
    console.print(
        f"\n[bold]Drafts[/], as of {DEMO_AS_OF:%Y-%m-%d} (voice guide: engine/sample/voice.json):"
    )
    for campaign in result.as_dict()["campaigns"]:
        print_campaign(console, campaign)
    held = sum(c.held_out for c in result.campaigns)
    generic = sum(c.generic for c in result.campaigns)
    console.print(
        f"The campaigns ran with a {DEMO_HOLDOUT:.0%} holdout and an A/B split: {held} customers "
        f"held out (no email, counted to compare), {generic} of the drafts the generic version "
        "of their step (nothing personal), the rest personal."
    )
    waiting = ", ".join(f"{kind} {n}" for kind, n in sorted(result.queue.items()))
    console.print(f"In the review queue: {waiting or 'nothing'}.")
    if result.side_by_side:
        console.print("[bold]Two of them side by side, with the customers' words they rest on:[/]")
        print_drafts_side_by_side(console, result.side_by_side)
    _print_loop(console, result)
    console.print(
        f"\nThe demo's data is in {result.home}; explore it with "
        f'`PERSONALIZE_HOME={result.home} personalize search "..."`, '
        f"`PERSONALIZE_HOME={result.home} personalize review list` or "
        f"`PERSONALIZE_HOME={result.home} personalize report`."
    )
    console.print(
        "Or in the browser, the console: "
        f"`PERSONALIZE_HOME={result.home} personalize users create you@example.com --role admin`, "
        f"then `PERSONALIZE_HOME={result.home} personalize serve` and open "
        "http://127.0.0.1:8000/app"
    )
