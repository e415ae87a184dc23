"""A customer's chat as a reader sees it: every turn in order, with who said it, PII redacted."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from engine.models import Conversation, Customer, Message
from engine.text.redact import redact

Role = Literal["customer", "agent", "bot"]


class Turn(BaseModel):
    """One message of a chat: its id from the source, who sent it, when, and its text."""

    message_id: str
    role: Role
    text: str
    sent_at: datetime


class ConversationRead(BaseModel):
    """One chat thread with its customer and every turn, oldest first."""

    id: str
    customer_id: str
    first_name: str | None
    source: str
    turns: list[Turn]


def _shown_text(message: Message) -> str:
    # Processed customer turns carry the redacted text quotes come from; agent and bot turns
    # (never processed) and customer turns still waiting are redacted here, so a reader never
    # sees an address or a card number the pipeline would have hidden.
    if message.redacted_text is not None:
        return message.redacted_text
    return redact(message.text).text


def get_conversation(session: Session, *, conversation_id: str) -> ConversationRead:
    """A chat with all its turns in the order they were sent; 404 if unknown."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"no conversation {conversation_id}")
    customer = session.get(Customer, conversation.customer_id)
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.sent_at, Message.id)
    ).all()
    return ConversationRead(
        id=conversation.id,
        customer_id=conversation.customer_id,
        first_name=customer.first_name if customer else None,
        source=conversation.source,
        turns=[
            Turn(
                message_id=m.message_id,
                role=m.role if m.role in ("agent", "bot") else "customer",
                text=_shown_text(m),
                sent_at=m.sent_at,
            )
            for m in messages
        ],
    )
