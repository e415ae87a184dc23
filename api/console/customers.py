"""Console pages: "Customers asking about…" (who said what, in their own words) and one
customer's page (their gated context, drafts, unsubscribe, and, for admins, forgetting them)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.auth import AdminDep, FormDep, Refused, Viewer, ViewerDep
from api.console.pages import render
from api.console.words import STATUS_LABELS
from api.deps import DatabaseDep, ServicesDep, SettingsDep, wake_outbox

# Importing the API's customer routes registers the `customer_id` path convertor (ids may hold
# "/", sent as %2F): the console matches and validates ids exactly as the API does.
from api.routes.customers import CustomerIdPath
from engine.customers.consent import unsubscribe
from engine.customers.context import CustomerContext, build_context
from engine.customers.erasure import ErasureRead, forget_customer, get_erasure
from engine.db import Database
from engine.drafting.review import DraftRead, list_drafts
from engine.errors import NotFoundError
from engine.models import time_out_of_range
from engine.search.service import CustomerMatch, refusal, search_customers

router = APIRouter(prefix="/app")

# Questions the sample coffee shop's chats answer, offered on an empty search page.
EXAMPLES = ("grinder noise", "low acid coffee", "wholesale for a cafe")
# How many drafts the customer page lists (a customer rarely has more than a handful).
DRAFTS_SHOWN = 50
CONFIRM_FIELD = "confirm_id"

# Why the gate left a candidate fact out, as a shop owner would say it.
BLOCKED_WORDS = {
    "sensitive": "about a sensitive subject (health, religion, money trouble and the like)",
    "pii": "contact or payment details",
    "third_party": "about someone else",
    "question": "asked as a question",
    "hypothetical": "said as an “if”, not as a fact",
    "negated": "said in the negative",
    "agent_stated": "said by an agent, not the customer",
    "bot_stated": "said by the chat bot, not the customer",
    "inferred_by_agent": "an agent's guess",
}
LIFECYCLE_WORDS = {
    "new_subscriber": "New subscriber (no order yet)",
    "new_customer": "New customer (one order so far)",
    "repeat": "Repeat customer",
    "vip": "VIP (ten orders or more)",
    "dormant": "Dormant (no order in the last 90 days)",
}
FREQUENCY_WORDS = {
    "none": "no orders",
    "first_time": "one order",
    "repeat": "2 or 3 orders",
    "frequent": "4 to 9 orders",
    "vip": "10 orders or more",
}
MONETARY_WORDS = {
    "low": "in the lowest third of spenders",
    "mid": "in the middle third of spenders",
    "high": "in the top third of spenders",
}
SUPPRESSION_WORDS = {
    "hard_bounce": "the address bounced",
    "soft_bounces": "the address kept bouncing",
}
# Erasure audit counts in plain words, in the order a person would read them.
REMOVED_WORDS = {
    "customers": "customer record",
    "conversations": "chat",
    "messages": "chat message",
    "facts": "fact",
    "blocked_candidates": "count of unused statements",
    "message_intents": "intent",
    "orders": "order",
    "order_items": "order line",
    "drafts": "draft",
    "draft_events": "review history entry",
    "webhook_deliveries": "webhook delivery",
    "email_sends": "email sent",
    "email_events": "email event",
    "attributions": "order credited to an email",
    "flow_entries": "flow entry",
    "customer_merges": "merged profile",
    "vectors": "search index entry",
}


# Small helpers the templates call (the template environment is shared: no filters of ours).
def customer_href(customer_id: str) -> str:
    """The customer's console page; the id is encoded whole (it may hold "/")."""
    return f"/app/customers/{quote(customer_id, safe='')}"


def conversation_href(conversation_id: str, message_id: str) -> str:
    """The chat a quote was said in, with that message highlighted."""
    query = urlencode({"highlight": message_id})
    return f"/app/conversations/{quote(conversation_id, safe='')}?{query}"


def day(moment: datetime | None) -> str:
    """A date as people write it: 12 Jun 2026."""
    return f"{moment.day} {moment:%b %Y}" if moment else "—"


def day_and_time(moment: datetime | None) -> str:
    """A date and time in UTC: 12 Jun 2026, 14:05 UTC."""
    if moment is None:
        return "—"
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{day(moment)}, {moment:%H:%M} UTC"


def words(name: str) -> str:
    """A stored name (`grinder_issue`) as words (grinder issue)."""
    return name.replace("_", " ")


def plural(count: int, noun: str) -> str:
    """`1 fact`, `3 facts` (nouns ending in "y" after a consonant take "ies")."""
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{count} {noun[:-1]}ies"
    return f"{count} {noun}s"


def money(amount: Decimal, currency: str) -> str:
    """An amount with its currency: 42.50 USD."""
    return f"{amount:,.2f} {currency}"


def match_strength(score: float) -> str:
    """A search score in plain words (RELEVANCE_THRESHOLD, 0.26, is any match at all)."""
    if score >= 0.5:
        return "Strong match"
    if score >= 0.4:
        return "Good match"
    return "Possible match"


def bar_width(score: float) -> int:
    """The score as a bar's width in percent: the threshold at the left, 0.7 at the right."""
    return max(5, min(100, round((score - 0.25) / 0.45 * 100)))


def blocked_summary(blocked: dict[str, int]) -> str:
    """Blocked candidates by reason, largest first: "2 about a sensitive subject, 1 ..."."""
    ranked = sorted(blocked.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(
        f"{count} {BLOCKED_WORDS.get(reason, words(reason))}" for reason, count in ranked
    )


def removed_summary(removed: dict[str, int]) -> str:
    """What an erasure removed, in plain words."""
    order = list(REMOVED_WORDS)
    ranked = sorted(
        ((t, n) for t, n in removed.items() if n),
        key=lambda item: order.index(item[0]) if item[0] in order else len(order),
    )
    return ", ".join(plural(n, REMOVED_WORDS.get(t, words(t))) for t, n in ranked)


# Any: they travel to render() as keyword arguments beside its typed ones.
HELPERS: dict[str, Any] = {
    "customer_href": customer_href,
    "conversation_href": conversation_href,
    "day": day,
    "day_and_time": day_and_time,
    "words": words,
    "plural": plural,
    "money": money,
    "match_strength": match_strength,
    "bar_width": bar_width,
}


@dataclass(frozen=True)
class DateFilter:
    """The dates typed into "Said since" / "Said until", as the search's time window."""

    since: datetime | None = None
    # Exclusive: the day after "Said until", so the whole of that day is searched.
    until: datetime | None = None
    error: str | None = None


def _one_date(typed: str, label: str) -> tuple[datetime | None, str | None]:
    """A typed YYYY-MM-DD as midnight UTC, or why it cannot be one."""
    if not typed.strip():
        return None, None
    try:
        moment = datetime.combine(date.fromisoformat(typed.strip()), time(), tzinfo=UTC)
    except ValueError:
        return None, f"“{label}” is not a date: write it as YYYY-MM-DD, e.g. 2026-06-01."
    if time_out_of_range(moment) or time_out_of_range(moment + timedelta(days=1)):
        return None, f"“{label}” must be a date between the years 1900 and 2999."
    return moment, None


def parse_dates(since: str, until: str) -> DateFilter:
    """The search window from the typed dates; an error to show if they make no sense."""
    start, problem = _one_date(since, "Said since")
    end, problem_end = _one_date(until, "Said until")
    if problem or problem_end:
        return DateFilter(error=problem or problem_end)
    if start and end and end < start:
        return DateFilter(error="“Said until” is before “Said since”: nobody can match that.")
    return DateFilter(since=start, until=end + timedelta(days=1) if end else None)


def _erasure(db: Database, erased: str) -> ErasureRead | None:
    """The audit row a just-finished erasure points the search page to."""
    if not erased.isdigit() or len(erased) > 12:
        return None
    with db.read() as session:
        return get_erasure(session, erasure_id=int(erased))


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=1000)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    erased: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """Customers asking about a question, grouped by customer with their quotes."""
    question = q.replace("\x00", "").strip()
    dates = parse_dates(since, until)
    refused = refusal(question) if question else None
    matches: list[CustomerMatch] = []
    phrasings: list[str] = []
    if question and dates.error is None and refused is None:
        if services.rewriter is not None:
            phrasings = services.rewriter.rewrite(question)
        with services.db.read() as session:
            matches = search_customers(
                session,
                query=question,
                encoder=services.question_encoder(),
                store=services.store,
                since=dates.since,
                until=dates.until,
                phrasings=phrasings,
            )
    erasure = _erasure(services.db, erased) if erased else None
    return render(
        request,
        "search.html",
        viewer=viewer,
        title=f"Customers asking about “{question}”" if question else "Customers asking about",
        q=question,
        since=since,
        until=until,
        date_error=dates.error,
        refused=refused,
        matches=matches,
        phrasings=phrasings,
        examples=[(example, f"/app/search?{urlencode({'q': example})}") for example in EXAMPLES],
        erasure=erasure,
        removed=removed_summary(erasure.removed) if erasure else "",
        **HELPERS,
    )


def _customer_page(
    request: Request,
    viewer: Viewer,
    db: Database,
    customer_id: str,
    *,
    status_code: int = 200,
    **extra: object,
) -> HTMLResponse:
    """The customer's page: context, drafts and what may be done to them."""
    with db.read() as session:
        try:
            context: CustomerContext = build_context(session, customer_id=customer_id)
        except NotFoundError:
            raise Refused(
                404, "There is no customer with this id (they may have been forgotten)."
            ) from None
        drafts: list[DraftRead] = list_drafts(session, customer_id=customer_id, limit=DRAFTS_SHOWN)
    name = context.first_name or "Customer without a name"
    return render(
        request,
        "customer.html",
        viewer=viewer,
        title=f"{name} ({customer_id})",
        name=name,
        c=context,
        # Newest first: the drafts a person is likely to look for.
        drafts=list(reversed(drafts)),
        drafts_capped=len(drafts) == DRAFTS_SHOWN,
        href=customer_href(customer_id),
        confirm_field=CONFIRM_FIELD,
        blocked=blocked_summary(context.blocked),
        blocked_total=sum(context.blocked.values()),
        lifecycle=LIFECYCLE_WORDS.get(context.lifecycle, words(context.lifecycle)),
        frequency=FREQUENCY_WORDS.get(context.rfm.frequency, words(context.rfm.frequency)),
        monetary=MONETARY_WORDS.get(context.rfm.monetary or "", ""),
        suppression=SUPPRESSION_WORDS.get(context.consent.suppression_reason or "", ""),
        status_words=STATUS_LABELS,
        status_code=status_code,
        **HELPERS,
        **extra,
    )


@router.get(
    "/customers/{customer_id:customer_id}", response_class=HTMLResponse, include_in_schema=False
)
def customer_page(
    request: Request,
    customer_id: CustomerIdPath,
    viewer: ViewerDep,
    db: DatabaseDep,
    withdrawn: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> HTMLResponse:
    """Everything the engine may use about one customer, and their drafts."""
    return _customer_page(request, viewer, db, customer_id, withdrawn=withdrawn)


@router.post("/customers/{customer_id:customer_id}/unsubscribe", include_in_schema=False)
def unsubscribe_customer(
    customer_id: CustomerIdPath, viewer: ViewerDep, _: FormDep, db: DatabaseDep
) -> RedirectResponse:
    """Withdraw the customer's marketing consent, and their drafts waiting for review."""
    with db.write() as session:
        try:
            withdrawn = unsubscribe(session, customer_id=customer_id, actor=viewer.actor)
        except NotFoundError:
            raise Refused(404, "There is no customer with this id.") from None
    # After a POST, a redirect: reloading the page then does not post again.
    return RedirectResponse(
        f"{customer_href(customer_id)}?{urlencode({'withdrawn': withdrawn})}", status_code=303
    )


@router.post("/customers/{customer_id:customer_id}/forget", include_in_schema=False)
def forget(
    request: Request,
    customer_id: CustomerIdPath,
    viewer: AdminDep,
    form: FormDep,
    services: ServicesDep,
    settings: SettingsDep,
) -> Response:
    """Erase the customer everywhere, once an admin has typed their id exactly."""
    typed = form.get(CONFIRM_FIELD)
    if not isinstance(typed, str) or typed != customer_id:
        return _customer_page(
            request,
            viewer,
            services.db,
            customer_id,
            status_code=422,
            forget_error=(
                "The id you typed does not match this customer's id exactly, so nothing was "
                "erased. Type it again, character for character."
            ),
        )
    try:
        report = forget_customer(
            db=services.db,
            store=services.store,
            customer_id=customer_id,
            actor=f"{viewer.actor} (console)",
            webhook_url=settings.review_webhook_url,
        )
    except NotFoundError:
        raise Refused(404, "There is no customer with this id: nothing to forget.") from None
    if report.notified_drafts:
        wake_outbox(request)
    # The confirmation reads the erasure's audit row, which names nobody: the erased id never
    # goes into a URL (browser history, access logs).
    return RedirectResponse(
        f"/app/search?{urlencode({'erased': report.audit_id})}", status_code=303
    )
