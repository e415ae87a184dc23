"""`GET /v1/reports/flows`: the flow report for marketers, over a period."""

from datetime import timedelta
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.db import Database
from engine.models import FlowEntry
from tests.builders import AS_OF, customer
from tests.measure_rows import small_campaign

Headers = dict[str, dict[str, str]]
PERIOD = urlencode({"since": (AS_OF - timedelta(days=30)).isoformat(), "until": AS_OF.isoformat()})


def test_the_flow_report_over_http(client: TestClient, auth: Headers, db: Database) -> None:
    small_campaign(db)
    response = client.get(f"/v1/reports/flows?{PERIOD}", headers=auth["marketer"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) == {
        "since",
        "until",
        "generated_at",
        "attribution",
        "simulated",
        "newly_attributed",
        "flows",
    }
    assert data["attribution"]["rule"].startswith("last click within 5 days")
    assert data["newly_attributed"] == 2 and data["simulated"] is False
    (flow,) = data["flows"]
    assert (flow["kind"], flow["step"]) == ("welcome", "d0")
    arms = {row["arm"]: row for row in flow["arms"]}
    assert [arms[a]["recipients"] for a in ("personal", "generic", "holdout")] == [3, 2, 3]
    assert arms["personal"]["revenue"] == "50.00"
    assert arms["holdout"]["bounce_rate"] is None
    assert len(flow["lifts"]) == 4
    assert {lift["verdict"] for lift in flow["lifts"]} == {"need more data"}
    # The whole history, and an empty period.
    everything = client.get("/v1/reports/flows", headers=auth["marketer"]).json()
    assert len(everything["flows"]) == 2
    empty = client.get(
        "/v1/reports/flows", params={"since": AS_OF.isoformat()}, headers=auth["marketer"]
    )
    assert empty.status_code == 200 and empty.json()["flows"] == []


def test_the_flow_report_needs_the_marketer_scope_and_a_sane_period(
    client: TestClient, auth: Headers
) -> None:
    assert client.get("/v1/reports/flows").status_code == 401
    assert client.get("/v1/reports/flows", headers=auth["ingest"]).status_code == 403
    naive = client.get("/v1/reports/flows?since=2026-01-01T00:00:00", headers=auth["marketer"])
    assert naive.status_code == 422
    backwards = client.get(
        "/v1/reports/flows",
        params={"since": AS_OF.isoformat(), "until": (AS_OF - timedelta(days=1)).isoformat()},
        headers=auth["marketer"],
    )
    assert backwards.status_code == 422


def test_a_campaign_run_takes_holdout_and_ab(
    client: TestClient, auth: Headers, db: Database
) -> None:
    for n in range(6):
        customer(db, f"s{n}", subscribed_days_ago=1)
    url = "/v1/campaigns/welcome/run"
    for bad in (1.0, -0.5, "lots"):
        refused = client.post(url, json={"holdout": bad}, headers=auth["marketer"])
        assert refused.status_code == 422
    body = {"as_of": AS_OF.isoformat(), "holdout": 0.5, "ab": True}
    run = client.post(url, json=body, headers=auth["marketer"])
    assert run.status_code == 200, run.text
    data = run.json()
    assert data["due"] == 6 and data["held_out"] + data["created"] == 6
    assert 0 <= data["generic"] <= data["created"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(FlowEntry)) == 6
    # The old contract still holds: no body at all.
    again = client.post(url, headers=auth["marketer"])
    assert again.status_code == 200 and again.json()["held_out"] == 0
