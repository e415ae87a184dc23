"""The console under test: the sample business processed once and copied for each test,
served by uvicorn on loopback; people to sign in as; Debian's Chromium driven by Playwright."""

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from chat_ingest.jsonl import import_file
from cli.demo import DEMO_AS_OF, SAMPLE_DIR, SAMPLE_FILES
from embeddings.encoder import Encoder
from engine.db import Database
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import VoiceGuide, set_voice
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from engine.models import DRAFT_KINDS
from engine.runtime import Services, build_services
from engine.settings import Settings
from engine.users import create_user
from tests.console_helpers import ADMIN, MARKETER
from tests.servers import running

CHROMIUM = Path("/usr/bin/chromium")


def add_people(db: Database) -> None:
    """The two people every console test can sign in as."""
    with db.write() as session:
        for person in (ADMIN, MARKETER):
            create_user(session, email=person.email, password=person.password, role=person.role)


def home_settings(home: Path) -> Settings:
    """The embedded default in `home`, nothing sent anywhere."""
    return Settings(
        personalize_home=home,
        database_url=None,
        qdrant_url=None,
        anthropic_api_key=None,
        shopify_webhook_secret=None,
    )


def _services(
    settings: Settings, encoder: Encoder, intent_model: IntentModel, facts: FactExtractor
) -> Services:
    """The session's models over the home's own database and vector store."""
    return build_services(
        settings,
        encoder=encoder,
        intents=IntentModel(classifier=intent_model.classifier),
        facts=facts,
    )


@pytest.fixture(scope="session")
def sample_home(
    tmp_path_factory: pytest.TempPathFactory,
    encoder: Encoder,
    intent_model: IntentModel,
    fact_extractor: FactExtractor,
) -> Path:
    """The sample business, processed, with its voice guide, people, and the three campaigns'
    drafts waiting in the review queue; built once, copied by each test that uses it."""
    home = tmp_path_factory.mktemp("sample") / "home"
    settings = home_settings(home)
    services = _services(settings, encoder, intent_model, fact_extractor)
    db = services.db
    for file_kind, name in SAMPLE_FILES:
        import_file(db, path=SAMPLE_DIR / name, kind=file_kind)
    services.pipeline().run_until_idle()
    guide = VoiceGuide.model_validate(json.loads((SAMPLE_DIR / "voice.json").read_text()))
    with db.write() as session:
        set_voice(session, guide=guide, actor="test")
    for kind in DRAFT_KINDS:
        run_campaign(db, drafter=TemplateDrafter(), kind=kind, as_of=DEMO_AS_OF, actor="test")
    add_people(db)
    services.close()
    return home


@dataclass
class Console:
    """A console served on loopback over its own copy of the sample home."""

    url: str
    db: Database
    services: Services
    settings: Settings


@pytest.fixture
def console(
    sample_home: Path,
    tmp_path: Path,
    encoder: Encoder,
    intent_model: IntentModel,
    fact_extractor: FactExtractor,
) -> Iterator[Console]:
    """The app with the console, served over a fresh copy of the sample home."""
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    settings = home_settings(home)
    services = _services(settings, encoder, intent_model, fact_extractor)
    app = create_app(settings, services=services, run_worker=False)
    with running(app) as url:
        yield Console(url=url, db=services.db, services=services, settings=settings)
    services.close()


# Flags Chromium needs on this closed network (no background calls home) and as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium, never a browser of its own download."""
    if not CHROMIUM.exists():
        message = (
            "the browser tests need Debian's Chromium at /usr/bin/chromium: "
            "`sudo apt-get install -y chromium` (make test installs it when run as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A laptop-sized window; tests that check the phone layout set their own."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def people(db: Database) -> None:
    """The two console people in the test's database (for TestClient tests on both backends)."""
    add_people(db)
