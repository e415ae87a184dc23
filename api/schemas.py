"""Response shapes of the HTTP API (tables never leak out)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from chat_ingest.schemas import NoNul


class MessageAccepted(BaseModel):
    """A message stored (or already known)."""

    id: int
    message_id: str
    conversation_id: str
    customer_id: str
    duplicate: bool
    # True when the text was longer than 20,000 characters: its first part is what is stored.
    truncated: bool = False


class TranscriptAccepted(BaseModel):
    """A transcript stored: how many messages were new, how many known, how many cut."""

    conversation_id: str
    customer_id: str
    stored: int
    duplicates: int
    # Messages of the transcript whose text was longer than 20,000 characters: their first
    # part is what is stored.
    truncated: int = 0


class ContactLearned(BaseModel):
    """A Chatwoot contact change applied to the profile we hold of the contact."""

    # None: we hold no profile of this contact (one starts with a chat or an order).
    customer_id: str | None
    # Profiles this change showed to be the same person, merged into `customer_id`.
    merged: list[str]


class CustomerAccepted(BaseModel):
    """A customer created or updated."""

    customer_id: str
    created: bool


class CustomerUpdated(BaseModel):
    """A customer after an update or an unsubscribe."""

    customer_id: str
    marketing_consent: bool
    # Drafts of this customer taken out of the review queue by this change.
    drafts_withdrawn: int


class CustomerErased(BaseModel):
    """What an erasure removed (rows per table, and vectors), and its audit row."""

    erased: bool
    removed: dict[str, int]
    audit_id: int
    # Drafts the review webhook receiver was sent: a `drafts.erased` event names them to it.
    notified_drafts: list[int]


class OrderAccepted(BaseModel):
    """An order stored (or already known), with its status now."""

    order_id: str
    # None: an order with no buyer we can identify (a POS sale without a customer or email).
    customer_id: str | None
    duplicate: bool
    # Only a `placed` order is a purchase.
    status: str
    # Drafts waiting for review that this delivery withdrew: the post-purchase drafts of an
    # order that stopped being a purchase, or all of a buyer's who unsubscribed.
    drafts_withdrawn: int = 0


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
    suppressed_hard_bounce: int
    suppressed_soft_bounces: int
    sends_waiting: int
    sends_failed: int


class EvidenceRead(BaseModel):
    """A sentence the customer wrote that matches the query. Never one holding personal data
    (even redacted), an opt-out, a topic they opted out of, or something they said is not so
    ("we don't have a grinder"); sensitive sentences are never indexed at all."""

    text: str
    score: float = Field(
        description="Relevance: half the sentence's cosine similarity to the query, half its "
        "conversation's mean similarity."
    )
    message_id: str
    conversation_id: str
    sent_at: datetime


class CustomerMatchRead(BaseModel):
    """A customer asking about the query, with their own words as evidence."""

    customer_id: str
    first_name: str | None
    score: float = Field(description="The relevance of the customer's best sentence.")
    matches: int = Field(description="How many of the customer's messages matched.")
    evidence: list[EvidenceRead]


class SearchRead(BaseModel):
    """The answer to "which customers are asking about X?"."""

    query: str
    customers: list[CustomerMatchRead]
    refused: bool = Field(
        default=False,
        description="True when the question touches a sensitive category (health, pregnancy, "
        "religion, politics, sexuality, ethnicity, union membership, money trouble and job "
        "loss, divorce and bereavement, criminal record): nobody is returned, whatever "
        "customers said, because none of it is kept.",
    )
    reason: str | None = Field(
        default=None, description="Why the question was refused, naming the category."
    )
    rewritten_as: list[str] = Field(
        default_factory=list,
        description="Customer-voice phrasings of the question written by Claude and searched "
        "with it (only when the owner turned on SEARCH_REWRITE); empty otherwise.",
    )


class IntentRead(BaseModel):
    """A built-in intent or a tracker, with how many messages and customers carry it."""

    name: str
    kind: str
    description: str
    messages: int
    customers: int


class IntentCustomerRead(BaseModel):
    """A customer who expressed an intent: how often, and when last."""

    customer_id: str
    first_name: str | None
    count: int
    last_asked: datetime
    best_score: float


class TrackerCreate(NoNul):
    """A custom intent: a name, what it means, and example phrases customers would write."""

    name: str = Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_]+$")
    description: str = Field(min_length=1, max_length=1000)
    examples: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=50
    )
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)


class TrackerRead(BaseModel):
    """A tracker as stored, with how many existing messages matched when it was created."""

    name: str
    description: str
    examples: list[str]
    threshold: float
    matched_messages: int


class ErrorDetail(BaseModel):
    """What went wrong: a code to branch on, a message for people, the field at fault."""

    code: str
    message: str
    field: str | None = None
    # Every problem of a request that failed validation, when there were several.
    errors: list[dict[str, str]] | None = None


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code", "message", "field"?}}`."""

    error: ErrorDetail


# The errors any route may answer with, documented in the OpenAPI schema with their real shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "No API key, or an unknown or revoked one"),
        (403, "The key lacks the scope this route needs"),
        (404, "Not found"),
        (409, "Conflicts with what is stored"),
        (413, "Body over the size limit"),
        (422, "Invalid input; `field` names where"),
        (429, "Rate limit of the key reached; see Retry-After"),
    )
}
