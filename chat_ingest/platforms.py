"""Storing what the platform adapters parsed: identity resolution, then the usual writes."""

from sqlalchemy.orm import Session

from chat_ingest.adapters.chatwoot import ChatwootMessage
from chat_ingest.adapters.shopify import ShopifyOrder
from chat_ingest.schemas import CustomerRef, MessageEvent
from chat_ingest.service import (
    StoredMessage,
    StoredOrder,
    customer_id_by_email,
    resolve_customer_id,
    store_message,
    store_order,
    upsert_customer,
)


def store_chatwoot_message(session: Session, *, parsed: ChatwootMessage) -> StoredMessage:
    """Store a Chatwoot message; the contact is its identifier, else the customer who has its
    email (or the email), else its id."""
    customer_id, _ = parsed.customer_id()
    if not parsed.identifier and parsed.email:
        customer_id = customer_id_by_email(session, email=parsed.email) or customer_id
    event = MessageEvent(
        conversation_id=parsed.conversation_id,
        customer=CustomerRef(id=customer_id, email=parsed.email, first_name=parsed.first_name),
        message=parsed.message,
        source="chatwoot",
    )
    return store_message(session, event=event)


def store_shopify_order(session: Session, *, parsed: ShopifyOrder) -> StoredOrder:
    """Store a Shopify order under the customer we know by that Shopify id or email."""
    customer_id = resolve_customer_id(
        session, candidate_id=parsed.shopify_customer_id, email=parsed.customer.email
    )
    if customer_id == parsed.shopify_customer_id:
        upsert_customer(session, customer=parsed.customer, actor="shopify")
    order = parsed.order.model_copy(update={"customer_id": customer_id})
    return store_order(session, order=order, source="shopify")
