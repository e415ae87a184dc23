"""Shopify order webhooks (`orders/create`, `orders/updated`, `orders/cancelled`) mapped to our
orders, and their HMAC signature check."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chat_ingest.adapters.shopify import (
    ShopifyConsent,
    ShopifyOrder,
    line_key,
    parse_shopify_order,
    verify_shopify_signature,
)
from chat_ingest.errors import InvalidInput, SignatureError
from tests.webhook_payloads import DOCUMENTED_SHOPIFY_ORDER, documented_order, payload_file

SECRET = "hush-shopify-secret"


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
    # Shopify's documented sample is a voided order: stored, never a purchase.
    assert order.status == "voided"


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
    assert buyer is not None
    assert buyer.id == "shopify:115310627314723954"
    assert buyer.email == "john@example.com"
    assert buyer.first_name == "John"
    assert buyer.signup_source == "shopify"
    # Consent is recorded apart (it also applies to a customer matched by email).
    assert buyer.marketing_consent is None and buyer.subscribed_at is None
    assert parse_shopify_order(documented_order()).consent == ShopifyConsent(
        subscribed=True, at=datetime(2026, 10, 5, 16, 0, tzinfo=UTC)
    )


def test_order_email_stands_in_for_a_missing_customer_email() -> None:
    payload = documented_order()
    payload["customer"]["email"] = None
    buyer = parse_shopify_order(payload).customer
    assert buyer is not None and buyer.email == "jon@example.com"


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


PLACED = datetime(2026, 10, 5, 16, 0, tzinfo=UTC)
CONSENTED = "2026-09-01T08:30:00-04:00"
CONSENTED_AT = datetime(2026, 9, 1, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("consent_fields", "expected"),
    [
        # email_marketing_consent (API 2022-04 to 2024-10): its state and consent_updated_at.
        (
            {"email_marketing_consent": {"state": "subscribed", "consent_updated_at": CONSENTED}},
            ShopifyConsent(subscribed=True, at=CONSENTED_AT),
        ),
        # No consent_updated_at: the subscription dates from the order.
        ({"email_marketing_consent": {"state": "subscribed"}}, ShopifyConsent(True, PLACED)),
        (
            {"email_marketing_consent": {"state": "unsubscribed", "consent_updated_at": CONSENTED}},
            ShopifyConsent(subscribed=False, at=CONSENTED_AT),
        ),
        ({"email_marketing_consent": {"state": "unsubscribed"}}, ShopifyConsent(False, None)),
        # States that neither give nor withdraw consent.
        ({"email_marketing_consent": {"state": "not_subscribed"}}, None),
        ({"email_marketing_consent": {"state": "pending"}}, None),
        ({"email_marketing_consent": {"state": "invalid"}}, None),
        ({"email_marketing_consent": {"state": "redacted"}}, None),
        ({"email_marketing_consent": {"state": None}}, None),
        # The current field wins over the legacy one.
        (
            {"email_marketing_consent": {"state": "unsubscribed"}, "accepts_marketing": True},
            ShopifyConsent(False, None),
        ),
        # Legacy accepts_marketing (before 2022-04) with accepts_marketing_updated_at.
        (
            {"accepts_marketing": True, "accepts_marketing_updated_at": CONSENTED},
            ShopifyConsent(True, CONSENTED_AT),
        ),
        ({"accepts_marketing": True}, ShopifyConsent(True, PLACED)),
        (
            {"email_marketing_consent": None, "accepts_marketing": True},
            ShopifyConsent(True, PLACED),
        ),
        # false cannot tell "never subscribed" from "said no": no change either way.
        ({"accepts_marketing": False}, None),
        ({}, None),
    ],
)
def test_marketing_consent(consent_fields: dict[str, Any], expected: ShopifyConsent | None) -> None:
    payload = documented_order()
    del payload["customer"]["email_marketing_consent"]
    payload["customer"].update(consent_fields)
    assert parse_shopify_order(payload).consent == expected


def test_parsing_does_not_change_the_payload() -> None:
    payload = documented_order()
    parse_shopify_order(payload)
    assert payload == DOCUMENTED_SHOPIFY_ORDER


# Orders Shopify sends that were refused with 422 for ever (item 1), and order status (item 4).


def test_a_pos_sale_without_a_customer_is_an_order_with_no_buyer() -> None:
    """A POS sale: no `customer` key, `"email": ""` (payloads/README.md). It maps to an order
    with no buyer, never a made-up customer; its tip line is no product but stays in the total."""
    result = parse_shopify_order(payload_file("orders_create_pos_without_customer.json"))
    assert result.customer is None and result.shopify_customer_id is None
    assert result.consent is None
    order = result.order
    assert (order.order_id, order.customer_id, order.status) == (
        "shopify:5987001122334",
        None,
        "placed",
    )
    assert order.total == Decimal("12.50")
    assert [(i.sku, i.is_product) for i in order.items] == [
        ("BAR-FLATWHITE", True),
        ("BAKE-ALMCRO", True),
        ("shopify-line:tip", False),
    ]
    assert order.items[2].name == "Tip" and order.items[2].unit_price == Decimal("3.00")


def test_a_guest_order_is_keyed_by_its_email() -> None:
    """A completed draft order for a guest: `"customer": null`, the email on the order. The
    buyer is a customer keyed by the email lower-cased, with the email as given."""
    result = parse_shopify_order(payload_file("orders_create_draft_guest.json"))
    assert result.shopify_customer_id is None
    buyer = result.customer
    assert buyer is not None
    assert (buyer.id, buyer.email, buyer.first_name) == (
        "dana.reyes@example.com",
        "Dana.Reyes@Example.com",
        None,
    )
    assert result.order.customer_id == "dana.reyes@example.com"
    # The custom item (no sku, variant or product) is keyed by its title, and is no product.
    custom = result.order.items[1]
    assert (custom.sku, custom.name, custom.is_product) == (
        "shopify-line:custom engraving",
        "Custom  Engraving",
        False,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "Guest@Example.com"), ("contact_email", "Guest@Example.com")],
)
def test_a_guest_email_comes_from_the_order_email_or_contact_email(field: str, value: str) -> None:
    body = payload_file("orders_create_pos_without_customer.json")
    body["email"], body["contact_email"] = "", None
    body[field] = value
    buyer = parse_shopify_order(body).customer
    assert buyer is not None and (buyer.id, buyer.email) == ("guest@example.com", value)


def test_a_customer_object_without_an_id_is_a_guest_with_its_email() -> None:
    body = documented_order()
    del body["customer"]["id"]
    result = parse_shopify_order(body)
    assert result.shopify_customer_id is None
    assert result.customer is not None and result.customer.id == "john@example.com"


def test_a_line_without_sku_keeps_the_variant_key_and_is_a_product() -> None:
    """A real delivery (API 2025-01): a variant with no SKU comes as `"sku": ""`."""
    items = parse_shopify_order(payload_file("orders_create_empty_sku.json")).order.items
    assert [(i.sku, i.is_product) for i in items] == [
        ("5905884494769", True),
        ("shopify-variant:41899282661450", True),
    ]


@pytest.mark.parametrize("sku", ["", "   ", None])
def test_a_line_with_nothing_to_key_it_by_is_no_product(sku: str | None) -> None:
    body = documented_order()
    body["line_items"][0].update({"sku": sku, "variant_id": None, "product_id": None})
    item = parse_shopify_order(body).order.items[0]
    assert (item.sku, item.is_product) == ("shopify-line:ipod nano - 8gb", False)


def test_the_key_of_a_line_that_is_no_product_is_stable() -> None:
    """Case and spacing aside, the same title is the same key; it fits the sku column."""
    assert line_key("  Tip ") == line_key("TIP") == "shopify-line:tip"
    assert line_key("Custom\tengraving") == "shopify-line:custom engraving"
    assert line_key(None) == "shopify-line:untitled"
    assert len(line_key("x" * 500)) == 200


def test_the_test_notification_is_a_test_order_of_a_customer_without_consent_fields() -> None:
    """The body "Send test notification" posts for orders/create, orders/updated and
    orders/cancelled (API 2025-01 on; payloads/README.md): stored as a test order."""
    result = parse_shopify_order(payload_file("orders_test_notification.json"))
    assert result.order.order_id == "shopify:820982911946154508"
    assert result.order.status == "test"
    assert result.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert result.customer is not None and result.customer.id == "shopify:115310627314723954"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "placed"),
        ({"financial_status": "paid"}, "placed"),
        ({"financial_status": "partially_refunded"}, "placed"),
        ({"financial_status": "pending"}, "placed"),
        ({"financial_status": "refunded"}, "refunded"),
        ({"financial_status": "voided"}, "voided"),
        ({"cancelled_at": "2026-10-06T09:00:00-04:00", "cancel_reason": "customer"}, "cancelled"),
        (
            {"cancelled_at": "2026-10-06T09:00:00-04:00", "financial_status": "refunded"},
            "cancelled",
        ),
        ({"test": True, "financial_status": "paid"}, "test"),
        ({"test": True, "cancelled_at": "2026-10-06T09:00:00-04:00"}, "test"),
        ({"test": False, "cancelled_at": None}, "placed"),
    ],
)
def test_order_status_from_the_payload(changes: dict[str, Any], status: str) -> None:
    body = payload_file("orders_create_2024_subscribed.json")
    body.update(changes)
    assert parse_shopify_order(body).order.status == status


def test_a_2024_order_carries_the_customers_consent_and_shopifys_update_time() -> None:
    """API 2022-04 .. 2024-10: customer.email_marketing_consent with consent_updated_at."""
    result = parse_shopify_order(payload_file("orders_create_2024_subscribed.json"))
    assert result.consent == ShopifyConsent(
        subscribed=True, at=datetime(2026, 11, 18, 9, 15, 1, tzinfo=UTC)
    )
    assert result.updated_at == datetime(2026, 11, 18, 9, 15, 2, tzinfo=UTC)
    assert result.order.status == "placed"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("orders/create", ShopifyConsent(True, datetime(2026, 11, 16, 18, 9, 48, tzinfo=UTC))),
        ("orders/updated", None),
        ("orders/cancelled", None),
    ],
)
def test_buyer_accepts_marketing_counts_at_checkout_only(
    topic: str, expected: ShopifyConsent | None
) -> None:
    """API 2025-01 on, the order's customer carries no consent: the box ticked at checkout
    (`buyer_accepts_marketing`) subscribes, read from orders/create only (a later update of an
    old order repeats it long after the buyer may have unsubscribed)."""
    body = payload_file("orders_create_empty_sku.json")
    assert parse_shopify_order(body, topic=topic).consent == expected
    body["buyer_accepts_marketing"] = False
    assert parse_shopify_order(body, topic=topic).consent is None


def test_buyer_accepts_marketing_does_not_override_the_customers_own_state() -> None:
    body = payload_file("orders_create_2024_subscribed.json")
    body["customer"]["email_marketing_consent"]["state"] = "not_subscribed"
    assert body["buyer_accepts_marketing"] is True
    assert parse_shopify_order(body).consent is None


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
    ("customer as a string", _set(("customer",), "115310627314723954"), "customer"),
    ("customer with empty id", _set(("customer", "id"), ""), "customer.id"),
    ("customer id a list", _set(("customer", "id"), [1]), "customer.id"),
    ("updated_at not a time", _set(("updated_at",), "yesterday"), "updated_at"),
    (
        "consent_updated_at not a time",
        _set(("customer", "email_marketing_consent", "consent_updated_at"), "soon"),
        "customer.email_marketing_consent.consent_updated_at",
    ),
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
