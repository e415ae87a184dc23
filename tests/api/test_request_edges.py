"""What a user can type that the store cannot take: dates outside its range are a 422 naming
the field on every route and command (never a 500 or the SQL), any too deeply nested body is
the same 422 on every route, and every customer id the engine stores is reachable over HTTP."""

import json
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.app import create_app
from cli.app import app as cli
from engine.runtime import Services
from engine.settings import Settings
from tests.servers import running

Headers = dict[str, dict[str, str]]
# Year 1 at +01:00 is year 0 in UTC, and 9999-12-31 at -01:00 is year 10000: neither exists.
BEYOND = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1899-12-31T23:59:59Z"]
EDGES = ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59+00:00"]


def subscriber(client: TestClient, auth: Headers, customer_id: str = "c1") -> None:
    """A consenting subscriber with one order, so every campaign kind has someone to look at."""
    customer = {
        "id": customer_id,
        "email": f"{customer_id}@example.com",
        "marketing_consent": True,
        "subscribed_at": "2026-11-01T00:00:00Z",
    }
    assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code == 201
    order = {
        "order_id": f"o-{customer_id}",
        "customer_id": customer_id,
        "placed_at": "2026-11-02T00:00:00Z",
        "currency": "EUR",
        "total": "12.00",
        "items": [{"sku": "S1", "name": "Beans", "quantity": 1, "unit_price": "12.00"}],
    }
    assert client.post("/v1/orders", json=order, headers=auth["ingest"]).status_code == 201


def calls(when: str) -> list[tuple[str, str, dict[str, object], str]]:
    """Every route that takes a date from the user: method, path, request, the field named."""
    message = {
        "conversation_id": "cv",
        "customer": {"id": "c2"},
        "message": {"id": "m", "role": "customer", "text": "hi", "sent_at": when},
    }
    order = {
        "order_id": "o2",
        "customer_id": "c1",
        "placed_at": when,
        "currency": "EUR",
        "total": "1.00",
        "items": [{"sku": "S1", "name": "Beans", "quantity": 1, "unit_price": "1.00"}],
    }
    return [
        ("GET", "/v1/customers/c1/context", {"params": {"as_of": when}}, "query.as_of"),
        ("POST", "/v1/campaigns/welcome/run", {"json": {"as_of": when}}, "as_of"),
        ("POST", "/v1/campaigns/post_purchase/run", {"json": {"as_of": when}}, "as_of"),
        ("POST", "/v1/campaigns/win_back/run", {"json": {"as_of": when}}, "as_of"),
        (
            "POST",
            "/v1/drafts",
            {"json": {"customer_id": "c1", "kind": "welcome", "as_of": when}},
            "as_of",
        ),
        ("GET", "/v1/search/customers", {"params": {"q": "beans", "since": when}}, "query.since"),
        ("GET", "/v1/search/customers", {"params": {"q": "beans", "until": when}}, "query.until"),
        ("PATCH", "/v1/customers/c1", {"json": {"subscribed_at": when}}, "subscribed_at"),
        ("POST", "/v1/customers", {"json": {"id": "c3", "subscribed_at": when}}, "subscribed_at"),
        ("POST", "/v1/messages", {"json": message}, "message.sent_at"),
        ("POST", "/v1/orders", {"json": order}, "placed_at"),
    ]


@pytest.mark.parametrize("when", BEYOND)
def test_a_date_the_store_cannot_hold_is_a_422_naming_the_field_everywhere(
    client: TestClient, auth: Headers, when: str
) -> None:
    subscriber(client, auth)
    for method, path, request, field in calls(when):
        response = client.request(method, path, headers=auth["admin"], **request)  # type: ignore[arg-type]
        assert response.status_code == 422, (method, path, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["field"] == field, (path, error)
        assert "1900" in error["message"] and "3000" in error["message"]


@pytest.mark.parametrize("when", EDGES)
def test_the_first_and_last_moments_of_the_range_are_accepted(
    client: TestClient, auth: Headers, when: str
) -> None:
    subscriber(client, auth)
    for method, path, request, _ in calls(when):
        response = client.request(method, path, headers=auth["admin"], **request)  # type: ignore[arg-type]
        assert response.status_code < 300, (method, path, response.text)


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31T23:59:59"])
@pytest.mark.parametrize(
    "command",
    [
        ["campaign", "run", "--kind", "welcome", "--as-of"],
        ["campaign", "run", "--kind", "win_back", "--as-of"],
        ["draft", "c1", "--kind", "welcome", "--as-of"],
        ["context", "c1", "--as-of"],
        ["search", "beans", "--since"],
    ],
)
def test_a_command_given_such_a_date_says_which_option_and_prints_no_sql(
    settings: Settings, command: list[str], when: str
) -> None:
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    result = CliRunner().invoke(cli, [*command, when], env=env)
    assert result.exit_code == 2, result.output
    option = command[-1]
    assert f"{option}: must lie from 1900" in result.stderr
    assert "SELECT" not in result.output and "Traceback" not in result.output


# Deeper than Python's JSON parser reads (it gives up near a thousand levels).
NESTED = "[" * 5000 + "]" * 5000
BODY_ROUTES = [
    "/v1/messages",
    "/v1/transcripts",
    "/v1/customers",
    "/v1/orders",
    "/v1/drafts",
    "/v1/trackers",
    "/v1/campaigns/welcome/run",
    "/v1/webhooks/chatwoot",
    "/v1/webhooks/shopify/orders",
]


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_body_nested_too_deeply_is_the_same_422_on_every_route(
    client: TestClient, auth: Headers, path: str
) -> None:
    response = client.post(
        path, content=NESTED, headers={**auth["admin"], "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "body is not valid JSON: nested too deeply",
        "field": "body",
    }


def test_a_nested_but_readable_body_still_reaches_its_route(
    client: TestClient, auth: Headers
) -> None:
    """Only what the parser cannot read is refused up front: a body with many brackets that
    nests shallowly gets the route's own answer."""
    messages = [
        {"id": f"m{i}", "role": "customer", "text": "hi", "sent_at": "2026-11-01T00:00:00Z"}
        for i in range(600)
    ]
    transcript = {"conversation_id": "cv", "customer_id": "c9", "messages": messages}
    response = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
    assert response.status_code == 202, response.text
    assert response.json()["stored"] == 600


ODD_IDS = [
    "../../etc/passwd",
    "team/42",
    "/leading-slash",
    "trailing/",
    "a//b",
    "x/context",
    "x/unsubscribe",
    "50% off?#frag",
    "ünï çødé ✓",
    "...",
    "a\\b",
]


def test_every_odd_id_is_read_changed_unsubscribed_and_erased_over_a_real_server(
    settings: Settings, services: Services, keys: dict[str, str]
) -> None:
    """Over a socket, through uvicorn's own path decoding: percent-encoding the id (`/` as
    `%2F`) reaches every customer route."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    app = create_app(settings, services=services, run_worker=False)
    with running(app) as url, httpx.Client(base_url=url, headers=admin) as http:
        for number, customer_id in enumerate(ODD_IDS):
            message = {
                "conversation_id": f"cv{number}",
                "customer": {"id": customer_id},
                "message": {
                    "id": f"m{number}",
                    "role": "customer",
                    "text": "I run a bakery",
                    "sent_at": "2026-11-01T00:00:00Z",
                },
            }
            stored = http.post("/v1/messages", json=message)
            assert stored.status_code == 202 and stored.json()["customer_id"] == customer_id
            path = f"/v1/customers/{quote(customer_id, safe='')}"
            context = http.get(f"{path}/context")
            assert context.status_code == 200, (customer_id, context.text)
            assert context.json()["customer_id"] == customer_id
            patched = http.patch(path, json={"first_name": "Ana"})
            assert patched.status_code == 200 and patched.json()["customer_id"] == customer_id
            unsubscribed = http.post(f"{path}/unsubscribe")
            assert unsubscribed.status_code == 200, (customer_id, unsubscribed.text)
            erased = http.delete(path)
            assert erased.status_code == 200, (customer_id, erased.text)
            assert erased.json()["removed"]["customers"] == 1
            assert http.get(f"{path}/context").status_code == 404
        # Another customer's routes are untouched by the odd ones: nothing else was erased.
        assert http.get("/v1/status").json()["customers"] == 0


@pytest.mark.parametrize("customer_id", [".", ".."])
def test_the_two_ids_no_url_can_hold_are_refused_at_ingest(
    client: TestClient, auth: Headers, customer_id: str
) -> None:
    response = client.post("/v1/customers", json={"id": customer_id}, headers=auth["ingest"])
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "id"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    customer_id=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
        min_size=1,
        max_size=128,
    )
)
def test_any_id_ingest_accepts_has_a_context_route(
    client: TestClient, auth: Headers, customer_id: str
) -> None:
    """Whatever id POST /v1/customers stores, GET its context answers for that customer."""
    created = client.post("/v1/customers", json={"id": customer_id}, headers=auth["ingest"])
    if created.status_code == 422:
        return  # blank, or one of the two dot ids
    stored = created.json()["customer_id"]
    context = client.get(
        f"/v1/customers/{quote(stored, safe='')}/context", headers=auth["marketer"]
    )
    assert context.status_code == 200, (stored, context.text)
    assert context.json()["customer_id"] == stored


def test_an_import_of_an_out_of_range_time_names_the_line_and_field(
    settings: Settings, tmp_path: object
) -> None:
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    path = settings.personalize_home.parent / "customers.jsonl"
    path.write_text(
        json.dumps({"id": "ok", "subscribed_at": "2026-11-01T00:00:00Z"})
        + "\n"
        + json.dumps({"id": "odd", "subscribed_at": "0001-01-01T00:00:00+01:00"})
        + "\n"
    )
    result = CliRunner().invoke(cli, ["import", "customers", str(path), "--json"], env=env)
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["imported"] == 1 and summary["rejected"] == 1
    assert summary["errors"][0]["line"] == 2
    assert summary["errors"][0]["field"] == "subscribed_at"
