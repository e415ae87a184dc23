"""PII never survives redaction; ordinary numbers do."""

import pytest

from engine.text.redact import redact
from engine.text.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("email me at ana.b+x@example.co.uk thanks", "email", "ana.b+x@example.co.uk"),
        ("call me on 555-201-8834", "phone", "201-8834"),
        ("or (555) 201 8834 after 6", "phone", "201 8834"),
        ("my uk mobile is +44 7700 900123", "phone", "900123"),
        ("text me 5552018834", "phone", "5552018834"),
        ("my card 4242 4242 4242 4242 was declined", "card", "4242 4242"),
        ("card number 4111-1111-1111-1111", "card", "1111-1111"),
        ("the card ending 4242 is expired", "card", "4242"),
        ("last four digits are 1881", "card", "1881"),
        ("deliver to 42 Elm Street, Springfield", "address", "42 Elm"),
        ("ship it to 9 oak ave apt 3 please", "address", "9 oak ave"),
        ("I'm at 1200 Market Blvd", "address", "1200 Market"),
    ],
)
def test_pii_is_replaced_by_a_placeholder(text: str, kind: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert f"[{kind}]" in result.text
    assert result.found[kind] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "we ordered 2 bags for $24.50 in 2025",
        "the 1kg bag and the 250g one",
        "order #1001 arrived on 12/03",
        "we're a 40-person studio open 9 to 5",
        "I run a bakery on Elm st",
        "my order 100234 hasn't arrived",
    ],
)
def test_ordinary_numbers_stay(text: str) -> None:
    result = redact(text)
    assert result.text == text and not result.found


def test_everything_in_one_message() -> None:
    text = "I'm Ana, ana@example.com, 555-201-8834, card ending 4242, 42 Elm Street"
    result = redact(text)
    assert result.text == "I'm Ana, [email], [phone], card ending [card], [address]"
    assert dict(result.found) == {"email": 1, "phone": 1, "card": 1, "address": 1}


def test_sentences_have_spans_into_the_message() -> None:
    text = "hi!  I run a bakery. can you help??\nthanks"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == ["hi!", "I run a bakery.", "can you help??", "thanks"]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_no_sentence_without_a_word_and_long_runs_are_cut() -> None:
    assert split_sentences("... !!") == []
    long = " ".join(["word"] * 600)
    pieces = split_sentences(long)
    assert len(pieces) > 1 and all(len(p.text) <= 1000 for p in pieces)
    assert " ".join(p.text for p in pieces) == long
