"""Chatwoot's `message_created` webhook event mapped to one of our messages."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chat_ingest.errors import InvalidInput
from chat_ingest.schemas import MessageCreate, MessageEvent, Role, invalid_from

# Chatwoot sends message_type as a word in webhooks and as a number inside
# conversation.messages; both spellings map here. Activity messages are
# Chatwoot's own notes ("conversation resolved") and are nobody's words.
_ROLES: dict[str | int, Role | None] = {
    "incoming": "customer",
    0: "customer",
    "outgoing": "agent",
    1: "agent",
    "activity": None,
    2: None,
    "template": "bot",
    3: "bot",
}


_SENDER = "conversation.meta.sender"


@dataclass(frozen=True)
class ChatwootMessage:
    """A Chatwoot message as we store it, with the contact's identity to resolve."""

    conversation_id: str
    message: MessageCreate
    identifier: str | None
    email: str | None
    contact_id: str
    first_name: str | None

    def customer_id(self) -> tuple[str, str]:
        """Who the contact is, unless a stored customer has their email: the contact's
        identifier, else its email, else its Chatwoot id; and the field that came from."""
        if self.identifier:
            return self.identifier, f"{_SENDER}.identifier"
        if self.email:
            return self.email.lower(), f"{_SENDER}.email"
        return f"chatwoot-contact:{self.contact_id}", f"{_SENDER}.id"


@dataclass(frozen=True)
class Ignored:
    """An event we accept but do not store, with why."""

    reason: str


def parse_chatwoot_event(payload: Any) -> ChatwootMessage | Ignored:
    """Map a Chatwoot webhook payload; raise InvalidInput naming the field when malformed."""
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field="(root)")
    event = payload.get("event")
    if event != "message_created":
        return Ignored(reason=f"event {event!r} is not message_created")
    if payload.get("private") is True:
        return Ignored(reason="private note")
    message_type = payload.get("message_type")
    # bool is an int in Python (True == 1): refuse it before the lookup.
    if (
        isinstance(message_type, bool)
        or not isinstance(message_type, str | int)
        or (message_type not in _ROLES)
    ):
        raise InvalidInput(f"unknown message_type {message_type!r}", field="message_type")
    role = _ROLES[message_type]
    if role is None:
        return Ignored(reason="activity message")
    content = payload.get("content")
    if content is None or (isinstance(content, str) and not content.strip()):
        return Ignored(reason="no text content (attachment or empty)")
    conversation = _object(payload, "conversation")
    sender = _object(conversation.get("meta") or {}, "sender", where="conversation.meta.sender")
    account = payload.get("account") if isinstance(payload.get("account"), dict) else {}
    account_id = _id((account or {}).get("id", "0"), "account.id")
    try:
        message = MessageCreate(
            id=f"chatwoot:{account_id}:{_id(payload.get('id'), 'id')}",
            role=role,
            text=content,
            sent_at=_timestamp(payload.get("created_at")),
        )
    except ValidationError as error:
        raise _renamed(invalid_from(error)) from None
    identifier = _optional_str(sender.get("identifier"), "conversation.meta.sender.identifier")
    email = _optional_str(sender.get("email"), "conversation.meta.sender.email")
    name = _optional_str(sender.get("name"), "conversation.meta.sender.name")
    parsed = ChatwootMessage(
        conversation_id=f"chatwoot:{account_id}:{_id(conversation.get('id'), 'conversation.id')}",
        message=message,
        identifier=identifier,
        email=email,
        contact_id=_id(sender.get("id"), "conversation.meta.sender.id"),
        first_name=name.split()[0][:200] if name else None,
    )
    _check_storable(parsed)
    return parsed


_EVENT_FIELDS = {
    "conversation_id": "conversation.id",
    "customer.email": f"{_SENDER}.email",
    "customer.first_name": f"{_SENDER}.name",
}


def _check_storable(parsed: ChatwootMessage) -> None:
    """Validate the event chat_ingest.platforms stores, whose customer id is the contact's
    identifier, else its email, else its Chatwoot id: a value too long, or not an email, is
    refused here naming Chatwoot's field rather than failing when stored."""
    customer_id, id_field = parsed.customer_id()
    event = {
        "conversation_id": parsed.conversation_id,
        "customer": {"id": customer_id, "email": parsed.email, "first_name": parsed.first_name},
        "message": parsed.message,
        "source": "chatwoot",
    }
    try:
        MessageEvent.model_validate(event)
    except ValidationError as error:
        problem = invalid_from(error)
        fields = {"customer.id": id_field, **_EVENT_FIELDS}
        problem.field = fields.get(problem.field or "", problem.field)
        raise problem from None


def _renamed(error: InvalidInput) -> InvalidInput:
    """Name Chatwoot's fields, not ours, in an error about the message."""
    names = {"text": "content", "sent_at": "created_at", "id": "id", "role": "message_type"}
    error.field = names.get(error.field or "", error.field)
    return error


def _object(parent: Any, key: str, *, where: str | None = None) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise InvalidInput("expected an object", field=where or key)
    return value


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise InvalidInput("expected a non-empty id (string or integer)", field=field)
    return str(value).strip()


def _optional_str(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("expected a string", field=field)
    return value.strip() or None


def _timestamp(value: Any) -> datetime:
    """Chatwoot's timestamps: unix seconds, ISO 8601 with a zone, or `2020-03-03 13:05:57 UTC`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput("timestamp out of range", field="created_at") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(" UTC"):
            text = text[:-4] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"unreadable timestamp {value!r}", field="created_at") from None
        if parsed.tzinfo is None:
            raise InvalidInput("timestamp has no timezone", field="created_at")
        return parsed
    raise InvalidInput("expected a timestamp", field="created_at")
