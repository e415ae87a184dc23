""" "Which customers are asking about X?"."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MarketerKey, ServicesDep
from api.schemas import CustomerMatchRead, SearchRead
from chat_ingest.schemas import TimeFilter
from engine.search.service import refusal, search_customers

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("/customers", response_model=SearchRead)
def search(
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
    since: Annotated[
        TimeFilter | None, Query(description="Only messages sent at or after (UTC if no zone).")
    ] = None,
    until: Annotated[
        TimeFilter | None, Query(description="Only messages sent before (UTC if no zone).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SearchRead:
    """Customers whose own messages match the query, ranked, with up to 3 quotes each. A
    question that touches a sensitive category gets nobody, with `refused` and the reason."""
    refused = refusal(q)
    if refused is not None:
        return SearchRead(query=q, customers=[], refused=True, reason=refused)
    phrasings = services.rewriter.rewrite(q) if services.rewriter is not None else []
    with services.db.read() as session:
        matches = search_customers(
            session,
            query=q,
            encoder=services.question_encoder(),
            store=services.store,
            since=since,
            until=until,
            limit=limit,
            phrasings=phrasings,
        )
    return SearchRead(
        query=q,
        customers=[CustomerMatchRead(**asdict(m)) for m in matches],
        rewritten_as=phrasings,
    )
