"""Drafting as a service: for each customer due (or one asked for), build the gated context,
draft, run the grounding check (a model's failed draft gets one retry with the failures as
feedback), and store the draft for review, with the webhook push queued in the same
transaction."""

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.customers.context import CustomerContext, build_context, monetary_cuts
from engine.customers.lifecycle import SEQUENCES, Due, consenting, due_customers, step_on
from engine.db import Database, in_chunks, insert_ignoring
from engine.drafting.arms import arm_key, assign_arm
from engine.drafting.base import (
    Catalog,
    CatalogProduct,
    DraftContent,
    Drafter,
    DraftFailed,
    DraftingError,
    DraftRequest,
)
from engine.drafting.grounding import Problem, check_draft
from engine.drafting.review import (
    DraftDetail,
    check_edit,
    draft_customer,
    edit,
    evidence_for,
    get_draft,
    to_read,
)
from engine.drafting.voice import StoredVoiceGuide, current_voice
from engine.errors import ConflictError, InvalidInput, NotFoundError
from engine.models import (
    Arm,
    BlockedCandidate,
    Customer,
    Draft,
    DraftEvent,
    DraftKind,
    FlowEntry,
    Message,
    Product,
    utcnow,
)
from engine.outbox import DRAFT_CREATED, enqueue

log = logging.getLogger(__name__)

# The suffix of a generic-arm draft's template: the step's copy with nothing personal.
GENERIC = "/generic"
# Customers drafted per round trip: contexts read in one session, drafts written in one
# transaction (and, for a model, one Message Batch when the round is big enough).
CHUNK = 200


@dataclass
class FailedDraft:
    """A customer the drafter could not write for; the next run tries again."""

    customer_id: str
    step: str
    error: str


@dataclass
class CampaignReport:
    """What a campaign run did."""

    kind: DraftKind
    as_of: datetime
    due: int = 0
    created: int = 0
    # Due when the run started, but drafted by a concurrent run first.
    already_drafted: int = 0
    # Due when the run started, but unsubscribed (or erased) before the draft was stored.
    lost_consent: int = 0
    needs_attention: int = 0
    failed: list[FailedDraft] = field(default_factory=list)
    draft_ids: list[int] = field(default_factory=list)
    # Customers held out of this run (an entry, no email), and generic-arm drafts created.
    held_out: int = 0
    generic: int = 0


class NoConsentError(ConflictError):
    """The customer may not get marketing email."""

    code = "no_consent"


def load_catalog(session: Session) -> Catalog:
    """Every product the business sells, as learned from its orders."""
    return Catalog(
        tuple(
            CatalogProduct(sku=sku, name=name, category=category)
            for sku, name, category in session.execute(
                select(Product.sku, Product.name, Product.category).order_by(Product.sku)
            )
        )
    )


def blocked_texts(session: Session, *, customer_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per customer, the (redacted) messages in which the gate blocked something."""
    texts: dict[str, list[str]] = {}
    for chunk in in_chunks(customer_ids):
        rows = session.execute(
            select(Message.customer_id, Message.redacted_text)
            .where(
                Message.id.in_(
                    select(BlockedCandidate.message_id).where(
                        BlockedCandidate.customer_id.in_(chunk)
                    )
                )
            )
            .order_by(Message.id)
        )
        for customer_id, text in rows:
            if text:
                texts.setdefault(customer_id, []).append(text)
    return texts


@dataclass
class _Job:
    due: Due
    context: CustomerContext
    email: str | None
    blocked: list[str]
    request: DraftRequest
    arm: Arm = "personal"
    content: DraftContent | None = None
    problems: list[Problem] = field(default_factory=list)
    attempts: int = 1
    error: str | None = None


def _recheck_inputs(session: Session, *, draft_id: int) -> dict[str, Any]:
    """What re-checking an edited draft needs: the catalog, the voice guide in use, and the
    customer's messages in which the gate blocked something."""
    customer_id = draft_customer(session, draft_id=draft_id)
    voice = current_voice(session)
    return {
        "catalog": load_catalog(session),
        "checks": voice.checks,
        "business": voice.business,
        "voice": voice,
        "blocked_texts": blocked_texts(session, customer_ids=[customer_id]).get(customer_id, []),
    }


def edit_draft(session: Session, *, draft_id: int, actor: str, changes: dict[str, str]) -> None:
    """A reviewer's edit, saved, re-checked and audited (the API's and the console's)."""
    edit(
        session,
        draft_id=draft_id,
        actor=actor,
        changes=changes,
        **_recheck_inputs(session, draft_id=draft_id),
    )


def preview_edit(session: Session, *, draft_id: int, changes: dict[str, str]) -> list[Problem]:
    """The problems a reviewer's edit would have; saves nothing."""
    return check_edit(
        session, draft_id=draft_id, changes=changes, **_recheck_inputs(session, draft_id=draft_id)
    )


def run_campaign(
    db: Database,
    *,
    drafter: Drafter,
    kind: DraftKind,
    as_of: datetime | None = None,
    actor: str,
    webhook_url: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    holdout: float = 0.0,
    ab: bool = False,
    include_unengaged: bool = False,
) -> CampaignReport:
    """Draft every customer due for `kind` as of a time (now by default) into the review
    queue; running it again creates nothing new. Customers who stopped reacting to emails
    (engine.customers.engagement) are left out unless `include_unengaged`.

    Every customer of the run enters the step in an arm (a flow entry): a `holdout` share
    (0 <= holdout < 1) gets no email, and with `ab` the rest split evenly between the personal
    draft and the step's generic template (the same copy with nothing personal)."""
    if not (isinstance(holdout, int | float) and not math.isnan(holdout) and 0 <= holdout < 1):
        raise InvalidInput(
            f"must lie from 0 up to (not including) 1, not {holdout}", field="holdout"
        )
    holdout = float(holdout)
    as_of = as_of or utcnow()
    with db.read() as session:
        due = _not_entered(
            session,
            due_customers(session, kind=kind, as_of=as_of, include_unengaged=include_unengaged),
        )
        catalog = load_catalog(session)
        voice = current_voice(session)
        cuts = monetary_cuts(session)
    arms: dict[str, Arm] = {}
    if holdout or ab:
        with db.write() as session:
            key = arm_key(session)
        arms = {
            d.customer_id: assign_arm(
                key, customer_id=d.customer_id, kind=kind, holdout=holdout, ab=ab
            )
            for d in due
        }
    report = CampaignReport(kind=kind, as_of=as_of, due=len(due))
    if on_progress:
        on_progress(0, len(due))
    # A model drafter may want bigger rounds (one Message Batch each) than the templates.
    chunk = int(getattr(drafter, "campaign_chunk", CHUNK))
    for start in range(0, len(due), chunk):
        part = due[start : start + chunk]
        held = [d for d in part if arms.get(d.customer_id) == "holdout"]
        if held:
            _hold_out(db, held, report, as_of=as_of)
        drafted = [d for d in part if arms.get(d.customer_id) != "holdout"]
        if drafted:
            jobs = _prepare(db, drafted, catalog, voice, cuts, as_of, arms=arms)
            _draft(drafter, jobs)
            _store(
                db,
                jobs,
                report,
                voice=voice,
                actor=actor,
                webhook_url=webhook_url,
                entered_at=as_of,
            )
        if on_progress:
            on_progress(min(start + chunk, len(due)), len(due))
    return report


def _not_entered(session: Session, due: list[Due]) -> list[Due]:
    """The due steps no earlier run entered (a held-out customer has an entry but no draft,
    so the drafts alone would make them due again)."""
    if not due:
        return due
    entered: set[tuple[str, str, str]] = set()
    ids = [d.customer_id for d in due]
    for chunk in in_chunks(ids):
        rows = session.execute(
            select(FlowEntry.customer_id, FlowEntry.step, FlowEntry.anchor).where(
                FlowEntry.kind == due[0].kind, FlowEntry.customer_id.in_(chunk)
            )
        )
        entered.update((c, s, a) for c, s, a in rows)
    return [d for d in due if (d.customer_id, d.step, d.anchor) not in entered]


def _hold_out(db: Database, due: Sequence[Due], report: CampaignReport, *, as_of: datetime) -> None:
    """Enter the held-out customers (still consenting) in their step with no draft."""
    with db.write() as session:
        names = _still_consenting(session, [d.customer_id for d in due])
        for d in due:
            if d.customer_id not in names:
                report.lost_consent += 1
                continue
            if _enter(session, d, arm="holdout", draft_id=None, entered_at=as_of):
                report.held_out += 1
            else:
                report.already_drafted += 1


def _enter(
    session: Session, due: Due, *, arm: Arm, draft_id: int | None, entered_at: datetime
) -> bool:
    """Record the customer's entry in the step unless a run recorded it already; True if new."""
    stmt = (
        insert_ignoring(session, FlowEntry, key=["customer_id", "kind", "step", "anchor"])
        .values(
            customer_id=due.customer_id,
            kind=due.kind,
            step=due.step,
            anchor=due.anchor,
            arm=arm,
            draft_id=draft_id,
            entered_at=entered_at,
        )
        .returning(FlowEntry.__table__.c.id)
    )
    return session.execute(stmt).first() is not None


def generic_context(context: CustomerContext) -> CustomerContext:
    """The context a generic-arm draft is written from: nothing the customer said or did (no
    facts or their quotes, no intents, no products or categories bought, no time since the
    last order), only what a plain newsletter knows (first name, consent, opt-outs)."""
    return context.model_copy(
        update={
            "facts": [],
            "intents": [],
            "orders": context.orders.model_copy(update={"products": [], "categories": []}),
            "rfm": context.rfm.model_copy(update={"recency_days": None}),
        }
    )


def draft_one(
    db: Database,
    *,
    drafter: Drafter,
    customer_id: str,
    kind: DraftKind,
    as_of: datetime | None = None,
    actor: str,
    webhook_url: str | None = None,
) -> tuple[DraftDetail, bool]:
    """Draft one email of `kind` for one customer: the step they are due for, or else a manual
    one (once a day). Returns the draft and whether it is new."""
    as_of = as_of or utcnow()
    with db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFoundError(f"no customer {customer_id!r}")
        cuts = monetary_cuts(session)
        context = build_context(session, customer_id=customer_id, as_of=as_of, cuts=cuts)
        if not context.consent.marketing_consent:
            raise NoConsentError(
                f"customer {customer_id!r} has not consented to marketing email (or withdrew it)",
                field="customer_id",
            )
        # A step drafted already is answered with that draft, not a second one.
        due = due_customers(
            session, kind=kind, as_of=as_of, customer_ids=[customer_id], include_drafted=True
        )
        chosen = due[0] if due else _manual(context, kind=kind, as_of=as_of)
        existing = _drafted_already(session, chosen)
        if existing is not None:
            return get_draft(session, draft_id=existing), False
        catalog = load_catalog(session)
        voice = current_voice(session)
    jobs = _prepare(db, [chosen], catalog, voice, cuts, as_of, built={customer_id: context})
    _draft(drafter, jobs)
    report = CampaignReport(kind=kind, as_of=as_of)
    _store(db, jobs, report, voice=voice, actor=actor, webhook_url=webhook_url)
    if report.lost_consent:
        raise NoConsentError(
            f"customer {customer_id!r} withdrew consent while the draft was written",
            field="customer_id",
        )
    if report.failed:
        raise DraftingError(report.failed[0].error)
    with db.read() as session:
        draft_id = report.draft_ids[0] if report.draft_ids else None
        if draft_id is None:  # a concurrent request stored the same step first
            draft_id = _drafted_already(session, chosen)
        assert draft_id is not None
        return get_draft(session, draft_id=draft_id), bool(report.created)


def _drafted_already(session: Session, due: Due) -> int | None:
    """The id of the draft of this step for this customer and anchor, if there is one."""
    return session.scalars(
        select(Draft.id).where(
            Draft.customer_id == due.customer_id,
            Draft.kind == due.kind,
            Draft.step == due.step,
            Draft.anchor == due.anchor,
        )
    ).first()


def _manual(context: CustomerContext, *, kind: DraftKind, as_of: datetime) -> Due:
    """The step a customer not due for `kind` gets when a marketer asks for one anyway."""
    anchor = f"manual:{as_of.date().isoformat()}"
    if kind == "welcome":
        return Due(context.customer_id, kind, "d0", anchor, as_of, 0)
    last = context.orders.last_order_at
    if last is None:
        raise ConflictError(
            f"customer {context.customer_id!r} has no orders, so there is nothing for a "
            f"{kind.replace('_', '-')} email to follow",
            field="kind",
        )
    days = (as_of - last).days
    if kind == "win_back":
        return Due(context.customer_id, kind, "d90", anchor, last, days)
    step = step_on("post_purchase", days) or SEQUENCES["post_purchase"][0]
    return Due(context.customer_id, kind, step.name, anchor, last, days)


def _prepare(
    db: Database,
    due: Sequence[Due],
    catalog: Catalog,
    voice: StoredVoiceGuide,
    cuts: dict[str, tuple[Decimal, Decimal]],
    as_of: datetime,
    built: dict[str, CustomerContext] | None = None,
    arms: dict[str, Arm] | None = None,
) -> list[_Job]:
    """Read what each due customer's draft needs; `built` holds contexts already built, `arms`
    the customers of the generic arm (the rest are personal)."""
    ids = [d.customer_id for d in due]
    jobs = []
    with db.read() as session:
        blocked = blocked_texts(session, customer_ids=ids)
        emails = dict(
            session.execute(select(Customer.id, Customer.email).where(Customer.id.in_(ids))).all()
        )
        for d in due:
            context = (built or {}).get(d.customer_id) or build_context(
                session, customer_id=d.customer_id, as_of=as_of, cuts=cuts
            )
            arm: Arm = "generic" if (arms or {}).get(d.customer_id) == "generic" else "personal"
            if arm == "generic":
                context = generic_context(context)
            request = DraftRequest(
                key=f"{d.customer_id}/{d.kind}/{d.step}",
                kind=d.kind,
                step=d.step,
                context=context,
                voice=voice,
                catalog=catalog,
            )
            jobs.append(
                _Job(
                    due=d,
                    context=context,
                    email=emails.get(d.customer_id),
                    blocked=blocked.get(d.customer_id, []),
                    request=request,
                    arm=arm,
                )
            )
    return jobs


def _draft(drafter: Drafter, jobs: list[_Job]) -> None:
    """Draft and check every job; a model's failed draft is retried once with the failures as
    feedback (the template drafter is deterministic: its retry would say the same)."""
    _attempt(drafter, jobs)
    if drafter.name == "template":
        for job in jobs:
            if job.problems:
                # The templates are written to pass; a failure here is a bug worth a loud log.
                log.error(
                    "template draft %s failed the grounding check: %s",
                    job.request.key,
                    [p.message for p in job.problems],
                )
        return
    retry = [job for job in jobs if job.problems]
    for job in retry:
        job.request = DraftRequest(
            key=job.request.key,
            kind=job.request.kind,
            step=job.request.step,
            context=job.request.context,
            voice=job.request.voice,
            catalog=job.request.catalog,
            feedback=tuple(
                p.message + (f": {p.excerpt!r}" if p.excerpt else "") for p in job.problems
            ),
        )
        job.attempts = 2
    if retry:
        _attempt(drafter, retry)


def _attempt(drafter: Drafter, jobs: list[_Job]) -> None:
    outcomes = drafter.draft_many([job.request for job in jobs])
    for job, outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, DraftFailed):
            job.error = outcome.error
            job.problems = []
            continue
        job.error = None
        job.content = outcome
        job.problems = check_draft(
            content=outcome,
            context=job.context,
            catalog=job.request.catalog,
            checks=job.request.voice.checks,
            blocked_texts=job.blocked,
            email=job.email,
            business=job.request.voice.business,
            voice=job.request.voice,
        )


def _store(
    db: Database,
    jobs: list[_Job],
    report: CampaignReport,
    *,
    voice: StoredVoiceGuide,
    actor: str,
    webhook_url: str | None,
    entered_at: datetime | None = None,
) -> None:
    """Store the drafts (and, for a campaign run, entered at `entered_at`, each one's flow
    entry in its arm)."""
    with db.write() as session:
        names = _still_consenting(session, [j.due.customer_id for j in jobs])
        for job in jobs:
            if job.due.customer_id not in names:
                report.lost_consent += 1
                continue
            if job.content is None:
                report.failed.append(
                    FailedDraft(job.due.customer_id, job.due.step, job.error or "no draft")
                )
                continue
            draft_id = _insert(session, job, voice=voice)
            if draft_id is None:
                report.already_drafted += 1
                continue
            report.created += 1
            report.draft_ids.append(draft_id)
            if job.arm == "generic":
                report.generic += 1
            if entered_at is not None:
                _enter(session, job.due, arm=job.arm, draft_id=draft_id, entered_at=entered_at)
            if job.problems:
                report.needs_attention += 1
            session.add(
                DraftEvent(
                    draft_id=draft_id,
                    action="created",
                    actor=actor,
                    changes={"drafter": job.content.drafter, "template": _template(job)},
                )
            )
            if webhook_url:
                draft = session.get(Draft, draft_id)
                assert draft is not None
                read = to_read(draft, first_name=names.get(job.due.customer_id), delivery=None)
                enqueue(
                    session,
                    draft_id=draft_id,
                    event=DRAFT_CREATED,
                    payload={"draft": read.model_dump(mode="json", exclude={"delivery"})},
                    url=webhook_url,
                )


def _still_consenting(session: Session, customer_ids: list[str]) -> dict[str, str | None]:
    """First names of the customers who may still get marketing email, their rows locked until
    the caller commits: drafting takes a while, and a customer can unsubscribe (or be erased)
    meanwhile, which must win over a draft made before."""
    query = select(Customer.id, Customer.first_name).where(Customer.id.in_(customer_ids))
    return dict(session.execute(consenting(query).with_for_update()).all())


def _insert(session: Session, job: _Job, *, voice: StoredVoiceGuide) -> int | None:
    """Store the draft unless this step was drafted already; its id, or None."""
    content = job.content
    assert content is not None
    values = {
        "customer_id": job.due.customer_id,
        "kind": job.due.kind,
        "step": job.due.step,
        "anchor": job.due.anchor,
        "status": "needs_attention" if job.problems else "pending_review",
        "subject": content.subject,
        "preheader": content.preheader,
        "body": content.body,
        "original": {
            "subject": content.subject,
            "preheader": content.preheader,
            "body": content.body,
        },
        "fact_ids": content.fact_ids,
        "evidence": [
            e.model_dump(mode="json")
            for e in evidence_for(content, job.context, job.request.catalog)
        ],
        "context": job.context.model_dump(mode="json"),
        "problems": [p.model_dump(mode="json") for p in job.problems],
        "drafter": content.drafter,
        "template": _template(job),
        "model": content.model,
        "voice_version": voice.version,
        "input_tokens": content.usage.input_tokens,
        "output_tokens": content.usage.output_tokens,
        "cache_read_tokens": content.usage.cache_read_tokens,
        "cache_write_tokens": content.usage.cache_write_tokens,
        "attempts": job.attempts,
        "created_at": utcnow(),
    }
    stmt = (
        insert_ignoring(session, Draft, key=["customer_id", "kind", "step", "anchor"])
        .values(**values)
        .returning(Draft.__table__.c.id)
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def _template(job: _Job) -> str:
    """The template a draft names: a generic-arm draft's is marked as such."""
    assert job.content is not None
    template = job.content.template
    return template + GENERIC if job.arm == "generic" else template
