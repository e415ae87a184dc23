"""The console's charts as Vega-Lite specs (plain dicts the page carries as JSON data blocks and
console.js draws with the vendored Vega-Lite): weekly intents, and the report's lifts with
their confidence intervals."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from api.console.words import flow_label, name_words
from engine.intents.service import IntentWeek
from engine.measure.report import FlowRow, LiftRow

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
Measure = Literal["customers", "messages"]
Metric = Literal["conversion", "revenue_per_recipient"]

# The console's own colours (console.css): a verdict reads the same in the chart and the table.
VERDICT_COLOURS = {"better": "#1a7f37", "worse": "#b42318", "need more data": "#57606a"}
VERSUS_LABELS = {"generic": "vs generic email", "holdout": "vs no email"}
# Labels a little larger than Vega's 10 px defaults: read on a laptop and on a phone.
CONFIG = {
    "axis": {"labelFontSize": 12, "titleFontSize": 12},
    "legend": {"labelFontSize": 12, "titleFontSize": 12},
}
MEASURE_TITLES: dict[Measure, str] = {
    "customers": "Customers who asked",
    "messages": "Messages",
}
METRIC_TITLES: dict[Metric, str] = {
    "conversion": "Bought: personal minus the other group (percentage points)",
    "revenue_per_recipient": "Revenue per person: personal minus the other group",
}


def week_label(day: date) -> str:
    """A week by its first day, short: "Aug 29"."""
    return f"{day:%b} {day.day}"


def top_intents(rows: Sequence[IntentWeek], *, limit: int) -> list[str]:
    """The intents with the most customers over all the weeks (then messages, then name)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row.intent][0] += row.customers
        totals[row.intent][1] += row.messages
    ranked = sorted(totals, key=lambda name: (-totals[name][0], -totals[name][1], name))
    return ranked[:limit]


def weekly_values(
    rows: Sequence[IntentWeek], *, weeks: Sequence[date], intents: Sequence[str]
) -> list[dict[str, Any]]:
    """One point per intent and week, a week without the intent counting zero."""
    found = {(r.intent, r.week_start): r for r in rows}
    values = []
    for intent in intents:
        for week in weeks:
            row = found.get((intent, week))
            values.append(
                {
                    "intent": name_words(intent),
                    "week": week_label(week),
                    "week_start": week.isoformat(),
                    "customers": row.customers if row else 0,
                    "messages": row.messages if row else 0,
                }
            )
    return values


def intent_weeks_spec(
    rows: Sequence[IntentWeek],
    *,
    weeks: Sequence[date],
    intents: Sequence[str],
    measure: Measure,
) -> dict[str, Any]:
    """A line per intent across the weeks, of customers or of messages."""
    title = MEASURE_TITLES[measure]
    return {
        "$schema": SCHEMA,
        "description": f"{title} per intent per week, {len(weeks)} weeks",
        "width": "container",
        "height": 260,
        "config": CONFIG,
        "data": {"values": weekly_values(rows, weeks=weeks, intents=intents)},
        "mark": {"type": "line", "point": True},
        "encoding": {
            # Weeks are categories in order (labels by their first day): no time zones to
            # shift a date across midnight in the browser.
            "x": {
                "field": "week",
                "type": "ordinal",
                "sort": [week_label(w) for w in weeks],
                "title": "Week starting",
                "axis": {"labelAngle": -45},
            },
            "y": {
                "field": measure,
                "type": "quantitative",
                "title": title,
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "color": {
                "field": "intent",
                "type": "nominal",
                "title": "Intent",
                "sort": [name_words(i) for i in intents],
                "legend": {"orient": "bottom", "columns": 2, "labelLimit": 240},
            },
            "tooltip": [
                {"field": "intent", "title": "Intent"},
                {"field": "week", "title": "Week starting"},
                {"field": "customers", "type": "quantitative", "title": "Customers"},
                {"field": "messages", "type": "quantitative", "title": "Messages"},
            ],
        },
    }


def lift_values(flows: Sequence[FlowRow], *, metric: Metric) -> list[dict[str, Any]]:
    """One point per step and comparison on `metric`; a conversion lift in percentage points."""
    scale = 100.0 if metric == "conversion" else 1.0
    values = []
    for flow in flows:
        for lift in flow.lifts:
            if lift.metric != metric:
                continue
            step = flow_label(flow.kind, flow.step)
            values.append(
                {
                    "comparison": f"{step} {VERSUS_LABELS[lift.versus]}",
                    "flow": step,
                    "versus": lift.versus,
                    "difference": _scaled(lift.difference, scale),
                    "low": _scaled(lift.low, scale),
                    "high": _scaled(lift.high, scale),
                    "verdict": lift.verdict,
                }
            )
    return values


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 4)


def lift_spec(flows: Sequence[FlowRow], *, metric: Metric) -> dict[str, Any] | None:
    """The personal email's lift per step and comparison: a point at the difference, a bar
    from the interval's low to its high, and a dashed line at zero (no difference); None when
    the report has no such lift."""
    values = lift_values(flows, metric=metric)
    if not values:
        return None
    title = METRIC_TITLES[metric]
    y = {
        "field": "comparison",
        "type": "nominal",
        "title": None,
        "sort": None,
        "axis": {"labelLimit": 200},
    }
    tooltip = [
        {"field": "comparison", "title": "Comparison"},
        {"field": "difference", "type": "quantitative", "title": "Difference", "format": ".2f"},
        {"field": "low", "type": "quantitative", "title": "95% range from", "format": ".2f"},
        {"field": "high", "type": "quantitative", "title": "95% range to", "format": ".2f"},
        {"field": "verdict", "title": "Verdict"},
    ]
    return {
        "$schema": SCHEMA,
        "description": f"{title}, with 95% confidence intervals and a line at zero",
        "width": "container",
        "height": {"step": 44},
        "config": CONFIG,
        "data": {"values": values},
        # The zero line takes no y: it runs the whole height.
        "layer": [
            {
                # A lift without an interval (too few people) is drawn as its point alone.
                "transform": [{"filter": "isValid(datum.low) && isValid(datum.high)"}],
                "mark": {"type": "errorbar", "ticks": True, "thickness": 2, "color": "#1d2329"},
                "encoding": {
                    "y": y,
                    "x": {"field": "low", "type": "quantitative", "title": title},
                    "x2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90},
                "encoding": {
                    "y": y,
                    "x": {"field": "difference", "type": "quantitative", "title": title},
                    "color": {
                        "field": "verdict",
                        "type": "nominal",
                        "title": "Verdict",
                        "scale": {
                            "domain": list(VERDICT_COLOURS),
                            "range": list(VERDICT_COLOURS.values()),
                        },
                        "legend": {"orient": "bottom"},
                    },
                    "tooltip": tooltip,
                },
            },
            {
                # A guide, not data: left out of what screen readers list (the table says it).
                "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#1d2329", "aria": False},
                "encoding": {"x": {"datum": 0}},
            },
        ],
    }


def lift_interval_text(lift: LiftRow) -> str:
    """A lift's 95% range in words, as the table shows it beside the chart."""
    percent = lift.metric == "conversion"

    def show(value: float) -> str:
        return f"{value * 100:+.1f} pts" if percent else f"{value:+.2f}"

    if lift.low is None or lift.high is None:
        return "no range yet"
    return f"{show(lift.low)} to {show(lift.high)}"


def lift_difference_text(lift: LiftRow) -> str:
    """A lift's difference, in points for conversion and money for revenue per person."""
    if lift.metric == "conversion":
        return f"{lift.difference * 100:+.1f} pts"
    return f"{lift.difference:+.2f}"
