"""The whole loop from the command line, as an owner runs it: draft, approve, send to a local
SMTP server, take back the provider's events over HTTP, import the orders that followed, and
read the report."""

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.app import app
from engine.runtime import Services
from engine.settings import Settings
from tests.builders import AS_OF, customer
from tests.smtp import smtp_server

runner = CliRunner()
Headers = dict[str, dict[str, str]]


def test_approve_send_events_orders_report(
    settings: Settings, services: Services, client: TestClient, auth: Headers, tmp_path: Path
) -> None:
    for n in range(4):
        customer(services.db, f"c{n}", subscribed_days_ago=1)
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    as_of = ["--as-of", AS_OF.isoformat()]
    ran = runner.invoke(app, ["campaign", "run", "--kind", "welcome", *as_of, "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    queue = json.loads(runner.invoke(app, ["review", "list", "--json"], env=env).stdout)
    for draft in queue:
        approved = runner.invoke(app, ["review", "approve", str(draft["id"])], env=env)
        assert approved.exit_code == 0, approved.output

    with smtp_server() as (inbox, port, _):
        sending = env | {
            "EMAIL_TRANSPORT": "smtp",
            "SMTP_URL": f"smtp://127.0.0.1:{port}",
            "EMAIL_FROM": "Shop <hello@shop.example>",
            "BUSINESS_ADDRESS": "1 Main St, Springfield",
            "PUBLIC_URL": "https://shop.example",
        }
        sent = runner.invoke(app, ["send", "--json"], env=sending)
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout)["sent"] == 4 == len(inbox.messages)

    # The provider reports what happened; c0 and c1 click, c0 then orders within the window.
    at = (AS_OF + timedelta(hours=2)).isoformat()
    events = []
    for message in inbox.messages:
        draft_id = int(str(message["X-Personalize-Draft"]))
        to = str(message["To"])
        events.append({"id": f"d{draft_id}", "event": "delivered", "at": at, "draft_id": draft_id})
        if "c0@" in to or "c1@" in to:
            events.append(
                {"id": f"k{draft_id}", "event": "clicked", "at": at, "draft_id": draft_id}
            )
    stored = client.post(
        "/v1/webhooks/email/generic", content=json.dumps(events), headers=auth["ingest"]
    )
    assert stored.json()["stored"] == len(events) == 6
    orders = tmp_path / "orders.jsonl"
    order = {
        "order_id": "o1",
        "customer_id": "c0",
        "placed_at": (AS_OF + timedelta(days=1)).isoformat(),
        "currency": "USD",
        "total": "42.00",
        "items": [{"sku": "BEANS", "name": "Beans", "quantity": 1, "unit_price": "42.00"}],
    }
    orders.write_text(json.dumps(order) + "\n")
    assert runner.invoke(app, ["import", "orders", str(orders)], env=env).exit_code == 0

    since = (AS_OF - timedelta(days=1)).date().isoformat()
    report = runner.invoke(app, ["report", "--since", since, "--json"], env=env)
    assert report.exit_code == 0, report.output
    data = json.loads(report.stdout)
    rows = [arm for flow in data["flows"] for arm in flow["arms"] if arm["arm"] == "personal"]
    assert sum(r["recipients"] for r in rows) == 4
    assert sum(r["delivered"] for r in rows) == 4
    assert sum(r["clicks"] for r in rows) == 2
    assert sum(r["orders_attributed"] for r in rows) == 1
    assert sum(float(r["revenue"]) for r in rows) == 42.0
    assert data["simulated"] is False


def test_sending_without_a_required_setting_names_it(settings: Settings) -> None:
    env = {"PERSONALIZE_HOME": str(settings.personalize_home), "EMAIL_TRANSPORT": "smtp"}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    missing_url = runner.invoke(app, ["send"], env=env)
    assert missing_url.exit_code == 2 and "SMTP_URL" in missing_url.stderr
    missing_address = runner.invoke(app, ["send"], env=env | {"SMTP_URL": "smtp://127.0.0.1:1"})
    assert missing_address.exit_code == 2 and "EMAIL_FROM" in missing_address.stderr
    nothing = runner.invoke(app, ["send", "--json"], env=env | {"EMAIL_TRANSPORT": "none"})
    assert nothing.exit_code == 0 and json.loads(nothing.stdout) == {"transport": "none", "sent": 0}
