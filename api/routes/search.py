""" "Which customers are asking about X?"."""

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import MarketerKey, ServicesDep
from api.schemas import CustomerMatchRead, SearchRead
from engine.search import search_customers

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("/customers", response_model=SearchRead)
async def search(
    services: ServicesDep,
    _: MarketerKey,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            pattern=r"^[^\x00]+$",
            description="What customers ask about.",
        ),
    ],
    since: Annotated[datetime | None, Query(description="Only messages sent at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Only messages sent before.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SearchRead:
    """Customers whose own messages match the query, ranked, with up to 3 quotes each."""

    def run() -> SearchRead:
        with services.db.read() as session:
            matches = search_customers(
                session,
                query=q,
                encoder=services.encoder,
                store=services.store,
                since=since,
                until=until,
                limit=limit,
            )
        return SearchRead(query=q, customers=[CustomerMatchRead(**asdict(m)) for m in matches])

    return await run_in_threadpool(run)
