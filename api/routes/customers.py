"""One customer's gated context: everything a drafter may see."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from api.deps import DatabaseDep, MarketerKey
from engine.context import CustomerContext, build_context

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("/{customer_id}/context", response_model=CustomerContext)
async def get_context(
    customer_id: Annotated[str, Path(min_length=1, max_length=128)],
    db: DatabaseDep,
    _: MarketerKey,
    as_of: Annotated[
        AwareDatetime | None,
        Query(description="The context as it stood at this time, with a timezone (default: now)."),
    ] = None,
) -> CustomerContext:
    """Orders, RFM, lifecycle, recent intents, kept facts with quotes, opt-outs, and blocked
    candidates as counts by reason; 404 for an unknown customer."""

    def run() -> CustomerContext:
        with db.read() as session:
            return build_context(session, customer_id=customer_id, as_of=as_of)

    return await run_in_threadpool(run)
