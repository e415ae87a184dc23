"""Getting data in: streamed messages, transcripts, customers and orders."""

from dataclasses import asdict

from fastapi import APIRouter, Response, status

from api.deps import DatabaseDep, IngestKey, WriterDep
from api.schemas import CustomerAccepted, MessageAccepted, OrderAccepted, TranscriptAccepted
from chat_ingest.schemas import CustomerCreate, MessageEvent, OrderCreate, TranscriptCreate
from chat_ingest.service import store_order, store_transcript, upsert_customer

router = APIRouter(prefix="/v1", tags=["ingest"])


# The one async route: it awaits the group-commit writer, which batches concurrent messages on
# the event loop and commits each batch itself (see chat_ingest/writer.py). Every other route
# is a plain `def`, which FastAPI runs in its threadpool.
@router.post("/messages", status_code=status.HTTP_202_ACCEPTED, response_model=MessageAccepted)
async def post_message(event: MessageEvent, writer: WriterDep, _: IngestKey) -> MessageAccepted:
    """One message as a chat widget streams it; the same message id again is stored once.
    A text over 20,000 characters is kept: its first part is stored (`truncated: true`).

    The answer comes after the message is committed (group commit with concurrent requests).
    """
    return MessageAccepted(**asdict(await writer.store(event)))


@router.post(
    "/transcripts", status_code=status.HTTP_202_ACCEPTED, response_model=TranscriptAccepted
)
def post_transcript(
    transcript: TranscriptCreate, db: DatabaseDep, _: IngestKey
) -> TranscriptAccepted:
    """A whole conversation, stored whole or not at all; `truncated` counts its messages over
    20,000 characters, stored as their first part."""
    with db.write() as session:
        stored = store_transcript(session, transcript=transcript)
    return TranscriptAccepted(
        conversation_id=stored.conversation_id,
        customer_id=stored.customer_id,
        stored=stored.stored,
        duplicates=stored.duplicates,
        truncated=stored.truncated,
    )


@router.post("/customers", response_model=CustomerAccepted, status_code=status.HTTP_201_CREATED)
def post_customer(
    customer: CustomerCreate, db: DatabaseDep, key: IngestKey, response: Response
) -> CustomerAccepted:
    """Create a customer (201) or update the fields given (200)."""
    with db.write() as session:
        stored = upsert_customer(session, customer=customer, actor=key.name)
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    return CustomerAccepted(**asdict(stored))


@router.post("/orders", response_model=OrderAccepted, status_code=status.HTTP_201_CREATED)
def post_order(
    order: OrderCreate, db: DatabaseDep, _: IngestKey, response: Response
) -> OrderAccepted:
    """Store an order (201); an order id already stored is a no-op (200). Only a `placed`
    order (the default `status`) counts as a purchase."""
    with db.write() as session:
        stored = store_order(session, order=order)
    if stored.duplicate:
        response.status_code = status.HTTP_200_OK
    return OrderAccepted(**asdict(stored))
