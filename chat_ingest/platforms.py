"""Storing what the platform adapters parsed: identity resolution, then the usual writes."""

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from chat_ingest.adapters.chatwoot import (
    PROVISIONAL_PREFIX,
    ChatwootContact,
    ChatwootMessage,
)
from chat_ingest.adapters.shopify import ShopifyOrder
from chat_ingest.schemas import CustomerRef, MessageEvent
from chat_ingest.service import (
    StoredMessage,
    StoredOrder,
    customer_id_by_email,
    ensure_customer,
    known_customer_id,
    record_platform_consent,
    resolve_customer_id,
    store_messages,
    store_order_update,
    upsert_customer,
)
from embeddings.store import VectorStore
from engine.customers.merge import MergeReport, merge_customers
from engine.errors import ConflictError, NotFoundError
from engine.models import Conversation, Customer


@dataclass(frozen=True)
class ChatwootStored:
    """What a Chatwoot event did: the customer the contact is now (None: a contact we hold
    nothing of), the message stored (for a message event), and the profiles merged into that
    customer by it (their vectors move after the commit:
    engine.customers.merge.move_merged_vectors)."""

    customer_id: str | None
    message: StoredMessage | None = None
    merges: tuple[MergeReport, ...] = ()


def store_chatwoot_message(
    session: Session,
    *,
    parsed: ChatwootMessage,
    actor: str = "chatwoot",
    store: VectorStore | None = None,
) -> ChatwootStored:
    """Store a Chatwoot message under the customer of its conversation when we have it (never
    a conflict: a contact who gave an email mid-chat is still that conversation's person), else
    the contact's profile (`_settle_contact`); the contact's email and name fill the customer's
    blanks. `store` lets a merge's audit row count the vectors it is to move."""
    merges: list[MergeReport] = []
    conflict: ConflictError | None = None
    # Twice at most: a conversation created or moved by a concurrent request between our look
    # and our write (PostgreSQL) is found on the second pass.
    for _ in range(2):
        # Not locked: a merge locks messages, then customers (as a pipeline batch does), and a
        # lock on the conversation first could close a circle with a concurrent merge of the
        # same person from another conversation. A merge that moves it meanwhile is caught as a
        # conflict below, and looked at again.
        owner = session.scalar(
            select(Conversation.customer_id).where(Conversation.id == parsed.conversation_id)
        )
        settled, merged = _settle_contact(
            session, contact=parsed.contact, owner=owner, actor=actor, store=store
        )
        merges += merged
        customer_id = settled or parsed.contact.customer_id()[0]
        event = MessageEvent(
            conversation_id=parsed.conversation_id,
            customer=CustomerRef(
                id=customer_id, email=parsed.contact.email, first_name=parsed.contact.first_name
            ),
            message=parsed.message,
            source="chatwoot",
        )
        result = store_messages(session, events=[event])[0]
        if not isinstance(result, ConflictError):
            return ChatwootStored(customer_id=customer_id, message=result, merges=tuple(merges))
        conflict = result
    assert conflict is not None
    raise conflict


def store_chatwoot_contact(
    session: Session,
    *,
    parsed: ChatwootContact,
    actor: str = "chatwoot",
    store: VectorStore | None = None,
) -> ChatwootStored:
    """Apply a Chatwoot contact change (`contact_updated`: say, the contact gave an email) to
    the profile we hold of them, merging profiles it shows to be one person and filling blanks;
    a contact we hold nothing of stays unknown (a profile starts with a chat or an order)."""
    settled, merges = _settle_contact(session, contact=parsed, owner=None, actor=actor, store=store)
    if settled is not None:
        ensure_customer(
            session, customer_id=settled, email=parsed.email, first_name=parsed.first_name
        )
    return ChatwootStored(customer_id=settled, merges=tuple(merges))


def _settle_contact(
    session: Session,
    *,
    contact: ChatwootContact,
    owner: str | None,
    actor: str,
    store: VectorStore | None,
) -> tuple[str | None, list[MergeReport]]:
    """The one profile of a contact, after merging every stored profile the event shows to be
    theirs: the conversation's customer (`owner`), the customer of the contact's identifier,
    the customer who has its email, and its provisional `chatwoot-contact:ID` profile (each
    followed through earlier merges). None when there is no such profile yet.

    The survivor: the identifier's customer (the business's own id for this person), else the
    profile we knew first among those with an id of the business's, else the oldest
    provisional one; a provisional survivor of a contact with an identifier gives way to a new
    profile under the identifier."""
    merges: list[MergeReport] = []
    # A profile found here may be merged away by a concurrent request before a merge locks it
    # (PostgreSQL); nothing is changed then, and the next look follows that merge.
    for _ in range(2):
        try:
            look = _merge_profiles(
                session, contact=contact, owner=owner, actor=actor, store=store, merges=merges
            )
            return look, merges
        except NotFoundError:
            owner = known_customer_id(session, customer_id=owner) if owner else None
    look = _merge_profiles(
        session, contact=contact, owner=owner, actor=actor, store=store, merges=merges
    )
    return look, merges


def _merge_profiles(
    session: Session,
    *,
    contact: ChatwootContact,
    owner: str | None,
    actor: str,
    store: VectorStore | None,
    merges: list[MergeReport],
) -> str | None:
    """One look of `_settle_contact`: find the profiles, merge them (appending to `merges`),
    and return the survivor."""
    by_identifier = (
        known_customer_id(session, customer_id=contact.identifier) if contact.identifier else None
    )
    found = [
        owner,
        by_identifier,
        customer_id_by_email(session, email=contact.email) if contact.email else None,
        known_customer_id(session, customer_id=contact.provisional_id),
    ]
    known = list(dict.fromkeys(c for c in found if c is not None))
    rows = session.execute(
        select(Customer.id, Customer.created_at).where(Customer.id.in_(known))
    ).all()
    if not rows:
        return None
    ids: set[str] = {row.id for row in rows}
    survivor: str = min(
        rows,
        key=lambda r: (
            r.id != by_identifier,
            r.id.startswith(PROVISIONAL_PREFIX),
            r.created_at,
            r.id,
        ),
    ).id
    for other in sorted(ids - {survivor}):
        merges.append(
            merge_customers(
                session, survivor_id=survivor, merged_id=other, actor=actor, store=store
            )
        )
    if contact.identifier and by_identifier is None and survivor.startswith(PROVISIONAL_PREFIX):
        ensure_customer(session, customer_id=contact.identifier)
        merges.append(
            merge_customers(
                session,
                survivor_id=contact.identifier,
                merged_id=survivor,
                actor=actor,
                store=store,
            )
        )
        survivor = contact.identifier
    return survivor


def store_shopify_order(
    session: Session, *, parsed: ShopifyOrder, actor: str = "shopify"
) -> StoredOrder:
    """Store a Shopify order (created, updated or cancelled) under the customer we know by that
    Shopify id or email, else a new one (a guest's keyed by the email); a guest who left no
    email is no one. The buyer's email marketing consent is recorded as the order says it (a
    test order's buyer is left as they are)."""
    buyer, customer_id, unsubscribed = parsed.customer, None, 0
    if buyer is not None:
        customer_id = resolve_customer_id(session, candidate_id=buyer.id, email=buyer.email)
        new = session.get(Customer, customer_id) is None
        if parsed.order.status == "test":
            # A test order ("Send test notification", a bogus-gateway checkout) is nobody's
            # purchase and nobody's consent: it creates no customer and changes none.
            customer_id = None if new else customer_id
        else:
            # A customer of ours matched by email keeps their own record; Shopify's own
            # customer is refreshed from it.
            if new or customer_id == parsed.shopify_customer_id:
                upsert_customer(session, customer=buyer, actor=actor)
            if parsed.consent is not None:
                unsubscribed = record_platform_consent(
                    session,
                    customer_id=customer_id,
                    subscribed=parsed.consent.subscribed,
                    at=parsed.consent.at,
                    actor=actor,
                )
    order = parsed.order.model_copy(update={"customer_id": customer_id})
    stored = store_order_update(
        session, order=order, source="shopify", updated_at=parsed.updated_at, actor=actor
    )
    return replace(stored, drafts_withdrawn=stored.drafts_withdrawn + unsubscribed)
