"""The console's Vega-Lite specs: the weekly intents (every week present, zeros filled, the top
intents), and the lifts (a point at the difference, a bar over the 95% interval, a zero line)."""

from datetime import date
from typing import Any

import pytest

from api.console.charts import (
    intent_weeks_spec,
    lift_difference_text,
    lift_interval_text,
    lift_spec,
    top_intents,
    week_label,
)
from api.console.words import flow_label, name_words
from engine.intents.service import IntentWeek, week_starts
from engine.measure.report import ArmRow, FlowRow, LiftRow

WEEKS = week_starts(as_of=date(2026, 11, 20), weeks=12)
ROWS = [
    IntentWeek("pricing_interest", WEEKS[0], customers=2, messages=3),
    IntentWeek("pricing_interest", WEEKS[11], customers=1, messages=1),
    IntentWeek("support_issue", WEEKS[5], customers=4, messages=9),
    IntentWeek("discount_seeking", WEEKS[11], customers=3, messages=3),
    IntentWeek("grinder_noise", WEEKS[11], customers=1, messages=1),
]


def test_top_intents_rank_by_customers_then_messages_then_name() -> None:
    # Pricing and discounts tie on 3 customers; pricing has more messages (4 to 3).
    assert top_intents(ROWS, limit=10) == [
        "support_issue",
        "pricing_interest",
        "discount_seeking",
        "grinder_noise",
    ]
    assert top_intents(ROWS, limit=2) == ["support_issue", "pricing_interest"]
    tied = [IntentWeek(name, WEEKS[0], 1, 1) for name in ("b_intent", "a_intent")]
    assert top_intents(tied, limit=2) == ["a_intent", "b_intent"]
    assert top_intents([], limit=3) == []


def test_the_weekly_spec_has_every_week_of_each_intent_in_order() -> None:
    spec = intent_weeks_spec(
        ROWS, weeks=WEEKS, intents=["support_issue", "pricing_interest"], measure="customers"
    )
    values = spec["data"]["values"]
    assert len(values) == 2 * 12  # every week of both intents, the empty ones at zero
    pricing = [v for v in values if v["intent"] == "Pricing interest"]
    assert [v["week_start"] for v in pricing] == [w.isoformat() for w in WEEKS]
    assert [v["customers"] for v in pricing] == [2] + [0] * 10 + [1]
    assert [v["messages"] for v in pricing] == [3] + [0] * 10 + [1]
    support = [v for v in values if v["intent"] == "Support issue"]
    assert support[5] == {
        "intent": "Support issue",
        "week": "Oct 3",
        "week_start": "2026-10-03",
        "customers": 4,
        "messages": 9,
    }
    assert {v["intent"] for v in values} == {"Pricing interest", "Support issue"}  # top only
    encoding = spec["encoding"]
    assert encoding["x"]["field"] == "week" and encoding["x"]["type"] == "ordinal"
    assert encoding["x"]["sort"] == [week_label(w) for w in WEEKS]
    assert encoding["x"]["sort"][0] == "Aug 29" and encoding["x"]["sort"][-1] == "Nov 14"
    assert encoding["y"] == {
        "field": "customers",
        "type": "quantitative",
        "title": "Customers who asked",
        "axis": {"tickMinStep": 1, "format": "d"},
    }
    assert encoding["color"]["sort"] == ["Support issue", "Pricing interest"]
    assert spec["mark"] == {"type": "line", "point": True}
    assert spec["$schema"].endswith("/vega-lite/v6.json")
    messages = intent_weeks_spec(ROWS, weeks=WEEKS, intents=["support_issue"], measure="messages")
    assert messages["encoding"]["y"]["field"] == "messages"


def _arm(arm: str) -> ArmRow:
    return ArmRow.model_validate(
        {
            "arm": arm,
            "entries": 10,
            "recipients": 10,
            "delivered": 10,
            "clicks": 1,
            "orders_attributed": 1,
            "converted": 1,
            "conversion": 0.1,
            "revenue": "20.00",
            "revenue_per_recipient": 2.0,
            "unsubscribe_rate": 0.0,
            "complaint_rate": 0.0,
            "bounce_rate": 0.0,
        }
    )


def _lift(
    metric: str, versus: str, difference: float, low: float | None, high: float | None
) -> LiftRow:
    verdict = (
        "need more data"
        if low is None or high is None or low <= 0 <= high
        else ("better" if low > 0 else "worse")
    )
    return LiftRow.model_validate(
        {
            "metric": metric,
            "versus": versus,
            "difference": difference,
            "low": low,
            "high": high,
            "verdict": verdict,
        }
    )


FLOWS = [
    FlowRow(
        kind="welcome",
        step="d0",
        arms=[_arm("personal"), _arm("generic"), _arm("holdout")],
        lifts=[
            _lift("conversion", "generic", 0.05, -0.1, 0.2),
            _lift("revenue_per_recipient", "generic", 1.5, None, None),
            _lift("conversion", "holdout", 0.4, 0.31, 0.48),
            _lift("revenue_per_recipient", "holdout", -3.0, -5.0, -1.0),
        ],
    ),
    FlowRow(kind="win_back", step="d3", arms=[_arm("personal")], lifts=[]),
]


def _layer(spec: dict[str, Any], mark: str) -> dict[str, Any]:
    layers: list[dict[str, Any]] = [
        layer
        for layer in spec["layer"]
        if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark
    ]
    assert len(layers) == 1, f"{len(layers)} {mark} layers"
    return layers[0]


def test_the_lift_spec_draws_each_interval_from_low_to_high_around_zero() -> None:
    spec = lift_spec(FLOWS, metric="conversion")
    assert spec is not None
    values = spec["data"]["values"]
    # Conversion lifts in percentage points; the step without lifts adds nothing.
    assert values == [
        {
            "comparison": "Welcome, day 0 vs generic email",
            "flow": "Welcome, day 0",
            "versus": "generic",
            "difference": 5.0,
            "low": -10.0,
            "high": 20.0,
            "verdict": "need more data",
        },
        {
            "comparison": "Welcome, day 0 vs no email",
            "flow": "Welcome, day 0",
            "versus": "holdout",
            "difference": 40.0,
            "low": 31.0,
            "high": 48.0,
            "verdict": "better",
        },
    ]
    bar = _layer(spec, "errorbar")
    assert bar["encoding"]["x"]["field"] == "low" and bar["encoding"]["x2"] == {"field": "high"}
    assert bar["encoding"]["y"]["field"] == "comparison"
    assert bar["transform"] == [{"filter": "isValid(datum.low) && isValid(datum.high)"}]
    point = _layer(spec, "point")
    assert point["encoding"]["x"]["field"] == "difference"
    assert point["encoding"]["color"]["scale"]["domain"] == ["better", "worse", "need more data"]
    zero = _layer(spec, "rule")
    assert zero["encoding"] == {"x": {"datum": 0}}  # one line at zero, the full height


def test_the_revenue_lift_spec_keeps_money_and_a_missing_interval() -> None:
    spec = lift_spec(FLOWS, metric="revenue_per_recipient")
    assert spec is not None
    values = {v["versus"]: v for v in spec["data"]["values"]}
    assert (values["generic"]["low"], values["generic"]["high"]) == (None, None)
    assert values["generic"]["difference"] == 1.5
    assert (values["holdout"]["low"], values["holdout"]["high"]) == (-5.0, -1.0)
    assert values["holdout"]["verdict"] == "worse"
    assert _layer(spec, "point")["encoding"]["x"]["title"].startswith("Revenue per person")
    assert lift_spec(FLOWS[1:], metric="conversion") is None  # no comparison, no chart


def test_labels_and_texts_read_plainly() -> None:
    assert name_words("pricing_interest") == "Pricing interest"
    assert flow_label("post_purchase", "d14") == "After a purchase, day 14"
    assert flow_label("welcome", "custom") == "Welcome, custom"
    assert week_label(date(2026, 9, 5)) == "Sep 5"
    conversion, revenue = FLOWS[0].lifts[0], FLOWS[0].lifts[1]
    assert lift_difference_text(conversion) == "+5.0 pts"
    assert lift_interval_text(conversion) == "-10.0 pts to +20.0 pts"
    assert lift_difference_text(revenue) == "+1.50"
    assert lift_interval_text(revenue) == "no range yet"


@pytest.mark.parametrize("metric", ["conversion", "revenue_per_recipient"])
def test_every_lift_spec_layer_shares_one_x_title(metric: str) -> None:
    spec = lift_spec(FLOWS, metric=metric)  # type: ignore[arg-type]
    assert spec is not None
    titles = {
        layer["encoding"]["x"]["title"]
        for layer in spec["layer"]
        if "title" in layer["encoding"]["x"]
    }
    assert len(titles) == 1
