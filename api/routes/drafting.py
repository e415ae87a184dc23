"""Drafting: the voice guide, one draft, and campaigns (a draft for everyone due)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field

from api.deps import DatabaseDep, DrafterDep, MarketerKey, SettingsDep, wake_outbox
from chat_ingest.schemas import NoNul, Timestamp
from engine.drafting.review import DraftDetail
from engine.drafting.service import CampaignReport, draft_one, run_campaign
from engine.drafting.voice import StoredVoiceGuide, VoiceGuide, current_voice, set_voice
from engine.models import DraftKind

router = APIRouter(prefix="/v1", tags=["drafting"])


class DraftCreate(NoNul):
    """Draft one email for one customer."""

    customer_id: str = Field(min_length=1, max_length=128)
    kind: DraftKind
    as_of: Timestamp | None = Field(
        default=None, description="Draft as of this time, with a timezone (default: now)."
    )


class CampaignRun(BaseModel):
    """Options of a campaign run."""

    as_of: Timestamp | None = Field(
        default=None, description="Who is due as of this time, with a timezone (default: now)."
    )
    holdout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="The share of due customers held out: no email, counted in the flow report.",
    )
    include_unengaged: bool = Field(
        default=False,
        description="Also draft customers whose last 6 emails, over 90 days or more, drew no "
        "click or open (left out by default).",
    )
    ab: bool = Field(
        default=False,
        description="Split the customers not held out evenly between the personal draft and "
        "the step's generic template.",
    )


class FailedDraftRead(BaseModel):
    """A customer the drafter could not write for (the next run tries again)."""

    customer_id: str
    step: str
    error: str


class CampaignRead(BaseModel):
    """What a campaign run did."""

    kind: DraftKind
    as_of: datetime
    due: int
    created: int
    already_drafted: int
    lost_consent: int
    needs_attention: int
    failed: list[FailedDraftRead]
    draft_ids: list[int]
    held_out: int = Field(description="Customers held out of this run (no email).")
    generic: int = Field(description="Generic-template drafts created (an A/B run).")


def campaign_read(report: CampaignReport) -> CampaignRead:
    """A campaign report as the API returns it."""
    return CampaignRead(
        kind=report.kind,
        as_of=report.as_of,
        due=report.due,
        created=report.created,
        already_drafted=report.already_drafted,
        lost_consent=report.lost_consent,
        needs_attention=report.needs_attention,
        failed=[
            FailedDraftRead(customer_id=f.customer_id, step=f.step, error=f.error)
            for f in report.failed
        ],
        draft_ids=report.draft_ids,
        held_out=report.held_out,
        generic=report.generic,
    )


@router.get("/voice", response_model=StoredVoiceGuide)
def get_voice(db: DatabaseDep, _: MarketerKey) -> StoredVoiceGuide:
    """The voice guide in use (the built-in default until one is set; its version is null)."""
    with db.read() as session:
        return current_voice(session)


@router.put("/voice", response_model=StoredVoiceGuide)
def put_voice(body: VoiceGuide, db: DatabaseDep, key: MarketerKey) -> StoredVoiceGuide:
    """Set the business's voice guide: 3-5 sample emails, 5-10 rules, a generic-vs-ours
    contrast, and the checks the linter runs; drafts from now on use it."""
    with db.write() as session:
        return set_voice(session, guide=body, actor=key.name)


@router.post(
    "/drafts",
    response_model=DraftDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "This step was drafted already; the existing draft."}},
)
def post_draft(
    body: DraftCreate,
    request: Request,
    response: Response,
    db: DatabaseDep,
    drafter: DrafterDep,
    settings: SettingsDep,
    key: MarketerKey,
) -> DraftDetail:
    """Draft one email into the review queue: the step the customer is due for, or else a manual
    one (at most one a day); 409 without marketing consent."""
    detail, created = draft_one(
        db,
        drafter=drafter,
        customer_id=body.customer_id,
        kind=body.kind,
        as_of=body.as_of,
        actor=key.name,
        webhook_url=settings.review_webhook_url,
    )
    if created:
        wake_outbox(request)
    else:
        response.status_code = status.HTTP_200_OK
    return detail


@router.post("/campaigns/{kind}/run", response_model=CampaignRead)
def post_campaign_run(
    kind: Annotated[DraftKind, Path(description="welcome, post_purchase or win_back")],
    request: Request,
    db: DatabaseDep,
    drafter: DrafterDep,
    settings: SettingsDep,
    key: MarketerKey,
    body: CampaignRun | None = None,
) -> CampaignRead:
    """Draft every customer due for `kind` into the review queue; running it twice creates
    nothing new. A `holdout` share of them gets no email, and with `ab` the rest split between
    the personal draft and the generic template (every customer's arm is recorded)."""
    report = run_campaign(
        db,
        drafter=drafter,
        kind=kind,
        as_of=body.as_of if body else None,
        actor=key.name,
        webhook_url=settings.review_webhook_url,
        holdout=body.holdout if body else 0.0,
        ab=body.ab if body else False,
        include_unengaged=body.include_unengaged if body else False,
    )
    if report.created:
        wake_outbox(request)
    return campaign_read(report)
