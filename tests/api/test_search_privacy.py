"""What search may find and quote, over HTTP on real embeddings: nothing sensitive (every
category), no personal data, no opt-out, nothing a customer said is not so of themselves."""

import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.app import app
from engine.runtime import Services
from engine.search.evidence import sensitive_category
from engine.settings import Settings

Headers = dict[str, dict[str, str]]
# Per sensitive category: what a customer said, a question that touches the category, and a
# question about the rest of what they said (which must not find them through it either).
SENSITIVE = {
    "health": (
        "Since the chemo everything tastes of metal, even your espresso.",
        "customers going through chemo",
        "customers whose espresso tastes of metal",
    ),
    "pregnancy": (
        "I'm pregnant so I need a decaf that still tastes good.",
        "pregnant customers",
        "customers looking for a decaf that tastes good",
    ),
    "religion": (
        "During Ramadan we open the cafe after sunset and need more cold brew.",
        "customers who observe Ramadan",
        "cafes that need more cold brew",
    ),
    "politics": (
        "I voted for the greens and only buy fair trade beans.",
        "customers who voted for the greens",
        "customers who only buy fair trade beans",
    ),
    "sexuality": (
        "As a gay couple we run a small guesthouse and serve your coffee at breakfast.",
        "gay customers",
        "guesthouses serving coffee at breakfast",
    ),
    "ethnicity": (
        "As an immigrant I started this coffee cart with nothing.",
        "immigrant customers",
        "customers who run a coffee cart",
    ),
    "union": (
        "I'm the union rep at the depot and order the coffee for our break room.",
        "customers in a trade union",
        "customers ordering coffee for a break room",
    ),
    "money_trouble": (
        "Money is tight since I lost my job so I need to pause the subscription.",
        "customers who lost their job",
        "customers who want to pause their subscription",
    ),
    "bereavement_divorce": (
        "After my divorce I moved into a flat with a tiny kitchen and need a small grinder.",
        "divorced customers",
        "customers who need a small grinder",
    ),
    "criminal_record": (
        "I have a criminal record so the catering job fell through and I'm baking from home.",
        "customers with a criminal record",
        "customers baking from home",
    ),
}


def post(client: TestClient, auth: Headers, customer: str, *texts: str) -> None:
    """One conversation of customer turns, a day apart."""
    body: dict[str, Any] = {
        "conversation_id": f"conv-{customer}",
        "customer_id": customer,
        "messages": [
            {
                "id": f"{customer}-{n}",
                "role": "customer",
                "text": text,
                "sent_at": f"2026-11-{10 + n}T10:00:00Z",
            }
            for n, text in enumerate(texts)
        ],
    }
    assert client.post("/v1/transcripts", json=body, headers=auth["ingest"]).status_code == 202


def ask(client: TestClient, auth: Headers, query: str) -> dict[str, Any]:
    """The search answer's body."""
    response = client.get("/v1/search/customers", params={"q": query}, headers=auth["marketer"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_no_sensitive_category_is_searchable_or_quoted(
    client: TestClient, auth: Headers, services: Services
) -> None:
    for category, (said, _, _) in SENSITIVE.items():
        post(client, auth, f"s-{category}", said)
    post(client, auth, "plain", "I need a small grinder for my espresso, something quiet.")
    services.pipeline().run_until_idle()
    wrong = []
    for category, (_, sensitive, neighbour) in SENSITIVE.items():
        refused = ask(client, auth, sensitive)
        if (
            refused["customers"]
            or not refused["refused"]
            or category.replace("_", " ") not in refused["reason"]
        ):
            wrong.append((category, sensitive, refused))
        # The rest of what they said finds nobody through the sensitive sentence (it is not
        # indexed), and no answer quotes anything sensitive.
        answer = ask(client, auth, neighbour)
        quotes = [e["text"] for c in answer["customers"] for e in c["evidence"]]
        if f"s-{category}" in {c["customer_id"] for c in answer["customers"]} or any(
            sensitive_category(quote) for quote in quotes
        ):
            wrong.append((category, neighbour, answer))
        if answer["refused"] or answer["reason"] is not None:
            wrong.append((category, neighbour, answer))
    assert wrong == []
    # The refusal is in the OpenAPI schema a client reads.
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SearchRead"]
    assert {"refused", "reason"} <= set(schema["properties"])


def test_personal_data_is_never_quoted(
    client: TestClient, auth: Headers, services: Services
) -> None:
    post(client, auth, "pii", "my card 4242 4242 4242 4242 got declined at checkout twice")
    post(client, auth, "clean", "my card got declined at checkout, what is wrong?")
    services.pipeline().run_until_idle()
    answer = ask(client, auth, "customers whose card was declined at checkout")
    found = {c["customer_id"]: c["evidence"] for c in answer["customers"]}
    assert "clean" in found
    # Redacted or not, a sentence holding personal data does not stand for anyone.
    assert "pii" not in found
    assert not any("[card]" in e["text"] for quotes in found.values() for e in quotes)


def test_opt_outs_and_denials_are_never_evidence_but_trouble_is(
    client: TestClient, auth: Headers, services: Services
) -> None:
    post(client, auth, "k-optout", "I run a pottery studio.", "please don't email me about kilns")
    post(client, auth, "k-broken", "My kiln is broken, the element keeps failing.")
    post(client, auth, "k-denied", "I'm not interested in kilns.")
    post(client, auth, "k-both", "please don't email me about kilns", "my kiln is broken again")
    post(client, auth, "g-none", "we don't have a grinder")
    post(client, auth, "g-broken", "my grinder is broken, it just hums")
    post(client, auth, "g-cannot", "I can't get it to grind, the burrs just spin.")
    post(client, auth, "g-stopped", "I no longer use a grinder, I buy ground coffee now.")
    post(client, auth, "r-reader", "the card reader won't pair with my phone")
    services.pipeline().run_until_idle()
    kilns = {
        c["customer_id"] for c in ask(client, auth, "customers whose kiln is broken")["customers"]
    }
    assert "k-broken" in kilns
    # An opt-out is not interest; neither is a refusal; and who opted out of kilns is nobody's
    # kiln customer, whatever else they said about kilns.
    assert kilns.isdisjoint({"k-optout", "k-denied", "k-both"})
    grinders = ask(client, auth, "customers whose grinder is broken")["customers"]
    found = {c["customer_id"] for c in grinders}
    assert {"g-broken", "g-cannot"} <= found
    assert found.isdisjoint({"g-none", "g-stopped"})
    readers = ask(client, auth, "customers whose card reader won't connect")["customers"]
    assert "r-reader" in {c["customer_id"] for c in readers}


def test_the_command_line_refuses_a_sensitive_question(settings: Settings) -> None:
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    runner = CliRunner()
    result = runner.invoke(app, ["search", "customers who lost their job", "--json"], env=env)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["customers"] == [] and answer["refused"] is True
    assert "money trouble" in answer["reason"]
    spoken = runner.invoke(app, ["search", "customers who lost their job"], env=env)
    assert spoken.exit_code == 0 and "sensitive category (money trouble)" in spoken.stdout
