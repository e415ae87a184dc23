"""The flow report: per campaign step and arm, who got the email, what they did, what they
bought, and whether the personal email beat the generic one and beat sending nothing.

Entries count by when they entered the step (`since` inclusive, `until` exclusive). An emailed
arm's recipients are the entries whose email was sent; a held-out entry is a recipient of
nothing and counts as it is. Conversion is the same measure for every arm, so arms compare
fairly: the recipients with a purchase placed within the click window after they entered the
step, whatever email (if any) they touched. Attributed orders follow the attribution rule
(engine.measure.attribution), which the report states with its windows."""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from engine.measure.attribution import attribute_orders, rule_text
from engine.measure.stats import Lift, mean_lift, rate_lift
from engine.models import (
    ARMS,
    PURCHASED,
    SIMULATED_SOURCE,
    Arm,
    Attribution,
    EmailEvent,
    EmailSend,
    FlowEntry,
    Order,
    utcnow,
)

AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])
# The email events that count once per recipient (a person's clicks only).
_COUNTED = ("delivered", "clicked", "unsubscribed", "complained", "bounced")


class AttributionRule(BaseModel):
    """How orders are credited to emails."""

    rule: str
    click_days: int
    delivered_days: int
    conversion: str


class ArmRow(BaseModel):
    """One arm of one step: counts, money and rates (a rate is null with no recipients, and
    the email rates are null for the held-out arm, which got none)."""

    arm: Arm
    entries: int
    recipients: int
    delivered: int
    clicks: int
    orders_attributed: int
    converted: int
    conversion: float | None
    revenue: Decimal
    revenue_per_recipient: float | None
    unsubscribe_rate: float | None
    complaint_rate: float | None
    bounce_rate: float | None


class LiftRow(BaseModel):
    """The personal arm's lift over another arm on one metric, with its 95% interval; the
    verdict stays "need more data" while the interval spans zero."""

    metric: Literal["conversion", "revenue_per_recipient"]
    versus: Arm
    difference: float
    low: float | None
    high: float | None
    verdict: Literal["better", "worse", "need more data"]


class FlowRow(BaseModel):
    """One step of one campaign: its arms and the personal arm's lifts."""

    kind: str
    step: str
    arms: list[ArmRow]
    lifts: list[LiftRow]


class FlowReport(BaseModel):
    """The flow report over entries entered in [since, until)."""

    since: datetime | None
    until: datetime | None
    generated_at: datetime
    attribution: AttributionRule
    # True when any counted email event or purchase was simulated (not real mail or money).
    simulated: bool
    newly_attributed: int
    flows: list[FlowRow]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return self.model_dump(mode="json")


@dataclass
class _Entry:
    customer_id: str
    kind: str
    step: str
    arm: Arm
    draft_id: int | None
    entered_at: datetime
    recipient: bool
    events: set[str] = field(default_factory=set)
    # What the customer spent on purchases in the conversion window; None: no purchase.
    spent: Decimal | None = None


def _in_window(query: AnySelect, since: datetime | None, until: datetime | None) -> AnySelect:
    if since is not None:
        query = query.where(FlowEntry.entered_at >= since)
    if until is not None:
        query = query.where(FlowEntry.entered_at < until)
    return query


def flow_report(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    click_days: int,
    delivered_days: int,
    now: datetime | None = None,
) -> FlowReport:
    """Attribute the orders not attributed yet, then report every step and arm of the entries
    entered in [since, until)."""
    now = now or utcnow()
    added = attribute_orders(session, click_days=click_days, delivered_days=delivered_days, now=now)
    entries = _entries(session, since, until)
    simulated = False
    flows: list[FlowRow] = []
    if entries:
        drafts = _in_window(
            select(FlowEntry.draft_id).where(FlowEntry.draft_id.is_not(None)), since, until
        )
        simulated = _events(session, entries, drafts)
        attributed: dict[int, int] = {
            draft_id: count
            for draft_id, count in session.execute(
                select(Attribution.draft_id, func.count())
                .where(Attribution.draft_id.in_(drafts))
                .group_by(Attribution.draft_id)
            )
        }
        simulated = (
            _spend(session, entries, since, until, window=timedelta(days=click_days)) or simulated
        )
        flows = _flows(entries, attributed)
    return FlowReport(
        since=since,
        until=until,
        generated_at=now,
        attribution=_rule(click_days, delivered_days),
        simulated=simulated,
        newly_attributed=added,
        flows=flows,
    )


def _entries(session: Session, since: datetime | None, until: datetime | None) -> list[_Entry]:
    """The entries in the window, each with whether its email was sent (an emailed arm counts
    only those)."""
    rows = session.execute(
        _in_window(
            select(
                FlowEntry.customer_id,
                FlowEntry.kind,
                FlowEntry.step,
                FlowEntry.arm,
                FlowEntry.draft_id,
                FlowEntry.entered_at,
                EmailSend.state,
            ).outerjoin(EmailSend, EmailSend.draft_id == FlowEntry.draft_id),
            since,
            until,
        )
    )
    entries = []
    for customer_id, kind, step, arm, draft_id, entered_at, state in rows:
        recipient = arm == "holdout" or state == "sent"
        entries.append(_Entry(customer_id, kind, step, arm, draft_id, entered_at, recipient))
    return entries


def _events(session: Session, entries: list[_Entry], drafts: Select[Any]) -> bool:
    """Note on each recipient which events its email had (once each; a machine's click is no
    click); whether any of them was simulated."""
    by_draft = {e.draft_id: e for e in entries if e.draft_id is not None and e.recipient}
    simulated = False
    for draft_id, event, sim in session.execute(
        select(
            EmailEvent.draft_id,
            EmailEvent.event,
            func.max(case((EmailEvent.simulated, 1), else_=0)),
        )
        .where(
            EmailEvent.draft_id.in_(drafts),
            EmailEvent.event.in_(_COUNTED),
            (EmailEvent.event != "clicked") | EmailEvent.machine.is_(False),
        )
        .group_by(EmailEvent.draft_id, EmailEvent.event)
    ):
        entry = by_draft.get(draft_id)
        if entry is not None:
            entry.events.add(event)
            simulated = simulated or bool(sim)
    return simulated


def _spend(
    session: Session,
    entries: list[_Entry],
    since: datetime | None,
    until: datetime | None,
    *,
    window: timedelta,
) -> bool:
    """Note on each recipient what they spent on purchases placed within `window` after they
    entered the step (None: no purchase), from one read of the purchases that could count;
    whether any purchase counted was simulated."""
    customers = _in_window(select(FlowEntry.customer_id), since, until)
    query = select(Order.customer_id, Order.placed_at, Order.total, Order.source).where(
        PURCHASED, Order.customer_id.in_(customers)
    )
    if since is not None:
        query = query.where(Order.placed_at >= since)
    if until is not None:
        query = query.where(Order.placed_at <= until + window)
    purchases: dict[str, list[tuple[datetime, Decimal, bool]]] = defaultdict(list)
    for customer_id, placed_at, total, source in session.execute(query.order_by(Order.placed_at)):
        if customer_id is None:  # excluded by the query; says so to the type checker
            continue
        purchases[customer_id].append((placed_at, Decimal(total), source == SIMULATED_SOURCE))
    simulated = False
    for entry in entries:
        bought = purchases.get(entry.customer_id)
        if not entry.recipient or not bought:
            continue
        times = [t for t, _, _ in bought]
        start = bisect_left(times, entry.entered_at)
        end = bisect_right(times, entry.entered_at + window)
        if end > start:
            entry.spent = sum((total for _, total, _ in bought[start:end]), Decimal(0))
            simulated = simulated or any(sim for _, _, sim in bought[start:end])
    return simulated


def _flows(entries: list[_Entry], attributed: dict[int, int]) -> list[FlowRow]:
    """The rows per step and arm, and the personal arm's lifts over the others."""
    groups: dict[tuple[str, str], dict[Arm, list[_Entry]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        groups[entry.kind, entry.step][entry.arm].append(entry)
    flows = []
    for (kind, step), arms in sorted(groups.items()):
        arm_rows = {arm: _arm_row(arm, arms[arm], attributed) for arm in ARMS if arm in arms}
        lifts = []
        personal = arm_rows.get("personal")
        for versus in ("generic", "holdout"):
            other = arm_rows.get(versus)
            if personal is None or other is None:
                continue
            conversion = rate_lift(
                personal.converted, personal.recipients, other.converted, other.recipients
            )
            # Revenue per recipient, zeros included, for the Welch interval.
            revenue = mean_lift(_spends(arms["personal"]), _spends(arms[versus]))
            lifts.append(_lift("conversion", versus, conversion))
            lifts.append(_lift("revenue_per_recipient", versus, revenue))
        flows.append(FlowRow(kind=kind, step=step, arms=list(arm_rows.values()), lifts=lifts))
    return flows


def _spends(members: list[_Entry]) -> list[float]:
    return [float(e.spent or 0) for e in members if e.recipient]


def _arm_row(arm: Arm, members: list[_Entry], attributed: dict[int, int]) -> ArmRow:
    """The counts, money and rates of one arm of one step."""
    recipients = [e for e in members if e.recipient]
    n = len(recipients)
    converted = sum(1 for e in recipients if e.spent is not None)
    revenue = sum((e.spent for e in recipients if e.spent is not None), Decimal(0))

    def count(event: str) -> int:
        return sum(1 for e in recipients if event in e.events)

    def rate(k: int) -> float | None:
        return None if n == 0 or arm == "holdout" else k / n

    return ArmRow(
        arm=arm,
        entries=len(members),
        recipients=n,
        delivered=count("delivered"),
        clicks=count("clicked"),
        orders_attributed=sum(
            attributed.get(e.draft_id, 0) for e in recipients if e.draft_id is not None
        ),
        converted=converted,
        conversion=None if n == 0 else converted / n,
        revenue=revenue,
        revenue_per_recipient=None if n == 0 else float(revenue) / n,
        unsubscribe_rate=rate(count("unsubscribed")),
        complaint_rate=rate(count("complained")),
        bounce_rate=rate(count("bounced")),
    )


def _lift(
    metric: Literal["conversion", "revenue_per_recipient"], versus: Arm, lift: Lift
) -> LiftRow:
    return LiftRow(
        metric=metric,
        versus=versus,
        difference=lift.difference,
        low=lift.low,
        high=lift.high,
        verdict=lift.verdict,
    )


def _rule(click_days: int, delivered_days: int) -> AttributionRule:
    return AttributionRule(
        rule=rule_text(click_days=click_days, delivered_days=delivered_days),
        click_days=click_days,
        delivered_days=delivered_days,
        conversion=(
            f"recipients with a purchase within {click_days} days after entering the step "
            "(the same measure for every arm)"
        ),
    )
