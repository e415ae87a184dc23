"""The flow report on hand-built campaigns with known answers: recipients (sent only), delivered,
clicks (people's), attributed orders, conversion the same way for every arm, revenue, rates,
the lifts and their verdicts, the period, the simulated mark; and `personalize report --json`."""

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.app import app
from engine.db import Database
from engine.measure.report import FlowReport, flow_report
from engine.models import Customer, EmailSend, FlowEntry
from engine.settings import Settings
from tests.builders import AS_OF, customer
from tests.measure_rows import (
    T0,
    add_draft,
    add_event,
    add_order,
    day,
    draft_row,
    enter,
    small_campaign,
)


def run(db: Database, **window: datetime | None) -> FlowReport:
    with db.write() as session:
        return flow_report(
            session,
            since=window.get("since", AS_OF - timedelta(days=30)),
            until=window.get("until", AS_OF),
            click_days=5,
            delivered_days=1,
            now=AS_OF,
        )


def test_the_report_counts_a_small_campaign(db: Database) -> None:
    small_campaign(db)
    result = run(db)
    assert result.newly_attributed == 2  # o-p1 (click) and o-g2 (click)
    assert result.simulated is False
    assert result.attribution.rule == "last click within 5 days, else last delivered within 1 day"
    assert [(f.kind, f.step) for f in result.flows] == [("welcome", "d0")]
    rows = {row.arm: row.model_dump() for row in result.flows[0].arms}
    assert list(rows) == ["personal", "generic", "holdout"]
    third = pytest.approx(1 / 3)
    assert rows["personal"] == {
        "arm": "personal",
        "entries": 4,
        "recipients": 3,
        "delivered": 2,
        "clicks": 1,
        "orders_attributed": 1,
        "converted": 1,
        "conversion": third,
        "revenue": Decimal("50.00"),
        "revenue_per_recipient": pytest.approx(50 / 3),
        "unsubscribe_rate": third,
        "complaint_rate": 0.0,
        "bounce_rate": third,
    }
    assert rows["generic"] == {
        "arm": "generic",
        "entries": 2,
        "recipients": 2,
        "delivered": 2,
        "clicks": 1,
        "orders_attributed": 1,
        "converted": 1,
        "conversion": 0.5,
        "revenue": Decimal("10.00"),
        "revenue_per_recipient": 5.0,
        "unsubscribe_rate": 0.0,
        "complaint_rate": 0.5,
        "bounce_rate": 0.0,
    }
    # Held out: converted the same way (a purchase within 5 days of entering), no email rates.
    assert rows["holdout"] == {
        "arm": "holdout",
        "entries": 3,
        "recipients": 3,
        "delivered": 0,
        "clicks": 0,
        "orders_attributed": 0,
        "converted": 1,
        "conversion": third,
        "revenue": Decimal("40.00"),
        "revenue_per_recipient": pytest.approx(40 / 3),
        "unsubscribe_rate": None,
        "complaint_rate": None,
        "bounce_rate": None,
    }
    lifts = {(lift.metric, lift.versus): lift for lift in result.flows[0].lifts}
    assert set(lifts) == {
        ("conversion", "generic"),
        ("conversion", "holdout"),
        ("revenue_per_recipient", "generic"),
        ("revenue_per_recipient", "holdout"),
    }
    assert lifts["conversion", "generic"].difference == pytest.approx(1 / 3 - 1 / 2)
    assert lifts["conversion", "holdout"].difference == pytest.approx(0.0)
    assert lifts["revenue_per_recipient", "holdout"].difference == pytest.approx(10 / 3)
    assert {lift.verdict for lift in lifts.values()} == {"need more data"}
    # Attribution ran once: a second report adds nothing and counts the same.
    again = run(db)
    assert again.newly_attributed == 0
    assert again.flows == result.flows


def test_the_period_selects_entries_and_a_simulated_event_marks_the_report(
    db: Database,
) -> None:
    small_campaign(db)
    everything = run(db, since=None, until=None)
    assert [(f.kind, f.step) for f in everything.flows] == [("welcome", "d0"), ("welcome", "d3")]
    assert run(db, since=T0 + timedelta(seconds=1)).flows == []
    assert run(db, until=T0).flows == []  # until is exclusive
    assert run(db, since=T0, until=T0 + timedelta(seconds=1)).flows[0].arms[0].entries == 4
    old = everything.flows[1].arms[0]
    assert (old.arm, old.recipients, old.converted) == ("personal", 1, 0)
    assert old.conversion == 0.0 and everything.flows[1].lifts == []
    p3_draft = add_draft(db, "p3", step="d7")  # another email of theirs: not counted
    add_event(db, p3_draft, "p3", "clicked", day(0.5), simulated=True)
    assert run(db).simulated is False
    sim = enter(db, "sim", "personal")
    assert sim is not None
    add_event(db, sim, "sim", "delivered", day(0.1), simulated=True)
    assert run(db).simulated is True


def test_a_clear_difference_gets_a_verdict(db: Database) -> None:
    with db.write() as session:
        session.add_all(Customer(id=f"c{n}", marketing_consent=True) for n in range(400))
        session.flush()
        drafts = [draft_row(f"c{n}") for n in range(200)]
        session.add_all(drafts)
        session.flush()
        for n in range(400):
            draft_id = drafts[n].id if n < 200 else None
            session.add(
                FlowEntry(
                    customer_id=f"c{n}",
                    kind="welcome",
                    step="d0",
                    anchor="a",
                    arm="personal" if draft_id else "holdout",
                    draft_id=draft_id,
                    entered_at=T0,
                )
            )
            if draft_id is not None:
                session.add(
                    EmailSend(
                        draft_id=draft_id,
                        customer_id=f"c{n}",
                        message_id=f"<c{n}@test>",
                        transport="test",
                        state="sent",
                    )
                )
    # Half of the personal arm buys (30.00), a tenth of the held out.
    for n in [*range(0, 200, 2), *range(200, 400, 10)]:
        add_order(db, f"o{n}", f"c{n}", day(1), total="30.00")
    result = run(db)
    rows = {row.arm: row for row in result.flows[0].arms}
    assert (rows["personal"].recipients, rows["personal"].converted) == (200, 100)
    assert (rows["holdout"].recipients, rows["holdout"].converted) == (200, 20)
    lifts = {(lift.metric, lift.versus): lift for lift in result.flows[0].lifts}
    conversion = lifts["conversion", "holdout"]
    assert conversion.difference == pytest.approx(0.4)
    assert conversion.low is not None and conversion.low > 0
    assert conversion.verdict == "better"
    assert lifts["revenue_per_recipient", "holdout"].verdict == "better"
    assert lifts["revenue_per_recipient", "holdout"].difference == pytest.approx(15.0 - 3.0)


def test_the_report_command_prints_json_and_tables(db: Database, settings: Settings) -> None:
    small_campaign(db)
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    runner = CliRunner()
    since = ["--since", (AS_OF - timedelta(days=30)).date().isoformat()]
    result = runner.invoke(app, ["report", *since, "--json"], env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["attribution"]["click_days"] == 5 and data["simulated"] is False
    (flow,) = data["flows"]
    arms = {row["arm"]: row for row in flow["arms"]}
    assert (arms["personal"]["recipients"], arms["generic"]["clicks"]) == (3, 1)
    assert arms["holdout"]["revenue"] == "40.00"
    assert {lift["verdict"] for lift in flow["lifts"]} == {"need more data"}
    table = runner.invoke(app, ["report", *since], env=env)
    assert table.exit_code == 0, table.output
    assert "welcome d0" in table.stdout and "need more data" in table.stdout
    assert "last click within 5 days" in table.stdout
    backwards = runner.invoke(app, ["report", "--since", "2026-02-01", "--until", "2026-01-01"])
    assert backwards.exit_code == 2


def test_campaign_run_takes_holdout_and_ab_on_the_command_line(
    db: Database, settings: Settings
) -> None:
    from cli.app import app

    for n in range(6):
        customer(db, f"s{n}", subscribed_days_ago=1)
    env = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    runner = CliRunner()
    args = ["campaign", "run", "--kind", "welcome", "--as-of", AS_OF.isoformat()]
    refused = runner.invoke(app, [*args, "--holdout", "1"], env=env)
    assert refused.exit_code == 2 and "holdout" in refused.stderr
    result = runner.invoke(app, [*args, "--holdout", "0.5", "--ab", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["due"] == 6 and data["held_out"] + data["created"] == 6
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(FlowEntry)) == 6
