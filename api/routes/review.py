"""The review queue: list drafts, read one with its evidence and history, approve, reject, edit."""

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, MarketerKey
from chat_ingest.schemas import NoNul
from engine.db import Database
from engine.drafting.review import (
    DraftDetail,
    DraftRead,
    approve,
    get_draft,
    list_drafts,
    reject,
    statuses_for,
)
from engine.drafting.service import edit_draft
from engine.models import DraftKind, DraftStatus

router = APIRouter(prefix="/v1/review", tags=["review"])

# Draft ids are 32-bit integers in PostgreSQL: a larger one is a 422, not a database error.
DraftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusFilter = Literal["waiting", "all", DraftStatus]


class DraftList(BaseModel):
    """A page of the review queue."""

    drafts: list[DraftRead]


class Rejection(NoNul):
    """Why a reviewer rejects a draft."""

    reason: str = Field(min_length=1, max_length=2000)


class DraftEdit(NoNul):
    """A reviewer's changes to a draft (any of subject, preheader, body)."""

    subject: str | None = Field(default=None, min_length=1, max_length=500)
    preheader: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, min_length=1, max_length=50_000)

    @model_validator(mode="after")
    def _something(self) -> "DraftEdit":
        if self.subject is None and self.preheader is None and self.body is None:
            raise ValueError("give at least one of subject, preheader, body")
        return self


@router.get("", response_model=DraftList)
def get_review_queue(
    db: DatabaseDep,
    _: MarketerKey,
    status: Annotated[
        StatusFilter,
        Query(description="`waiting` (default): pending_review and needs_attention; or `all`."),
    ] = "waiting",
    kind: DraftKind | None = None,
    customer_id: Annotated[str | None, Query(max_length=128, pattern=r"^[^\x00]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DraftList:
    """Drafts in the review queue, oldest first, each with the quotes behind its personalized
    sentences, its problems and its webhook delivery state."""
    statuses = statuses_for(status)
    with db.read() as session:
        return DraftList(
            drafts=list_drafts(
                session,
                statuses=statuses,
                kind=kind,
                customer_id=customer_id,
                limit=limit,
                offset=offset,
            )
        )


@router.get("/{draft_id}", response_model=DraftDetail)
def get_review_draft(draft_id: DraftId, db: DatabaseDep, _: MarketerKey) -> DraftDetail:
    """One draft with what the drafter wrote, the context it saw, and its audit trail."""
    with db.read() as session:
        return get_draft(session, draft_id=draft_id)


def _act(db: Database, draft_id: int, action: Callable[[Session], None]) -> DraftDetail:
    """Do a review action in one transaction, then read the draft as it now stands."""
    with db.write() as session:
        action(session)
    with db.read() as session:
        return get_draft(session, draft_id=draft_id)


@router.post("/{draft_id}/approve", response_model=DraftDetail)
def post_approve(draft_id: DraftId, db: DatabaseDep, key: MarketerKey) -> DraftDetail:
    """Approve a draft waiting for review; 409 if it is not waiting, or fails the grounding
    check (edit it first)."""

    return _act(db, draft_id, lambda s: approve(s, draft_id=draft_id, actor=key.name))


@router.post("/{draft_id}/reject", response_model=DraftDetail)
def post_reject(
    draft_id: DraftId, body: Rejection, db: DatabaseDep, key: MarketerKey
) -> DraftDetail:
    """Reject a draft waiting for review, with a reason."""

    return _act(
        db, draft_id, lambda s: reject(s, draft_id=draft_id, actor=key.name, reason=body.reason)
    )


@router.patch("/{draft_id}", response_model=DraftDetail)
def patch_draft(
    draft_id: DraftId, body: DraftEdit, db: DatabaseDep, key: MarketerKey
) -> DraftDetail:
    """Edit a draft waiting for review. The original is kept, the change goes in the audit
    trail (who, what, when), and the grounding check runs again on the new text."""
    changes = body.model_dump(exclude_none=True)

    def apply_edit(session: Session) -> None:
        edit_draft(session, draft_id=draft_id, actor=key.name, changes=changes)

    return _act(db, draft_id, apply_edit)
