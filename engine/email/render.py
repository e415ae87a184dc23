"""A draft as an email message: plain text and HTML, the footer the law asks for, the headers.

Everything customer-facing is HTML-escaped; the only links are the call to action, product
URLs the body quotes, and the unsubscribe link (never click-tracked). Header values that could
carry a line break (subject, first name) are flattened to one line, so none can add a header.

The policy is `email.policy.SMTP` with two headers folded by hand: the Subject, because the
standard folder drops spaces between encoded words, and List-Unsubscribe, which must stay plain
angle-bracketed URLs (the standard folder would turn a long token into encoded words)."""

import email.policy
import html
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from types import MappingProxyType

from engine.email.tokens import click_token, is_http_url, open_token, unsubscribe_token

CTA_TEXT = "Visit the shop"
UNSUBSCRIBE_TEXT = "Unsubscribe"
_NO_PRODUCTS: Mapping[str, str] = MappingProxyType({})
_BODY_STYLE = (
    "max-width:600px;margin:0 auto;padding:24px 16px;font-family:Helvetica,Arial,sans-serif;"
    "font-size:16px;line-height:1.5;color:#222222;"
)
_PREHEADER_STYLE = (
    "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;"
    "overflow:hidden;mso-hide:all;color:#ffffff;"
)
_FOOTER_STYLE = "margin:32px 0 0;font-size:13px;line-height:1.5;color:#666666;"
_LINK_STYLE = "color:#1a5fb4;"


@dataclass(frozen=True)
class Outgoing:
    """One approved draft, ready to be rendered for its recipient."""

    draft_id: int
    customer_id: str
    to: str  # recipient address
    first_name: str | None
    subject: str
    preheader: str
    body: str  # plain text, paragraphs separated by blank lines (as drafted)
    message_id: str  # without angle brackets; stable per draft (the caller stores it)


@dataclass(frozen=True)
class Sender:
    """What the business configured for the mail it sends."""

    from_address: str  # EMAIL_FROM, e.g. "Ridgeline Coffee <hello@ridgeline.example>"
    reply_to: str | None  # EMAIL_REPLY_TO
    business_address: str  # BUSINESS_ADDRESS: the postal address every email must carry
    public_url: str  # PUBLIC_URL: base of the /u/{token} and /r/{token} links
    shop_url: str | None  # SHOP_URL: the call to action
    track_clicks: bool  # TRACK_CLICKS: links go through signed /r/{token} redirects
    link_key: bytes  # the key tokens.py signs with
    # TRACK_OPENS: a 1x1 image from /o/{token}.gif (mail clients prefetch images: weak signal)
    track_opens: bool = False


class _EncodedWordsHeader(UnstructuredHeader, BaseHeader):
    """An unstructured header whose non-ASCII value is folded into whole encoded words."""

    def fold(self, *, policy: Policy) -> str:
        """The header as it goes on the wire, spaces kept inside the encoded words."""
        if str(self).isascii():
            return BaseHeader.fold(self, policy=policy)
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(
            splitchars=" ", maxlinelen=policy.max_line_length or 78, linesep=policy.linesep
        )
        return f"{self.name}: {encoded}{policy.linesep}"


class _UrlListHeader(UnstructuredHeader, BaseHeader):
    """A list of <URL>s (RFC 2369), one to a line and never encoded."""

    def fold(self, *, policy: Policy) -> str:
        """The header as it goes on the wire: each <URL> whole, folded after the commas."""
        urls = re.findall(r"<[^<>\s]*>", str(self))
        if not urls or not str(self).isascii():
            return BaseHeader.fold(self, policy=policy)
        return f"{self.name}: " + f",{policy.linesep} ".join(urls) + policy.linesep


def _policy() -> "EmailPolicy[EmailMessage]":  # generic only in the stubs
    registry = HeaderRegistry()
    registry.map_to_type("subject", _EncodedWordsHeader)
    registry.map_to_type("list-unsubscribe", _UrlListHeader)
    return email.policy.SMTP.clone(header_factory=registry)


POLICY = _policy()


def new_message_id(draft_id: int, domain: str) -> str:
    """A fresh Message-ID (no angle brackets): "draft-<id>.<random hex>@<domain>"."""
    if not domain or any(char in domain for char in "<>@ \t\r\n"):
        raise ValueError(f"not a domain for a Message-ID: {domain!r}")
    return f"draft-{draft_id}.{secrets.token_hex(16)}@{domain}"


def sender_domain(from_address: str) -> str:
    """The domain of a From address ("Shop <hello@shop.example>" -> "shop.example")."""
    return _one_address(from_address).domain


def render(
    outgoing: Outgoing,
    sender: Sender,
    *,
    product_urls: Mapping[str, str] = _NO_PRODUCTS,
    now: datetime | None = None,
) -> EmailMessage:
    """The draft as a multipart/alternative message (text and HTML) with every header set.

    `product_urls` maps SKUs to product pages; each one the body quotes becomes a link (through
    a signed redirect when clicks are tracked)."""
    links = _links(outgoing, sender, product_urls)
    unsubscribe = _unsubscribe_url(outgoing, sender)
    message = EmailMessage(policy=POLICY)
    _set_headers(message, outgoing, sender, unsubscribe=unsubscribe, now=now)
    message.set_content(_text(outgoing, sender, links, unsubscribe))
    message.add_alternative(_html(outgoing, sender, links, unsubscribe), subtype="html")
    return message


def one_line(value: str) -> str:
    """A header-safe value: control characters and line breaks become single spaces."""
    spaced = "".join(" " if unicodedata.category(char) == "Cc" else char for char in value)
    return " ".join(spaced.split())


def _one_address(value: str) -> Address:
    addresses: tuple[Address, ...] = getattr(POLICY.header_factory("from", value), "addresses", ())
    if len(addresses) != 1 or not addresses[0].domain or not addresses[0].username:
        raise ValueError(f"not one email address: {value!r}")
    return addresses[0]


def _public_url(sender: Sender) -> str:
    if not is_http_url(sender.public_url) or not sender.public_url.isascii():
        raise ValueError(f"PUBLIC_URL is not an http(s) URL: {sender.public_url!r}")
    return sender.public_url.rstrip("/")


def _unsubscribe_url(outgoing: Outgoing, sender: Sender) -> str:
    token = unsubscribe_token(
        sender.link_key, customer_id=outgoing.customer_id, draft_id=outgoing.draft_id
    )
    return f"{_public_url(sender)}/u/{token}"


def _href(url: str, outgoing: Outgoing, sender: Sender) -> str:
    """Where a link points: the URL itself, or its signed redirect when clicks are tracked."""
    if not is_http_url(url):
        raise ValueError(f"not an http(s) URL to link to: {url!r}")
    if not sender.track_clicks:
        return url
    token = click_token(sender.link_key, draft_id=outgoing.draft_id, url=url)
    return f"{_public_url(sender)}/r/{token}"


def _links(outgoing: Outgoing, sender: Sender, product_urls: Mapping[str, str]) -> dict[str, str]:
    """Each URL the message may link (the shop, the products), mapped to its href."""
    urls = [sender.shop_url] if sender.shop_url else []
    urls += [url for url in product_urls.values() if url]
    return {url: _href(url, outgoing, sender) for url in urls}


def _set_headers(
    message: EmailMessage,
    outgoing: Outgoing,
    sender: Sender,
    *,
    unsubscribe: str,
    now: datetime | None,
) -> None:
    from_address = _one_address(sender.from_address)
    message["From"] = sender.from_address
    message["To"] = Address(display_name=one_line(outgoing.first_name or ""), addr_spec=outgoing.to)
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Subject"] = one_line(outgoing.subject)
    message["Date"] = now or datetime.now(UTC)
    message["Message-ID"] = f"<{_checked_message_id(outgoing.message_id)}>"
    mailto = f"mailto:{from_address.addr_spec}?subject=unsubscribe"
    message["List-Unsubscribe"] = f"<{unsubscribe}>, <{mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    draft = str(outgoing.draft_id)
    message["X-SMTPAPI"] = f'{{"unique_args": {{"draft_id": "{draft}"}}}}'
    message["X-PM-Metadata-draft_id"] = draft
    message["X-Mailgun-Variables"] = f'{{"draft_id": "{draft}"}}'
    message["X-Personalize-Draft"] = draft


def _checked_message_id(message_id: str) -> str:
    left, at, right = message_id.partition("@")
    if not (left and at and right) or any(c in message_id for c in "<> \t\r\n") or "@" in right:
        raise ValueError(f"not a Message-ID (without angle brackets): {message_id!r}")
    return message_id


def _paragraphs(body: str) -> list[str]:
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [part.strip("\n") for part in re.split(r"\n[ \t]*\n+", text) if part.strip()]


def _link_pattern(links: Mapping[str, str]) -> re.Pattern[str] | None:
    """Matches a known URL quoted whole: only trailing punctuation may follow it in the text."""
    if not links:
        return None
    alternatives = "|".join(re.escape(url) for url in sorted(links, key=len, reverse=True))
    return re.compile(rf"(?:{alternatives})(?=[.,;:!?)\]'\"]*(?:\s|$))")


def _text(outgoing: Outgoing, sender: Sender, links: Mapping[str, str], unsubscribe: str) -> str:
    pattern = _link_pattern(links)
    parts = [
        pattern.sub(lambda found: links[found.group(0)], paragraph) if pattern else paragraph
        for paragraph in _paragraphs(outgoing.body)
    ]
    if sender.shop_url:
        parts.append(f"{CTA_TEXT}: {links[sender.shop_url]}")
    footer = [
        "-- ",
        f"Don't want these emails? {UNSUBSCRIBE_TEXT}: {unsubscribe}",
        *_address_lines(sender),
    ]
    parts.append("\n".join(footer))
    return "\n\n".join(parts) + "\n"


def _address_lines(sender: Sender) -> list[str]:
    lines = sender.business_address.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line.strip() for line in lines if line.strip()]


def _anchor(href: str, text: str, style: str = _LINK_STYLE) -> str:
    return f'<a href="{html.escape(href)}" style="{style}">{html.escape(text)}</a>'


def _html_paragraph(
    paragraph: str, links: Mapping[str, str], pattern: re.Pattern[str] | None
) -> str:
    """One paragraph as HTML: text escaped, known URLs as links, line breaks as <br>."""
    pieces: list[str] = []
    position = 0
    for found in pattern.finditer(paragraph) if pattern else ():
        pieces.append(html.escape(paragraph[position : found.start()]))
        pieces.append(_anchor(links[found.group(0)], found.group(0)))
        position = found.end()
    pieces.append(html.escape(paragraph[position:]))
    inner = "".join(pieces).replace("\n", "<br>\n")
    return f'<p style="margin:0 0 16px;">{inner}</p>'


def _html(outgoing: Outgoing, sender: Sender, links: Mapping[str, str], unsubscribe: str) -> str:
    pattern = _link_pattern(links)
    blocks = [_html_paragraph(p, links, pattern) for p in _paragraphs(outgoing.body)]
    if sender.shop_url:
        cta = _anchor(links[sender.shop_url], CTA_TEXT, _LINK_STYLE + "font-weight:bold;")
        blocks.append(f'<p style="margin:24px 0 16px;">{cta}</p>')
    address = "<br>\n".join(html.escape(line) for line in _address_lines(sender))
    blocks.append(
        f'<p style="{_FOOTER_STYLE}">Don&#x27;t want these emails? '
        f"{_anchor(unsubscribe, UNSUBSCRIBE_TEXT)}<br>\n{address}</p>"
    )
    preheader = one_line(outgoing.preheader)
    hidden = (
        f'<span style="{_PREHEADER_STYLE}">{html.escape(preheader)}</span>\n' if preheader else ""
    )
    if sender.track_opens:
        token = open_token(sender.link_key, draft_id=outgoing.draft_id)
        pixel = html.escape(f"{_public_url(sender)}/o/{token}.gif", quote=True)
        blocks.append(f'<img src="{pixel}" width="1" height="1" alt="" style="border:0;">')
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(one_line(outgoing.subject))}</title>\n"
        '</head>\n<body style="margin:0;padding:0;background-color:#ffffff;">\n'
        f'{hidden}<div style="{_BODY_STYLE}">\n'
        + "\n".join(blocks)
        + "\n</div>\n</body>\n</html>\n"
    )
