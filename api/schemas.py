"""Response shapes of the HTTP API (tables never leak out)."""

from pydantic import BaseModel


class MessageAccepted(BaseModel):
    """A message stored (or already known)."""

    id: int
    message_id: str
    conversation_id: str
    customer_id: str
    duplicate: bool


class TranscriptAccepted(BaseModel):
    """A transcript stored: how many messages were new, how many known."""

    conversation_id: str
    customer_id: str
    stored: int
    duplicates: int


class CustomerAccepted(BaseModel):
    """A customer created or updated."""

    customer_id: str
    created: bool


class OrderAccepted(BaseModel):
    """An order stored (or already known)."""

    order_id: str
    customer_id: str
    duplicate: bool


class WebhookIgnored(BaseModel):
    """A webhook event accepted but not stored, with why."""

    ignored: str


class StatusRead(BaseModel):
    """Counts of what is stored, and the processing backlog."""

    customers: int
    conversations: int
    messages: int
    customer_messages: int
    orders: int
    products: int
    backlog: int
    failed: int
