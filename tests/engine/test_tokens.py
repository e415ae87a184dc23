"""Signed link tokens: they read back, and any forgery or damage reads as not found."""

import base64

import pytest

from engine.email.tokens import (
    click_token,
    read_click_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from engine.errors import NotFoundError

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
ODD_IDS = [
    "c1",
    "",
    "shopify/gid://shopify/Customer/123",
    "a.b:c/d?e=f&g#h",
    "Zoë Ñúñez 日本 😀",
    '"quoted" \\ back\\slash',
    "line\nbreak\ttab\x00nul",
    "x" * 200,
]
URLS = [
    "https://shop.example/",
    "http://shop.example/p/1?utm_source=email&a=b#top",
    "https://shop.example/caf%C3%A9/ü?q=日本",
    "HTTPS://SHOP.EXAMPLE:8443/path",
]


def _mutations(token: str) -> list[str]:
    """The token with each character in turn replaced by another base64url character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    changed = []
    for index, char in enumerate(token):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        changed.append(token[:index] + other + token[index + 1 :])
    return changed


@pytest.mark.parametrize("customer_id", ODD_IDS)
def test_unsubscribe_token_round_trips(customer_id: str) -> None:
    token = unsubscribe_token(KEY, customer_id=customer_id, draft_id=42)
    assert token.replace("-", "").replace("_", "").isalnum() and "=" not in token
    assert read_unsubscribe_token(KEY, token) == (customer_id, 42)


@pytest.mark.parametrize("url", URLS)
def test_click_token_round_trips(url: str) -> None:
    token = click_token(KEY, draft_id=7, url=url)
    assert token.replace("-", "").replace("_", "").isalnum() and "=" not in token
    assert read_click_token(KEY, token) == (7, url)


def test_every_changed_character_fails() -> None:
    unsubscribe = unsubscribe_token(KEY, customer_id="Zoë/1", draft_id=3)
    for forged in _mutations(unsubscribe):
        with pytest.raises(NotFoundError):
            read_unsubscribe_token(KEY, forged)
    click = click_token(KEY, draft_id=3, url="https://shop.example/p/1")
    for forged in _mutations(click):
        with pytest.raises(NotFoundError):
            read_click_token(KEY, forged)


def test_every_changed_byte_fails() -> None:
    token = unsubscribe_token(KEY, customer_id="c/1", draft_id=3)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for index in range(len(raw)):
        for flip in (0x01, 0x80):
            damaged = bytearray(raw)
            damaged[index] ^= flip
            forged = base64.urlsafe_b64encode(bytes(damaged)).rstrip(b"=").decode()
            with pytest.raises(NotFoundError):
                read_unsubscribe_token(KEY, forged)


def test_payload_swapped_under_the_old_tag_fails() -> None:
    token = unsubscribe_token(KEY, customer_id="alice", draft_id=3)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    forged_raw = raw.replace(b"alice", b"mallo")
    forged = base64.urlsafe_b64encode(forged_raw).rstrip(b"=").decode()
    with pytest.raises(NotFoundError):
        read_unsubscribe_token(KEY, forged)


def test_truncated_and_extended_tokens_fail() -> None:
    token = click_token(KEY, draft_id=3, url="https://shop.example/")
    for forged in (token[:-1], token[:-4], token[1:], token + "A", token + "AAAA", token + "="):
        with pytest.raises(NotFoundError):
            read_click_token(KEY, forged)


def test_one_kind_is_refused_as_the_other() -> None:
    # The same payload shape ([int, str]) in both: only the signed kind tells them apart.
    unsubscribe = unsubscribe_token(KEY, customer_id="https://shop.example/", draft_id=5)
    click = click_token(KEY, draft_id=5, url="https://shop.example/")
    with pytest.raises(NotFoundError):
        read_click_token(KEY, unsubscribe)
    with pytest.raises(NotFoundError):
        read_unsubscribe_token(KEY, click)


def test_another_key_fails() -> None:
    unsubscribe = unsubscribe_token(OTHER_KEY, customer_id="c1", draft_id=1)
    click = click_token(OTHER_KEY, draft_id=1, url="https://shop.example/")
    with pytest.raises(NotFoundError):
        read_unsubscribe_token(KEY, unsubscribe)
    with pytest.raises(NotFoundError):
        read_click_token(KEY, click)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "A",
        "AAAA",
        "not base64!",
        "abc$def",
        "////++++",
        "====",
        "A" * 21,  # decodes to fewer bytes than a tag
        "A" * 22,  # exactly a tag, no payload
        "A" * 200,
        "Zoë",
        " " + "A" * 40,
        "A" * 40 + "\n",
    ],
)
def test_malformed_tokens_are_not_found(token: str) -> None:
    with pytest.raises(NotFoundError):
        read_unsubscribe_token(KEY, token)
    with pytest.raises(NotFoundError):
        read_click_token(KEY, token)


def test_the_error_does_not_say_why() -> None:
    good = unsubscribe_token(KEY, customer_id="c1", draft_id=1)
    messages = set()
    for token in ("", "!!!", "A" * 30, good[:-1] + ("A" if good[-1] != "A" else "B")):
        with pytest.raises(NotFoundError) as caught:
            read_unsubscribe_token(KEY, token)
        messages.add(str(caught.value))
    with pytest.raises(NotFoundError) as caught:
        read_unsubscribe_token(OTHER_KEY, good)
    messages.add(str(caught.value))
    assert len(messages) == 1


def test_non_canonical_encoding_of_a_good_token_fails() -> None:
    token = click_token(KEY, draft_id=9, url="https://shop.example/")
    padded = token + "=" * (-len(token) % 4)
    standard = token.replace("-", "+").replace("_", "/")
    for variant in {padded, standard} - {token}:
        with pytest.raises(NotFoundError):
            read_click_token(KEY, variant)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "mailto:hello@shop.example",
        "ftp://shop.example/file",
        "//shop.example/path",
        "/relative/path",
        "shop.example",
        "https://",
        "https:///path-only",
        "",
        "https://shop.example/\r\nLocation: https://evil.example/",
        "https://shop.example/a b",
        " https://shop.example/",
    ],
)
def test_only_http_urls_are_signed(url: str) -> None:
    with pytest.raises(ValueError):
        click_token(KEY, draft_id=1, url=url)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        unsubscribe_token(b"", customer_id="c1", draft_id=1)
