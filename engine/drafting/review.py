"""The review queue: drafts as a reviewer sees them, and what a reviewer may do to them
(approve, reject with a reason, edit), each recorded in the draft's audit trail."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.customers.context import CustomerContext
from engine.drafting.base import Catalog, DraftContent, Evidence, Usage
from engine.drafting.grounding import Problem, check_draft
from engine.drafting.voice import VoiceChecks, VoiceGuide
from engine.errors import ConflictError, NotFoundError
from engine.models import DRAFT_STATUSES, REVIEWABLE, Customer, Draft, DraftEvent, utcnow
from engine.outbox import DeliveryState, delivery_states

# Any select the queue's filters narrow (a page of rows, a count, an existence probe).
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def statuses_for(status_filter: str) -> tuple[str, ...]:
    """The statuses a queue filter means: `waiting` (both reviewable ones), `all`, or one."""
    if status_filter == "waiting":
        return REVIEWABLE
    if status_filter == "all":
        return DRAFT_STATUSES
    return (status_filter,)


class QuotedFact(BaseModel):
    """A kept fact behind a sentence: the customer's own words, and where they said them."""

    id: int
    category: str
    value: str
    quote: str
    message_id: str
    conversation_id: str
    said_at: datetime


class ProductNamed(BaseModel):
    """A product behind a sentence: one the customer bought (with when), or one from the
    catalog the email suggests."""

    sku: str
    name: str
    bought: bool = False
    last_bought_at: datetime | None = None


class IntentSeen(BaseModel):
    """A recent intent behind a sentence."""

    intent: str
    count: int
    last_said_at: datetime | None = None


class SentenceEvidence(BaseModel):
    """A personalized sentence of the draft and what it rests on."""

    sentence: str
    facts: list[QuotedFact]
    products: list[ProductNamed]
    intents: list[IntentSeen]


class DraftRead(BaseModel):
    """A draft in the review queue."""

    id: int
    customer_id: str
    first_name: str | None
    kind: str
    step: str
    anchor: str
    status: str
    subject: str
    preheader: str
    body: str
    edited: bool
    fact_ids: list[int]
    evidence: list[SentenceEvidence]
    problems: list[Problem]
    drafter: str
    template: str
    model: str | None
    voice_version: int | None
    usage: Usage
    attempts: int
    created_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None
    reject_reason: str | None
    delivery: DeliveryState | None


class DraftEventRead(BaseModel):
    """One entry of a draft's audit trail."""

    action: str
    actor: str
    at: datetime
    changes: dict[str, Any]


class DraftDetail(DraftRead):
    """A draft with what the drafter wrote, the context it saw, and its audit trail."""

    original: dict[str, str]
    context: CustomerContext
    history: list[DraftEventRead]


def evidence_for(
    content: DraftContent, context: CustomerContext, catalog: Catalog
) -> list[SentenceEvidence]:
    """Each personalized sentence with the quotes, products and intents it rests on."""
    facts = {f.id: f for f in context.facts}
    bought = {p.sku: p for p in context.orders.products}
    sold = {p.sku: p.name for p in catalog.products}
    intents = {i.intent: i for i in context.intents}
    return [_sentence_evidence(e, facts, bought, sold, intents) for e in content.evidence]


def _sentence_evidence(
    evidence: Evidence,
    facts: dict[int, Any],
    bought: dict[str, Any],
    sold: dict[str, str],
    intents: dict[str, Any],
) -> SentenceEvidence:
    return SentenceEvidence(
        sentence=evidence.sentence,
        facts=[
            QuotedFact(
                id=f.id,
                category=f.category,
                value=f.value,
                quote=f.quote,
                message_id=f.message_id,
                conversation_id=f.conversation_id,
                said_at=f.said_at,
            )
            for f in (facts.get(i) for i in evidence.fact_ids)
            if f is not None
        ],
        products=[
            ProductNamed(sku=p.sku, name=p.name, bought=True, last_bought_at=p.last_bought_at)
            if p is not None
            else ProductNamed(sku=sku, name=sold.get(sku, sku), bought=False)
            for sku, p in ((s, bought.get(s)) for s in evidence.skus)
        ],
        intents=[
            IntentSeen(intent=i.intent, count=i.count, last_said_at=i.last_said_at)
            if i is not None
            else IntentSeen(intent=name, count=0)
            for name, i in ((n, intents.get(n)) for n in evidence.intents)
        ],
    )


def to_read(draft: Draft, *, first_name: str | None, delivery: DeliveryState | None) -> DraftRead:
    """A stored draft as the review queue shows it."""
    return DraftRead(
        id=draft.id,
        customer_id=draft.customer_id,
        first_name=first_name,
        kind=draft.kind,
        step=draft.step,
        anchor=draft.anchor,
        status=draft.status,
        subject=draft.subject,
        preheader=draft.preheader,
        body=draft.body,
        edited=(draft.subject, draft.preheader, draft.body)
        != (
            draft.original.get("subject"),
            draft.original.get("preheader"),
            draft.original.get("body"),
        ),
        fact_ids=draft.fact_ids,
        evidence=[SentenceEvidence.model_validate(e) for e in draft.evidence],
        problems=[Problem.model_validate(p) for p in draft.problems],
        drafter=draft.drafter,
        template=draft.template,
        model=draft.model,
        voice_version=draft.voice_version,
        usage=Usage(
            input_tokens=draft.input_tokens,
            output_tokens=draft.output_tokens,
            cache_read_tokens=draft.cache_read_tokens,
            cache_write_tokens=draft.cache_write_tokens,
        ),
        attempts=draft.attempts,
        created_at=draft.created_at,
        reviewed_at=draft.reviewed_at,
        reviewed_by=draft.reviewed_by,
        reject_reason=draft.reject_reason,
        delivery=delivery,
    )


def _where(
    query: _Query,
    *,
    statuses: Sequence[str] | None,
    kind: str | None,
    customer_id: str | None = None,
) -> _Query:
    """A query narrowed by the queue's filters (one definition for the lists and the count)."""
    if statuses is not None:
        query = query.where(Draft.status.in_(list(statuses)))
    if kind is not None:
        query = query.where(Draft.kind == kind)
    if customer_id is not None:
        query = query.where(Draft.customer_id == customer_id)
    return query


def list_drafts(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    kind: str | None = None,
    customer_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[DraftRead]:
    """Drafts, oldest first (the queue's order), filtered by statuses, kind and customer."""
    query = select(Draft, Customer.first_name).join(Customer, Customer.id == Draft.customer_id)
    query = _where(query, statuses=statuses, kind=kind, customer_id=customer_id)
    rows = session.execute(query.order_by(Draft.id).limit(limit).offset(offset)).all()
    deliveries = delivery_states(session, draft_ids=[d.id for d, _ in rows])
    return [to_read(d, first_name=name, delivery=deliveries.get(d.id)) for d, name in rows]


class QueueRow(BaseModel):
    """A draft as one line of the review queue: enough to choose it, nothing heavy."""

    id: int
    customer_id: str
    first_name: str | None
    kind: str
    step: str
    status: str
    subject: str
    created_at: datetime
    problems: int


class QueuePage(BaseModel):
    """One page of the queue, newest first, with the cursors of its neighbours.

    `newer` is the id to pass as `after` for the page before it, `older` the id to pass as
    `before` for the page after it; None when there is no such page."""

    drafts: list[QueueRow]
    total: int
    newer: int | None
    older: int | None


def _queue_query() -> Select[*tuple[Any, ...]]:
    # Only the columns a queue line shows: the context and evidence JSON stay in the table.
    return select(
        Draft.id,
        Draft.customer_id,
        Customer.first_name,
        Draft.kind,
        Draft.step,
        Draft.status,
        Draft.subject,
        Draft.created_at,
        Draft.problems,
    ).join(Customer, Customer.id == Draft.customer_id)


def _queue_row(row: Any) -> QueueRow:
    return QueueRow(
        id=row.id,
        customer_id=row.customer_id,
        first_name=row.first_name,
        kind=row.kind,
        step=row.step,
        status=row.status,
        subject=row.subject,
        created_at=row.created_at,
        problems=len(row.problems or []),
    )


def count_drafts(
    session: Session, *, statuses: Sequence[str] | None = None, kind: str | None = None
) -> int:
    """How many drafts a queue filter holds."""
    query = _where(select(func.count(Draft.id)), statuses=statuses, kind=kind)
    return int(session.scalar(query) or 0)


def queue_page(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    kind: str | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> QueuePage:
    """A page of the queue, newest first: the drafts older than `before`, or (to go back) the
    ones just newer than `after`, or the newest. Keyset on the draft id, so a page deep in
    10,000 drafts costs what the first one does."""
    query = _where(_queue_query(), statuses=statuses, kind=kind)
    if after is not None:
        rows = session.execute(query.where(Draft.id > after).order_by(Draft.id).limit(limit))
        drafts = [_queue_row(r) for r in rows][::-1]
    else:
        if before is not None:
            query = query.where(Draft.id < before)
        rows = session.execute(query.order_by(Draft.id.desc()).limit(limit))
        drafts = [_queue_row(r) for r in rows]
    newer = older = None
    if drafts:
        ids = select(Draft.id).limit(1)
        ids = _where(ids, statuses=statuses, kind=kind)
        if session.scalar(ids.where(Draft.id > drafts[0].id)) is not None:
            newer = drafts[0].id
        if session.scalar(ids.where(Draft.id < drafts[-1].id)) is not None:
            older = drafts[-1].id
    return QueuePage(
        drafts=drafts,
        total=count_drafts(session, statuses=statuses, kind=kind),
        newer=newer,
        older=older,
    )


def queue_row(session: Session, *, draft_id: int) -> QueueRow:
    """One draft as a queue line (after acting on it from the queue); 404 if unknown."""
    row = session.execute(_queue_query().where(Draft.id == draft_id)).first()
    if row is None:
        raise NotFoundError(f"no draft {draft_id}")
    return _queue_row(row)


def get_draft(session: Session, *, draft_id: int) -> DraftDetail:
    """One draft with its original text, context snapshot and audit trail; 404 if unknown."""
    draft = _draft(session, draft_id)
    customer = session.get(Customer, draft.customer_id)
    deliveries = delivery_states(session, draft_ids=[draft.id])
    read = to_read(
        draft,
        first_name=customer.first_name if customer else None,
        delivery=deliveries.get(draft.id),
    )
    events = session.scalars(
        select(DraftEvent).where(DraftEvent.draft_id == draft.id).order_by(DraftEvent.id)
    ).all()
    return DraftDetail(
        **read.model_dump(),
        original=draft.original,
        context=CustomerContext.model_validate(draft.context),
        history=[
            DraftEventRead(action=e.action, actor=e.actor, at=e.at, changes=e.changes)
            for e in events
        ],
    )


def draft_customer(session: Session, *, draft_id: int) -> str:
    """Whose draft this is; 404 if there is no such draft."""
    return _draft(session, draft_id).customer_id


def _draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFoundError(f"no draft {draft_id}")
    return draft


def _reviewable(draft: Draft, action: str) -> None:
    if draft.status not in REVIEWABLE:
        raise ConflictError(
            f"draft {draft.id} is {draft.status}; only drafts waiting for review can be {action}",
            field="status",
        )


def approve(session: Session, *, draft_id: int, actor: str) -> None:
    """Approve a draft waiting for review; one with open problems must be edited first."""
    draft = _draft(session, draft_id)
    _reviewable(draft, "approved")
    if draft.problems:
        raise ConflictError(
            f"draft {draft.id} fails the grounding check ({len(draft.problems)} problems: "
            f"{draft.problems[0]['message']}); edit it first",
            field="problems",
        )
    draft.status = "approved"
    draft.reviewed_at = utcnow()
    draft.reviewed_by = actor
    session.add(DraftEvent(draft_id=draft.id, action="approved", actor=actor, changes={}))


def reject(session: Session, *, draft_id: int, actor: str, reason: str) -> None:
    """Reject a draft waiting for review, saying why."""
    draft = _draft(session, draft_id)
    _reviewable(draft, "rejected")
    draft.status = "rejected"
    draft.reviewed_at = utcnow()
    draft.reviewed_by = actor
    draft.reject_reason = reason
    session.add(
        DraftEvent(draft_id=draft.id, action="rejected", actor=actor, changes={"reason": reason})
    )


Refusal = Literal["problems", "not_waiting", "not_found"]


class BulkApproval(BaseModel):
    """What approving several drafts at once did: the ones approved, and why the others were
    not (`problems`: open problems to fix first; `not_waiting`: no longer waiting for review;
    `not_found`: no such draft)."""

    approved: list[int]
    refused: dict[int, Refusal]


def approve_many(session: Session, *, draft_ids: Sequence[int], actor: str) -> BulkApproval:
    """Approve each draft that may be approved; the others are reported, not fatal."""
    approved: list[int] = []
    refused: dict[int, Refusal] = {}
    for draft_id in dict.fromkeys(draft_ids):
        try:
            approve(session, draft_id=draft_id, actor=actor)
        except NotFoundError:
            refused[draft_id] = "not_found"
        except ConflictError as error:
            # approve() checks before it changes anything, so a refusal leaves no trace.
            refused[draft_id] = "problems" if error.field == "problems" else "not_waiting"
        else:
            approved.append(draft_id)
    return BulkApproval(approved=approved, refused=refused)


@dataclass(frozen=True)
class Rechecked:
    """An edited text's evidence (the sentences still in it), the facts those use, and the
    problems the grounding check and voice lint find in it."""

    evidence: list[dict[str, Any]]
    fact_ids: list[int]
    problems: list[Problem]


def recheck(
    session: Session,
    draft: Draft,
    *,
    text: dict[str, str],
    catalog: Catalog,
    checks: VoiceChecks,
    blocked_texts: Sequence[str],
    business: str | None = None,
    voice: VoiceGuide | None = None,
) -> Rechecked:
    """Run the checks a new draft gets on `text` (subject, preheader, body) as a reviewer
    would leave the draft; changes nothing. Both saving an edit and previewing one call it."""
    subject, preheader, body = text["subject"], text["preheader"], text["body"]
    whole = f"{subject}\n{preheader}\n{body}"
    # A sentence the reviewer took out no longer needs (or has) its evidence.
    kept = [e for e in draft.evidence if e["sentence"].strip() in whole]
    content = DraftContent(
        subject=subject,
        preheader=preheader,
        body=body,
        fact_ids=sorted({f["id"] for e in kept for f in e["facts"]}),
        evidence=[
            Evidence(
                sentence=e["sentence"],
                fact_ids=[f["id"] for f in e["facts"]],
                skus=[p["sku"] for p in e["products"]],
                intents=[i["intent"] for i in e["intents"]],
            )
            for e in kept
        ],
        products=[p.name for p in catalog.named_in(whole)],
        drafter=draft.drafter,
        template=draft.template,
    )
    customer = session.get(Customer, draft.customer_id)
    problems = check_draft(
        content=content,
        context=CustomerContext.model_validate(draft.context),
        catalog=catalog,
        checks=checks,
        blocked_texts=blocked_texts,
        email=customer.email if customer else None,
        business=business,
        voice=voice,
    )
    return Rechecked(evidence=kept, fact_ids=content.fact_ids, problems=problems)


def _edited_text(draft: Draft, changes: dict[str, str]) -> dict[str, str]:
    current = {"subject": draft.subject, "preheader": draft.preheader, "body": draft.body}
    return current | {k: v for k, v in changes.items() if k in current}


def check_edit(
    session: Session,
    *,
    draft_id: int,
    changes: dict[str, str],
    catalog: Catalog,
    checks: VoiceChecks,
    blocked_texts: Sequence[str],
    business: str | None = None,
    voice: VoiceGuide | None = None,
) -> list[Problem]:
    """The problems a draft waiting for review would have with these changes; saves nothing."""
    draft = _draft(session, draft_id)
    _reviewable(draft, "edited")
    return recheck(
        session,
        draft,
        text=_edited_text(draft, changes),
        catalog=catalog,
        checks=checks,
        blocked_texts=blocked_texts,
        business=business,
        voice=voice,
    ).problems


def edit(
    session: Session,
    *,
    draft_id: int,
    actor: str,
    changes: dict[str, str],
    catalog: Catalog,
    checks: VoiceChecks,
    blocked_texts: Sequence[str],
    business: str | None = None,
    voice: VoiceGuide | None = None,
) -> None:
    """Change a draft's subject, preheader or body; the original stays, the change is audited,
    and the grounding check runs again on the new text."""
    draft = _draft(session, draft_id)
    _reviewable(draft, "edited")
    diff = {
        name: {"from": getattr(draft, name), "to": value}
        for name, value in sorted(changes.items())
        if getattr(draft, name) != value
    }
    if not diff:
        return
    result = recheck(
        session,
        draft,
        text=_edited_text(draft, changes),
        catalog=catalog,
        checks=checks,
        blocked_texts=blocked_texts,
        business=business,
        voice=voice,
    )
    for name, change in diff.items():
        setattr(draft, name, change["to"])
    draft.evidence = result.evidence
    draft.fact_ids = result.fact_ids
    draft.problems = [p.model_dump(mode="json") for p in result.problems]
    draft.status = "needs_attention" if result.problems else "pending_review"
    session.add(DraftEvent(draft_id=draft.id, action="edited", actor=actor, changes=diff))
