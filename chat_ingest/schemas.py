"""Validated shapes of what comes in: customers, orders, transcripts and single messages."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from chat_ingest.errors import InvalidInput
from engine.models import ORDER_STATUSES, time_out_of_range

# What is kept of a message: a longer text (a long email, say) is still the customer's words,
# so its first part is stored and the message is marked truncated (clip_text).
MAX_MESSAGE_CHARS = 20_000
# What is accepted at all: as much as the default request body limit (MAX_BODY_BYTES) can carry,
# so a JSON Lines import takes no bigger text than the API does.
MAX_ACCEPTED_CHARS = 8 * 1024 * 1024
# How far before the limit a cut looks for whitespace, so it does not split a word.
_CUT_WINDOW = 200

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _addressable(value: str) -> str:
    """Refuse the two ids no URL can carry: every client reads "." and ".." as path steps."""
    if value in {".", ".."}:
        raise ValueError(f"{value!r} cannot be a customer id: no URL can hold it")
    return value


# Any other id is reachable over HTTP: the customer routes match it as a path (encode "/").
CustomerId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_addressable),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Role = Literal["customer", "agent", "bot"]
# Stored as NUMERIC(12, 2): at most 10 digits before the point once rounded to cents.
Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("9999999999.99"), max_digits=14, decimal_places=4)
]


def _in_store_range(value: datetime) -> datetime:
    """Refuse a time the store cannot hold or reckon with (year 1 at +01:00, year 9999)."""
    problem = time_out_of_range(value)
    if problem:
        raise ValueError(problem)
    return value


def _as_utc_if_naive(value: datetime) -> datetime:
    """A time given without a zone is taken as UTC (a date typed in a filter, say)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Every time a caller gives: stored times and `as_of` need a zone; filters (`since`, `until`)
# read a bare date as UTC. Both are checked against the range the store holds.
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_store_range)]
TimeFilter = Annotated[datetime, AfterValidator(_as_utc_if_naive), AfterValidator(_in_store_range)]


def clip_text(text: str) -> tuple[str, bool]:
    """The part of a message text that is stored, and whether that is less than all of it."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text, False
    # At the last whitespace near the limit (the first character dropped may be it), so the
    # stored part ends on a whole word; a text without one there is cut at the limit itself.
    window = text[MAX_MESSAGE_CHARS - _CUT_WINDOW : MAX_MESSAGE_CHARS + 1]
    at = max((i for i, char in enumerate(window) if char.isspace()), default=None)
    if at is not None:
        kept = text[: MAX_MESSAGE_CHARS - _CUT_WINDOW + at].rstrip()
        if kept:
            return kept, True
    cut = MAX_MESSAGE_CHARS
    # Never half of a UTF-16 surrogate pair (a string decoded with "surrogatepass" holds them).
    if "\ud800" <= text[cut - 1] <= "\udbff":
        cut -= 1
    return text[:cut], True


def _has_nul(value: Any) -> bool:
    """True when a string, or a string in a list, holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class NoNul(BaseModel):
    """Base of every inbound model: a NUL character in any text field is refused, naming the
    field (PostgreSQL cannot store one, and no customer or marketer types one)."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("contains a NUL character")
        return value


class InModel(NoNul):
    """Base of inbound schemas: unknown keys are ignored, known ones are checked."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class CustomerCreate(InModel):
    """A customer record, as imported or posted."""

    id: CustomerId
    email: Email | None = None
    first_name: Name | None = None
    signup_source: Label | None = None
    subscribed_at: Timestamp | None = None
    # Absent means "unchanged" on an existing customer and "no consent" on a new one.
    marketing_consent: bool | None = None


class CustomerUpdate(InModel):
    """Changes to a known customer: only the fields given change."""

    email: Email | None = None
    first_name: Name | None = None
    signup_source: Label | None = None
    subscribed_at: Timestamp | None = None
    # False withdraws marketing consent (and the customer's drafts waiting for review).
    consent: bool | None = None


class OrderItemCreate(InModel):
    """One line of an order."""

    sku: Id
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    # Strict: JSON true is not a quantity of 1.
    quantity: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]
    unit_price: Money
    # False for a line that is no product (a tip, a custom item): it counts in the order's
    # total but never joins the catalog nor becomes something the customer bought.
    is_product: Annotated[bool, Field(strict=True)] = True


class OrderCreate(InModel):
    """An order with its items."""

    order_id: Id
    # Required, but may be null: an order with no buyer we can identify (a POS sale).
    customer_id: CustomerId | None
    placed_at: Timestamp
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    total: Money
    # Only a `placed` order is a purchase; the others are kept but never count.
    status: Annotated[str, Field(json_schema_extra={"enum": list(ORDER_STATUSES)})] = "placed"
    items: Annotated[list[OrderItemCreate], Field(min_length=1, max_length=1000)]

    @field_validator("status")
    @classmethod
    def _known_status(cls, status: str) -> str:
        if status not in ORDER_STATUSES:
            raise ValueError(f"must be one of {', '.join(ORDER_STATUSES)}")
        return status


class MessageCreate(InModel):
    """One chat turn."""

    id: Id
    role: Role
    # Over MAX_MESSAGE_CHARS is accepted: what is stored is clip_text's part of it.
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ACCEPTED_CHARS)]
    sent_at: Timestamp


class TranscriptCreate(InModel):
    """A whole conversation, stored whole or not at all."""

    conversation_id: Id
    customer_id: CustomerId
    source: Label = "transcript"
    messages: Annotated[list[MessageCreate], Field(min_length=1, max_length=5000)]

    @field_validator("messages")
    @classmethod
    def _unique_message_ids(cls, messages: list[MessageCreate]) -> list[MessageCreate]:
        seen: set[str] = set()
        for message in messages:
            if message.id in seen:
                raise ValueError(f"message id {message.id!r} appears twice in the transcript")
            seen.add(message.id)
        return messages


class CustomerRef(InModel):
    """The customer a streamed message belongs to; email and name fill in what we lack."""

    id: CustomerId
    email: Email | None = None
    first_name: Name | None = None


class MessageEvent(InModel):
    """One message as a chat widget streams it."""

    conversation_id: Id
    customer: CustomerRef
    message: MessageCreate
    source: Label = "chat_widget"


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as `messages[3].role`."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def invalid_from(error: ValidationError, *, line: int | None = None) -> InvalidInput:
    """The first problem of a pydantic error, as our own error naming the field."""
    first = error.errors(include_url=False)[0]
    return InvalidInput(first["msg"], field=field_path(tuple(first["loc"])), line=line)
