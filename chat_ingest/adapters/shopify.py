"""Shopify's `orders/create` webhook mapped to our order, and its HMAC signature check."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chat_ingest.errors import InvalidInput, SignatureError
from chat_ingest.schemas import CustomerCreate, OrderCreate, invalid_from


@dataclass(frozen=True)
class ShopifyOrder:
    """A Shopify order as ours, with the buyer's Shopify id and email to resolve identity."""

    order: OrderCreate
    shopify_customer_id: str
    customer: CustomerCreate


def verify_shopify_signature(*, body: bytes, header: str | None, secret: str) -> None:
    """Check `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body), in constant time."""
    if not header:
        raise SignatureError("missing X-Shopify-Hmac-Sha256 header")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    given = header.strip()
    # Base64 is ASCII: anything else cannot match (and a lone surrogate would not even encode).
    if not given.isascii() or not hmac.compare_digest(expected, given.encode()):
        raise SignatureError("X-Shopify-Hmac-Sha256 does not match the body")


def parse_shopify_order(payload: Any) -> ShopifyOrder:
    """Map an `orders/create` payload; raise InvalidInput naming Shopify's field when malformed."""
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field="(root)")
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise InvalidInput("an order needs its customer (with an id)", field="customer.id")
    buyer_id = customer.get("id")
    if isinstance(buyer_id, bool) or not isinstance(buyer_id, int | str) or not str(buyer_id):
        raise InvalidInput("expected the customer's id (integer or string)", field="customer.id")
    shopify_customer_id = f"shopify:{customer['id']}"
    line_items = payload.get("line_items")
    if not isinstance(line_items, list):
        raise InvalidInput("expected a list", field="line_items")
    items = []
    for index, line in enumerate(line_items):
        if not isinstance(line, dict):
            raise InvalidInput("expected an object", field=f"line_items[{index}]")
        # Shopify allows items without a SKU; the variant (or product) id stands in for it.
        sku = (
            line.get("sku")
            or (f"shopify-variant:{line['variant_id']}" if line.get("variant_id") else None)
            or (f"shopify-product:{line['product_id']}" if line.get("product_id") else None)
        )
        items.append(
            {
                "sku": sku,
                "name": line.get("title") or line.get("name"),
                "category": line.get("product_type") or None,
                "quantity": line.get("quantity"),
                "unit_price": line.get("price"),
            }
        )
    email = customer.get("email") or payload.get("email") or None
    try:
        order = OrderCreate.model_validate(
            {
                "order_id": f"shopify:{payload.get('id')}" if payload.get("id") else None,
                "customer_id": shopify_customer_id,
                "placed_at": payload.get("created_at"),
                "currency": payload.get("currency"),
                "total": payload.get("total_price"),
                "items": items,
            }
        )
    except ValidationError as error:
        raise _renamed(invalid_from(error)) from None
    try:
        buyer = CustomerCreate.model_validate(
            {
                "id": shopify_customer_id,
                "email": email,
                "first_name": customer.get("first_name") or None,
                "signup_source": "shopify",
                "marketing_consent": _consent(customer),
            }
        )
    except ValidationError as error:
        problem = invalid_from(error)
        problem.field = f"customer.{problem.field}"
        raise problem from None
    return ShopifyOrder(order=order, shopify_customer_id=shopify_customer_id, customer=buyer)


def _consent(customer: dict[str, Any]) -> bool:
    """Shopify's email marketing consent: the current object, or the legacy flag."""
    consent = customer.get("email_marketing_consent")
    if isinstance(consent, dict):
        return consent.get("state") == "subscribed"
    return customer.get("accepts_marketing") is True


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
