"""Email providers' event webhooks (SendGrid, Postmark, Mailgun and our own format): check the
request's signature, then map each event it carries to a `ProviderEvent`. Pure: bytes and
headers in, events out; no database, no HTTP framework.

Our own event format (`generic`)
================================

A relay or transport of our own reports what happened to the mail it sent by POSTing a JSON
array of events (`Content-Type: application/json`). The mail we send through it carries the
header `X-Personalize-Draft: <draft id>`, which the relay echoes as `draft_id`.

| key | type | required | meaning |
| --- | --- | --- | --- |
| `id` | string | yes | the event's unique id; a resent event keeps it (we deduplicate on it) |
| `event` | string | yes | what happened: one of the event names below |
| `at` | string | yes | when, ISO 8601 with a timezone (`2026-03-01T09:30:00Z`, `...+01:00`) |
| `draft_id` | integer | no | the draft id from `X-Personalize-Draft` |
| `message_id` | string | no | the mail's RFC 5322 Message-ID, angle brackets optional |
| `email` | string | no | the recipient |
| `bounce` | string | no | `hard` (the address is gone) or `soft`; only on `bounced`, `dropped` |
| `machine` | boolean | no | made by a machine (proxy prefetch, link scanner); default false |
| `url` | string | no | on `clicked`: the link that was clicked |

Event names: `delivered` (the receiving server took it), `opened`, `clicked`, `bounced`,
`complained` (marked as spam), `unsubscribed`, `deferred` (delayed, still being retried) and
`dropped` (never sent, say to a suppressed address).

Keys not listed are ignored, so the format can grow. When a signing secret is configured, the
request carries `X-Personalize-Signature: <hex HMAC-SHA256 of the raw body, keyed with the
secret>`; a request without it, or with one that does not match, is refused (401).

```json
[
  {"id": "evt-1", "event": "delivered", "at": "2026-03-01T09:30:00Z", "draft_id": 42,
   "message_id": "<draft-42@mail.example.com>", "email": "ada@example.com"},
  {"id": "evt-2", "event": "bounced", "at": "2026-03-01T09:31:00+01:00", "draft_id": 43,
   "email": "gone@example.com", "bounce": "hard"}
]
```
"""

# How each provider's events map to ours. An event type a provider may send that is not
# listed, or is listed as "skip", is left out of the result (not an error): it says nothing
# of what became of a mail we sent (SendGrid `processed`, Mailgun `accepted`), or it undoes
# an unsubscribe (`group_resubscribe`, a Postmark reactivation), which no event of ours means.
#
# SendGrid (Event Webhook; a JSON array of events)
#   processed -> skip                     deferred -> deferred           delivered -> delivered
#   open -> opened (machine = sg_machine_open, Apple Mail Privacy Protection)
#   click -> clicked (url)                spamreport -> complained
#   unsubscribe, group_unsubscribe -> unsubscribed                       group_resubscribe -> skip
#   bounce -> bounced; hard or soft from `bounce_classification` when SendGrid classified it:
#       "Invalid Address" -> hard; "Mailbox Unavailable", "Content", "Reputation", "Frequency or
#       Volume Too High", "Technical Failure" -> soft (the address may still work); otherwise
#       (absent or "Unclassified") from `type`: "blocked" -> soft, "bounce" -> hard
#   dropped -> dropped; hard when `reason` is "Bounced Address" or "Invalid", else not said
#   anything else (account events, new types) -> skip
#
# Postmark (one JSON object per request, by RecordType)
#   Delivery -> delivered      Open -> opened (Postmark flags no machine opens)
#   Click -> clicked (url = OriginalLink)      SpamComplaint -> complained
#   Bounce, by Type (Postmark's bounce type list):
#       HardBounce, BadEmailAddress -> bounced hard
#       SoftBounce, Transient, DnsError, Blocked, DMARCPolicy, SpamNotification,
#       VirusNotification, Unknown, and any type not listed here -> bounced soft
#       SpamComplaint -> complained            Unsubscribe -> unsubscribed
#       ManuallyDeactivated, Unconfirmed, SMTPApiError, TemplateRenderingFailed -> dropped
#       Subscribe, AutoResponder, AddressChange, ChallengeVerification, OpenRelayTest,
#       InboundError -> skip (replies and probes, not the fate of our message)
#   SubscriptionChange: SuppressSending false (a reactivation) -> skip; true, by
#       SuppressionReason: HardBounce -> bounced hard, SpamComplaint -> complained,
#       ManualSuppression (the unsubscribe link, or a suppression by us) and any other ->
#       unsubscribed. Broadcast streams report bounces only this way; on transactional streams
#       a hard bounce can come as a Bounce and as a SubscriptionChange (two events, same fate).
#   anything else (Inbound, new record types) -> skip
#
# Mailgun (one JSON object per request: {"signature": {...}, "event-data": {...}})
#   delivered -> delivered     complained -> complained     unsubscribed -> unsubscribed
#   opened -> opened, clicked -> clicked (url); machine when `client-info.bot` names a bot
#       ("apple", "gmail", "generic")
#   failed, severity "temporary" -> deferred (Mailgun retries it)
#   failed, severity "permanent" (or none):
#       reason "suppress-bounce" -> dropped hard; other "suppress-*" (unsubscribed,
#       complained addresses) -> dropped; otherwise bounced, hard or soft from
#       `delivery-status.bounce-type` when present, else soft for reason "old" (retried until
#       Mailgun gave up) and "espblock" (the provider blocked us, not the address), else hard
#   rejected -> dropped (Mailgun refused to send it)
#   accepted, stored, list events and anything else -> skip

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, get_args

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.errors import InvalidInput, SignatureError

EventName = Literal[
    "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "deferred", "dropped"
]
BounceKind = Literal["hard", "soft"]
PROVIDERS: Final = ("sendgrid", "postmark", "mailgun", "generic")
EVENT_NAMES: Final[tuple[EventName, ...]] = get_args(EventName)

SENDGRID_SIGNATURE_HEADER: Final = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER: Final = "X-Twilio-Email-Event-Webhook-Timestamp"
GENERIC_SIGNATURE_HEADER: Final = "X-Personalize-Signature"
# The header our own transport sets on outgoing mail, which a relay echoes as `draft_id`.
GENERIC_DRAFT_HEADER: Final = "X-Personalize-Draft"
ROOT: Final = "(root)"

# A draft id is a positive database integer; anything past a signed 64-bit one is not ours.
_MAX_DRAFT_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_Mapped = tuple[EventName, BounceKind | None]


@dataclass(frozen=True)
class ProviderEvent:
    """One thing that happened to one mail we sent, as a provider reported it."""

    provider: str
    event_id: str
    event: EventName
    occurred_at: datetime
    draft_id: int | None
    message_id: str | None
    email: str | None
    bounce: BounceKind | None
    machine: bool
    url: str | None


@dataclass(frozen=True)
class ProviderKeys:
    """What each provider's requests are checked with; a provider with no key is not checked."""

    sendgrid_public_key: str | None = field(default=None, repr=False)
    postmark_user: str | None = field(default=None, repr=False)
    postmark_password: str | None = field(default=None, repr=False)
    mailgun_signing_key: str | None = field(default=None, repr=False)
    generic_secret: str | None = field(default=None, repr=False)

    def validate(self) -> None:
        """Raise ValueError for a key that cannot be read; call it at start-up."""
        # parse_events reads a provider's key only for that provider's requests, so one bad key
        # does not stop the other providers' webhooks; this finds it before the first request.
        if self.sendgrid_public_key is not None:
            _sendgrid_key(self.sendgrid_public_key)


def parse_events(
    provider: str, body: bytes, headers: Mapping[str, str], *, keys: ProviderKeys
) -> list[ProviderEvent]:
    """Check one webhook request's signature and map its events, skipping untracked ones."""
    # A missing or wrong signature raises SignatureError (401), a malformed body InvalidInput
    # naming the field (422).
    parser = _PARSERS.get(provider)
    if parser is None:
        raise InvalidInput(
            f"unknown provider; expected one of {', '.join(PROVIDERS)}", field="provider"
        )
    # HTTP header names are case-insensitive; the frameworks hand them over in any case.
    lowered = {name.lower(): value for name, value in headers.items()}
    return parser(body, lowered, keys)


# SendGrid


_SENDGRID_EVENTS: dict[str, EventName] = {
    "deferred": "deferred",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
# SendGrid's bounce and block classifications that mean the address itself is fine.
_SENDGRID_SOFT_CLASSES = {
    "mailbox unavailable",
    "content",
    "reputation",
    "frequency or volume too high",
    "technical failure",
}
# Drop reasons that say the address bounced before or is not an address at all.
_SENDGRID_HARD_DROPS = {"bounced address", "invalid"}


def _parse_sendgrid(
    body: bytes, headers: dict[str, str], keys: ProviderKeys
) -> list[ProviderEvent]:
    """SendGrid's Event Webhook: a JSON array of events, signed with ECDSA when a key is set."""
    if keys.sendgrid_public_key is not None:
        _verify_sendgrid(body, headers, keys.sendgrid_public_key)
    payload = _load_json(body)
    if not isinstance(payload, list):
        raise InvalidInput("expected a JSON array of events", field=ROOT)
    events = (_sendgrid_event(item, f"[{index}]") for index, item in enumerate(payload))
    return [event for event in events if event is not None]


def _verify_sendgrid(body: bytes, headers: dict[str, str], public_key: str) -> None:
    """Check the ECDSA (P-256, SHA-256) signature of the timestamp header followed by the body."""
    signature = headers.get(SENDGRID_SIGNATURE_HEADER.lower())
    timestamp = headers.get(SENDGRID_TIMESTAMP_HEADER.lower())
    if not signature:
        raise SignatureError(f"missing {SENDGRID_SIGNATURE_HEADER} header")
    if not timestamp:
        raise SignatureError(f"missing {SENDGRID_TIMESTAMP_HEADER} header")
    # Both are ASCII when SendGrid sends them; anything else cannot match.
    if not (signature.isascii() and timestamp.isascii()):
        raise SignatureError(f"{SENDGRID_SIGNATURE_HEADER} does not match the body")
    # A key that cannot be read is our configuration's fault (ValueError), not the request's.
    key = _sendgrid_key(public_key)
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureError(f"{SENDGRID_SIGNATURE_HEADER} does not match the body") from None


@lru_cache(maxsize=8)
def _sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key SendGrid shows (base64 DER, or PEM); ValueError when it is none."""
    compact = text.strip()
    try:
        if compact.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(compact.encode())
        else:
            # Copied from a web page, the base64 may come wrapped over lines.
            key = serialization.load_der_public_key(
                base64.b64decode("".join(compact.split()), validate=True)
            )
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError(
            "sendgrid_public_key is neither PEM nor base64 DER of a public key"
        ) from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("sendgrid_public_key is not an ECDSA P-256 public key")
    return key


def _sendgrid_event(item: Any, where: str) -> ProviderEvent | None:
    """One SendGrid event, or None for one we do not track."""
    if not isinstance(item, dict):
        raise InvalidInput("expected an event object", field=where)
    # SendGrid documents a capitalised "Processed" too.
    event = _SENDGRID_EVENTS.get(_required_str(item, "event", where).lower())
    if event is None:
        return None
    return ProviderEvent(
        provider="sendgrid",
        event_id=_optional_str(item, "sg_event_id", where) or _hashed_id(item),
        event=event,
        occurred_at=_epoch(item.get("timestamp"), f"{where}.timestamp"),
        # Our `unique_args` come back as top-level keys of each event.
        draft_id=_draft_id(item.get("draft_id")),
        message_id=_message_id(_optional_str(item, "smtp-id", where)),
        email=_optional_str(item, "email", where),
        bounce=_sendgrid_bounce(item, event, where),
        machine=event == "opened" and _optional_bool(item, "sg_machine_open", where),
        url=_optional_str(item, "url", where) if event == "clicked" else None,
    )


def _sendgrid_bounce(item: dict[str, Any], event: EventName, where: str) -> BounceKind | None:
    """Hard or soft for a SendGrid bounce or drop, from what SendGrid says of it."""
    if event == "dropped":
        reason = (_optional_str(item, "reason", where) or "").lower()
        return "hard" if reason in _SENDGRID_HARD_DROPS else None
    if event != "bounced":
        return None
    classification = (_optional_str(item, "bounce_classification", where) or "").lower()
    if classification == "invalid address":
        return "hard"
    if classification in _SENDGRID_SOFT_CLASSES:
        return "soft"
    # No classification: SendGrid's `type` says bounce (permanent) or blocked (temporary).
    return "soft" if (_optional_str(item, "type", where) or "").lower() == "blocked" else "hard"


# Postmark


# RecordType -> (its time field, its recipient field).
_POSTMARK_RECORDS: dict[str, tuple[str, str]] = {
    "Delivery": ("DeliveredAt", "Recipient"),
    "Bounce": ("BouncedAt", "Email"),
    "SpamComplaint": ("BouncedAt", "Email"),
    "Open": ("ReceivedAt", "Recipient"),
    "Click": ("ReceivedAt", "Recipient"),
    "SubscriptionChange": ("ChangedAt", "Recipient"),
}
# Bounce Type -> ours; None skips it. A type not listed is a soft bounce.
_POSTMARK_BOUNCES: dict[str, _Mapped | None] = {
    "HardBounce": ("bounced", "hard"),
    "BadEmailAddress": ("bounced", "hard"),
    "SpamComplaint": ("complained", None),
    "Unsubscribe": ("unsubscribed", None),
    "ManuallyDeactivated": ("dropped", None),
    "Unconfirmed": ("dropped", None),
    "SMTPApiError": ("dropped", None),
    "TemplateRenderingFailed": ("dropped", None),
    "Subscribe": None,
    "AutoResponder": None,
    "AddressChange": None,
    "ChallengeVerification": None,
    "OpenRelayTest": None,
    "InboundError": None,
}
_POSTMARK_SIMPLE: dict[str, EventName] = {
    "Delivery": "delivered",
    "SpamComplaint": "complained",
    "Open": "opened",
    "Click": "clicked",
}
_POSTMARK_SUPPRESSIONS: dict[str, _Mapped] = {
    "HardBounce": ("bounced", "hard"),
    "SpamComplaint": ("complained", None),
}


def _parse_postmark(
    body: bytes, headers: dict[str, str], keys: ProviderKeys
) -> list[ProviderEvent]:
    """Postmark's webhooks: one JSON object a request, behind HTTP basic auth when it is set."""
    if keys.postmark_user is not None or keys.postmark_password is not None:
        _verify_basic_auth(headers.get("authorization"), keys.postmark_user, keys.postmark_password)
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field=ROOT)
    event = _postmark_event(payload)
    return [] if event is None else [event]


def _verify_basic_auth(header: str | None, user: str | None, password: str | None) -> None:
    """Check `Authorization: Basic ...` against the configured user and password."""
    if not header:
        raise SignatureError("missing Authorization header")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError("expected HTTP basic auth")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise SignatureError("Authorization header is not valid basic auth") from None
    given_user, colon, given_password = decoded.partition(b":")
    # Both compared in constant time, and both always, so the timing tells neither.
    user_ok = hmac.compare_digest(given_user, (user or "").encode())
    password_ok = hmac.compare_digest(given_password, (password or "").encode())
    if not (colon and user_ok and password_ok):
        raise SignatureError("wrong user or password")


def _postmark_event(payload: dict[str, Any]) -> ProviderEvent | None:
    """One Postmark record, or None for one we do not track."""
    record = _required_str(payload, "RecordType", "")
    fields = _POSTMARK_RECORDS.get(record)
    mapped = _postmark_kind(record, payload) if fields else None
    if fields is None or mapped is None:
        return None
    time_field, email_field = fields
    event, bounce = mapped
    return ProviderEvent(
        provider="postmark",
        event_id=_postmark_id(payload, record),
        event=event,
        occurred_at=_iso_time(payload.get(time_field), time_field),
        draft_id=_draft_id(_object(payload, "Metadata", "").get("draft_id")),
        # Postmark's MessageID is Postmark's own id, not the Message-ID header we set.
        message_id=None,
        email=_optional_str(payload, email_field, ""),
        bounce=bounce,
        # Postmark reports Apple Mail Privacy Protection prefetches as plain opens.
        machine=False,
        url=_optional_str(payload, "OriginalLink", "") if event == "clicked" else None,
    )


def _postmark_kind(record: str, payload: dict[str, Any]) -> _Mapped | None:
    """Our event (and bounce kind) for a Postmark record, or None to skip it."""
    if record == "Bounce":
        return _POSTMARK_BOUNCES.get(_required_str(payload, "Type", ""), ("bounced", "soft"))
    if record == "SubscriptionChange":
        suppress = payload.get("SuppressSending")
        if not isinstance(suppress, bool):
            raise InvalidInput("expected true or false", field="SuppressSending")
        if not suppress:
            return None
        reason = _optional_str(payload, "SuppressionReason", "") or ""
        return _POSTMARK_SUPPRESSIONS.get(reason, ("unsubscribed", None))
    return _POSTMARK_SIMPLE[record], None


def _postmark_id(payload: dict[str, Any], record: str) -> str:
    """Postmark's bounce id for bounces and complaints; other records have none, so a hash."""
    bounce_id = payload.get("ID") if record in ("Bounce", "SpamComplaint") else None
    if bounce_id is None:
        return _hashed_id(payload)
    if isinstance(bounce_id, bool) or not isinstance(bounce_id, int | str) or bounce_id == "":
        raise InvalidInput("expected the bounce id (integer or string)", field="ID")
    return str(bounce_id)


# Mailgun


_MAILGUN_EVENTS: dict[str, EventName] = {
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "rejected": "dropped",
}
_MAILGUN_DATA = "event-data"
# Permanent failures that are no verdict on the address itself.
_MAILGUN_SOFT_REASONS = {"old", "espblock"}


def _parse_mailgun(body: bytes, headers: dict[str, str], keys: ProviderKeys) -> list[ProviderEvent]:
    """Mailgun's webhooks: one JSON object a request, its HMAC signature inside the body."""
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object", field=ROOT)
    if keys.mailgun_signing_key is not None:
        _verify_mailgun(payload.get("signature"), keys.mailgun_signing_key)
    data = payload.get(_MAILGUN_DATA)
    if not isinstance(data, dict):
        raise InvalidInput("expected an object", field=_MAILGUN_DATA)
    event = _mailgun_event(data)
    return [] if event is None else [event]


def _verify_mailgun(signature: Any, signing_key: str) -> None:
    """Check Mailgun's hex HMAC-SHA256 of timestamp + token, keyed with the signing key."""
    # A subaccount's domain also carries `parent-signature`, made with the primary account's
    # key: either matching will do, so one key can serve every subaccount.
    if not isinstance(signature, dict):
        raise SignatureError("missing signature object")
    timestamp, token = signature.get("timestamp"), signature.get("token")
    # Mailgun documents the timestamp as an integer and sends it as a string.
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if not (isinstance(timestamp, str) and isinstance(token, str)):
        raise SignatureError("missing signature.timestamp or signature.token")
    if not (timestamp.isascii() and token.isascii()):
        raise SignatureError("signature does not match")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    given = [signature.get("signature"), signature.get("parent-signature")]
    if not any(
        isinstance(value, str) and value.isascii() and hmac.compare_digest(expected, value.lower())
        for value in given
    ):
        raise SignatureError("signature does not match")


def _mailgun_event(data: dict[str, Any]) -> ProviderEvent | None:
    """One Mailgun event, or None for one we do not track."""
    name = _required_str(data, "event", _MAILGUN_DATA)
    if name == "failed":
        event, bounce = _mailgun_failure(data)
    elif name in _MAILGUN_EVENTS:
        event, bounce = _MAILGUN_EVENTS[name], None
    else:
        return None
    return ProviderEvent(
        provider="mailgun",
        # Mailgun documents its event id as unique within a day; a resent event carries it again.
        event_id=_optional_str(data, "id", _MAILGUN_DATA) or _hashed_id(data),
        event=event,
        occurred_at=_epoch(data.get("timestamp"), f"{_MAILGUN_DATA}.timestamp"),
        draft_id=_mailgun_draft_id(data),
        message_id=_mailgun_message_id(data),
        email=_optional_str(data, "recipient", _MAILGUN_DATA),
        bounce=bounce,
        machine=event in ("opened", "clicked") and _mailgun_bot(data),
        url=_optional_str(data, "url", _MAILGUN_DATA) if event == "clicked" else None,
    )


def _mailgun_failure(data: dict[str, Any]) -> _Mapped:
    """Our event for Mailgun's `failed`: deferred, dropped or bounced (hard or soft)."""
    severity = _optional_str(data, "severity", _MAILGUN_DATA)
    if severity == "temporary":
        return "deferred", None
    reason = (_optional_str(data, "reason", _MAILGUN_DATA) or "").lower()
    if reason.startswith("suppress-"):
        return "dropped", "hard" if reason == "suppress-bounce" else None
    status = _object(data, "delivery-status", _MAILGUN_DATA)
    where = f"{_MAILGUN_DATA}.delivery-status"
    bounce_type = (_optional_str(status, "bounce-type", where) or "").lower()
    if bounce_type in ("hard", "soft"):
        return "bounced", "hard" if bounce_type == "hard" else "soft"
    return "bounced", "soft" if reason in _MAILGUN_SOFT_REASONS else "hard"


def _mailgun_draft_id(data: dict[str, Any]) -> int | None:
    """The draft id we put in X-Mailgun-Variables; Mailgun sends `[]` when there are none."""
    variables = data.get("user-variables")
    return _draft_id(variables.get("draft_id")) if isinstance(variables, dict) else None


def _mailgun_message_id(data: dict[str, Any]) -> str | None:
    """The Message-ID header of the mail, from `message.headers.message-id`."""
    message = _object(data, "message", _MAILGUN_DATA)
    headers = _object(message, "headers", f"{_MAILGUN_DATA}.message")
    return _message_id(_optional_str(headers, "message-id", f"{_MAILGUN_DATA}.message.headers"))


def _mailgun_bot(data: dict[str, Any]) -> bool:
    """Whether Mailgun says a bot (Apple MPP, Gmail, a scanner) made the open or click."""
    client = _object(data, "client-info", _MAILGUN_DATA)
    return bool(_optional_str(client, "bot", f"{_MAILGUN_DATA}.client-info"))


# Ours


_GENERIC_EVENTS: dict[str, EventName] = {name: name for name in EVENT_NAMES}


def _parse_generic(body: bytes, headers: dict[str, str], keys: ProviderKeys) -> list[ProviderEvent]:
    """Our own format (the module docstring): a JSON array of events, HMAC-signed when set."""
    if keys.generic_secret is not None:
        _verify_hex_hmac(body, headers.get(GENERIC_SIGNATURE_HEADER.lower()), keys.generic_secret)
    payload = _load_json(body)
    if not isinstance(payload, list):
        raise InvalidInput("expected a JSON array of events", field=ROOT)
    return [_generic_event(item, f"[{index}]") for index, item in enumerate(payload)]


def _verify_hex_hmac(body: bytes, header: str | None, secret: str) -> None:
    """Check X-Personalize-Signature: hex HMAC-SHA256 of the raw body, in constant time."""
    if not header:
        raise SignatureError(f"missing {GENERIC_SIGNATURE_HEADER} header")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header.strip().lower()
    if not given.isascii() or not hmac.compare_digest(expected, given):
        raise SignatureError(f"{GENERIC_SIGNATURE_HEADER} does not match the body")


def _generic_event(item: Any, where: str) -> ProviderEvent:
    """One event of our own format; every malformed key is an error, since we wrote the format."""
    if not isinstance(item, dict):
        raise InvalidInput("expected an event object", field=where)
    event_id = _required_str(item, "id", where)
    event = _GENERIC_EVENTS.get(_required_str(item, "event", where))
    if event is None:
        raise InvalidInput(
            f"unknown event; expected one of {', '.join(EVENT_NAMES)}", field=f"{where}.event"
        )
    return ProviderEvent(
        provider="generic",
        event_id=event_id,
        event=event,
        occurred_at=_iso_time(item.get("at"), f"{where}.at"),
        draft_id=_generic_draft_id(item.get("draft_id"), f"{where}.draft_id"),
        message_id=_message_id(_optional_str(item, "message_id", where)),
        email=_optional_str(item, "email", where),
        bounce=_generic_bounce(item, event, where),
        machine=_optional_bool(item, "machine", where),
        url=_optional_str(item, "url", where),
    )


def _generic_draft_id(value: Any, where: str) -> int | None:
    """Our format's draft id: a positive integer, or absent."""
    if value is None:
        return None
    draft_id = _draft_id(value) if isinstance(value, int) else None
    if draft_id is None:
        raise InvalidInput("expected a positive integer draft id", field=where)
    return draft_id


def _generic_bounce(item: dict[str, Any], event: EventName, where: str) -> BounceKind | None:
    """Our format's bounce kind: "hard" or "soft", and only on a bounce or a drop."""
    value = item.get("bounce")
    if value is None:
        return None
    if value not in ("hard", "soft"):
        raise InvalidInput('expected "hard" or "soft"', field=f"{where}.bounce")
    if event not in ("bounced", "dropped"):
        raise InvalidInput(
            "only a bounced or dropped event has a bounce kind", field=f"{where}.bounce"
        )
    return "hard" if value == "hard" else "soft"


_PARSERS: dict[str, Callable[[bytes, dict[str, str], ProviderKeys], list[ProviderEvent]]] = {
    "sendgrid": _parse_sendgrid,
    "postmark": _parse_postmark,
    "mailgun": _parse_mailgun,
    "generic": _parse_generic,
}


# Shared readers


def _load_json(body: bytes) -> Any:
    """The body as JSON; InvalidInput when it is not UTF-8 JSON (NaN and Infinity are not JSON)."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON and integers past Python's digit limit.
        raise InvalidInput("the body is not UTF-8 JSON", field=ROOT) from None


def _no_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which Python's json reads but JSON does not have."""
    raise ValueError(f"{name} is not JSON")


def _hashed_id(event: Any) -> str:
    """A stable id for an event without one: the sha256 of its canonical JSON."""
    # Sorted keys and fixed separators: the same event sent twice, in any key order, is one id.
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _where(prefix: str, key: str) -> str:
    """The dotted name of a key inside an object (a top-level key is its own name)."""
    return f"{prefix}.{key}" if prefix else key


def _required_str(obj: dict[str, Any], key: str, prefix: str) -> str:
    """A key that must hold a non-empty string."""
    value = obj.get(key)
    if value is None:
        raise InvalidInput("required", field=_where(prefix, key))
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("expected a non-empty string", field=_where(prefix, key))
    return value.strip()


def _optional_str(obj: dict[str, Any], key: str, prefix: str) -> str | None:
    """A key that may hold a string; absent, null or blank is None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("expected a string", field=_where(prefix, key))
    return value.strip() or None


def _optional_bool(obj: dict[str, Any], key: str, prefix: str) -> bool:
    """A key that may hold true or false; absent or null is false."""
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput("expected true or false", field=_where(prefix, key))
    return value


def _object(obj: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
    """A key that may hold an object; absent or null is an empty one."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("expected an object", field=_where(prefix, key))
    return value


def _epoch(value: Any, where: str) -> datetime:
    """Unix seconds (a number, or a string of one, as some payloads send it) as UTC."""
    if value is None:
        raise InvalidInput("required", field=where)
    seconds = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except (ValueError, OverflowError):
            # Not a number, or an integer too large for a float.
            seconds = math.nan
    if not math.isfinite(seconds):
        raise InvalidInput("expected Unix seconds", field=where)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput("Unix seconds out of range", field=where) from None


def _iso_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with its timezone, as UTC."""
    # A time without a zone is refused: guessing one would shift the event by hours.
    if value is None:
        raise InvalidInput("required", field=where)
    if not isinstance(value, str):
        raise InvalidInput("expected an ISO 8601 time", field=where)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("expected an ISO 8601 time", field=where) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput("expected a timezone in the time", field=where)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("time out of range", field=where) from None


def _draft_id(value: Any) -> int | None:
    """The draft id we echoed through the provider, or None when it is no positive integer."""
    # Providers hand custom data back as strings; anything else is None, not an error.
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= _MAX_DRAFT_ID else None


def _message_id(value: str | None) -> str | None:
    """An RFC 5322 Message-ID without its angle brackets."""
    if value is None:
        return None
    return value.strip().removeprefix("<").removesuffix(">").strip() or None
