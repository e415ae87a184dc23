"""Chatwoot `message_created` webhooks mapped to our messages, or ignored, or refused."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chat_ingest.adapters.chatwoot import (
    ChatwootContact,
    ChatwootMessage,
    Ignored,
    parse_chatwoot_event,
)
from chat_ingest.errors import InvalidInput
from chat_ingest.schemas import MAX_ACCEPTED_CHARS, MAX_MESSAGE_CHARS, MessageCreate
from tests.webhook_payloads import DOCUMENTED_CHATWOOT_MESSAGE, documented_payload, payload_file


def parsed(payload: Any) -> ChatwootMessage:
    """Parse a payload that must map to a message."""
    result = parse_chatwoot_event(payload)
    assert isinstance(result, ChatwootMessage), result
    return result


def refused(payload: Any) -> InvalidInput:
    """Parse a payload that must be refused."""
    with pytest.raises(InvalidInput) as caught:
        parse_chatwoot_event(payload)
    return caught.value


def test_documented_payload_maps_to_a_customer_message() -> None:
    result = parsed(documented_payload())
    assert isinstance(result.message, MessageCreate)
    assert result.message.id == "chatwoot:1:118"
    assert result.message.role == "customer"
    assert result.message.text == "hi"
    assert result.message.sent_at == datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)
    assert result.conversation_id == "chatwoot:1:10"
    assert result.contact.contact_id == "14"
    assert result.contact.email == "jane@acme.test"
    assert result.contact.identifier is None
    assert result.contact.first_name == "Jane"


@pytest.mark.parametrize(
    ("message_type", "role"),
    [
        ("incoming", "customer"),
        ("outgoing", "agent"),
        ("template", "bot"),
        (0, "customer"),
        (1, "agent"),
        (3, "bot"),
    ],
)
def test_message_type_sets_the_role(message_type: str | int, role: str) -> None:
    payload = documented_payload()
    payload["message_type"] = message_type
    assert parsed(payload).message.role == role


@pytest.mark.parametrize(
    ("change", "reason_word"),
    [
        ({"private": True}, "private"),
        ({"message_type": "activity"}, "activity"),
        ({"message_type": 2}, "activity"),
        ({"event": "conversation_created"}, "conversation_created"),
        ({"event": "message_updated"}, "message_updated"),
        ({"event": None}, "None"),
        ({"content": None}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   \n\t"}, "content"),
    ],
    ids=[
        "private-note",
        "activity",
        "activity-number",
        "conversation_created",
        "message_updated",
        "no-event",
        "content-none",
        "content-empty",
        "content-blank",
    ],
)
def test_events_without_words_are_ignored(change: dict[str, Any], reason_word: str) -> None:
    payload = documented_payload()
    payload.update(change)
    result = parse_chatwoot_event(payload)
    assert isinstance(result, Ignored)
    assert reason_word in result.reason


def test_event_other_than_message_created_is_ignored_even_when_malformed() -> None:
    result = parse_chatwoot_event({"event": "conversation_created", "conversation": "nope"})
    assert isinstance(result, Ignored)


def test_private_outgoing_note_is_ignored() -> None:
    payload = documented_payload()
    payload.update({"private": True, "message_type": "outgoing", "content": "internal note"})
    assert isinstance(parse_chatwoot_event(payload), Ignored)


def test_missing_content_key_is_ignored() -> None:
    payload = documented_payload()
    del payload["content"]
    assert isinstance(parse_chatwoot_event(payload), Ignored)


@pytest.mark.parametrize("message_type", ["sideways", "INCOMING", None, 7, 1.0, ["incoming"]])
def test_unknown_message_type_is_refused(message_type: Any) -> None:
    payload = documented_payload()
    payload["message_type"] = message_type
    assert refused(payload).field == "message_type"


def test_missing_message_type_is_refused() -> None:
    payload = documented_payload()
    del payload["message_type"]
    assert refused(payload).field == "message_type"


def test_boolean_message_type_is_refused() -> None:
    """A JSON `true` is not message type 1 (agent), though True == 1 in Python."""
    payload = documented_payload()
    payload["message_type"] = True
    assert refused(payload).field == "message_type"


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2020-03-03 13:05:57 UTC", datetime(2020, 3, 3, 13, 5, 57, tzinfo=UTC)),
        ("2021-07-23T18:02:48.000Z", datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)),
        ("2021-07-23T18:02:48Z", datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)),
        ("2021-07-23T20:02:48+02:00", datetime(2021, 7, 23, 18, 2, 48, tzinfo=UTC)),
        (1627063369, datetime(2021, 7, 23, 18, 2, 49, tzinfo=UTC)),
        (1627063369.5, datetime(2021, 7, 23, 18, 2, 49, 500000, tzinfo=UTC)),
    ],
)
def test_created_at_formats_give_an_aware_datetime(created_at: Any, expected: datetime) -> None:
    payload = documented_payload()
    payload["created_at"] = created_at
    sent_at = parsed(payload).message.sent_at
    assert sent_at.tzinfo is not None
    assert sent_at == expected


def test_created_at_keeps_its_offset() -> None:
    payload = documented_payload()
    payload["created_at"] = "2021-07-23T20:02:48+02:00"
    assert parsed(payload).message.sent_at.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "created_at",
    [
        "2021-07-23T18:02:48",
        "2020-03-03 13:05:57",
        "yesterday",
        "",
        None,
        True,
        [2021, 7, 23],
        10**20,
    ],
)
def test_unusable_created_at_is_refused(created_at: Any) -> None:
    payload = documented_payload()
    payload["created_at"] = created_at
    assert refused(payload).field == "created_at"


def test_ids_are_namespaced_by_account() -> None:
    payload = documented_payload()
    payload["account"]["id"] = 7
    payload["id"] = "abc"
    payload["conversation"]["id"] = 99
    result = parsed(payload)
    assert result.message.id == "chatwoot:7:abc"
    assert result.conversation_id == "chatwoot:7:99"


def test_missing_account_falls_back_to_account_zero() -> None:
    payload = documented_payload()
    del payload["account"]
    result = parsed(payload)
    assert result.message.id == "chatwoot:0:118"
    assert result.conversation_id == "chatwoot:0:10"


def test_identity_comes_from_the_conversation_contact_not_the_sender() -> None:
    payload = documented_payload()
    payload["message_type"] = "outgoing"
    payload["sender"] = {"id": 1, "name": "Sam Agent", "email": "sam@acme.test", "type": "user"}
    contact = payload["conversation"]["meta"]["sender"]
    contact.update({"id": 14, "identifier": "cust-42", "email": " jane@acme.test "})
    result = parsed(payload)
    assert result.message.role == "agent"
    assert result.contact.identifier == "cust-42"
    assert result.contact.email == "jane@acme.test"
    assert result.contact.contact_id == "14"
    assert result.contact.first_name == "Jane"


@pytest.mark.parametrize(
    ("name", "first_name"),
    [
        ("Jane Doe", "Jane"),
        ("  Mary Ann Smith ", "Mary"),
        ("Prince", "Prince"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_first_name_is_the_first_word_of_the_contact_name(
    name: str | None, first_name: str | None
) -> None:
    payload = documented_payload()
    payload["conversation"]["meta"]["sender"]["name"] = name
    assert parsed(payload).contact.first_name == first_name


def test_blank_email_and_identifier_become_none() -> None:
    payload = documented_payload()
    payload["conversation"]["meta"]["sender"].update({"email": "", "identifier": "  "})
    result = parsed(payload)
    assert result.contact.email is None and result.contact.identifier is None


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("email", 42, "conversation.meta.sender.email"),
        ("identifier", {"x": 1}, "conversation.meta.sender.identifier"),
        ("name", ["Jane"], "conversation.meta.sender.name"),
        ("id", None, "conversation.meta.sender.id"),
        ("id", "", "conversation.meta.sender.id"),
    ],
)
def test_malformed_contact_fields_are_refused(key: str, value: Any, field: str) -> None:
    payload = documented_payload()
    payload["conversation"]["meta"]["sender"][key] = value
    assert refused(payload).field == field


def test_missing_contact_is_refused() -> None:
    payload = documented_payload()
    del payload["conversation"]["meta"]
    assert refused(payload).field == "conversation.meta.sender"


@pytest.mark.parametrize("conversation", [None, "10", 10, ["id", 10]])
def test_missing_or_malformed_conversation_is_refused(conversation: Any) -> None:
    payload = documented_payload()
    if conversation is None:
        del payload["conversation"]
    else:
        payload["conversation"] = conversation
    assert refused(payload).field == "conversation"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"id": True}, "id"),
        ({"account": {"id": None}}, "account.id"),
    ],
)
def test_missing_message_or_account_id_is_refused(change: dict[str, Any], field: str) -> None:
    payload = documented_payload()
    payload.update(change)
    assert refused(payload).field == field


def test_missing_conversation_id_is_refused() -> None:
    payload = documented_payload()
    del payload["conversation"]["id"]
    assert refused(payload).field == "conversation.id"


def test_content_over_the_limit_is_accepted_whole_for_storage_to_cut() -> None:
    """A long email is still a customer's message: the parser keeps all of it, and storing it
    keeps its first part (chat_ingest.schemas.clip_text)."""
    payload = documented_payload()
    payload["content"] = "x" * (MAX_MESSAGE_CHARS + 1)
    assert parsed(payload).message.text == payload["content"]


def test_content_over_what_is_accepted_at_all_is_refused() -> None:
    payload = documented_payload()
    payload["content"] = "x" * (MAX_ACCEPTED_CHARS + 1)
    assert refused(payload).field == "content"


def test_content_of_exactly_the_limit_is_accepted() -> None:
    payload = documented_payload()
    payload["content"] = "x" * MAX_MESSAGE_CHARS
    assert len(parsed(payload).message.text) == MAX_MESSAGE_CHARS


def test_non_text_content_is_refused() -> None:
    payload = documented_payload()
    payload["content"] = 12345
    assert refused(payload).field == "content"


@pytest.mark.parametrize("payload", [None, [], ["message_created"], "message_created", 42])
def test_non_object_payload_is_refused(payload: Any) -> None:
    assert refused(payload).field == "(root)"


def test_parsing_does_not_change_the_payload() -> None:
    payload = documented_payload()
    parse_chatwoot_event(payload)
    assert payload == DOCUMENTED_CHATWOOT_MESSAGE


def test_the_documented_sample_of_a_visitor_without_email_is_a_provisional_contact() -> None:
    # chatwoot/docs webhook-events.md, `message_created`: a widget visitor before the
    # email-collect bot got an answer.
    result = parsed(payload_file("chatwoot_message_created.json"))
    assert result.conversation_id == "chatwoot:1:10"
    assert result.contact == ChatwootContact(
        identifier=None, email=None, contact_id="14", first_name="little-haze-776"
    )
    assert result.contact.customer_id() == ("chatwoot-contact:14", "id")


def test_the_conversation_after_the_email_collect_bot_names_the_merged_contact() -> None:
    # chatwoot/docs webhook-events.md, `message_updated` of the same conversation, sent as a
    # new message would be: Chatwoot merged the visitor into the contact with that email.
    payload = payload_file("chatwoot_message_updated.json")
    payload.update(event="message_created", id=121, content="it is for the studio")
    result = parsed(payload)
    assert result.conversation_id == "chatwoot:1:10"
    assert (result.contact.contact_id, result.contact.email) == ("12", "jane@acme.inc")


def test_contact_updated_maps_to_the_contact_as_it_is_now() -> None:
    # Contact#webhook_data with event and changed_attributes (WebhookListener#contact_updated).
    result = parse_chatwoot_event(payload_file("chatwoot_contact_updated.json"))
    assert result == ChatwootContact(
        identifier=None, email="jane@acme.inc", contact_id="14", first_name="little-haze-776"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"email": "jane"}, "email"),
        ({"identifier": ["x"]}, "identifier"),
        ({"identifier": "i" * 129}, "identifier"),
        # The provisional id is looked up even beside an identifier: it must be one we can hold.
        ({"identifier": "cus_9", "id": "7" * 120}, "id"),
        ({"id": "\ud800"}, "id"),
    ],
)
def test_a_contact_update_that_cannot_be_stored_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    payload = payload_file("chatwoot_contact_updated.json") | change
    assert refused(payload).field == field


def test_conversation_updated_is_ignored() -> None:
    # Conversation#webhook_data with the event name: no message, and its contact is the one
    # the conversation's next message carries.
    payload = payload_file("chatwoot_message_created.json")["conversation"]
    payload |= {"event": "conversation_updated", "changed_attributes": []}
    result = parse_chatwoot_event(payload)
    assert isinstance(result, Ignored) and "conversation_updated" in result.reason


def test_an_email_inbox_message_is_the_contacts_words_with_their_email() -> None:
    # MailboxHelper#create_message: content is the reply part of the mail's text.
    result = parsed(payload_file("chatwoot_email_message_created.json"))
    assert result.message.role == "customer"
    assert result.message.text.startswith("Hi, the grinder arrived")
    assert result.conversation_id == "chatwoot:1:57"
    assert (result.contact.email, result.contact.first_name) == ("maya@studio.example", "Maya")
