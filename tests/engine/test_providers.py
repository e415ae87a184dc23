"""Email provider event webhooks (SendGrid, Postmark, Mailgun and our own format): the payloads
each provider documents (tests/engine/payloads, whose README.md names the source of each) map to
our events as the table in engine/email/providers.py says, signatures are checked, and a
malformed body is refused naming its field."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from engine.email.providers import (
    EVENT_NAMES,
    GENERIC_SIGNATURE_HEADER,
    PROVIDERS,
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    ProviderEvent,
    ProviderKeys,
    parse_events,
)
from engine.errors import InvalidInput, SignatureError
from tests.json_strategies import JSON_VALUES, dumps, near_valid, outcome

PAYLOADS = Path(__file__).parent / "payloads"
DOCUMENTED = sorted(path.name for path in PAYLOADS.glob("*.json"))
NO_KEYS = ProviderKeys()
SENDGRID_BATCH = "sendgrid_events.json"
SENDGRID_AT = datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
POSTMARK_AT = datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
MAILGUN_KEY = "key-test-mailgun-signing"
GENERIC_SECRET = "hush-our-own-secret"
SENDGRID_TIMESTAMP = "1700000000"


def raw(name: str) -> bytes:
    """A payload file's bytes, as the provider would post them."""
    return (PAYLOADS / name).read_bytes()


def loaded(name: str) -> Any:
    """A fresh parsed copy of a payload file, to change."""
    return json.loads(raw(name))


def as_body(value: Any) -> bytes:
    """A request body: bytes as they are, anything else as JSON."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def parse(
    provider: str,
    value: Any,
    headers: dict[str, str] | None = None,
    keys: ProviderKeys = NO_KEYS,
) -> list[ProviderEvent]:
    """Parse a body (bytes or JSON) of a provider's webhook."""
    return parse_events(provider, as_body(value), headers or {}, keys=keys)


def only(provider: str, value: Any, keys: ProviderKeys = NO_KEYS) -> ProviderEvent:
    """The one event a body carries."""
    events = parse(provider, value, keys=keys)
    assert len(events) == 1, events
    return events[0]


def refused(provider: str, value: Any) -> InvalidInput:
    """The InvalidInput a malformed body raises."""
    with pytest.raises(InvalidInput) as caught:
        parse(provider, value)
    return caught.value


def test_documented_payload_files_cover_every_provider() -> None:
    assert {name.split("_")[0] for name in DOCUMENTED} == set(PROVIDERS)


def test_every_documented_payload_parses_to_utc_events() -> None:
    for name in DOCUMENTED:
        for event in parse(name.split("_")[0], raw(name)):
            assert event.provider == name.split("_")[0]
            assert event.event in EVENT_NAMES
            assert event.occurred_at.utcoffset() == timedelta(0)
            assert event.event_id


def test_the_same_event_parsed_twice_has_the_same_id() -> None:
    for name in DOCUMENTED:
        provider = name.split("_")[0]
        first, second = parse(provider, raw(name)), parse(provider, raw(name))
        assert [event.event_id for event in first] == [event.event_id for event in second]
        assert first == second


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse("mandrill", [])
    assert caught.value.field == "provider"


def test_keys_do_not_show_their_secrets() -> None:
    keys = ProviderKeys(postmark_password="hush-pw", mailgun_signing_key="hush-mg")
    assert "hush" not in repr(keys)


# SendGrid


def test_sendgrid_documented_batch_maps_every_event_type() -> None:
    events = parse("sendgrid", raw(SENDGRID_BATCH))
    # processed and group_resubscribe say nothing of a sent mail's fate: skipped.
    assert [(event.event, event.bounce) for event in events] == [
        ("dropped", "hard"),
        ("delivered", None),
        ("deferred", None),
        ("bounced", "hard"),
        ("bounced", "soft"),
        ("opened", None),
        ("clicked", None),
        ("complained", None),
        ("unsubscribed", None),
        ("unsubscribed", None),
    ]


def test_sendgrid_events_carry_what_we_sent() -> None:
    documented = [item for item in loaded(SENDGRID_BATCH) if "resubscribe" not in item["event"]]
    events = parse("sendgrid", raw(SENDGRID_BATCH))
    assert [event.event_id for event in events] == [item["sg_event_id"] for item in documented[1:]]
    for event in events:
        assert event.provider == "sendgrid"
        assert event.occurred_at == SENDGRID_AT
        assert event.draft_id == 42
        # smtp-id carries the Message-ID in angle brackets; ours is without them.
        assert event.message_id == "14c5d75ce93.dfd.64b469@ismtpd-555"
        assert event.email == "example@test.com"
        assert event.machine is False
    assert [event.url for event in events if event.url] == ["http://www.sendgrid.com/"]
    assert next(event for event in events if event.event == "clicked").url is not None


def documented_sendgrid(event: str, type_: str | None = None) -> dict[str, Any]:
    """A copy of the documented SendGrid example of one event (and bounce type)."""
    batch = loaded(SENDGRID_BATCH)
    return next(
        item for item in batch if item["event"] == event and item.get("type", type_) == type_
    )


def test_sendgrid_machine_open_is_flagged() -> None:
    item = documented_sendgrid("open")
    item["sg_machine_open"] = True
    assert only("sendgrid", [item]).machine is True


@pytest.mark.parametrize(
    ("type_", "classification", "expected"),
    [
        ("bounce", None, "hard"),
        ("blocked", None, "soft"),
        (None, None, "hard"),
        ("blocked", "Invalid Address", "hard"),
        ("bounce", "Invalid Address", "hard"),
        ("bounce", "Reputation", "soft"),
        ("bounce", "Content", "soft"),
        ("bounce", "Mailbox Unavailable", "soft"),
        ("bounce", "Frequency or Volume Too High", "soft"),
        ("bounce", "Technical Failure", "soft"),
        ("bounce", "Unclassified", "hard"),
        ("blocked", "Unclassified", "soft"),
    ],
)
def test_sendgrid_bounce_kind(type_: str | None, classification: str | None, expected: str) -> None:
    item = documented_sendgrid("bounce", "bounce")
    del item["type"]
    if type_ is not None:
        item["type"] = type_
    if classification is not None:
        item["bounce_classification"] = classification
    event = only("sendgrid", [item])
    assert (event.event, event.bounce) == ("bounced", expected)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("Bounced Address", "hard"),
        ("Invalid", "hard"),
        ("Unsubscribed Address", None),
        ("Spam Reporting Address", None),
        ("Invalid SMTPAPI header", None),
        (None, None),
    ],
)
def test_sendgrid_drop_reason(reason: str | None, expected: str | None) -> None:
    item = documented_sendgrid("dropped")
    item["reason"] = reason
    event = only("sendgrid", [item])
    assert (event.event, event.bounce) == ("dropped", expected)


@pytest.mark.parametrize(
    "name", ["processed", "Processed", "group_resubscribe", "account_status_change", "new_kind"]
)
def test_sendgrid_untracked_events_are_skipped(name: str) -> None:
    item = documented_sendgrid("delivered")
    item["event"] = name
    assert parse("sendgrid", [item]) == []


def test_sendgrid_event_without_an_id_gets_a_stable_hash() -> None:
    item = documented_sendgrid("delivered")
    del item["sg_event_id"]
    first = only("sendgrid", [item]).event_id
    assert len(first) == 64
    assert int(first, 16) >= 0
    # The same event resent, its keys in another order, is the same event.
    reordered = dict(reversed(list(item.items())))
    assert only("sendgrid", [reordered]).event_id == first
    item["timestamp"] += 1
    assert only("sendgrid", [item]).event_id != first


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (42, 42),
        (" 42 ", 42),
        ("abc", None),
        ("12.5", None),
        (12.5, None),
        ("0", None),
        (-3, None),
        (True, None),
        (None, None),
        ("99999999999999999999", None),
        ("\u0661\u0662", None),
        ({"id": 1}, None),
    ],
)
def test_a_draft_id_that_is_no_integer_is_none(value: Any, expected: int | None) -> None:
    item = documented_sendgrid("delivered")
    item["draft_id"] = value
    assert only("sendgrid", [item]).draft_id == expected


@pytest.fixture(scope="module")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key pair standing in for the one SendGrid generates."""
    return ec.generate_private_key(ec.SECP256R1())


def shown_key(private: ec.EllipticCurvePrivateKey) -> str:
    """The public key as SendGrid's settings page shows it: base64 of its DER."""
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str = SENDGRID_TIMESTAMP
) -> dict[str, str]:
    """The headers SendGrid signs a request with: ECDSA over timestamp followed by body."""
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        SENDGRID_SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        SENDGRID_TIMESTAMP_HEADER: timestamp,
    }


def test_sendgrid_signature_verifies(sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    body = raw(SENDGRID_BATCH)
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    assert len(parse("sendgrid", body, sendgrid_headers(sendgrid_key, body), keys)) == 10


def test_sendgrid_key_may_be_pem_and_headers_any_case(
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    pem = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = raw(SENDGRID_BATCH)
    headers = {name.lower(): value for name, value in sendgrid_headers(sendgrid_key, body).items()}
    keys = ProviderKeys(sendgrid_public_key=pem.decode())
    assert len(parse("sendgrid", body, headers, keys)) == 10


def test_sendgrid_key_wrapped_over_lines_is_read(sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    shown = shown_key(sendgrid_key)
    wrapped = "\n".join(shown[i : i + 40] for i in range(0, len(shown), 40))
    body = raw(SENDGRID_BATCH)
    keys = ProviderKeys(sendgrid_public_key=f"  {wrapped}\n")
    assert parse("sendgrid", body, sendgrid_headers(sendgrid_key, body), keys)


def test_sendgrid_tampered_body_is_refused(sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    body = raw(SENDGRID_BATCH)
    headers = sendgrid_headers(sendgrid_key, body)
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError):
        parse("sendgrid", body.replace(b"example@test.com", b"attacker@evil.test"), headers, keys)


def test_sendgrid_wrong_timestamp_is_refused(sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    body = raw(SENDGRID_BATCH)
    headers = sendgrid_headers(sendgrid_key, body)
    headers[SENDGRID_TIMESTAMP_HEADER] = "1700000001"
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError):
        parse("sendgrid", body, headers, keys)


@pytest.mark.parametrize("missing", [SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER])
def test_sendgrid_missing_header_is_refused(
    sendgrid_key: ec.EllipticCurvePrivateKey, missing: str
) -> None:
    body = raw(SENDGRID_BATCH)
    headers = sendgrid_headers(sendgrid_key, body)
    del headers[missing]
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError, match="missing"):
        parse("sendgrid", body, headers, keys)


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"not DER").decode(), "é"])
def test_sendgrid_garbled_signature_is_refused(
    sendgrid_key: ec.EllipticCurvePrivateKey, signature: str
) -> None:
    body = raw(SENDGRID_BATCH)
    headers = sendgrid_headers(sendgrid_key, body)
    headers[SENDGRID_SIGNATURE_HEADER] = signature
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError):
        parse("sendgrid", body, headers, keys)


def test_sendgrid_signature_of_another_key_is_refused(
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    body = raw(SENDGRID_BATCH)
    other = ec.generate_private_key(ec.SECP256R1())
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError):
        parse("sendgrid", body, sendgrid_headers(other, body), keys)


def test_sendgrid_signature_is_checked_before_the_body_is_read(
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    keys = ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key))
    with pytest.raises(SignatureError):
        parse("sendgrid", b"not json", {}, keys)


def test_sendgrid_unsigned_request_passes_when_no_key_is_set() -> None:
    assert len(parse("sendgrid", raw(SENDGRID_BATCH))) == 10


@pytest.mark.parametrize(
    "key",
    [
        "not a key",
        base64.b64encode(b"not DER either").decode(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_an_unreadable_sendgrid_key_is_a_configuration_error(
    sendgrid_key: ec.EllipticCurvePrivateKey, key: str
) -> None:
    keys = ProviderKeys(sendgrid_public_key=key, generic_secret=GENERIC_SECRET)
    with pytest.raises(ValueError, match="sendgrid_public_key"):
        keys.validate()
    # Not the request's fault, so no SignatureError (a 401 would hide the misconfiguration).
    body = raw(SENDGRID_BATCH)
    with pytest.raises(ValueError, match="sendgrid_public_key"):
        parse("sendgrid", body, sendgrid_headers(sendgrid_key, body), keys)
    # The other providers' webhooks go on working.
    generic = raw("generic_events.json")
    headers = {GENERIC_SIGNATURE_HEADER: generic_signature(generic)}
    assert len(parse("generic", generic, headers, keys)) == 8


def test_a_sendgrid_key_on_another_curve_is_a_configuration_error() -> None:
    keys = ProviderKeys(sendgrid_public_key=shown_key(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValueError, match="P-256"):
        keys.validate()


def test_readable_keys_validate(sendgrid_key: ec.EllipticCurvePrivateKey) -> None:
    ProviderKeys(sendgrid_public_key=shown_key(sendgrid_key)).validate()
    NO_KEYS.validate()


# Postmark


@pytest.mark.parametrize(
    ("name", "event", "bounce", "email", "at"),
    [
        ("postmark_delivery.json", "delivered", None, "john@example.com", POSTMARK_AT),
        ("postmark_bounce.json", "bounced", "hard", "john@example.com", POSTMARK_AT),
        ("postmark_spam_complaint.json", "complained", None, "john@example.com", POSTMARK_AT),
        ("postmark_open.json", "opened", None, "john@example.com", POSTMARK_AT),
        (
            "postmark_click.json",
            "clicked",
            None,
            "john@example.com",
            datetime(2017, 10, 25, 15, 21, 11, 906561, tzinfo=UTC),
        ),
        (
            "postmark_subscription_change.json",
            "bounced",
            "hard",
            "bounced-address@wildbit.com",
            datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=UTC),
        ),
    ],
)
def test_postmark_documented_records_map(
    name: str, event: str, bounce: str | None, email: str, at: datetime
) -> None:
    parsed = only("postmark", raw(name))
    assert (parsed.provider, parsed.event, parsed.bounce) == ("postmark", event, bounce)
    assert parsed.email == email
    assert parsed.occurred_at == at
    assert parsed.draft_id == 42
    # Postmark's MessageID is Postmark's own id, not the Message-ID header we set.
    assert parsed.message_id is None
    # Postmark flags no machine opens.
    assert parsed.machine is False
    assert parsed.url == ("https://example.com" if event == "clicked" else None)


def test_postmark_bounce_and_complaint_keep_postmarks_id() -> None:
    assert only("postmark", raw("postmark_bounce.json")).event_id == "4323372036854775807"
    assert only("postmark", raw("postmark_spam_complaint.json")).event_id == "42"


def test_postmark_records_without_an_id_get_a_stable_hash() -> None:
    delivery = loaded("postmark_delivery.json")
    first = only("postmark", delivery).event_id
    assert len(first) == 64
    assert only("postmark", dict(sorted(delivery.items()))).event_id == first
    delivery["DeliveredAt"] = "2019-11-05T16:33:55Z"
    assert only("postmark", delivery).event_id != first


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        ("HardBounce", ("bounced", "hard")),
        ("BadEmailAddress", ("bounced", "hard")),
        ("SoftBounce", ("bounced", "soft")),
        ("Transient", ("bounced", "soft")),
        ("DnsError", ("bounced", "soft")),
        ("Blocked", ("bounced", "soft")),
        ("DMARCPolicy", ("bounced", "soft")),
        ("SpamNotification", ("bounced", "soft")),
        ("VirusNotification", ("bounced", "soft")),
        ("Unknown", ("bounced", "soft")),
        ("SomeFutureType", ("bounced", "soft")),
        ("SpamComplaint", ("complained", None)),
        ("Unsubscribe", ("unsubscribed", None)),
        ("ManuallyDeactivated", ("dropped", None)),
        ("Unconfirmed", ("dropped", None)),
        ("SMTPApiError", ("dropped", None)),
        ("TemplateRenderingFailed", ("dropped", None)),
        ("Subscribe", None),
        ("AutoResponder", None),
        ("AddressChange", None),
        ("ChallengeVerification", None),
        ("OpenRelayTest", None),
        ("InboundError", None),
    ],
)
def test_postmark_bounce_types(type_: str, expected: tuple[str, str | None] | None) -> None:
    bounce = loaded("postmark_bounce.json")
    bounce["Type"] = type_
    events = parse("postmark", bounce)
    assert [(event.event, event.bounce) for event in events] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("suppress", "reason", "expected"),
    [
        (True, "HardBounce", [("bounced", "hard")]),
        (True, "SpamComplaint", [("complained", None)]),
        (True, "ManualSuppression", [("unsubscribed", None)]),
        (True, None, [("unsubscribed", None)]),
        (False, "ManualSuppression", []),
        (False, None, []),
    ],
)
def test_postmark_subscription_change(
    suppress: bool, reason: str | None, expected: list[tuple[str, str | None]]
) -> None:
    change = loaded("postmark_subscription_change.json")
    change["SuppressSending"], change["SuppressionReason"] = suppress, reason
    assert [(event.event, event.bounce) for event in parse("postmark", change)] == expected


def test_postmark_untracked_record_types_are_skipped() -> None:
    inbound = loaded("postmark_delivery.json")
    inbound["RecordType"] = "Inbound"
    assert parse("postmark", inbound) == []


def test_postmark_time_with_an_offset_is_read_as_utc() -> None:
    bounce = loaded("postmark_bounce.json")
    bounce["BouncedAt"] = "2014-08-01T13:28:10.2735393-04:00"
    at = only("postmark", bounce).occurred_at
    assert at == datetime(2014, 8, 1, 17, 28, 10, 273539, tzinfo=UTC)
    assert at.tzinfo is UTC


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"RecordType": None}, "RecordType"),
        ({"RecordType": 7}, "RecordType"),
        ({"DeliveredAt": "2019-11-05T16:33:54"}, "DeliveredAt"),
        ({"DeliveredAt": None}, "DeliveredAt"),
        ({"DeliveredAt": "yesterday"}, "DeliveredAt"),
        ({"DeliveredAt": 1572971634}, "DeliveredAt"),
        ({"Metadata": ["draft_id", "42"]}, "Metadata"),
        ({"Recipient": 5}, "Recipient"),
    ],
)
def test_postmark_malformed_record_names_the_field(change: dict[str, Any], field: str) -> None:
    delivery = loaded("postmark_delivery.json")
    delivery.update(change)
    assert refused("postmark", delivery).field == field


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("postmark_bounce.json", {"Type": None}, "Type"),
        ("postmark_bounce.json", {"ID": 4.5}, "ID"),
        ("postmark_subscription_change.json", {"SuppressSending": "true"}, "SuppressSending"),
        ("postmark_click.json", {"OriginalLink": ["https://example.com"]}, "OriginalLink"),
    ],
)
def test_postmark_malformed_fields_of_other_records(
    name: str, change: dict[str, Any], field: str
) -> None:
    record = loaded(name)
    record.update(change)
    assert refused("postmark", record).field == field


def basic(user: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    """An Authorization header of HTTP basic auth."""
    return {"Authorization": f"{scheme} {base64.b64encode(f'{user}:{password}'.encode()).decode()}"}


POSTMARK_KEYS = ProviderKeys(postmark_user="postmark", postmark_password="h4pp1t1m35")


def test_postmark_basic_auth_right() -> None:
    body = raw("postmark_delivery.json")
    assert parse("postmark", body, basic("postmark", "h4pp1t1m35"), POSTMARK_KEYS)
    lowered = {"authorization": basic("postmark", "h4pp1t1m35")["Authorization"]}
    assert parse("postmark", body, lowered, POSTMARK_KEYS)
    assert parse("postmark", body, basic("postmark", "h4pp1t1m35", "basic"), POSTMARK_KEYS)


@pytest.mark.parametrize(
    "headers",
    [
        basic("postmark", "wrong"),
        basic("intruder", "h4pp1t1m35"),
        basic("postmark", "h4pp1t1m35", "Bearer"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": f"Basic {base64.b64encode(b'no-colon').decode()}"},
        {"Authorization": "Basic"},
        {"Authorization": ""},
        {},
    ],
)
def test_postmark_basic_auth_wrong_or_missing(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        parse("postmark", raw("postmark_delivery.json"), headers, POSTMARK_KEYS)


def test_postmark_without_auth_configured_takes_any_request() -> None:
    assert parse("postmark", raw("postmark_delivery.json"), basic("anyone", "anything"))


# Mailgun


@pytest.mark.parametrize(
    ("name", "event", "bounce", "draft_id", "message_id"),
    [
        (
            "mailgun_delivered.json",
            "delivered",
            None,
            42,
            "20260203192030.53383e583ab41f62@sample.mailgun.com",
        ),
        (
            "mailgun_opened.json",
            "opened",
            None,
            42,
            "20260205213049.8e3a7bf607f78309@sample.mailgun.com",
        ),
        (
            "mailgun_clicked.json",
            "clicked",
            None,
            42,
            "20260205213049.8e3a7bf607f78309@sample.mailgun.com",
        ),
        (
            "mailgun_failed_permanent.json",
            "bounced",
            "hard",
            42,
            "20260212174255.58bbb7ce85a423e5@mailgun.com",
        ),
        (
            "mailgun_failed_temporary.json",
            "deferred",
            None,
            None,
            "20260212180106.5c8f35804ae3fd54@sample.mailgun.com",
        ),
        (
            "mailgun_unsubscribed.json",
            "unsubscribed",
            None,
            None,
            "20260205213049.8e3a7bf607f78309@sample.mailgun.com",
        ),
        (
            "mailgun_complained.json",
            "complained",
            None,
            None,
            "20260212182531.0d5ed3254c319957@sample.mailgun.com",
        ),
    ],
)
def test_mailgun_documented_events_map(
    name: str, event: str, bounce: str | None, draft_id: int | None, message_id: str
) -> None:
    documented = loaded(name)["event-data"]
    parsed = only("mailgun", raw(name))
    assert (parsed.provider, parsed.event, parsed.bounce) == ("mailgun", event, bounce)
    assert parsed.event_id == documented["id"]
    assert parsed.occurred_at == datetime.fromtimestamp(documented["timestamp"], UTC)
    # `user-variables` is `[]` in Mailgun's examples that carry none.
    assert parsed.draft_id == draft_id
    assert parsed.message_id == message_id
    assert parsed.email == documented["recipient"]
    assert parsed.machine is False
    assert parsed.url == ("https://sample.mailgun.com" if event == "clicked" else None)


def test_mailgun_accepted_is_skipped() -> None:
    assert parse("mailgun", raw("mailgun_accepted.json")) == []


@pytest.mark.parametrize("name", ["stored", "list_member_uploaded", "new_kind"])
def test_mailgun_untracked_events_are_skipped(name: str) -> None:
    body = loaded("mailgun_delivered.json")
    body["event-data"]["event"] = name
    assert parse("mailgun", body) == []


def test_mailgun_rejected_is_dropped() -> None:
    body = loaded("mailgun_accepted.json")
    body["event-data"]["event"] = "rejected"
    event = only("mailgun", body)
    assert (event.event, event.bounce) == ("dropped", None)


@pytest.mark.parametrize(
    ("severity", "reason", "bounce_type", "expected"),
    [
        ("temporary", "generic", None, ("deferred", None)),
        ("temporary", "bounce", "soft", ("deferred", None)),
        ("permanent", "bounce", "hard", ("bounced", "hard")),
        ("permanent", "bounce", None, ("bounced", "hard")),
        ("permanent", "generic", "soft", ("bounced", "soft")),
        ("permanent", "old", None, ("bounced", "soft")),
        ("permanent", "espblock", None, ("bounced", "soft")),
        ("permanent", "suppress-bounce", None, ("dropped", "hard")),
        ("permanent", "suppress-unsubscribe", None, ("dropped", None)),
        ("permanent", "suppress-complaint", None, ("dropped", None)),
        (None, "bounce", "hard", ("bounced", "hard")),
    ],
)
def test_mailgun_failures(
    severity: str | None, reason: str, bounce_type: str | None, expected: tuple[str, str | None]
) -> None:
    body = loaded("mailgun_failed_permanent.json")
    data = body["event-data"]
    data["severity"], data["reason"] = severity, reason
    data["delivery-status"]["bounce-type"] = bounce_type
    event = only("mailgun", body)
    assert (event.event, event.bounce) == expected


@pytest.mark.parametrize(
    ("name", "bot", "machine"),
    [
        ("mailgun_opened.json", "apple", True),
        ("mailgun_opened.json", "gmail", True),
        ("mailgun_clicked.json", "generic", True),
        ("mailgun_opened.json", "", False),
        ("mailgun_clicked.json", None, False),
    ],
)
def test_mailgun_bot_opens_and_clicks_are_machine(
    name: str, bot: str | None, machine: bool
) -> None:
    body = loaded(name)
    body["event-data"]["client-info"]["bot"] = bot
    assert only("mailgun", body).machine is machine


def mailgun_signed(body: dict[str, Any], key: str = MAILGUN_KEY) -> dict[str, Any]:
    """A Mailgun body whose signature block is made with `key`."""
    signed = copy.deepcopy(body)
    token, timestamp = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", "1770920772"
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    signed["signature"] = {"token": token, "timestamp": timestamp, "signature": digest}
    return signed


MAILGUN_KEYS = ProviderKeys(mailgun_signing_key=MAILGUN_KEY)


def test_mailgun_signature_right() -> None:
    body = mailgun_signed(loaded("mailgun_delivered.json"))
    assert only("mailgun", body, MAILGUN_KEYS).event == "delivered"


def test_mailgun_signature_with_an_integer_timestamp() -> None:
    body = mailgun_signed(loaded("mailgun_delivered.json"))
    body["signature"]["timestamp"] = int(body["signature"]["timestamp"])
    assert only("mailgun", body, MAILGUN_KEYS)


def test_mailgun_parent_signature_of_a_subaccount_is_accepted() -> None:
    body = mailgun_signed(loaded("mailgun_delivered.json"))
    signature = body["signature"]
    signature["parent-signature"], signature["signature"] = signature["signature"], "00" * 32
    assert only("mailgun", body, MAILGUN_KEYS)


def test_mailgun_documented_example_signature_matches_no_key_of_ours() -> None:
    with pytest.raises(SignatureError):
        parse("mailgun", raw("mailgun_delivered.json"), keys=MAILGUN_KEYS)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda body: body.update(mailgun_signed(body, key="another-key")),
        lambda body: body["signature"].update(token="f" * 50),
        lambda body: body["signature"].update(timestamp="1770920773"),
        lambda body: body["signature"].update(signature="not hex"),
        lambda body: body["signature"].pop("signature"),
        lambda body: body["signature"].pop("token"),
        lambda body: body.pop("signature"),
        lambda body: body.update(signature="12d99f5a"),
    ],
)
def test_mailgun_signature_wrong_or_missing(spoil: Any) -> None:
    body = mailgun_signed(loaded("mailgun_delivered.json"))
    spoil(body)
    with pytest.raises(SignatureError):
        parse("mailgun", body, keys=MAILGUN_KEYS)


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (lambda body: body.pop("event-data"), "event-data"),
        (lambda body: body.update({"event-data": []}), "event-data"),
        (lambda body: body["event-data"].pop("event"), "event-data.event"),
        (lambda body: body["event-data"].pop("timestamp"), "event-data.timestamp"),
        (lambda body: body["event-data"].update(timestamp="soon"), "event-data.timestamp"),
        (lambda body: body["event-data"].update(timestamp=True), "event-data.timestamp"),
        (lambda body: body["event-data"].update(timestamp=1e300), "event-data.timestamp"),
        (lambda body: body["event-data"].update(recipient=["a@b.c"]), "event-data.recipient"),
        (lambda body: body["event-data"].update(message="m"), "event-data.message"),
        (
            lambda body: body["event-data"]["message"].update(headers=[]),
            "event-data.message.headers",
        ),
    ],
)
def test_mailgun_malformed_body_names_the_field(spoil: Any, field: str) -> None:
    body = loaded("mailgun_delivered.json")
    spoil(body)
    assert refused("mailgun", body).field == field


def test_mailgun_malformed_fields_of_failures_and_opens() -> None:
    failed = loaded("mailgun_failed_permanent.json")
    failed["event-data"]["delivery-status"] = "bounced"
    assert refused("mailgun", failed).field == "event-data.delivery-status"
    opened = loaded("mailgun_opened.json")
    opened["event-data"]["client-info"]["bot"] = True
    assert refused("mailgun", opened).field == "event-data.client-info.bot"


# Ours


def test_generic_documented_events_map() -> None:
    events = parse("generic", raw("generic_events.json"))
    assert [
        (e.event_id, e.event, e.draft_id, e.bounce, e.machine, e.message_id, e.url) for e in events
    ] == [
        ("evt-1", "delivered", 42, None, False, "draft-42@mail.example.com", None),
        ("evt-2", "bounced", 43, "hard", False, None, None),
        ("evt-3", "opened", 42, None, True, "draft-42@mail.example.com", None),
        ("evt-4", "clicked", 42, None, False, None, "https://shop.example.com/boots"),
        ("evt-5", "complained", 42, None, False, None, None),
        ("evt-6", "unsubscribed", None, None, False, None, None),
        ("evt-7", "deferred", 44, None, False, None, None),
        ("evt-8", "dropped", 45, "soft", False, None, None),
    ]
    assert {event.event for event in events} == set(EVENT_NAMES)
    assert events[0].occurred_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    # 09:31 at +01:00 is 08:31 UTC.
    assert events[1].occurred_at == datetime(2026, 3, 1, 8, 31, tzinfo=UTC)
    assert events[0].email == "ada@example.com"
    assert events[4].email is None


def generic_signature(body: bytes, secret: str = GENERIC_SECRET) -> str:
    """X-Personalize-Signature: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


GENERIC_KEYS = ProviderKeys(generic_secret=GENERIC_SECRET)


def test_generic_signature_right() -> None:
    body = raw("generic_events.json")
    assert parse("generic", body, {GENERIC_SIGNATURE_HEADER: generic_signature(body)}, GENERIC_KEYS)
    upper = {GENERIC_SIGNATURE_HEADER.lower(): generic_signature(body).upper()}
    assert parse("generic", body, upper, GENERIC_KEYS)


@pytest.mark.parametrize(
    "headers",
    [
        {GENERIC_SIGNATURE_HEADER: generic_signature(b"[]")},
        {GENERIC_SIGNATURE_HEADER: generic_signature(b"", secret="another")},
        {GENERIC_SIGNATURE_HEADER: "zz"},
        {GENERIC_SIGNATURE_HEADER: "é"},
        {GENERIC_SIGNATURE_HEADER: ""},
        {},
    ],
)
def test_generic_signature_wrong_or_missing(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        parse("generic", raw("generic_events.json"), headers, GENERIC_KEYS)


def test_generic_without_a_secret_takes_unsigned_requests() -> None:
    assert len(parse("generic", raw("generic_events.json"))) == 8


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"at": "2026-03-01T09:30:00"}, "[0].at"),
        ({"at": "yesterday"}, "[0].at"),
        ({"at": 1772357400}, "[0].at"),
        ({"at": None}, "[0].at"),
        ({"event": None}, "[0].event"),
        ({"event": "sent"}, "[0].event"),
        ({"event": 3}, "[0].event"),
        ({"id": None}, "[0].id"),
        ({"id": 5}, "[0].id"),
        ({"id": "  "}, "[0].id"),
        ({"draft_id": "42"}, "[0].draft_id"),
        ({"draft_id": 0}, "[0].draft_id"),
        ({"draft_id": True}, "[0].draft_id"),
        ({"draft_id": 4.2}, "[0].draft_id"),
        ({"machine": "yes"}, "[0].machine"),
        ({"bounce": "medium"}, "[0].bounce"),
        ({"bounce": "hard"}, "[0].bounce"),
        ({"email": ["ada@example.com"]}, "[0].email"),
        ({"message_id": 7}, "[0].message_id"),
        ({"url": {"href": "x"}}, "[0].url"),
    ],
)
def test_generic_malformed_event_names_the_field(change: dict[str, Any], field: str) -> None:
    events = loaded("generic_events.json")
    events[0].update(change)
    error = refused("generic", events)
    assert error.field == field
    assert field in str(error)


def test_generic_event_that_is_no_object_is_refused() -> None:
    assert refused("generic", ["evt-1"]).field == "[0]"
    assert refused("generic", {"id": "evt-1"}).field == "(root)"


# Malformed bodies, every provider


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "body", [b"not json", b"", b"\xff\xfe", b"NaN", b"[1, 2", b"[" * 100_000 + b"]" * 100_000]
)
def test_a_body_that_is_no_json_is_refused(provider: str, body: bytes) -> None:
    assert refused(provider, body).field == "(root)"


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("sendgrid", {"event": "delivered"}),
        ("sendgrid", "delivered"),
        ("postmark", []),
        ("postmark", None),
        ("mailgun", [1]),
        ("generic", 5),
    ],
)
def test_a_body_of_the_wrong_shape_is_refused(provider: str, body: Any) -> None:
    assert refused(provider, body).field == "(root)"


@pytest.mark.parametrize(
    ("index", "change", "field"),
    [
        (3, {"event": None}, "[3].event"),
        (3, {"event": ""}, "[3].event"),
        (1, {"timestamp": "yesterday"}, "[1].timestamp"),
        (1, {"timestamp": None}, "[1].timestamp"),
        (1, {"timestamp": [1513299569]}, "[1].timestamp"),
        (1, {"timestamp": False}, "[1].timestamp"),
        (1, {"timestamp": 10**400}, "[1].timestamp"),
        (1, {"timestamp": -(10**15)}, "[1].timestamp"),
        (2, {"email": 5}, "[2].email"),
        (2, {"smtp-id": ["<a@b>"]}, "[2].smtp-id"),
        (2, {"sg_event_id": 12}, "[2].sg_event_id"),
        (6, {"sg_machine_open": "yes"}, "[6].sg_machine_open"),
        (7, {"url": 5}, "[7].url"),
        (4, {"type": 1}, "[4].type"),
        (4, {"bounce_classification": {}}, "[4].bounce_classification"),
    ],
)
def test_sendgrid_malformed_event_names_the_field(
    index: int, change: dict[str, Any], field: str
) -> None:
    batch = loaded(SENDGRID_BATCH)
    batch[index].update(change)
    assert refused("sendgrid", batch).field == field


def test_sendgrid_timestamp_as_a_string_of_seconds_is_read() -> None:
    item = documented_sendgrid("delivered")
    item["timestamp"] = "1513299569"
    assert only("sendgrid", [item]).occurred_at == SENDGRID_AT


def test_sendgrid_event_that_is_no_object_is_refused() -> None:
    assert refused("sendgrid", [documented_sendgrid("delivered"), "open"]).field == "[1]"


@given(data=st.data(), name=st.sampled_from(DOCUMENTED), ascii_only=st.booleans())
def test_near_valid_bodies_map_or_name_their_field(
    data: st.DataObject, name: str, ascii_only: bool
) -> None:
    """A documented body changed in one place maps, or names its field; nothing else escapes."""
    provider = name.split("_")[0]
    record, _, _ = data.draw(near_valid(loaded(name), JSON_VALUES))
    body = dumps(record, ascii_only=ascii_only)
    result = outcome(lambda: parse_events(provider, body, {}, keys=NO_KEYS), InvalidInput)
    if isinstance(result, InvalidInput):
        assert result.field
        return
    for event in result:
        assert event.event in EVENT_NAMES
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.bounce in (None, "hard", "soft")
        assert event.draft_id is None or event.draft_id > 0
