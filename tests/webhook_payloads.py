"""Webhook bodies for the Chatwoot and Shopify tests: the payloads each platform documents, as
fresh copies to change, and the body files in tests/chat_ingest/payloads (its README.md says
which documented shape each file follows)."""

import copy
import json
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).parent / "chat_ingest" / "payloads"


def payload_file(name: str) -> dict[str, Any]:
    """A fresh copy of one of the webhook bodies in tests/chat_ingest/payloads."""
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return loaded


# The `message_created` payload as Chatwoot documents it.
DOCUMENTED_CHATWOOT_MESSAGE: dict[str, Any] = {
    "event": "message_created",
    "id": 118,
    "content": "hi",
    "created_at": "2021-07-23T18:02:48.000Z",
    "message_type": "incoming",
    "content_type": "text",
    "private": False,
    "content_attributes": {},
    "source_id": None,
    "sender": {"id": 14, "name": "Jane Doe", "type": "contact"},
    "inbox": {"id": 1, "name": "Acme Support"},
    "conversation": {
        "id": 10,
        "inbox_id": 1,
        "channel": "Channel::WebWidget",
        "status": "open",
        "meta": {
            "sender": {
                "id": 14,
                "name": "Jane Doe",
                "email": "jane@acme.test",
                "identifier": None,
                "phone_number": None,
                "type": "contact",
            },
            "assignee": {
                "id": 1,
                "name": "Sam Agent",
                "available_name": "Sam Agent",
                "email": "sam@acme.test",
                "role": "administrator",
            },
        },
        "messages": [
            {
                "id": 118,
                "content": "hi",
                "account_id": 1,
                "inbox_id": 1,
                "conversation_id": 10,
                "message_type": 0,
                "created_at": 1627063368,
                "private": False,
                "sender_type": "Contact",
                "sender_id": 14,
            }
        ],
    },
    "account": {"id": 1, "name": "Acme Inc"},
}


def documented_payload() -> dict[str, Any]:
    """A fresh copy of Chatwoot's documented `message_created` payload."""
    return copy.deepcopy(DOCUMENTED_CHATWOOT_MESSAGE)


# The `orders/create` payload as Shopify documents it (trimmed to what matters, plus noise).
DOCUMENTED_SHOPIFY_ORDER: dict[str, Any] = {
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


def documented_order() -> dict[str, Any]:
    """A fresh copy of Shopify's documented `orders/create` payload."""
    return copy.deepcopy(DOCUMENTED_SHOPIFY_ORDER)
