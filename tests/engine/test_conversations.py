"""A chat as a reader sees it: every turn in order, who said it, and no personal data."""

import pytest

from engine.customers.conversations import get_conversation
from engine.db import Database
from engine.errors import NotFoundError
from tests.builders import converse, customer


def test_every_turn_in_order_with_who_said_it(db: Database) -> None:
    customer(db, "c/1", first_name="Maya")
    converse(
        db,
        "c/1",
        "chat/7",
        [
            ("bot", "Hi! How can we help?"),
            ("customer", "I run a small bakery and my grinder jams."),
            ("agent", "Sorry to hear it. Mail me at help@shop.test or call +1 415 555 0100."),
            ("customer", "Thanks, that worked."),
        ],
    )
    with db.read() as session:
        chat = get_conversation(session, conversation_id="chat/7")
    assert (chat.id, chat.customer_id, chat.first_name, chat.source) == (
        "chat/7",
        "c/1",
        "Maya",
        "widget",
    )
    assert [(t.message_id, t.role) for t in chat.turns] == [
        ("chat/7-0", "bot"),
        ("chat/7-1", "customer"),
        ("chat/7-2", "agent"),
        ("chat/7-3", "customer"),
    ]
    assert chat.turns[1].text == "I run a small bakery and my grinder jams."
    # The agent's turn was never processed: it is redacted when read, like a quote would be.
    assert "help@shop.test" not in chat.turns[2].text and "[email]" in chat.turns[2].text
    assert "555" not in chat.turns[2].text


def test_an_unknown_chat_is_not_found(db: Database) -> None:
    with db.read() as session, pytest.raises(NotFoundError):
        get_conversation(session, conversation_id="nope")
