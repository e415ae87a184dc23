"""Inbound schemas: valid records parse, extra keys are ignored, bad input names its field."""

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from chat_ingest.errors import InvalidInput
from chat_ingest.schemas import (
    MAX_ACCEPTED_CHARS,
    MAX_MESSAGE_CHARS,
    CustomerCreate,
    MessageCreate,
    MessageEvent,
    OrderCreate,
    OrderItemCreate,
    TranscriptCreate,
    clip_text,
    field_path,
    invalid_from,
)

_DROP = object()


def customer() -> dict[str, Any]:
    return {
        "id": "cust-1",
        "email": "jane@acme.test",
        "first_name": "Jane",
        "signup_source": "newsletter",
        "subscribed_at": "2026-01-01T09:00:00Z",
        "marketing_consent": True,
    }


def item() -> dict[str, Any]:
    return {
        "sku": "TEA-1",
        "name": "Green tea",
        "category": "tea",
        "quantity": 2,
        "unit_price": "4.50",
    }


def order() -> dict[str, Any]:
    return {
        "order_id": "ord-1",
        "customer_id": "cust-1",
        "placed_at": "2026-01-02T10:00:00+01:00",
        "currency": "EUR",
        "total": "9.00",
        "items": [item()],
    }


def message(message_id: str = "m1", role: str = "customer") -> dict[str, Any]:
    return {
        "id": message_id,
        "role": role,
        "text": "I run marathons",
        "sent_at": "2026-01-01T10:00:00Z",
    }


def transcript() -> dict[str, Any]:
    return {
        "conversation_id": "conv-1",
        "customer_id": "cust-1",
        "source": "import",
        "messages": [message("m1", "customer"), message("m2", "agent")],
    }


def event() -> dict[str, Any]:
    return {
        "conversation_id": "conv-1",
        "customer": {"id": "cust-1", "email": "jane@acme.test", "first_name": "Jane"},
        "message": message(),
    }


def changed(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the key at `path` set to `value` (or removed with _DROP)."""
    result = copy.deepcopy(data)
    parent: Any = result
    for part in path[:-1]:
        parent = parent[part]
    if value is _DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return result


def rejected(model: type[BaseModel], data: Any) -> InvalidInput:
    """Validate `data`, expect a failure, and return it as our InvalidInput."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return invalid_from(caught.value)


# Valid records


def test_valid_customer_parses() -> None:
    parsed = CustomerCreate.model_validate(customer())
    assert parsed.id == "cust-1"
    assert parsed.email == "jane@acme.test"
    assert parsed.first_name == "Jane"
    assert parsed.subscribed_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert parsed.marketing_consent is True


def test_minimal_customer_leaves_optional_fields_unset() -> None:
    parsed = CustomerCreate.model_validate({"id": "cust-1"})
    assert parsed.email is None and parsed.first_name is None
    assert parsed.marketing_consent is None


def test_valid_order_parses_with_decimals_and_aware_time() -> None:
    parsed = OrderCreate.model_validate(order())
    assert parsed.order_id == "ord-1"
    assert parsed.currency == "EUR"
    assert parsed.total == Decimal("9.00")
    assert parsed.placed_at.utcoffset() == timedelta(hours=1)
    assert parsed.placed_at == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    assert len(parsed.items) == 1
    line = parsed.items[0]
    assert isinstance(line, OrderItemCreate)
    assert (line.sku, line.name, line.category) == ("TEA-1", "Green tea", "tea")
    assert line.quantity == 2
    assert line.unit_price == Decimal("4.50")


def test_valid_order_item_parses() -> None:
    parsed = OrderItemCreate.model_validate(item())
    assert parsed.quantity == 2 and parsed.unit_price == Decimal("4.50")


def test_valid_message_parses() -> None:
    parsed = MessageCreate.model_validate(message())
    assert parsed.id == "m1"
    assert parsed.role == "customer"
    assert parsed.text == "I run marathons"
    assert parsed.sent_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("role", ["customer", "agent", "bot"])
def test_every_known_role_is_accepted(role: str) -> None:
    assert MessageCreate.model_validate(message(role=role)).role == role


def test_valid_transcript_parses() -> None:
    parsed = TranscriptCreate.model_validate(transcript())
    assert parsed.conversation_id == "conv-1"
    assert parsed.source == "import"
    assert [m.id for m in parsed.messages] == ["m1", "m2"]
    assert [m.role for m in parsed.messages] == ["customer", "agent"]


def test_transcript_source_defaults() -> None:
    parsed = TranscriptCreate.model_validate(changed(transcript(), ("source",), _DROP))
    assert parsed.source == "transcript"


def test_valid_message_event_parses() -> None:
    parsed = MessageEvent.model_validate(event())
    assert parsed.conversation_id == "conv-1"
    assert parsed.customer.id == "cust-1"
    assert parsed.customer.email == "jane@acme.test"
    assert parsed.message.id == "m1"
    assert parsed.source == "chat_widget"


def test_ids_are_stripped() -> None:
    parsed = MessageEvent.model_validate(
        changed(changed(event(), ("conversation_id",), "  conv-1 "), ("customer", "id"), " c ")
    )
    assert parsed.conversation_id == "conv-1"
    assert parsed.customer.id == "c"


def test_message_text_over_the_stored_limit_is_accepted_whole() -> None:
    """Accepted as sent: what is stored of it is clip_text's part (chat_ingest.service)."""
    text = "word " * 5000
    assert len(text) > MAX_MESSAGE_CHARS
    parsed = MessageCreate.model_validate(changed(message(), ("text",), text))
    assert parsed.text == text


def test_clip_text_keeps_a_text_within_the_limit_as_it_is() -> None:
    assert clip_text("x" * MAX_MESSAGE_CHARS) == ("x" * MAX_MESSAGE_CHARS, False)
    assert clip_text("hello") == ("hello", False)


def test_clip_text_cuts_a_long_text_after_its_last_whole_word_near_the_limit() -> None:
    words = " ".join(f"w{n:05d}" for n in range(4000))  # 27,999 characters, 7 per word
    kept, truncated = clip_text(words)
    assert truncated
    assert words.startswith(kept)
    assert MAX_MESSAGE_CHARS - 200 <= len(kept) <= MAX_MESSAGE_CHARS
    # It ends on a whole word: the character after it is the space it was cut at.
    assert words[len(kept)] == " " and kept.split()[-1] == words.split()[len(kept.split()) - 1]


def test_clip_text_keeps_all_of_the_limit_when_a_word_ends_right_there() -> None:
    text = "a" * MAX_MESSAGE_CHARS + " and more"
    assert clip_text(text) == ("a" * MAX_MESSAGE_CHARS, True)


def test_clip_text_without_whitespace_near_the_limit_cuts_at_the_limit() -> None:
    text = "x" * (MAX_MESSAGE_CHARS + 500)
    assert clip_text(text) == ("x" * MAX_MESSAGE_CHARS, True)
    # Whitespace further back than the window does not make the cut any shorter.
    text = "y " + "x" * (MAX_MESSAGE_CHARS + 500)
    assert clip_text(text) == (text[:MAX_MESSAGE_CHARS], True)


def test_clip_text_never_splits_a_surrogate_pair() -> None:
    # The two halves of U+1F600 as two code points (as "surrogatepass" decoding leaves
    # them), straddling the limit.
    text = "x" * (MAX_MESSAGE_CHARS - 1) + "\ud83d\ude00" + "x" * 10
    kept, truncated = clip_text(text)
    assert truncated and kept == "x" * (MAX_MESSAGE_CHARS - 1)
    # An emoji that is one code point at the limit is kept or dropped whole.
    text = "x" * (MAX_MESSAGE_CHARS - 1) + "\U0001f600" * 3
    kept, _ = clip_text(text)
    assert kept == "x" * (MAX_MESSAGE_CHARS - 1) + "\U0001f600"


def test_message_text_of_exactly_the_limit_is_accepted() -> None:
    text = "x" * MAX_MESSAGE_CHARS
    assert MAX_MESSAGE_CHARS == 20_000
    parsed = MessageCreate.model_validate(changed(message(), ("text",), text))
    assert parsed.text == text


# Unknown keys


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (CustomerCreate, {**customer(), "favourite_colour": "blue"}),
        (OrderItemCreate, {**item(), "favourite_colour": "blue"}),
        (MessageCreate, {**message(), "favourite_colour": "blue"}),
        (OrderCreate, {**order(), "favourite_colour": "blue"}),
        (TranscriptCreate, {**transcript(), "favourite_colour": "blue"}),
        (MessageEvent, {**event(), "favourite_colour": "blue"}),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_unknown_top_level_keys_are_ignored(model: type[BaseModel], data: dict[str, Any]) -> None:
    parsed = model.model_validate(data)
    assert "favourite_colour" not in parsed.model_dump()
    assert not hasattr(parsed, "favourite_colour")


def test_unknown_nested_keys_are_ignored() -> None:
    data = changed(order(), ("items", 0, "warehouse"), "north")
    data = changed(data, ("meta",), {"anything": [1, 2]})
    parsed = OrderCreate.model_validate(data)
    assert "warehouse" not in parsed.items[0].model_dump()
    assert "meta" not in parsed.model_dump()

    event_data = changed(event(), ("message", "edited"), True)
    event_data = changed(event_data, ("customer", "phone"), "+1 555")
    parsed_event = MessageEvent.model_validate(event_data)
    assert "edited" not in parsed_event.message.model_dump()
    assert "phone" not in parsed_event.customer.model_dump()


# Bad input names the field

# Over what is accepted at all (a text over MAX_MESSAGE_CHARS is accepted, and stored cut).
LONG_TEXT = "x" * (MAX_ACCEPTED_CHARS + 1)
NAIVE = "2026-01-01T10:00:00"

BAD_INPUTS: list[tuple[str, type[BaseModel], dict[str, Any], str]] = [
    # wrong types
    ("item quantity as a word", OrderItemCreate, changed(item(), ("quantity",), "two"), "quantity"),
    (
        "order item quantity as a word",
        OrderCreate,
        changed(order(), ("items", 0, "quantity"), "two"),
        "items[0].quantity",
    ),
    ("customer id as an object", CustomerCreate, changed(customer(), ("id",), {"a": 1}), "id"),
    ("message text as a number", MessageCreate, changed(message(), ("text",), 42), "text"),
    (
        "transcript text as a number",
        TranscriptCreate,
        changed(transcript(), ("messages", 1, "text"), 42),
        "messages[1].text",
    ),
    (
        "event customer id as an object",
        MessageEvent,
        changed(event(), ("customer", "id"), {"id": "x"}),
        "customer.id",
    ),
    ("items not a list", OrderCreate, changed(order(), ("items",), "TEA-1"), "items"),
    (
        "consent as a word",
        CustomerCreate,
        changed(customer(), ("marketing_consent",), "yes please"),
        "marketing_consent",
    ),
    # missing required keys
    ("customer without id", CustomerCreate, changed(customer(), ("id",), _DROP), "id"),
    ("order without placed_at", OrderCreate, changed(order(), ("placed_at",), _DROP), "placed_at"),
    ("item without sku", OrderCreate, changed(order(), ("items", 0, "sku"), _DROP), "items[0].sku"),
    ("message without role", MessageCreate, changed(message(), ("role",), _DROP), "role"),
    (
        "transcript message without text",
        TranscriptCreate,
        changed(transcript(), ("messages", 0, "text"), _DROP),
        "messages[0].text",
    ),
    (
        "transcript without messages",
        TranscriptCreate,
        changed(transcript(), ("messages",), _DROP),
        "messages",
    ),
    ("event without customer", MessageEvent, changed(event(), ("customer",), _DROP), "customer"),
    (
        "event message without sent_at",
        MessageEvent,
        changed(event(), ("message", "sent_at"), _DROP),
        "message.sent_at",
    ),
    # unknown role
    ("system role", MessageCreate, changed(message(), ("role",), "system"), "role"),
    (
        "system role in transcript",
        TranscriptCreate,
        changed(transcript(), ("messages", 1, "role"), "system"),
        "messages[1].role",
    ),
    (
        "system role in event",
        MessageEvent,
        changed(event(), ("message", "role"), "system"),
        "message.role",
    ),
    # text too long to accept at all, or empty
    ("text over the limit", MessageCreate, changed(message(), ("text",), LONG_TEXT), "text"),
    (
        "transcript text over the limit",
        TranscriptCreate,
        changed(transcript(), ("messages", 1, "text"), LONG_TEXT),
        "messages[1].text",
    ),
    (
        "event text over the limit",
        MessageEvent,
        changed(event(), ("message", "text"), LONG_TEXT),
        "message.text",
    ),
    ("empty text", MessageCreate, changed(message(), ("text",), ""), "text"),
    # timestamps without a zone
    ("naive sent_at", MessageCreate, changed(message(), ("sent_at",), NAIVE), "sent_at"),
    (
        "naive event sent_at",
        MessageEvent,
        changed(event(), ("message", "sent_at"), NAIVE),
        "message.sent_at",
    ),
    ("naive placed_at", OrderCreate, changed(order(), ("placed_at",), NAIVE), "placed_at"),
    (
        "naive subscribed_at",
        CustomerCreate,
        changed(customer(), ("subscribed_at",), NAIVE),
        "subscribed_at",
    ),
    ("unreadable sent_at", MessageCreate, changed(message(), ("sent_at",), "yesterday"), "sent_at"),
    # quantities and money
    ("zero quantity", OrderItemCreate, changed(item(), ("quantity",), 0), "quantity"),
    (
        "negative quantity",
        OrderCreate,
        changed(order(), ("items", 0, "quantity"), -1),
        "items[0].quantity",
    ),
    ("fractional quantity", OrderItemCreate, changed(item(), ("quantity",), 1.5), "quantity"),
    (
        "negative unit_price",
        OrderItemCreate,
        changed(item(), ("unit_price",), "-0.01"),
        "unit_price",
    ),
    (
        "negative unit_price in order",
        OrderCreate,
        changed(order(), ("items", 0, "unit_price"), -1),
        "items[0].unit_price",
    ),
    ("negative total", OrderCreate, changed(order(), ("total",), "-5"), "total"),
    (
        "unit_price as a word",
        OrderItemCreate,
        changed(item(), ("unit_price",), "cheap"),
        "unit_price",
    ),
    ("order with no items", OrderCreate, changed(order(), ("items",), []), "items"),
    # currency
    ("lowercase currency", OrderCreate, changed(order(), ("currency",), "eur"), "currency"),
    ("two-letter currency", OrderCreate, changed(order(), ("currency",), "EU"), "currency"),
    ("four-letter currency", OrderCreate, changed(order(), ("currency",), "EURO"), "currency"),
    ("currency with a digit", OrderCreate, changed(order(), ("currency",), "EU1"), "currency"),
    ("currency symbol", OrderCreate, changed(order(), ("currency",), "€"), "currency"),
    # transcripts
    (
        "transcript with no messages",
        TranscriptCreate,
        changed(transcript(), ("messages",), []),
        "messages",
    ),
    # empty ids
    ("empty customer id", CustomerCreate, changed(customer(), ("id",), ""), "id"),
    ("blank customer id", CustomerCreate, changed(customer(), ("id",), "   "), "id"),
    ("empty message id", MessageCreate, changed(message(), ("id",), ""), "id"),
    ("empty order id", OrderCreate, changed(order(), ("order_id",), ""), "order_id"),
    ("empty sku", OrderCreate, changed(order(), ("items", 0, "sku"), ""), "items[0].sku"),
    (
        "empty conversation id",
        TranscriptCreate,
        changed(transcript(), ("conversation_id",), ""),
        "conversation_id",
    ),
    (
        "empty transcript message id",
        TranscriptCreate,
        changed(transcript(), ("messages", 1, "id"), ""),
        "messages[1].id",
    ),
    (
        "empty event customer id",
        MessageEvent,
        changed(event(), ("customer", "id"), ""),
        "customer.id",
    ),
    # emails
    ("malformed email", CustomerCreate, changed(customer(), ("email",), "not-an-email"), "email"),
    (
        "malformed event email",
        MessageEvent,
        changed(event(), ("customer", "email"), "a@b"),
        "customer.email",
    ),
]


@pytest.mark.parametrize(
    ("model", "data", "expected_field"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_rejected_naming_its_field(
    model: type[BaseModel], data: dict[str, Any], expected_field: str
) -> None:
    error = rejected(model, data)
    assert isinstance(error, InvalidInput)
    assert error.field == expected_field
    assert error.message
    assert str(error) == f"{expected_field}: {error.message}"


def test_transcript_with_a_repeated_message_id_is_rejected() -> None:
    data = changed(transcript(), ("messages", 1, "id"), "m1")
    error = rejected(TranscriptCreate, data)
    assert "'m1'" in error.message
    assert "twice" in error.message


def test_repeated_message_id_error_names_the_messages_field() -> None:
    """A repeated message id is reported on the messages field, not on the root."""
    data = changed(transcript(), ("messages", 1, "id"), "m1")
    error = rejected(TranscriptCreate, data)
    assert error.field is not None
    assert error.field.startswith("messages"), error.field


def test_repeated_ids_after_stripping_are_duplicates() -> None:
    data = changed(transcript(), ("messages", 1, "id"), " m1 ")
    with pytest.raises(ValidationError):
        TranscriptCreate.model_validate(data)


def test_non_object_input_is_rejected_at_the_root() -> None:
    assert rejected(MessageCreate, ["not", "an", "object"]).field == "(root)"


def test_invalid_from_keeps_the_line_number() -> None:
    with pytest.raises(ValidationError) as caught:
        OrderCreate.model_validate(changed(order(), ("items", 0, "quantity"), "two"))
    error = invalid_from(caught.value, line=7)
    assert error.line == 7
    assert error.field == "items[0].quantity"
    assert str(error).startswith("line 7: items[0].quantity: ")


def test_invalid_from_reports_the_first_problem() -> None:
    data = changed(changed(message(), ("role",), "system"), ("sent_at",), NAIVE)
    with pytest.raises(ValidationError) as caught:
        MessageCreate.model_validate(data)
    assert len(caught.value.errors()) == 2
    assert invalid_from(caught.value).field == "role"


# field_path


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("messages", 3, "role"), "messages[3].role"),
        (("items", 0, "quantity"), "items[0].quantity"),
        (("message", "sent_at"), "message.sent_at"),
        (("body", "items", 0, "quantity"), "items[0].quantity"),
        (("body",), "(root)"),
        ((), "(root)"),
        (("id",), "id"),
        ((0, "id"), "[0].id"),
        (("customer", "body"), "customer.body"),
        (("matrix", 1, 2), "matrix[1][2]"),
    ],
)
def test_field_path_renders_locations(loc: tuple[int | str, ...], expected: str) -> None:
    assert field_path(loc) == expected
