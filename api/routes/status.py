"""Health and status."""

from fastapi import APIRouter

from api.deps import AnyKey, DatabaseDep
from api.schemas import StatusRead
from engine.status import read_status

router = APIRouter(tags=["status"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/v1/status", response_model=StatusRead)
def get_status(db: DatabaseDep, _: AnyKey) -> StatusRead:
    """Counts of customers, conversations, messages, orders, and the processing backlog."""
    with db.read() as session:
        return StatusRead(**read_status(session).as_dict())
