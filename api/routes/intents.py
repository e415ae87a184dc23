"""Intents (built-in and trackers), who expressed them, and defining new trackers."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import MarketerKey, ServicesDep
from api.schemas import IntentCustomerRead, IntentRead, TrackerCreate, TrackerRead
from engine.intents.service import (
    create_tracker,
    intent_customers,
    list_intents,
    score_tracker_over_stored,
)

router = APIRouter(prefix="/v1", tags=["intents"])


@router.get("/intents", response_model=list[IntentRead])
def get_intents(services: ServicesDep, _: MarketerKey) -> list[IntentRead]:
    """Built-in intents and trackers, with how many messages and customers carry each."""
    with services.db.read() as session:
        return [IntentRead(**asdict(i)) for i in list_intents(session)]


@router.get("/intents/{name}/customers", response_model=list[IntentCustomerRead])
def get_intent_customers(
    name: str,
    services: ServicesDep,
    _: MarketerKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IntentCustomerRead]:
    """Customers who expressed the intent, most recent first."""
    with services.db.read() as session:
        rows = intent_customers(session, name=name, limit=limit)
    return [
        IntentCustomerRead(
            customer_id=r.customer_id,
            first_name=r.first_name,
            count=r.count,
            last_asked=r.last_asked,
            best_score=r.best_score,
        )
        for r in rows
    ]


@router.post("/trackers", response_model=TrackerRead, status_code=status.HTTP_201_CREATED)
def post_tracker(body: TrackerCreate, services: ServicesDep, _: MarketerKey) -> TrackerRead:
    """Define a custom intent; it is scored over stored messages now and new ones as they come."""
    with services.db.write() as session:
        tracker = create_tracker(
            session,
            name=body.name,
            description=body.description,
            examples=body.examples,
            threshold=body.threshold,
        )
        matched = score_tracker_over_stored(
            session, tracker=tracker, encoder=services.encoder, store=services.store
        )
        return TrackerRead(
            name=tracker.name,
            description=tracker.description,
            examples=tracker.examples,
            threshold=tracker.threshold,
            matched_messages=matched,
        )
