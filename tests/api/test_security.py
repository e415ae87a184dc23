"""Security basics: a rate limit per key (429 with Retry-After), no CORS unless configured,
keys and signatures compared in constant time, and secrets never in the logs."""

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.logs import MASK, mask_query_secrets
from api.ratelimit import RateLimiter
from chat_ingest.adapters.shopify import verify_shopify_signature
from chat_ingest.schemas import CustomerCreate
from chat_ingest.service import upsert_customer
from engine.apikeys import create_key, verify_key
from engine.db import Database
from engine.drafting.base import Catalog, DraftRequest
from engine.drafting.claude import build_claude_drafter
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import DEFAULT_GUIDE
from engine.outbox import deliver_due, signature_matches
from engine.runtime import Services
from engine.settings import Settings
from tests.contexts import make_context
from tests.fake_anthropic import serve_fake_anthropic
from tests.servers import running

Headers = dict[str, dict[str, str]]
ANTHROPIC_KEY = "sk-ant-api03-NEVER-LOG-ME-0123456789"
SHOPIFY_SECRET = "shpss_never_log_me_4242"
REVIEW_SECRET = "whsec_never_log_me_9999"
QDRANT_KEY = "qdrant-never-log-me-7777"


def app_client(settings: Settings, services: Services, **changes: Any) -> Callable[[], TestClient]:
    """A TestClient factory for the app on these settings, changed."""
    changed = settings.model_copy(update=changes)
    return lambda: TestClient(create_app(changed, services=services, run_worker=False))


def test_a_key_over_its_rate_gets_429_with_retry_after(
    settings: Settings, services: Services, keys: dict[str, str]
) -> None:
    make = app_client(settings, services, rate_limit_per_second=0.5, rate_limit_burst=3)
    marketer = {"Authorization": f"Bearer {keys['marketer']}"}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with make() as client:
        answers = [client.get("/v1/intents", headers=marketer) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        # Another key has its own bucket; a refused request is not let in by a bad key either.
        assert client.get("/v1/intents", headers=admin).status_code == 200
        assert (
            client.get("/v1/intents", headers={"Authorization": "Bearer pk_x_y"}).status_code == 401
        )


def test_the_bucket_refills_at_the_rate_and_caps_at_the_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.acquire(1) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire(1) == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire(1) == 0.0
    now[0] += 100.0  # a long pause earns no more than the burst
    assert [limiter.acquire(1) for _ in range(3)][-1] > 0
    assert RateLimiter(rate=0, burst=1).acquire(1) == 0.0


PREFLIGHT = {
    "Origin": "https://shop.example.com",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "Authorization",
}


def test_no_cors_headers_unless_origins_are_configured(
    settings: Settings, services: Services, auth: Headers
) -> None:
    marketer_from_shop = auth["marketer"] | {"Origin": PREFLIGHT["Origin"]}
    with app_client(settings, services)() as client:
        preflight = client.options("/v1/intents", headers=PREFLIGHT)
        plain = client.get("/v1/intents", headers=marketer_from_shop)
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in plain.headers

    make = app_client(settings, services, cors_origins="https://shop.example.com, https://b.test")
    with make() as client:
        allowed = client.options("/v1/intents", headers=PREFLIGHT)
        other = client.options("/v1/intents", headers=PREFLIGHT | {"Origin": "https://evil.test"})
        plain = client.get("/v1/intents", headers=marketer_from_shop)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "access-control-allow-origin" not in other.headers
    assert plain.headers["access-control-allow-origin"] == "https://shop.example.com"


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every call of hmac.compare_digest, recorded (and still answered)."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def test_keys_and_signatures_are_compared_in_constant_time(
    db: Database, compare_calls: list[tuple[Any, Any]]
) -> None:
    with db.write() as session:
        _, key = create_key(session, name="k", scopes=["ingest"])
    with db.read() as session:
        assert verify_key(session, presented=key) is not None
        assert verify_key(session, presented=key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert len(compare_calls) == 2

    body = b'{"id": 1}'
    good = base64.b64encode(hmac.new(b"s", body, hashlib.sha256).digest()).decode()
    verify_shopify_signature(body=body, header=good, secret="s")
    assert len(compare_calls) == 3

    signature = hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert signature_matches(body=body, secret="s", presented=signature)
    assert not signature_matches(body=body, secret="s", presented="0" * 64)
    assert len(compare_calls) == 5


def test_settings_print_secrets_masked() -> None:
    settings = Settings(
        anthropic_api_key=SecretStr(ANTHROPIC_KEY),
        shopify_webhook_secret=SecretStr(SHOPIFY_SECRET),
        review_webhook_secret=SecretStr(REVIEW_SECRET),
        qdrant_api_key=SecretStr(QDRANT_KEY),
    )
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in (ANTHROPIC_KEY, SHOPIFY_SECRET, REVIEW_SECRET, QDRANT_KEY):
        assert secret not in shown


def test_no_secret_reaches_the_logs(
    settings: Settings,
    services: Services,
    keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Keys in headers and in ?key=, webhook secrets, and the Anthropic key, through a real
    server with its access log, the review webhook deliverer and the SDK, all at DEBUG."""
    caplog.set_level(logging.DEBUG)
    changed = settings.model_copy(
        update={
            "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
            "review_webhook_secret": SecretStr(REVIEW_SECRET),
        }
    )
    ingest = keys["ingest"]
    app = create_app(changed, services=services, run_worker=False)
    with running(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/v1/status", headers={"Authorization": f"Bearer {ingest}"}).is_success
        unknown = {"Authorization": "Bearer pk_a_b"}
        assert http.get("/v1/status", headers=unknown).status_code == 401
        posted = http.post(
            f"/v1/webhooks/shopify/orders?key={ingest}",
            content=b"{}",
            headers={"X-Shopify-Hmac-Sha256": "bm9wZQ=="},
        )
        assert posted.status_code == 401  # signed with the wrong secret
        chatwoot = http.post(f"/v1/webhooks/chatwoot?key={ingest}&x=1", json={"event": "x"})
        assert chatwoot.status_code < 500

    # The review webhook deliverer signs with its secret.
    with services.db.write() as session:
        upsert_customer(
            session,
            customer=CustomerCreate(
                id="c1",
                first_name="Ana",
                subscribed_at=datetime.now(UTC) - timedelta(hours=1),
                marketing_consent=True,
            ),
        )
    hook = "http://review.test/hook"
    run_campaign(
        services.db, drafter=TemplateDrafter(), kind="welcome", actor="t", webhook_url=hook
    )
    sent: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(receive)) as http:
        assert deliver_due(services.db, client=http, secret=REVIEW_SECRET).delivered == 1
    assert len(sent) == 1 and sent[0].headers["X-Signature-SHA256"]

    # The Anthropic SDK at DEBUG, against a local fake API.
    with serve_fake_anthropic() as fake:
        claude = build_claude_drafter(
            api_key=ANTHROPIC_KEY, model="claude-sonnet-4-6", base_url=fake.base_url
        )
        context = make_context(as_of=datetime.now(UTC), customer_id="c1", first_name="Ana")
        claude.draft_many(
            [
                DraftRequest(
                    key="c1/welcome/d0",
                    kind="welcome",
                    step="d0",
                    context=context,
                    voice=DEFAULT_GUIDE,
                    catalog=Catalog(products=()),
                )
            ]
        )
        headers = fake.requests[0].headers
        assert any(ANTHROPIC_KEY in value for value in headers.values())  # it was sent

    logged = caplog.text + "".join(capfd.readouterr())
    assert "/v1/webhooks/shopify/orders?key=" + MASK in logged  # the access log did run
    for secret in (ingest, ANTHROPIC_KEY, SHOPIFY_SECRET, REVIEW_SECRET):
        assert secret not in logged, secret


def test_query_keys_are_masked_in_any_log_line() -> None:
    assert mask_query_secrets("POST /v1/webhooks/chatwoot?key=pk_1_abc&x=2 HTTP/1.1") == (
        f"POST /v1/webhooks/chatwoot?key={MASK}&x=2 HTTP/1.1"
    )
    assert mask_query_secrets("/a?x=1&API_KEY=zzz") == f"/a?x=1&API_KEY={MASK}"
    assert mask_query_secrets("/a?monkey=1") == "/a?monkey=1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/transcripts"),
        ("PATCH", "/v1/customers/c1"),
        ("PUT", "/v1/voice"),
        ("POST", "/v1/webhooks/chatwoot"),
    ],
)
def test_a_body_over_the_limit_gets_413_even_streamed_without_a_length(
    settings: Settings, services: Services, auth: Headers, method: str, path: str
) -> None:
    make = app_client(settings, services, max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(20):
            yield b"a" * 100
        yield b'"}'

    with make() as client:
        response = client.request(method, path, content=chunks(), headers=auth["admin"])
        small = client.request(method, path, content=b"{}", headers=auth["admin"])
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert small.status_code != 413
