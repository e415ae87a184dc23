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

MAX_MESSAGE_CHARS = 20_000

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CustomerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
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


def _in_utc_range(value: datetime) -> datetime:
    """Refuse a time UTC cannot express (year 1 at +01:00): it is stored in UTC."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


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


class OrderCreate(InModel):
    """An order with its items."""

    order_id: Id
    customer_id: CustomerId
    placed_at: Timestamp
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    total: Money
    items: Annotated[list[OrderItemCreate], Field(min_length=1, max_length=1000)]


class MessageCreate(InModel):
    """One chat turn."""

    id: Id
    role: Role
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS)]
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
