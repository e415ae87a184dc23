"""Platform webhooks: Chatwoot messages and Shopify orders."""

import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import DatabaseDep, SettingsDep, WebhookKey
from api.schemas import MessageAccepted, OrderAccepted, WebhookIgnored
from chat_ingest.adapters.chatwoot import Ignored, parse_chatwoot_event
from chat_ingest.adapters.shopify import parse_shopify_order, verify_shopify_signature
from chat_ingest.errors import InvalidInput
from chat_ingest.platforms import store_chatwoot_message, store_shopify_order
from engine.settings import reveal

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
    response_model=MessageAccepted | WebhookIgnored,
    openapi_extra=_ANY_JSON,
)
async def chatwoot(
    request: Request, db: DatabaseDep, _: WebhookKey, response: Response
) -> MessageAccepted | WebhookIgnored:
    """Chatwoot's `message_created` event; private notes and other events are ignored (200)."""
    parsed = parse_chatwoot_event(_json(await request.body()))
    if isinstance(parsed, Ignored):
        response.status_code = status.HTTP_200_OK
        return WebhookIgnored(ignored=parsed.reason)

    def store() -> MessageAccepted:
        with db.write() as session:
            return MessageAccepted(**asdict(store_chatwoot_message(session, parsed=parsed)))

    return await run_in_threadpool(store)


@router.post(
    "/shopify/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderAccepted,
    openapi_extra=_ANY_JSON,
)
async def shopify_orders(
    request: Request, db: DatabaseDep, settings: SettingsDep, _: WebhookKey, response: Response
) -> OrderAccepted:
    """Shopify's `orders/create`; signed with `X-Shopify-Hmac-Sha256` when a secret is set."""
    body = await request.body()
    secret = reveal(settings.shopify_webhook_secret)
    if secret:
        verify_shopify_signature(
            body=body, header=request.headers.get("X-Shopify-Hmac-Sha256"), secret=secret
        )
    parsed = parse_shopify_order(_json(body))

    def store() -> OrderAccepted:
        with db.write() as session:
            return OrderAccepted(**asdict(store_shopify_order(session, parsed=parsed)))

    accepted = await run_in_threadpool(store)
    if accepted.duplicate:
        response.status_code = status.HTTP_200_OK
    return accepted
