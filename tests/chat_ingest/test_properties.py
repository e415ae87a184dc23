"""Property tests: every input parser and adapter parses its input or raises our own error.

JSON Lines lines, Chatwoot and Shopify webhook payloads and Shopify signatures are fed arbitrary
bytes, arbitrary JSON and near-valid records (a valid record with one field replaced, removed,
or extra keys added); the only exceptions allowed out are InvalidInput and SignatureError, and
whatever a parser accepts must also be storable.
"""

import base64
import hashlib
import hmac
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, inspect, select

from api.schemas import TrackerCreate
from chat_ingest.adapters.chatwoot import (
    ChatwootContact,
    ChatwootMessage,
    Ignored,
    parse_chatwoot_event,
)
from chat_ingest.adapters.shopify import ShopifyOrder, parse_shopify_order, verify_shopify_signature
from chat_ingest.errors import InvalidInput, SignatureError
from chat_ingest.jsonl import Kind, import_file, parse_line
from chat_ingest.platforms import (
    store_chatwoot_contact,
    store_chatwoot_message,
    store_shopify_order,
)
from chat_ingest.schemas import (
    CustomerCreate,
    CustomerRef,
    MessageCreate,
    MessageEvent,
    OrderCreate,
    OrderItemCreate,
    TranscriptCreate,
    field_path,
)
from engine.db import Database
from engine.errors import ConflictError, EngineError
from engine.models import Base, Conversation, Customer, Message, Order, OrderItem, Product
from engine.settings import Settings
from tests.json_strategies import JSON_VALUES, Path_, dumps, outcome
from tests.json_strategies import near_valid as near_valid_with
from tests.webhook_payloads import documented_order, documented_payload

PROPERTY = settings(max_examples=100, deadline=None)
STORING = settings(max_examples=30, deadline=None)

SCHEMAS: list[type[BaseModel]] = [CustomerCreate, OrderCreate, TranscriptCreate, MessageEvent]

OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
# Anything from year 1 to 9999 with any offset: some of these cannot be expressed in UTC.
ANY_TIMESTAMPS = st.datetimes(timezones=OFFSETS).map(datetime.isoformat)
# Replacement values aimed at the edges: lengths around the column limits, extreme times and
# amounts, and strings that look like numbers.
LONG_STRINGS = st.tuples(
    st.text(max_size=3), st.sampled_from(["x", "é", "€", " "]), st.integers(95, 520)
).map(lambda t: t[0] + t[1] * t[2])
AMOUNTS = st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.decimals(
    min_value=Decimal("9999999999.9"), max_value=Decimal("9999999999.9999"), places=4
).map(str)
ODD_STRINGS = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "NaN", "Infinity", "-1", "1e400", "0", "true", "null", "\ud800"]
)
REPLACEMENTS: st.SearchStrategy[Any] = st.one_of(
    JSON_VALUES, LONG_STRINGS, ANY_TIMESTAMPS, AMOUNTS, ODD_STRINGS, st.integers(-(2**70), 2**70)
)

# Valid records.
# "." and ".." are refused as customer ids (no URL can carry them); every other id is valid.
IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,30}", fullmatch=True).filter(lambda s: s not in {".", ".."})
EMAILS = st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True)
WORDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
TIMESTAMPS = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=OFFSETS
).map(datetime.isoformat)
PRICES = st.decimals(min_value=0, max_value=10**7, places=2).map(str) | st.integers(0, 10**6)


def optional_fields(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Some of the optional fields, each with a drawn value."""
    return {name: draw(values) for name, values in fields.items() if draw(st.booleans())}


@st.composite
def customers(draw: st.DrawFn, ids: st.SearchStrategy[str] = IDS) -> dict[str, Any]:
    """A valid customer record."""
    return {"id": draw(ids)} | optional_fields(
        draw,
        {
            "email": EMAILS | st.none(),
            "first_name": WORDS | st.none(),
            "signup_source": WORDS,
            "subscribed_at": TIMESTAMPS,
            "marketing_consent": st.booleans() | st.none(),
        },
    )


@st.composite
def items(draw: st.DrawFn, skus: st.SearchStrategy[str] = IDS) -> dict[str, Any]:
    """A valid order line."""
    item = {
        "sku": draw(skus),
        "name": draw(WORDS),
        "quantity": draw(st.integers(1, 1_000_000)),
        "unit_price": draw(PRICES),
    }
    return item | optional_fields(draw, {"category": WORDS | st.none()})


@st.composite
def orders(
    draw: st.DrawFn, ids: st.SearchStrategy[str] = IDS, customer_ids: st.SearchStrategy[str] = IDS
) -> dict[str, Any]:
    """A valid order record."""
    return {
        "order_id": draw(ids),
        "customer_id": draw(customer_ids),
        "placed_at": draw(TIMESTAMPS),
        "currency": draw(st.from_regex(r"[A-Z]{3}", fullmatch=True)),
        "total": draw(PRICES),
        "items": draw(st.lists(items(), min_size=1, max_size=3)),
    }


@st.composite
def messages(draw: st.DrawFn, ids: st.SearchStrategy[str] = IDS) -> dict[str, Any]:
    """A valid chat turn."""
    return {
        "id": draw(ids),
        "role": draw(st.sampled_from(["customer", "agent", "bot"])),
        "text": draw(WORDS),
        "sent_at": draw(TIMESTAMPS),
    }


@st.composite
def transcripts(
    draw: st.DrawFn,
    ids: st.SearchStrategy[str] = IDS,
    customer_ids: st.SearchStrategy[str] = IDS,
    message_ids: st.SearchStrategy[str] = IDS,
) -> dict[str, Any]:
    """A valid transcript record (message ids unique within it)."""
    turns = draw(
        st.lists(messages(message_ids), min_size=1, max_size=4, unique_by=lambda m: m["id"])
    )
    record = {"conversation_id": draw(ids), "customer_id": draw(customer_ids), "messages": turns}
    return record | optional_fields(draw, {"source": WORDS})


@st.composite
def message_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid streamed message."""
    customer = {"id": draw(IDS)} | optional_fields(
        draw, {"email": EMAILS | st.none(), "first_name": WORDS | st.none()}
    )
    event = {"conversation_id": draw(IDS), "customer": customer, "message": draw(messages())}
    return event | optional_fields(draw, {"source": WORDS})


RECORDS: dict[type[BaseModel], st.SearchStrategy[dict[str, Any]]] = {
    CustomerCreate: customers(),
    OrderCreate: orders(),
    TranscriptCreate: transcripts(),
    MessageEvent: message_events(),
}


# Near-valid records: one change to a valid one.


def near_valid(record: Any) -> st.SearchStrategy[tuple[Any, Path_, str]]:
    """A near-valid copy of a record, with replacements aimed at the edges."""
    return near_valid_with(record, REPLACEMENTS)


def related(field: str, path: str) -> bool:
    """True when one field path is the other or lies inside it."""
    return any(
        a == b or a.startswith(f"{b}.") or a.startswith(f"{b}[")
        for a, b in ((field, path), (path, field))
    )


# Accepted records must fit the columns they are stored in (PostgreSQL enforces lengths,
# precision and no NUL characters; SQLite enforces none of them, so the SQLite tests alone
# would not notice).
def _column(model: type[Base], name: str) -> int | None:
    """The declared length of a string column."""
    length: int | None = getattr(inspect(model).columns[name].type, "length", None)
    return length


COLUMN_LENGTHS: dict[tuple[type[BaseModel], str], list[int | None]] = {
    (CustomerCreate, "id"): [_column(Customer, "id")],
    (CustomerCreate, "email"): [_column(Customer, "email")],
    (CustomerCreate, "first_name"): [_column(Customer, "first_name")],
    (CustomerCreate, "signup_source"): [_column(Customer, "signup_source")],
    (CustomerRef, "id"): [_column(Customer, "id")],
    (CustomerRef, "email"): [_column(Customer, "email")],
    (CustomerRef, "first_name"): [_column(Customer, "first_name")],
    (OrderCreate, "order_id"): [_column(Order, "id")],
    (OrderCreate, "customer_id"): [_column(Customer, "id")],
    (OrderCreate, "currency"): [_column(Order, "currency")],
    (OrderItemCreate, "sku"): [_column(OrderItem, "sku"), _column(Product, "sku")],
    (OrderItemCreate, "name"): [_column(OrderItem, "name"), _column(Product, "name")],
    (OrderItemCreate, "category"): [_column(OrderItem, "category"), _column(Product, "category")],
    (MessageCreate, "id"): [_column(Message, "message_id")],
    (TranscriptCreate, "conversation_id"): [_column(Conversation, "id")],
    (TranscriptCreate, "customer_id"): [_column(Customer, "id")],
    (TranscriptCreate, "source"): [_column(Conversation, "source")],
    (MessageEvent, "conversation_id"): [_column(Conversation, "id")],
    (MessageEvent, "source"): [_column(Conversation, "source")],
}
# Numeric(12, 2): amounts are stored rounded to cents, with at most 10 digits before the point.
LARGEST_AMOUNT = Decimal("9999999999.99")


def assert_storable(model: BaseModel) -> None:
    """Every value of an accepted record fits its column on both databases."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for one in values:
            if isinstance(one, BaseModel):
                assert_storable(one)
            elif isinstance(one, str):
                assert "\x00" not in one, name
                for limit in COLUMN_LENGTHS.get((type(model), name), []):
                    assert limit is None or len(one) <= limit, (name, len(one), limit)
            elif isinstance(one, Decimal):
                assert one.quantize(Decimal("0.01")) <= LARGEST_AMOUNT, (name, one)
            elif isinstance(one, datetime):
                one.astimezone(UTC)  # raises OverflowError when UTC cannot express it


# parse_line


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@PROPERTY
@given(raw=st.binary(max_size=200), line=st.integers(1, 10**9))
def test_arbitrary_bytes_parse_or_are_rejected_by_line(
    schema: type[BaseModel], raw: bytes, line: int
) -> None:
    """Any bytes: a record, or InvalidInput naming the line and a field."""
    result = outcome(lambda: parse_line(raw, line=line, schema=schema), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.line == line and result.field
    else:
        assert isinstance(result, schema)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@PROPERTY
@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_arbitrary_json_parses_or_is_rejected_by_line(
    schema: type[BaseModel], value: Any, ascii_only: bool
) -> None:
    """Any JSON value: a record, or InvalidInput naming the line and a field."""
    result = outcome(
        lambda: parse_line(dumps(value, ascii_only=ascii_only), line=7, schema=schema),
        InvalidInput,
    )
    if isinstance(result, InvalidInput):
        assert result.line == 7 and result.field
        if not isinstance(value, dict):
            assert result.field == "(line)"
    else:
        assert isinstance(value, dict) and isinstance(result, schema)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@PROPERTY
@given(data=st.data())
def test_objects_with_the_schemas_keys_parse_or_name_a_field(
    schema: type[BaseModel], data: st.DataObject
) -> None:
    """Objects keyed by the schema's own field names, with any values, name the bad field."""
    keys = st.sampled_from(sorted(schema.model_fields)) | st.text(max_size=6)
    value = data.draw(st.dictionaries(keys, REPLACEMENTS, max_size=6))
    result = outcome(lambda: parse_line(dumps(value), line=3, schema=schema), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.line == 3 and result.field and result.field != "(line)"
    else:
        assert_storable(result)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@PROPERTY
@given(data=st.data())
def test_valid_records_parse(schema: type[BaseModel], data: st.DataObject) -> None:
    """A valid record always parses, to the same values, and fits its columns."""
    record = data.draw(RECORDS[schema])
    parsed = parse_line(dumps(record, ascii_only=data.draw(st.booleans())), line=1, schema=schema)
    assert isinstance(parsed, schema)
    assert parsed == schema.model_validate(record)
    assert_storable(parsed)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@settings(PROPERTY, max_examples=200)
@given(data=st.data())
def test_near_valid_records_parse_or_name_the_changed_field(
    schema: type[BaseModel], data: st.DataObject
) -> None:
    """One value replaced or removed: a storable record, or InvalidInput naming the line and the
    changed field; extra keys are ignored."""
    record = data.draw(RECORDS[schema], label="record")
    changed, where, how = data.draw(near_valid(record), label="change")
    line = data.draw(st.integers(1, 10**6), label="line")
    result = outcome(lambda: parse_line(dumps(changed), line=line, schema=schema), InvalidInput)
    if how == "extra":
        assert result == schema.model_validate(record)
    if isinstance(result, InvalidInput):
        assert result.line == line and result.field
        assert related(result.field, field_path(where)), (result.field, where)
    else:
        assert isinstance(result, schema)
        assert_storable(result)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@PROPERTY
@given(data=st.data())
def test_corrupted_lines_parse_or_are_rejected_by_line(
    schema: type[BaseModel], data: st.DataObject
) -> None:
    """A valid line cut short, or with bytes flipped or inserted, never escapes InvalidInput."""
    raw = bytearray(dumps(data.draw(RECORDS[schema])))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw) - 1))
        how = data.draw(st.sampled_from(["cut", "flip", "insert"]))
        if how == "cut":
            del raw[position:]
        elif how == "flip":
            raw[position] ^= data.draw(st.integers(1, 255))
        else:
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        if not raw:
            break
    result = outcome(lambda: parse_line(bytes(raw), line=2, schema=schema), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.line == 2 and result.field
    else:
        assert_storable(result)


# import_file


@contextmanager
def fresh_database() -> Iterator[Database]:
    """A migrated SQLite database in a temporary home, for one whole property test."""
    with tempfile.TemporaryDirectory(prefix="personalize-props-") as home:
        database = Database(
            Settings(
                personalize_home=Path(home) / "home",
                database_url=None,
                qdrant_url=None,
                anthropic_api_key=None,
                shopify_webhook_secret=None,
            )
        )
        database.migrate()
        try:
            yield database
        finally:
            database.dispose()


def row_counts(db: Database) -> dict[str, int]:
    """How many rows each ingest table holds."""
    with db.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, Conversation, Message, Order, OrderItem, Product)
        }


def import_lines(kind: Kind, prefix: str) -> st.SearchStrategy[bytes]:
    """Lines of a file: valid records (ids from small pools, so duplicates and conflicts
    happen), near-valid ones, arbitrary bytes, and blank lines."""
    pool = st.sampled_from([f"{prefix}-{n}" for n in range(3)])
    valid: st.SearchStrategy[dict[str, Any]] = {
        "customers": customers(pool),
        "orders": orders(pool, pool),
        "transcripts": transcripts(
            pool, pool, st.sampled_from([f"{prefix}-m{n}" for n in range(4)])
        ),
    }[kind]
    return st.one_of(
        valid.map(dumps),
        valid.flatmap(near_valid).map(lambda change: dumps(change[0])),
        st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b"")),
        st.sampled_from([b"", b"  ", b"\r", b"\t \x0b"]),
    )


KIND_SCHEMAS: dict[Kind, type[BaseModel]] = {
    "customers": CustomerCreate,
    "orders": OrderCreate,
    "transcripts": TranscriptCreate,
}


@pytest.mark.parametrize("kind", ["customers", "orders", "transcripts"])
def test_import_file_stores_or_rejects_every_line_and_is_idempotent(kind: Kind) -> None:
    """Any file: never raises, stored + known + rejected = non-blank lines, each rejection names
    its line and field, and importing the same file again stores nothing new."""
    with fresh_database() as db, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}.jsonl"

        @STORING
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            prefix = uuid.uuid4().hex[:8]  # a fresh id space per example: the database is shared
            lines = data.draw(st.lists(import_lines(kind, prefix), max_size=12))
            path.write_bytes(b"\n".join(lines) + data.draw(st.sampled_from([b"", b"\n"])))
            numbered = {n for n, raw in enumerate(lines, start=1) if raw.strip()}
            schema = KIND_SCHEMAS[kind]
            unparsable = set()
            for number in numbered:
                try:
                    parse_line(lines[number - 1].strip(), line=number, schema=schema)
                except InvalidInput:
                    unparsable.add(number)

            first = import_file(db, path=path, kind=kind)
            assert first.imported + first.duplicates + first.rejected == len(numbered)
            assert len(first.errors) == first.rejected
            rejected = [error.line for error in first.errors]
            assert len(set(rejected)) == len(rejected) and set(rejected) <= numbered
            # Lines that parse are rejected only when their conversation is another customer's.
            assert unparsable <= set(rejected)
            assert all(error.field for error in first.errors)
            assert all(
                error.field == "conversation_id" and kind == "transcripts"
                for error in first.errors
                if error.line not in unparsable
            )
            counts = row_counts(db)

            again = import_file(db, path=path, kind=kind)
            assert again.imported == 0
            assert again.duplicates == first.imported + first.duplicates
            assert [(e.line, e.field) for e in again.errors] == [
                (e.line, e.field) for e in first.errors
            ]
            assert row_counts(db) == counts

        check()


# Chatwoot


def chatwoot_identity(parsed: ChatwootMessage) -> MessageEvent:
    """The event chat_ingest.platforms stores for a parsed Chatwoot message of a contact we hold
    no profile of: its customer id is the contact's identifier, else its email, else its id."""
    contact = parsed.contact
    if contact.identifier:
        customer_id = contact.identifier
    elif contact.email:
        customer_id = contact.email.lower()
    else:
        customer_id = f"chatwoot-contact:{contact.contact_id}"
    event = MessageEvent(
        conversation_id=parsed.conversation_id,
        customer=CustomerRef(id=customer_id, email=contact.email, first_name=contact.first_name),
        message=parsed.message,
        source="chatwoot",
    )
    assert_storable(event)
    return event


def check_chatwoot(payload: Any) -> ChatwootMessage | ChatwootContact | Ignored | EngineError:
    """Parse a Chatwoot payload: a message that can be stored, a contact, Ignored, or
    InvalidInput."""
    result = outcome(lambda: parse_chatwoot_event(payload), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.field
    elif isinstance(result, ChatwootMessage):
        chatwoot_identity(result)
    elif isinstance(result, ChatwootContact):
        assert_storable(
            CustomerRef(
                id=result.customer_id()[0], email=result.email, first_name=result.first_name
            )
        )
    else:
        assert isinstance(result, Ignored) and result.reason
    return result


_ABSENT = object()


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with these keys, each mostly holding its own kind of value, sometimes any
    replacement, sometimes absent."""

    def pick(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.integers(0, 9).flatmap(
            lambda n: st.just(_ABSENT) if n == 0 else REPLACEMENTS if n == 1 else values
        )

    return st.fixed_dictionaries({name: pick(values) for name, values in fields.items()}).map(
        lambda given: {name: value for name, value in given.items() if value is not _ABSENT}
    )


CHATWOOT_SHAPED = shaped(
    {
        "event": st.just("message_created"),
        "message_type": st.sampled_from(["incoming", "outgoing", "template", "activity", 0, 3]),
        "content": WORDS,
        "created_at": TIMESTAMPS | st.integers(0, 2**33),
        "id": IDS | st.integers(0, 2**40),
        "private": st.booleans(),
        "account": shaped({"id": IDS | st.integers()}),
        "conversation": shaped(
            {
                "id": IDS | st.integers(),
                "meta": shaped(
                    {
                        "sender": shaped(
                            {
                                "id": IDS | st.integers(),
                                "identifier": IDS,
                                "email": EMAILS,
                                "name": WORDS,
                            }
                        )
                    }
                ),
            }
        ),
    }
)


@PROPERTY
@given(payload=JSON_VALUES | CHATWOOT_SHAPED)
def test_chatwoot_arbitrary_json_is_mapped_ignored_or_refused(payload: Any) -> None:
    """Any JSON, or any object shaped like an event: a storable message, Ignored, or
    InvalidInput naming a field."""
    check_chatwoot(payload)


@settings(PROPERTY, max_examples=200)
@given(change=near_valid(documented_payload()))
def test_chatwoot_near_valid_payloads_are_mapped_ignored_or_refused(
    change: tuple[Any, Path_, str],
) -> None:
    """Chatwoot's documented payload with one change: a storable message, Ignored, or
    InvalidInput naming a field; extra keys change nothing."""
    result = check_chatwoot(change[0])
    if change[2] == "extra":
        assert result == parse_chatwoot_event(documented_payload())


def test_chatwoot_messages_that_parse_are_stored() -> None:
    """A parsed message always stores (or is refused as a conflict), never crashes."""
    with fresh_database() as db:

        @STORING
        @given(change=near_valid(documented_payload()))
        def check(change: tuple[Any, Path_, str]) -> None:
            payload = change[0]
            if isinstance(payload.get("conversation"), dict):
                # A conversation of its own per example: the database is shared.
                payload["conversation"]["id"] = uuid.uuid4().hex
            parsed = check_chatwoot(payload)
            if isinstance(parsed, ChatwootMessage):
                with db.write() as session:
                    outcome(lambda: store_chatwoot_message(session, parsed=parsed), ConflictError)

        check()


# Contact#webhook_data with the event name, as `contact_updated` sends it.
CHATWOOT_CONTACT_SHAPED = shaped(
    {
        "event": st.just("contact_updated"),
        "id": IDS | st.integers(),
        "identifier": IDS,
        "email": EMAILS,
        "name": WORDS,
        "account": shaped({"id": IDS | st.integers()}),
    }
)


def test_chatwoot_contact_updates_are_mapped_or_refused_and_stored() -> None:
    """Any `contact_updated`-shaped object: a contact (which applies without error, to a
    profile we hold or to none), or InvalidInput naming a field."""
    with fresh_database() as db:

        @STORING
        @given(payload=CHATWOOT_CONTACT_SHAPED)
        def check(payload: dict[str, Any]) -> None:
            parsed = check_chatwoot(payload)
            if isinstance(parsed, ChatwootContact):
                with db.write() as session:
                    store_chatwoot_contact(session, parsed=parsed)

        check()


# Shopify


def check_shopify(payload: Any) -> ShopifyOrder | EngineError:
    """Parse a Shopify order: a storable order, or InvalidInput naming a field."""
    result = outcome(lambda: parse_shopify_order(payload), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.field
    else:
        assert isinstance(result, ShopifyOrder)
        assert_storable(result.order)
        if result.customer is not None:  # None: a guest order with no email, no buyer
            assert_storable(result.customer)
    return result


SHOPIFY_SHAPED = shaped(
    {
        "id": IDS | st.integers(0, 2**63),
        "email": EMAILS,
        "created_at": TIMESTAMPS,
        "currency": st.just("USD"),
        "total_price": PRICES,
        "customer": shaped(
            {
                "id": IDS | st.integers(0, 2**63),
                "email": EMAILS,
                "first_name": WORDS,
                "accepts_marketing": st.booleans(),
                "email_marketing_consent": shaped({"state": st.just("subscribed")}),
            }
        ),
        "line_items": st.lists(
            shaped(
                {
                    "sku": IDS,
                    "variant_id": st.integers(0, 2**40),
                    "product_id": st.integers(0, 2**40),
                    "title": WORDS,
                    "name": WORDS,
                    "product_type": WORDS,
                    "quantity": st.integers(1, 10),
                    "price": PRICES,
                }
            ),
            min_size=1,
            max_size=3,
        ),
    }
)


@PROPERTY
@given(payload=JSON_VALUES | SHOPIFY_SHAPED)
def test_shopify_arbitrary_json_is_mapped_or_refused(payload: Any) -> None:
    """Any JSON, or any object shaped like an order: a storable order, or InvalidInput naming
    a field."""
    check_shopify(payload)


@settings(PROPERTY, max_examples=200)
@given(change=near_valid(documented_order()))
def test_shopify_near_valid_orders_are_mapped_or_refused(change: tuple[Any, Path_, str]) -> None:
    """Shopify's documented order with one change: a storable order, or InvalidInput naming a
    field; extra keys change nothing."""
    result = check_shopify(change[0])
    if change[2] == "extra":
        assert result == parse_shopify_order(documented_order())


def test_shopify_orders_that_parse_are_stored() -> None:
    """A parsed order always stores, never crashes."""
    with fresh_database() as db:

        @STORING
        @given(change=near_valid(documented_order()))
        def check(change: tuple[Any, Path_, str]) -> None:
            payload = change[0]
            payload["id"] = uuid.uuid4().hex  # an order of its own per example
            parsed = check_shopify(payload)
            if isinstance(parsed, ShopifyOrder):
                with db.write() as session:
                    store_shopify_order(session, parsed=parsed)

        check()


def sign(body: bytes, secret: str) -> str:
    """Shopify's X-Shopify-Hmac-Sha256, computed here independently of the product code."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


SECRETS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
HEADERS = (
    st.none()
    | st.text(max_size=60)
    | st.binary(max_size=32).map(lambda raw: base64.b64encode(raw).decode())
)


@PROPERTY
@given(body=st.binary(max_size=100), header=HEADERS, secret=SECRETS)
def test_any_signature_header_verifies_or_raises_signature_error(
    body: bytes, header: str | None, secret: str
) -> None:
    """Any header (missing, non-ASCII, lone surrogates): it verifies or raises SignatureError."""
    result = outcome(
        lambda: verify_shopify_signature(body=body, header=header, secret=secret), SignatureError
    )
    if result is None:
        assert header is not None and header.strip() == sign(body, secret)


@PROPERTY
@given(
    body=st.binary(max_size=200),
    secret=SECRETS,
    padding=st.tuples(st.sampled_from(["", " ", "\t"]), st.sampled_from(["", "\n", " \r\n"])),
)
def test_the_right_signature_always_verifies(
    body: bytes, secret: str, padding: tuple[str, str]
) -> None:
    """The HMAC of the body with the secret verifies, surrounding whitespace or not."""
    verify_shopify_signature(
        body=body, header=padding[0] + sign(body, secret) + padding[1], secret=secret
    )


@PROPERTY
@given(body=st.binary(max_size=100), other=st.binary(max_size=100), secret=SECRETS)
def test_the_signature_of_another_body_never_verifies(
    body: bytes, other: bytes, secret: str
) -> None:
    """A signature made for different bytes raises SignatureError."""
    if other != body:
        with pytest.raises(SignatureError):
            verify_shopify_signature(body=body, header=sign(other, secret), secret=secret)


# HTTP request schemas (FastAPI turns their ValidationError into a 422)


@PROPERTY
@given(
    value=JSON_VALUES
    | st.fixed_dictionaries(
        {},
        optional={
            "name": REPLACEMENTS,
            "description": REPLACEMENTS,
            "examples": REPLACEMENTS | st.lists(REPLACEMENTS, max_size=3),
            "threshold": REPLACEMENTS,
        },
    )
)
def test_tracker_requests_validate_or_raise_validation_error(value: Any) -> None:
    """TrackerCreate takes any JSON to a tracker or a ValidationError, nothing else."""
    try:
        tracker = TrackerCreate.model_validate(value)
    except ValidationError as error:
        assert error.errors()
    else:
        assert isinstance(value, dict) and tracker.name == value["name"]


# Regressions found by the properties above


def test_integer_too_long_to_read_is_rejected_by_line() -> None:
    """json.loads raises a bare ValueError (not JSONDecodeError) for ints over 4300 digits."""
    raw = b'{"id": "u1", "marketing_consent": ' + b"1" * 5000 + b"}"
    with pytest.raises(InvalidInput) as caught:
        parse_line(raw, line=4, schema=CustomerCreate)
    assert (caught.value.line, caught.value.field) == (4, "(line)")


def test_json_nested_too_deeply_is_rejected_by_line() -> None:
    """json.loads raises RecursionError on deep nesting."""
    raw = b'{"id": "u1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidInput) as caught:
        parse_line(raw, line=5, schema=CustomerCreate)
    assert (caught.value.line, caught.value.field) == (5, "(line)")


@pytest.mark.parametrize(
    ("schema", "record", "field"),
    [
        (
            CustomerCreate,
            {"id": "u1", "subscribed_at": "0001-01-01T00:00:00+01:00"},
            "subscribed_at",
        ),
        (
            TranscriptCreate,
            {
                "conversation_id": "c1",
                "customer_id": "u1",
                "messages": [
                    {
                        "id": "m1",
                        "role": "customer",
                        "text": "hi",
                        "sent_at": "9999-12-31T23:59:59-00:01",
                    }
                ],
            },
            "messages[0].sent_at",
        ),
    ],
    ids=["year-1-ahead-of-utc", "year-9999-behind-utc"],
)
def test_time_utc_cannot_express_is_rejected_naming_the_field(
    schema: type[BaseModel], record: dict[str, Any], field: str
) -> None:
    """Found by the near-valid property: such a time parsed, then OverflowError when stored."""
    with pytest.raises(InvalidInput) as caught:
        parse_line(dumps(record), line=9, schema=schema)
    assert (caught.value.line, caught.value.field) == (9, field)


def test_import_of_a_time_utc_cannot_express_rejects_the_line(db: Database, tmp_path: Path) -> None:
    """The whole import used to stop on a StatementError(OverflowError) from the database."""
    path = tmp_path / "customers.jsonl"
    lines = [{"id": "u1", "subscribed_at": "0001-01-01T00:00:00+01:00"}, {"id": "u2"}]
    path.write_bytes(b"\n".join(dumps(line) for line in lines))
    summary = import_file(db, path=path, kind="customers")
    assert (summary.imported, summary.rejected) == (1, 1)
    assert (summary.errors[0].line, summary.errors[0].field) == (1, "subscribed_at")


@pytest.mark.parametrize(
    ("schema", "record", "field"),
    [
        (CustomerCreate, {"id": "u\x001"}, "id"),
        (
            MessageEvent,
            {
                "conversation_id": "c1",
                "customer": {"id": "u1", "first_name": "Ja\x00ne"},
                "message": {
                    "id": "m1",
                    "role": "customer",
                    "text": "hi",
                    "sent_at": "2026-01-01T00:00:00Z",
                },
            },
            "customer.first_name",
        ),
        (
            TranscriptCreate,
            {
                "conversation_id": "c1",
                "customer_id": "u1",
                "messages": [
                    {
                        "id": "m1",
                        "role": "customer",
                        "text": "a\x00b",
                        "sent_at": "2026-01-01T00:00:00Z",
                    }
                ],
            },
            "messages[0].text",
        ),
    ],
    ids=["customer-id", "event-first-name", "message-text"],
)
def test_nul_character_is_rejected_naming_the_field(
    schema: type[BaseModel], record: dict[str, Any], field: str
) -> None:
    """PostgreSQL refuses NUL in text (psycopg DataError), which would stop a whole import."""
    with pytest.raises(InvalidInput) as caught:
        parse_line(dumps(record), line=1, schema=schema)
    assert caught.value.field == field


def test_values_too_big_for_their_columns_are_rejected() -> None:
    """A category of 201-255 characters and a total that rounds to 11 digits passed validation
    but overflow String(200) and Numeric(12, 2) on PostgreSQL."""
    item = {"sku": "S1", "name": "Beans", "quantity": 1, "unit_price": "1.00"}
    order = {
        "order_id": "o1",
        "customer_id": "u1",
        "placed_at": "2026-01-01T00:00:00Z",
        "currency": "EUR",
        "total": "1.00",
        "items": [item | {"category": "c" * 201}],
    }
    with pytest.raises(InvalidInput) as caught:
        parse_line(dumps(order), line=1, schema=OrderCreate)
    assert caught.value.field == "items[0].category"
    order["items"] = [item]
    order["total"] = "9999999999.995"
    with pytest.raises(InvalidInput) as caught:
        parse_line(dumps(order), line=1, schema=OrderCreate)
    assert caught.value.field == "total"
    order["total"] = "9999999999.99"
    assert_storable(parse_line(dumps(order), line=1, schema=OrderCreate))


def _chatwoot_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Chatwoot's documented payload with one change."""
    payload = documented_payload()
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_chatwoot_with(lambda p: p["conversation"].update(meta=5)), "conversation.meta.sender"),
        (
            _chatwoot_with(lambda p: p["conversation"].update(meta=["x"])),
            "conversation.meta.sender",
        ),
        (
            _chatwoot_with(
                lambda p: p["conversation"]["meta"]["sender"].update(identifier="i" * 129)
            ),
            "conversation.meta.sender.identifier",
        ),
        (
            _chatwoot_with(lambda p: p["conversation"]["meta"]["sender"].update(email="jane")),
            "conversation.meta.sender.email",
        ),
        (
            _chatwoot_with(
                lambda p: p["conversation"]["meta"]["sender"].update(email="j" * 120 + "@acme.test")
            ),
            "conversation.meta.sender.email",
        ),
        (
            _chatwoot_with(
                lambda p: p["conversation"]["meta"]["sender"].update(email=None, id="7" * 120)
            ),
            "conversation.meta.sender.id",
        ),
        (_chatwoot_with(lambda p: p["conversation"].update(id="c" * 200)), "conversation.id"),
        (
            _chatwoot_with(lambda p: p["conversation"]["meta"]["sender"].update(name="Ja\x00ne")),
            "conversation.meta.sender.name",
        ),
    ],
    ids=[
        "meta-number",
        "meta-list",
        "identifier-too-long",
        "email-not-an-email",
        "email-too-long-for-an-id",
        "contact-id-too-long",
        "conversation-id-too-long",
        "name-with-nul",
    ],
)
def test_chatwoot_contact_that_cannot_be_stored_is_refused_naming_the_field(
    payload: dict[str, Any], field: str
) -> None:
    """A non-object meta raised AttributeError; the others parsed, then the webhook raised a
    pydantic ValidationError (a 500) when chat_ingest.platforms built the customer."""
    with pytest.raises(InvalidInput) as caught:
        parse_chatwoot_event(payload)
    assert caught.value.field == field


def test_shopify_order_id_with_nul_is_refused() -> None:
    """`"id": "\\u0000"` became order id "shopify:\\x00", which PostgreSQL cannot store."""
    payload = documented_order()
    payload["id"] = "\x00"
    with pytest.raises(InvalidInput) as caught:
        parse_shopify_order(payload)
    assert caught.value.field == "id"


@pytest.mark.parametrize("header", ["\ud800", "abc\udcff", "é" * 44])
def test_shopify_signature_header_that_is_not_ascii_raises_signature_error(header: str) -> None:
    """A lone surrogate made `header.encode()` raise UnicodeEncodeError."""
    with pytest.raises(SignatureError):
        verify_shopify_signature(body=b"{}", header=header, secret="s")


def test_shopify_signature_padded_with_unicode_spaces_still_verifies() -> None:
    """Stripping happens before the ASCII check, as before the fix."""
    header = "\u3000" + sign(b"{}", "s") + "\u00a0"
    verify_shopify_signature(body=b"{}", header=header, secret="s")
