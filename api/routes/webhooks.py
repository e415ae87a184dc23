"""Platform webhooks: Chatwoot messages and Shopify orders."""

import json
import logging
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.deps import DatabaseDep, RawBody, ServicesDep, SettingsDep, WebhookKey, wake_outbox
from api.schemas import ContactLearned, MessageAccepted, OrderAccepted, WebhookIgnored
from chat_ingest.adapters.chatwoot import ChatwootMessage, Ignored, parse_chatwoot_event
from chat_ingest.adapters.shopify import (
    ORDER_TOPICS,
    ORDERS_CREATE,
    parse_shopify_order,
    verify_shopify_signature,
)
from chat_ingest.errors import InvalidInput
from chat_ingest.platforms import (
    store_chatwoot_contact,
    store_chatwoot_message,
    store_shopify_order,
)
from engine.customers.merge import move_merged_vectors
from engine.settings import reveal

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_ANY_JSON: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    # ValueError: bad JSON, bad UTF-8, an integer of more than 4300 digits.
    except ValueError as error:
        raise InvalidInput(f"body is not valid JSON: {error}", field="body") from None
    except RecursionError:
        raise InvalidInput("body is not valid JSON: nested too deeply", field="body") from None


@router.post(
    "/chatwoot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageAccepted | ContactLearned | WebhookIgnored,
    openapi_extra=_ANY_JSON,
)
def chatwoot(
    request: Request, services: ServicesDep, key: WebhookKey, body: RawBody, response: Response
) -> MessageAccepted | ContactLearned | WebhookIgnored:
    """Chatwoot's `message_created` event (202), stored under its conversation's customer;
    `contact_updated` (200) teaches the profile we hold of the contact its email, merging
    profiles found to be one person; private notes and other events are ignored (200)."""
    parsed = parse_chatwoot_event(_json(body))
    if isinstance(parsed, Ignored):
        response.status_code = status.HTTP_200_OK
        return WebhookIgnored(ignored=parsed.reason)
    actor = f"chatwoot webhook, key {key.name} (#{key.id})"
    with services.db.write() as session:
        if isinstance(parsed, ChatwootMessage):
            stored = store_chatwoot_message(
                session, parsed=parsed, actor=actor, store=services.store
            )
        else:
            stored = store_chatwoot_contact(
                session, parsed=parsed, actor=actor, store=services.store
            )
    # After the commit, and on every event of the customer: points of a profile merged into
    # them move now, or on a later event if this fails or the process stops first
    # (idempotent). The event itself is committed either way, and answered as such.
    if stored.customer_id is not None:
        try:
            move_merged_vectors(
                db=services.db, store=services.store, customer_id=stored.customer_id
            )
        except Exception:
            log.exception("moving a merged profile's vectors failed; retried on a later event")
    if any(merge.drafts_withdrawn for merge in stored.merges):
        wake_outbox(request)
    if stored.message is not None:
        return MessageAccepted(**asdict(stored.message))
    response.status_code = status.HTTP_200_OK
    return ContactLearned(
        customer_id=stored.customer_id, merged=[merge.merged_id for merge in stored.merges]
    )


@router.post(
    "/shopify/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderAccepted | WebhookIgnored,
    openapi_extra=_ANY_JSON,
)
def shopify_orders(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    _: WebhookKey,
    body: RawBody,
    response: Response,
) -> OrderAccepted | WebhookIgnored:
    """Shopify's `orders/create`, `orders/updated` and `orders/cancelled` (by `X-Shopify-Topic`;
    none means `orders/create`): a new order is stored (201), a known one takes the status of a
    newer version (200); other topics are answered 200 and not stored. Signed with
    `X-Shopify-Hmac-Sha256` when a secret is set."""
    secret = reveal(settings.shopify_webhook_secret)
    if secret:
        verify_shopify_signature(
            body=body, header=request.headers.get("X-Shopify-Hmac-Sha256"), secret=secret
        )
    topic = (request.headers.get("X-Shopify-Topic") or ORDERS_CREATE).strip().lower()
    if topic not in ORDER_TOPICS:
        response.status_code = status.HTTP_200_OK
        return WebhookIgnored(ignored=f"topic {topic!r} does not carry an order")
    parsed = parse_shopify_order(_json(body), topic=topic)
    with db.write() as session:
        accepted = OrderAccepted(**asdict(store_shopify_order(session, parsed=parsed)))
    if accepted.duplicate:
        response.status_code = status.HTTP_200_OK
    if accepted.drafts_withdrawn:
        wake_outbox(request)
    return accepted
