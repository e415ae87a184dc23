"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL when configured."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from api.app import create_app
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.store import EdgeStore
from engine.apikeys import create_key
from engine.db import Database
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from engine.intents.service import build_intent_model
from engine.runtime import Services, load_fact_extractor
from engine.settings import Settings, normalize_database_url

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])

# CI replays the same property examples every run, so a red build always means a change broke
# something; `make test` on a workstation keeps exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store: SQLite in a temporary home, or a wiped PostgreSQL."""
    database_url = None
    if request.param == "postgresql":
        assert TEST_DATABASE_URL
        reset_postgres(TEST_DATABASE_URL)
        database_url = TEST_DATABASE_URL
    return Settings(
        personalize_home=tmp_path / "home",
        database_url=database_url,
        qdrant_url=None,
        anthropic_api_key=None,
        shopify_webhook_secret=None,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated database."""
    database = Database(settings)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def keys(db: Database) -> dict[str, str]:
    """One API key per scope, by scope name."""
    made = {}
    with db.write() as session:
        for scope in ("ingest", "marketer", "admin"):
            made[scope] = create_key(session, name=f"test-{scope}", scopes=[scope])[1]
    return made


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real bundled encoder, loaded once per test session."""
    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def intent_model(encoder: Encoder) -> IntentModel:
    """The built-in taxonomy's classifier, fitted once per test session."""
    return build_intent_model(encoder)


@pytest.fixture(scope="session")
def fact_extractor() -> FactExtractor:
    """The fact extractor on the real bundled spaCy pipeline, loaded once per test session."""
    return load_fact_extractor(Settings())


@pytest.fixture
def services(
    settings: Settings,
    db: Database,
    encoder: Encoder,
    intent_model: IntentModel,
    fact_extractor: FactExtractor,
) -> Iterator[Services]:
    """Encoder, a fresh embedded vector store, the intent model (own tracker list), the fact
    extractor and `db`."""
    store = EdgeStore(settings.personalize_home / "vectors", dimension=encoder.dimension)
    yield Services(
        db=db,
        encoder=encoder,
        store=store,
        intents=IntentModel(classifier=intent_model.classifier),
        facts=fact_extractor,
    )
    store.close()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    """The API in-process on `services`; tests run the pipeline themselves when they need it."""
    with TestClient(create_app(settings, services=services, run_worker=False)) as test_client:
        yield test_client


@pytest.fixture
def auth(keys: dict[str, str]) -> dict[str, dict[str, str]]:
    """Authorization headers per scope: `auth["ingest"]`."""
    return {scope: {"Authorization": f"Bearer {key}"} for scope, key in keys.items()}
