"""Shopify's order webhooks (`orders/create`, `orders/updated`, `orders/cancelled`) mapped to
our order, and their HMAC signature check."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chat_ingest.errors import InvalidInput, SignatureError
from chat_ingest.schemas import CustomerCreate, OrderCreate, Timestamp, invalid_from

ORDERS_CREATE = "orders/create"
# The topics whose body is the whole order as it is now; `orders/edited` and `orders/delete`
# send other bodies and are answered 200 without being stored.
ORDER_TOPICS = (
    ORDERS_CREATE,
    "orders/updated",
    "orders/cancelled",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
)
SHOPIFY_CUSTOMER_PREFIX = "shopify:"
# The key of a line that is no product (a tip, a custom item), from its title.
LINE_KEY_PREFIX = "shopify-line:"
# Shopify's email marketing states that change something; `not_subscribed`, `pending` (a
# double opt-in not confirmed), `invalid` and `redacted` neither give nor withdraw consent.
_CONSENT_STATES = {"subscribed": True, "unsubscribed": False}
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)


@dataclass(frozen=True)
class ShopifyConsent:
    """What an order says of its buyer's email marketing consent, and since when (None: it
    does not say when)."""

    subscribed: bool
    at: datetime | None


@dataclass(frozen=True)
class ShopifyOrder:
    """A Shopify order as ours: the buyer to resolve (None for a guest without an email),
    what it says of their consent, and Shopify's own time of its last change."""

    order: OrderCreate
    shopify_customer_id: str | None
    customer: CustomerCreate | None
    consent: ShopifyConsent | None
    updated_at: datetime | None


def verify_shopify_signature(*, body: bytes, header: str | None, secret: str) -> None:
    """Check `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body), in constant time."""
    if not header:
        raise SignatureError("missing X-Shopify-Hmac-Sha256 header")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    given = header.strip()
    # Base64 is ASCII: anything else cannot match (and a lone surrogate would not even encode).
    if not given.isascii() or not hmac.compare_digest(expected, given.encode()):
        raise SignatureError("X-Shopify-Hmac-Sha256 does not match the body")


def parse_shopify_order(payload: Any, *, topic: str = ORDERS_CREATE) -> ShopifyOrder:
    """Map the order body of an order webhook (`topic`); raise InvalidInput naming Shopify's
    field when malformed. Guest, POS and draft orders (no customer) and lines that are no
    product (a tip: no sku, variant or product) are orders like any other."""
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field="(root)")
    customer = payload.get("customer")
    if customer is not None and not isinstance(customer, dict):
        raise InvalidInput("expected an object, or null for an order without one", field="customer")
    customer = customer or {}
    shopify_customer_id = _shopify_customer_id(customer)
    buyer = _buyer(payload, customer, shopify_customer_id)
    line_items = payload.get("line_items")
    if not isinstance(line_items, list):
        raise InvalidInput("expected a list", field="line_items")
    try:
        order = OrderCreate.model_validate(
            {
                "order_id": f"shopify:{payload.get('id')}" if payload.get("id") else None,
                "customer_id": buyer.id if buyer else None,
                "placed_at": payload.get("created_at"),
                "currency": payload.get("currency"),
                "total": payload.get("total_price"),
                "status": _status(payload),
                "items": [_item(line, index) for index, line in enumerate(line_items)],
            }
        )
    except ValidationError as error:
        raise _renamed(invalid_from(error)) from None
    return ShopifyOrder(
        order=order,
        shopify_customer_id=shopify_customer_id,
        customer=buyer,
        consent=_consent(payload, customer, topic=topic, placed_at=order.placed_at)
        if buyer
        else None,
        updated_at=_optional_time(payload.get("updated_at"), field="updated_at"),
    )


def _shopify_customer_id(customer: dict[str, Any]) -> str | None:
    """Our id of the order's Shopify customer; None when the order has none (a guest)."""
    buyer_id = customer.get("id")
    if buyer_id is None:
        return None
    if isinstance(buyer_id, bool) or not isinstance(buyer_id, int | str) or not str(buyer_id):
        raise InvalidInput("expected the customer's id (integer or string)", field="customer.id")
    return f"{SHOPIFY_CUSTOMER_PREFIX}{buyer_id}"


def _buyer(
    payload: dict[str, Any], customer: dict[str, Any], shopify_customer_id: str | None
) -> CustomerCreate | None:
    """The buyer as a customer record: the Shopify customer, else a guest keyed by the email
    lower-cased (as the Chatwoot adapter keys a contact with no identifier); None for a guest
    who left no email (a POS sale, say), never a made-up customer."""
    email, email_field = None, "email"
    for field, value in (
        ("customer.email", customer.get("email")),
        ("email", payload.get("email")),
        ("contact_email", payload.get("contact_email")),
    ):
        if value:
            email, email_field = value, field
            break
    if shopify_customer_id is None and email is None:
        return None
    guest_id = email.strip().lower() if isinstance(email, str) else email
    try:
        return CustomerCreate.model_validate(
            {
                "id": shopify_customer_id or guest_id,
                "email": email,
                # Never a name from an address: the person shipped or billed to may be another.
                "first_name": customer.get("first_name") or None,
                "signup_source": "shopify",
            }
        )
    except ValidationError as error:
        problem = invalid_from(error)
        names = {
            "id": "customer.id" if shopify_customer_id else email_field,
            "email": email_field,
        }
        problem.field = names.get(problem.field or "", f"customer.{problem.field}")
        raise problem from None


def _item(line: Any, index: int) -> dict[str, Any]:
    """One line as our order item. A line without a sku is keyed by its variant, else its
    product; a line with neither (a tip, a custom item) is no product, keyed by its title."""
    if not isinstance(line, dict):
        raise InvalidInput("expected an object", field=f"line_items[{index}]")
    title = line.get("title") or line.get("name")
    sku = line.get("sku")
    if isinstance(sku, str) and not sku.strip():
        sku = None  # Shopify sends "" for a variant that has no SKU
    sku = (
        sku
        or (f"shopify-variant:{line['variant_id']}" if line.get("variant_id") else None)
        or (f"shopify-product:{line['product_id']}" if line.get("product_id") else None)
    )
    return {
        "sku": sku or line_key(title),
        "name": title,
        "category": line.get("product_type") or None,
        "quantity": line.get("quantity"),
        "unit_price": line.get("price"),
        "is_product": sku is not None,
    }


def line_key(title: Any) -> str:
    """The stable key of a line that is no product: its title, case and spacing aside."""
    words = " ".join(title.replace("\x00", "").split()).casefold() if isinstance(title, str) else ""
    return f"{LINE_KEY_PREFIX}{words or 'untitled'}"[:200]


def _status(payload: dict[str, Any]) -> str:
    """What the order is to us: a test order, cancelled, voided, fully refunded, else placed
    (only a placed order is a purchase; a partial refund leaves it one)."""
    if payload.get("test") is True:
        return "test"
    if payload.get("cancelled_at"):
        return "cancelled"
    financial = payload.get("financial_status")
    if financial == "voided":
        return "voided"
    if financial == "refunded":
        return "refunded"
    return "placed"


def _consent(
    payload: dict[str, Any], customer: dict[str, Any], *, topic: str, placed_at: datetime
) -> ShopifyConsent | None:
    """The buyer's email marketing consent: the customer's `email_marketing_consent`, else the
    legacy `accepts_marketing`; when the customer carries neither (API 2025-01 on), the box
    ticked at this checkout (`buyer_accepts_marketing`), read from `orders/create` only since
    later topics repeat it long after the buyer may have changed their mind."""
    current = customer.get("email_marketing_consent")
    if isinstance(current, dict):
        state = current.get("state")
        subscribed = _CONSENT_STATES.get(state.lower()) if isinstance(state, str) else None
        if subscribed is None:
            return None
        at = _optional_time(
            current.get("consent_updated_at"),
            field="customer.email_marketing_consent.consent_updated_at",
        )
        return ShopifyConsent(subscribed=subscribed, at=at or (placed_at if subscribed else None))
    legacy = customer.get("accepts_marketing")
    if isinstance(legacy, bool):
        # `false` cannot tell a customer who never subscribed from one who said no: no change.
        if not legacy:
            return None
        at = _optional_time(
            customer.get("accepts_marketing_updated_at"),
            field="customer.accepts_marketing_updated_at",
        )
        return ShopifyConsent(subscribed=True, at=at or placed_at)
    if topic == ORDERS_CREATE and payload.get("buyer_accepts_marketing") is True:
        return ShopifyConsent(subscribed=True, at=placed_at)
    return None


def _optional_time(value: Any, *, field: str) -> datetime | None:
    """A timestamp Shopify may leave out (null); a malformed one is refused naming the field."""
    if value is None or value == "":
        return None
    try:
        return _TIMESTAMP.validate_python(value)
    except ValidationError as error:
        raise InvalidInput(error.errors(include_url=False)[0]["msg"], field=field) from None


_FIELD_NAMES = {
    "order_id": "id",
    "customer_id": "customer.id",
    "placed_at": "created_at",
    "total": "total_price",
}


def _renamed(error: InvalidInput) -> InvalidInput:
    """Name Shopify's fields (`line_items[0].price`), not ours, in a validation error."""
    field = error.field or ""
    if field == "items" or field.startswith("items["):
        field = "line_items" + field[len("items") :]
        field = field.replace(".name", ".title").replace(".unit_price", ".price")
        field = field.replace(".category", ".product_type")
    error.field = _FIELD_NAMES.get(field, field)
    return error
