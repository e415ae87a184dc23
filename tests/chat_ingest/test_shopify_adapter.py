"""Shopify `orders/create` webhooks mapped to our orders, and their HMAC signature check."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chat_ingest.adapters.shopify import ShopifyOrder, parse_shopify_order, verify_shopify_signature
from chat_ingest.errors import InvalidInput, SignatureError

# The `orders/create` payload as Shopify documents it (trimmed to what matters, plus noise).
_DOCUMENTED: dict[str, Any] = {
    "id": 820982911946154508,
    "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    "email": "jon@example.com",
    "created_at": "2026-10-05T12:00:00-04:00",
    "currency": "USD",
    "total_price": "199.65",
    "subtotal_price": "189.65",
    "financial_status": "voided",
    "name": "#9999",
    "customer": {
        "id": 115310627314723954,
        "email": "john@example.com",
        "first_name": "John",
        "last_name": "Smith",
        "state": "disabled",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        },
    },
    "line_items": [
        {
            "id": 487817672276298554,
            "variant_id": 808950810,
            "product_id": 632910392,
            "title": "IPod Nano - 8GB",
            "name": "IPod Nano - 8GB - Pink",
            "sku": "IPOD2008PINK",
            "quantity": 1,
            "price": "99.00",
            "vendor": None,
            "product_type": "Cult Products",
            "requires_shipping": True,
            "taxable": True,
            "gift_card": False,
        },
        {
            "id": 976318377106520349,
            "variant_id": 457924702,
            "product_id": 632910393,
            "title": "IPod Touch 8GB",
            "name": "IPod Touch 8GB - Black",
            "sku": "IPOD2009BLACK",
            "quantity": 2,
            "price": "45.33",
            "vendor": "Apple",
            "product_type": "",
        },
    ],
}

SECRET = "hush-shopify-secret"


def documented_order() -> dict[str, Any]:
    """A fresh copy of Shopify's documented `orders/create` payload."""
    return copy.deepcopy(_DOCUMENTED)


def refused(payload: Any) -> InvalidInput:
    """Parse a payload that must be refused."""
    with pytest.raises(InvalidInput) as caught:
        parse_shopify_order(payload)
    return caught.value


def sign(body: bytes, secret: str = SECRET) -> str:
    """Shopify's X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# Mapping


def test_documented_order_maps_to_our_order() -> None:
    result = parse_shopify_order(documented_order())
    assert isinstance(result, ShopifyOrder)
    order = result.order
    assert order.order_id == "shopify:820982911946154508"
    assert order.customer_id == "shopify:115310627314723954"
    assert result.shopify_customer_id == "shopify:115310627314723954"
    assert order.currency == "USD"
    assert order.total == Decimal("199.65")
    assert isinstance(order.total, Decimal)
    assert order.placed_at == datetime(2026, 10, 5, 16, 0, tzinfo=UTC)
    assert order.placed_at.utcoffset() == timedelta(hours=-4)


def test_line_items_map_to_order_items() -> None:
    items = parse_shopify_order(documented_order()).order.items
    assert [item.sku for item in items] == ["IPOD2008PINK", "IPOD2009BLACK"]
    assert [item.name for item in items] == ["IPod Nano - 8GB", "IPod Touch 8GB"]
    assert [item.quantity for item in items] == [1, 2]
    assert [item.unit_price for item in items] == [Decimal("99.00"), Decimal("45.33")]
    assert all(isinstance(item.unit_price, Decimal) for item in items)
    assert [item.category for item in items] == ["Cult Products", None]


def test_buyer_is_mapped_as_a_shopify_customer() -> None:
    buyer = parse_shopify_order(documented_order()).customer
    assert buyer.id == "shopify:115310627314723954"
    assert buyer.email == "john@example.com"
    assert buyer.first_name == "John"
    assert buyer.signup_source == "shopify"
    assert buyer.marketing_consent is True


def test_order_email_stands_in_for_a_missing_customer_email() -> None:
    payload = documented_order()
    payload["customer"]["email"] = None
    assert parse_shopify_order(payload).customer.email == "jon@example.com"


def test_line_item_name_stands_in_for_a_missing_title() -> None:
    payload = documented_order()
    payload["line_items"][0]["title"] = ""
    assert parse_shopify_order(payload).order.items[0].name == "IPod Nano - 8GB - Pink"


@pytest.mark.parametrize("sku", ["", None])
def test_line_item_without_sku_falls_back_to_the_variant(sku: str | None) -> None:
    payload = documented_order()
    payload["line_items"][0]["sku"] = sku
    assert parse_shopify_order(payload).order.items[0].sku == "shopify-variant:808950810"


def test_line_item_without_sku_or_variant_falls_back_to_the_product() -> None:
    payload = documented_order()
    payload["line_items"][0].update({"sku": "", "variant_id": None})
    assert parse_shopify_order(payload).order.items[0].sku == "shopify-product:632910392"


@pytest.mark.parametrize(
    ("consent_fields", "expected"),
    [
        ({"email_marketing_consent": {"state": "subscribed"}}, True),
        ({"email_marketing_consent": {"state": "unsubscribed"}}, False),
        ({"email_marketing_consent": {"state": "not_subscribed"}}, False),
        ({"email_marketing_consent": {"state": "pending"}}, False),
        (
            {"email_marketing_consent": {"state": "unsubscribed"}, "accepts_marketing": True},
            False,
        ),
        ({"accepts_marketing": True}, True),
        ({"accepts_marketing": False}, False),
        ({"email_marketing_consent": None, "accepts_marketing": True}, True),
        ({}, False),
    ],
)
def test_marketing_consent(consent_fields: dict[str, Any], expected: bool) -> None:
    payload = documented_order()
    del payload["customer"]["email_marketing_consent"]
    payload["customer"].update(consent_fields)
    assert parse_shopify_order(payload).customer.marketing_consent is expected


def test_parsing_does_not_change_the_payload() -> None:
    payload = documented_order()
    parse_shopify_order(payload)
    assert payload == _DOCUMENTED


# Refusals naming Shopify's fields


def _set(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    payload = documented_order()
    parent: Any = payload
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return payload


def _without(path: tuple[str | int, ...]) -> dict[str, Any]:
    payload = documented_order()
    parent: Any = payload
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return payload


def _untitled() -> dict[str, Any]:
    payload = documented_order()
    payload["line_items"][0].update({"title": None, "name": None})
    return payload


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("negative quantity", _set(("line_items", 0, "quantity"), -1), "line_items[0].quantity"),
    ("zero quantity", _set(("line_items", 1, "quantity"), 0), "line_items[1].quantity"),
    ("quantity as a word", _set(("line_items", 0, "quantity"), "two"), "line_items[0].quantity"),
    ("negative price", _set(("line_items", 1, "price"), "-1.00"), "line_items[1].price"),
    ("missing price", _without(("line_items", 0, "price")), "line_items[0].price"),
    ("no title or name", _untitled(), "line_items[0].title"),
    ("missing customer", _without(("customer",)), "customer.id"),
    ("null customer", _set(("customer",), None), "customer.id"),
    ("customer as a string", _set(("customer",), "115310627314723954"), "customer.id"),
    ("customer without id", _without(("customer", "id")), "customer.id"),
    ("customer with empty id", _set(("customer", "id"), ""), "customer.id"),
    ("missing created_at", _without(("created_at",)), "created_at"),
    ("naive created_at", _set(("created_at",), "2026-10-05T12:00:00"), "created_at"),
    ("line_items as a string", _set(("line_items",), "IPOD2008PINK"), "line_items"),
    ("line_items as an object", _set(("line_items",), {"sku": "IPOD2008PINK"}), "line_items"),
    ("missing line_items", _without(("line_items",)), "line_items"),
    ("line item not an object", _set(("line_items", 1), "IPOD2009BLACK"), "line_items[1]"),
    ("lowercase currency", _set(("currency",), "usd"), "currency"),
    ("negative total_price", _set(("total_price",), "-199.65"), "total_price"),
    ("missing id", _without(("id",)), "id"),
]


@pytest.mark.parametrize(
    ("payload", "field"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_malformed_order_is_refused_naming_the_shopify_field(
    payload: dict[str, Any], field: str
) -> None:
    error = refused(copy.deepcopy(payload))
    assert error.field == field
    assert error.message


@pytest.mark.parametrize("payload", [None, [], "order", 820982911946154508])
def test_non_object_payload_is_refused(payload: Any) -> None:
    assert refused(payload).field == "(root)"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_set(("line_items",), []), "line_items"),
        (_set(("line_items", 0, "product_type"), "x" * 256), "line_items[0].product_type"),
        (_set(("customer", "first_name"), "J" * 201), "customer.first_name"),
    ],
    ids=["empty-line_items", "long-product_type", "long-first_name"],
)
def test_other_refusals_also_name_shopify_fields(payload: dict[str, Any], field: str) -> None:
    """Errors name Shopify's fields (line_items, product_type, customer.first_name), not ours."""
    assert refused(payload).field == field


# Signatures


def test_right_signature_passes() -> None:
    body = json.dumps(documented_order()).encode()
    verify_shopify_signature(body=body, header=sign(body), secret=SECRET)


def test_signature_with_surrounding_whitespace_passes() -> None:
    body = b'{"id": 1}'
    verify_shopify_signature(body=body, header=f" {sign(body)}\n", secret=SECRET)


def test_known_signature_vector_passes() -> None:
    """A digest computed independently of the product code, so both cannot share a mistake."""
    body = b"hello"
    header = "iKqz7ejTrflNJquQ07r9SiCDBww7zOnAFO4EpEOEfAs="
    assert header == sign(body, "secret")
    verify_shopify_signature(body=body, header=header, secret="secret")


@pytest.mark.parametrize(
    "header",
    [
        "not-a-signature",
        sign(b'{"id": 1}', "another-secret"),
        sign(b'{"id": 2}'),
        sign(b'{"id": 1}').lower(),
        sign(b'{"id": 1}')[:-2],
        "ünïcode",
    ],
    ids=["garbage", "other-secret", "other-body", "lowercased", "truncated", "non-ascii"],
)
def test_wrong_signature_raises(header: str) -> None:
    with pytest.raises(SignatureError):
        verify_shopify_signature(body=b'{"id": 1}', header=header, secret=SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_signature_raises(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_shopify_signature(body=b'{"id": 1}', header=header, secret=SECRET)


@pytest.mark.parametrize("position", [0, 10, -1])
def test_body_changed_by_one_byte_fails(position: int) -> None:
    body = json.dumps(documented_order()).encode()
    header = sign(body)
    tampered = bytearray(body)
    tampered[position] ^= 0x01
    assert bytes(tampered) != body
    with pytest.raises(SignatureError):
        verify_shopify_signature(body=bytes(tampered), header=header, secret=SECRET)


def test_appended_byte_fails() -> None:
    body = b'{"id": 1}'
    with pytest.raises(SignatureError):
        verify_shopify_signature(body=body + b" ", header=sign(body), secret=SECRET)
