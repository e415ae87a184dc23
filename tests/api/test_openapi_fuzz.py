"""Schemathesis over every route of the app's own OpenAPI schema, in-process, with a valid admin
key: no request it can generate gets a 5xx, and every response matches the schema."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from engine.runtime import Services
from engine.settings import Settings

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def fuzzed_app(settings: Settings, services: Services) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app with its lifespan running; no rate limit (the fuzzer is one busy key)."""
    app = create_app(
        settings.model_copy(update={"rate_limit_per_second": 0.0}),
        services=services,
        run_worker=False,
    )
    with TestClient(app) as client:
        yield app, client


# The schema the app publishes at /openapi.json (building the app touches no disk; its
# lifespan does, and runs per test in `fuzzed_app`).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_route_errors_or_breaks_its_schema(
    case: Case[Any], fuzzed_app: tuple[FastAPI, TestClient], keys: dict[str, str]
) -> None:
    _, client = fuzzed_app
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    kwargs = case.as_transport_kwargs(headers=headers)
    kwargs.pop("base_url", None)
    response = client.request(**kwargs)
    case.validate_response(response, checks=CHECKS)


def test_what_the_fuzzer_found_is_a_422_naming_the_field(
    fuzzed_app: tuple[FastAPI, TestClient], keys: dict[str, str]
) -> None:
    """Found on PostgreSQL: a draft id past 32 bits, and NUL characters, were 500s."""
    _, client = fuzzed_app
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    checks = [
        (client.get("/v1/review/4611686018427387903", headers=admin), "draft_id"),  # path.draft_id
        (
            client.post(
                "/v1/drafts", json={"customer_id": "a\x00b", "kind": "welcome"}, headers=admin
            ),
            "customer_id",
        ),
        (
            client.post(
                "/v1/trackers",
                json={"name": "nul_test", "description": "x", "examples": ["a\x00"]},
                headers=admin,
            ),
            "examples",
        ),
        (client.get("/v1/customers/a%00b/context", headers=admin), "customer_id"),
        (client.get("/v1/search/customers", params={"q": "a\x00"}, headers=admin), "q"),
    ]
    for response, field in checks:
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"].split(".")[-1] == field
