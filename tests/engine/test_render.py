"""A draft rendered as an email: both parts, the footer, the headers, signed links, no injection."""

import email
import email.policy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from urllib.parse import urlsplit

import pytest

from engine.email.render import Outgoing, Sender, new_message_id, render, sender_domain
from engine.email.tokens import read_click_token, read_unsubscribe_token

KEY = b"link-key-" * 4
MESSAGE_ID = "draft-12.3f9a0c@ridgeline.example"
OUTGOING = Outgoing(
    draft_id=12,
    customer_id="shopify/Customer:42",
    to="zoe@customer.example",
    first_name="Zoe",
    subject="Your beans are almost out",
    preheader="A refill of the Yirgacheffe you liked",
    body=(
        "Hi Zoe,\n\n"
        "You said the Yirgacheffe was <script>alert(1)</script> & more.\n"
        "A second line of the same paragraph.\n\n"
        "See https://shop.example/p/yirg for a refill.\n\n"
        "Cheers,\nRidgeline"
    ),
    message_id=MESSAGE_ID,
)
SHOP_URL = "https://shop.example/collections/coffee?utm_source=email&utm_medium=1to1"
SENDER = Sender(
    from_address="Ridgeline Coffee <hello@ridgeline.example>",
    reply_to="help@ridgeline.example",
    business_address="Ridgeline Coffee\n12 Main St\nSpringfield, OR 97477",
    public_url="https://shop.example/",
    shop_url=SHOP_URL,
    track_clicks=True,
    link_key=KEY,
)
PRODUCTS = {"YIRG-250": "https://shop.example/p/yirg"}
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _sent(outgoing: Outgoing = OUTGOING, sender: Sender = SENDER) -> EmailMessage:
    return _parsed(render(outgoing, sender, product_urls=PRODUCTS, now=NOW))


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _hrefs(html_part: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'<a href="([^"]+)"', html_part)]


def _unsubscribe_url(message: Message) -> str:
    found = re.match(r"<(https://[^>]+)>, <(mailto:[^>]+)>$", str(message["List-Unsubscribe"]))
    assert found is not None, message["List-Unsubscribe"]
    return found.group(1)


def test_both_parts_are_present() -> None:
    message = _sent()
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text = _part(message, "plain")
    assert "Hi Zoe," in text and "A second line of the same paragraph." in text
    assert "<script>alert(1)</script> & more." in text  # plain text is not escaped


def test_html_escapes_the_body_and_keeps_paragraphs() -> None:
    page = _part(_sent(), "html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more." in page
    assert "<img" not in page.lower()
    assert page.count("<p ") >= 4
    assert "more.<br>" in page  # a single line break stays inside its paragraph


def test_preheader_is_hidden_at_the_top_of_the_html() -> None:
    page = _part(_sent(replace(OUTGOING, preheader="Beans & <more>")), "html")
    hidden = re.search(r'<span style="display:none[^"]*">([^<]*)</span>', page)
    assert hidden is not None and hidden.group(1) == "Beans &amp; &lt;more&gt;"
    assert page.index(hidden.group(0)) < page.index("Hi Zoe,")


def test_footer_is_in_both_parts() -> None:
    message = _sent()
    unsubscribe = _unsubscribe_url(message)
    text, page = _part(message, "plain"), _part(message, "html")
    assert unsubscribe in text and unsubscribe in _hrefs(page)
    for line in SENDER.business_address.splitlines():
        assert line in text
    assert "12 Main St<br>" in page and "Springfield, OR 97477" in page


def test_headers() -> None:
    message = _sent()
    assert message["From"].addresses[0].addr_spec == "hello@ridgeline.example"
    assert message["From"].addresses[0].display_name == "Ridgeline Coffee"
    assert message["To"].addresses[0].addr_spec == "zoe@customer.example"
    assert message["To"].addresses[0].display_name == "Zoe"
    assert str(message["Reply-To"]) == "help@ridgeline.example"
    assert str(message["Subject"]) == "Your beans are almost out"
    assert message["Date"].datetime == NOW
    assert str(message["Message-ID"]) == f"<{MESSAGE_ID}>"
    assert str(message["List-Unsubscribe"]) == (
        f"<{_unsubscribe_url(message)}>, <mailto:hello@ridgeline.example?subject=unsubscribe>"
    )
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert json.loads(str(message["X-SMTPAPI"])) == {"unique_args": {"draft_id": "12"}}
    assert str(message["X-PM-Metadata-draft_id"]) == "12"
    assert json.loads(str(message["X-Mailgun-Variables"])) == {"draft_id": "12"}
    assert str(message["X-Personalize-Draft"]) == "12"
    assert str(message["MIME-Version"]) == "1.0"


def test_no_reply_to_and_no_first_name() -> None:
    message = _sent(replace(OUTGOING, first_name=None), replace(SENDER, reply_to=None))
    assert message["Reply-To"] is None
    assert str(message["To"]) == "zoe@customer.example"


def test_the_unsubscribe_token_reads_back_and_is_never_tracked() -> None:
    odd = replace(OUTGOING, customer_id="Zoë/ü:1." + "x" * 150)
    message = _sent(odd)
    url = _unsubscribe_url(message)
    assert url.startswith("https://shop.example/u/")  # the base's trailing slash is not doubled
    token = urlsplit(url).path.removeprefix("/u/")
    assert read_unsubscribe_token(KEY, token) == (odd.customer_id, 12)
    # A long token still makes a plain <URL>: never folded into encoded words.
    raw = render(odd, SENDER, now=NOW).as_bytes()
    assert b"List-Unsubscribe: <https://shop.example/u/" + token.encode() + b">," in raw


def test_tracked_links_are_signed_redirects() -> None:
    message = _sent()
    hrefs = _hrefs(_part(message, "html"))
    tracked = [href for href in hrefs if "/r/" in href]
    targets = {read_click_token(KEY, urlsplit(href).path.removeprefix("/r/")) for href in tracked}
    assert targets == {(12, SHOP_URL), (12, PRODUCTS["YIRG-250"])}
    assert all(href.startswith("https://shop.example/r/") for href in tracked)
    assert SHOP_URL not in hrefs and PRODUCTS["YIRG-250"] not in hrefs
    text = _part(message, "plain")
    assert "Visit the shop: https://shop.example/r/" in text
    assert SHOP_URL not in text


def test_untracked_links_are_the_urls_themselves() -> None:
    message = _sent(sender=replace(SENDER, track_clicks=False))
    page, text = _part(message, "html"), _part(message, "plain")
    hrefs = _hrefs(page)
    assert SHOP_URL in hrefs and PRODUCTS["YIRG-250"] in hrefs
    assert not any("/r/" in href for href in hrefs)
    assert ">Visit the shop</a>" in page
    assert f"Visit the shop: {SHOP_URL}" in text
    assert "/r/" not in text


def test_no_shop_url_means_no_call_to_action() -> None:
    message = _sent(sender=replace(SENDER, shop_url=None))
    assert "Visit the shop" not in _part(message, "html")
    assert "Visit the shop" not in _part(message, "plain")


def test_a_product_url_is_linked_only_when_quoted_whole() -> None:
    body = "Try https://shop.example/p/yirg-decaf or https://shop.example/p/yirg."
    page = _part(_sent(replace(OUTGOING, body=body), replace(SENDER, track_clicks=False)), "html")
    assert _hrefs(page).count("https://shop.example/p/yirg") == 1
    assert "https://shop.example/p/yirg-decaf or" in page


def test_non_http_links_are_refused() -> None:
    with pytest.raises(ValueError):
        render(OUTGOING, replace(SENDER, shop_url="javascript:alert(1)"))
    with pytest.raises(ValueError):
        render(OUTGOING, SENDER, product_urls={"X": "data:text/html,hi"})
    with pytest.raises(ValueError):
        render(OUTGOING, replace(SENDER, public_url="shop.example"))


def test_non_ascii_subject_and_first_name_round_trip() -> None:
    subject = "Zoë, ton café ☕ t\u2019attend — Ethiopia Yirgacheffe, fraîchement torréfié pour toi"
    message = _sent(replace(OUTGOING, subject=subject, first_name="Zoë Ñúñez"))
    assert str(message["Subject"]) == subject
    assert message["To"].addresses[0].display_name == "Zoë Ñúñez"
    assert message["To"].addresses[0].addr_spec == "zoe@customer.example"
    raw = render(replace(OUTGOING, subject=subject), SENDER).as_bytes()
    assert raw.isascii() and max(len(line) for line in raw.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: evil@attacker.example",
        "Hello\nBcc: evil@attacker.example",
        "Hello\rBcc: evil@attacker.example",
        "Hello\u2028Bcc: evil@attacker.example\x85X-Evil: 1",
        "Héllo\r\n\r\nBcc: evil@attacker.example",
    ],
)
def test_line_breaks_in_the_subject_cannot_add_headers(subject: str) -> None:
    message = _sent(replace(OUTGOING, subject=subject))
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "Bcc: evil@attacker.example" in str(message["Subject"])
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    assert len(message.get_all("Subject") or []) == 1


def test_line_breaks_in_the_name_cannot_add_headers() -> None:
    message = _sent(replace(OUTGOING, first_name="Zoe\r\nBcc: evil@attacker.example"))
    assert message["Bcc"] is None
    assert [address.addr_spec for address in message["To"].addresses] == ["zoe@customer.example"]


def test_a_broken_recipient_address_is_refused() -> None:
    with pytest.raises(ValueError):
        render(replace(OUTGOING, to="zoe@customer.example\r\nBcc: evil@attacker.example"), SENDER)


def test_message_id_is_the_given_one() -> None:
    first = _sent()
    again = _sent()
    assert str(first["Message-ID"]) == str(again["Message-ID"]) == f"<{MESSAGE_ID}>"
    with pytest.raises(ValueError):
        render(replace(OUTGOING, message_id=f"<{MESSAGE_ID}>"), SENDER)


def test_new_message_id_format() -> None:
    domain = sender_domain(SENDER.from_address)
    assert domain == "ridgeline.example"
    first, second = new_message_id(12, domain), new_message_id(12, domain)
    assert re.fullmatch(r"draft-12\.[0-9a-f]{32}@ridgeline\.example", first)
    assert first != second
    message = _sent(replace(OUTGOING, message_id=first))
    assert str(message["Message-ID"]) == f"<{first}>"
    with pytest.raises(ValueError):
        new_message_id(12, "bad domain>")
