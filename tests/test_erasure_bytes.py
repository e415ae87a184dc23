"""After an erasure, no file under PERSONALIZE_HOME holds the customer's words, email, id or
message ids: not the SQLite file or its WAL, not the vector store's segments, payload indexes
or write-ahead log. One customer is forgotten over HTTP (DELETE), one by the command line."""

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.app import app
from embeddings.encoder import Encoder
from embeddings.store import EdgeStore
from engine.db import Database
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from engine.runtime import Services, vector_dir
from engine.settings import Settings

Headers = dict[str, dict[str, str]]
# Per customer: id, email, first name, and what they wrote (words no one else uses).
PEOPLE = {
    "zq-http-9132": (
        "ottoline.vexworth@example.org",
        "Ottoline",
        [
            "I run Vexworth Ceramics, a tiny studio by the canal.",
            "The kilnwright app keeps crashing when I pair the card reader.",
            "Since the chemo I can't taste the quetzal roast at all.",
        ],
    ),
    "zq-cli-4471": (
        "barnabus.quillfeather@example.net",
        "Barnabus",
        [
            "We brew with a Zanzibarista lever machine at the bakery.",
            "Please don't email me about the glimmerwick grinder.",
            "Call me on 555-867-5309 about the order.",
        ],
    ),
    "kept-1": (
        "tom@example.com",
        "Tom",
        ["I run a small bakery and the card reader will not pair."],
    ),
}
ERASED = ["zq-http-9132", "zq-cli-4471"]


def needles(customer_id: str) -> list[bytes]:
    """Their id (also inside every message and conversation id), email, name and words."""
    email, name, lines = PEOPLE[customer_id]
    words = [w.strip(".,") for line in lines for w in line.split() if len(w.strip(".,")) > 7]
    distinctive = [w for w in words if w.lower() not in {"crashing", "bakery", "machine"}]
    return [s.lower().encode() for s in [customer_id, email, name, *distinctive]]


def found_in(home: Path, wanted: list[bytes]) -> list[tuple[str, bytes]]:
    """(file, needle) for each needle found in a file under home, as stored or lower-cased."""
    hits = []
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        lowered = data.lower()
        hits += [(str(path.relative_to(home)), n) for n in wanted if n in data or n in lowered]
    return hits


def load(client: TestClient, auth: Headers) -> None:
    for customer_id, (email, name, lines) in PEOPLE.items():
        body: dict[str, Any] = {"id": customer_id, "email": email, "first_name": name}
        assert client.post("/v1/customers", json=body, headers=auth["ingest"]).status_code == 201
        transcript: dict[str, Any] = {
            "conversation_id": f"conv-{customer_id}",
            "customer_id": customer_id,
            "messages": [
                {
                    "id": f"{customer_id}-m{n}",
                    "role": "customer",
                    "text": text,
                    "sent_at": f"2026-11-{10 + n}T10:00:00Z",
                }
                for n, text in enumerate(lines)
            ]
            + [
                {
                    "id": f"{customer_id}-agent",
                    "role": "agent",
                    "text": f"Thanks {name}, we will look into it.",
                    "sent_at": "2026-11-20T10:00:00Z",
                }
            ],
        }
        posted = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
        assert posted.status_code == 202


def test_no_file_under_the_home_holds_an_erased_customer(
    settings: Settings,
    db: Database,
    auth: Headers,
    encoder: Encoder,
    intent_model: IntentModel,
    fact_extractor: FactExtractor,
) -> None:
    home = settings.personalize_home
    store = EdgeStore(vector_dir(settings), dimension=encoder.dimension)
    services = Services(
        db=db,
        encoder=encoder,
        store=store,
        intents=IntentModel(classifier=intent_model.classifier),
        facts=fact_extractor,
    )
    erased = [n for customer_id in ERASED for n in needles(customer_id)]
    try:
        with TestClient(create_app(settings, services=services, run_worker=False)) as client:
            load(client, auth)
            services.pipeline().run_until_idle()
            # The test can fail: their ids (and on SQLite their words) are in the files.
            before = {needle for _, needle in found_in(home, erased)}
            assert {customer_id.encode() for customer_id in ERASED} <= before
            if db.is_sqlite:
                assert before == set(erased)
            gone = client.delete("/v1/customers/zq-http-9132", headers=auth["admin"])
            assert gone.status_code == 200 and gone.json()["removed"]["vectors"] >= 2
    finally:
        store.close()
    env = {"PERSONALIZE_HOME": str(home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    runner = CliRunner()
    forgot = runner.invoke(
        app, ["forget", "zq-cli-4471", "--yes", "--vacuum-full", "--json"], env=env
    )
    assert forgot.exit_code == 0, forgot.output
    report = json.loads(forgot.stdout)
    assert report["removed"]["vectors"] >= 2
    # PostgreSQL rewrites the tables their rows were in; SQLite zeroed them already.
    assert (report["vacuumed"] != []) == (not db.is_sqlite)
    assert "messages" in report["vacuumed"] or db.is_sqlite

    assert found_in(home, erased) == []
    # Everyone else is still there, and searchable.
    assert found_in(home, [b"kept-1"]) != []
    answer = runner.invoke(app, ["search", "card reader will not pair", "--json"], env=env)
    assert [c["customer_id"] for c in json.loads(answer.stdout)["customers"]] == ["kept-1"]
