"""Chatwoot's webhook events: `message_created` mapped to one of our messages, with the
contact it is from; `contact_updated` mapped to the contact as it is now."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chat_ingest.errors import InvalidInput
from chat_ingest.schemas import CustomerRef, MessageCreate, MessageEvent, Role, invalid_from

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
# The customer id of a contact who gave Chatwoot neither an identifier nor an email: ours, not
# the business's, so it gives way to any other profile of the same person (chat_ingest.platforms).
PROVISIONAL_PREFIX = "chatwoot-contact:"


@dataclass(frozen=True)
class ChatwootContact:
    """A Chatwoot contact: the business's own id for them (`identifier`), email, first name and
    Chatwoot's contact id."""

    identifier: str | None
    email: str | None
    contact_id: str
    first_name: str | None

    @property
    def provisional_id(self) -> str:
        """The customer id of this contact while Chatwoot knows nothing else of them."""
        return f"{PROVISIONAL_PREFIX}{self.contact_id}"

    def customer_id(self) -> tuple[str, str]:
        """Who the contact is when no stored profile is theirs yet: the identifier, else the
        email, else the provisional id; and the contact field that came from."""
        if self.identifier:
            return self.identifier, "identifier"
        if self.email:
            return self.email.lower(), "email"
        return self.provisional_id, "id"


@dataclass(frozen=True)
class ChatwootMessage:
    """A Chatwoot message as we store it, with the contact of its conversation."""

    conversation_id: str
    message: MessageCreate
    contact: ChatwootContact


@dataclass(frozen=True)
class Ignored:
    """An event we accept but do not store, with why."""

    reason: str


def parse_chatwoot_event(payload: Any) -> ChatwootMessage | ChatwootContact | Ignored:
    """Map a Chatwoot webhook payload; raise InvalidInput naming the field when malformed."""
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field="(root)")
    event = payload.get("event")
    if event == "contact_updated":
        # The payload is the contact itself (Contact#webhook_data), as it is after the change.
        return _contact(payload, where="")
    if event != "message_created":
        return Ignored(reason=f"event {event!r} is neither message_created nor contact_updated")
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
    conversation_id = f"chatwoot:{account_id}:{_id(conversation.get('id'), 'conversation.id')}"
    contact = _contact(sender, where=f"{_SENDER}.")
    # The event as chat_ingest.platforms stores it (the contact is checked above): an id too
    # long is refused here, naming Chatwoot's field, rather than failing when stored.
    event = {
        "conversation_id": conversation_id,
        "customer": {"id": contact.customer_id()[0]},
        "message": message,
        "source": "chatwoot",
    }
    try:
        MessageEvent.model_validate(event)
    except ValidationError as error:
        problem = invalid_from(error)
        if problem.field == "conversation_id":
            problem.field = "conversation.id"
        raise problem from None
    return ChatwootMessage(conversation_id=conversation_id, message=message, contact=contact)


def _contact(data: dict[str, Any], *, where: str) -> ChatwootContact:
    """A contact as Chatwoot sends it (Contact#push_event_data or #webhook_data), checked as a
    customer we may store: a value too long, or not an email, is refused here naming
    Chatwoot's field (`where` is the path to the contact) rather than failing when stored."""
    name = _optional_str(data.get("name"), f"{where}name")
    contact = ChatwootContact(
        identifier=_optional_str(data.get("identifier"), f"{where}identifier"),
        email=_optional_str(data.get("email"), f"{where}email"),
        contact_id=_id(data.get("id"), f"{where}id"),
        first_name=name.split()[0][:200] if name else None,
    )
    customer_id, id_field = contact.customer_id()
    # The provisional id too: it is looked up even when the contact has another.
    refs = [
        ({"id": customer_id, "email": contact.email, "first_name": contact.first_name}, id_field),
        ({"id": contact.provisional_id}, "id"),
    ]
    for ref, field in refs:
        try:
            CustomerRef.model_validate(ref)
        except ValidationError as error:
            problem = invalid_from(error)
            theirs = {"id": field, "email": "email", "first_name": "name"}
            problem.field = f"{where}{theirs.get(problem.field or '', problem.field)}"
            raise problem from None
    return contact


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
