"""Console page: results (the flow report: per campaign step and group, what recipients did and
bought, and whether the personal email beat the generic one and beat sending nothing, with
the confidence intervals drawn)."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.auth import ViewerDep
from api.console.charts import (
    VERSUS_LABELS,
    lift_difference_text,
    lift_interval_text,
    lift_spec,
)
from api.console.pages import render
from api.console.words import flow_label
from api.deps import DatabaseDep, SettingsDep
from engine.measure.report import ArmRow, AttributionRule, FlowReport, FlowRow, flow_report

router = APIRouter(prefix="/app")

ARM_LABELS = {
    "personal": "Personal email",
    "generic": "Generic email",
    "holdout": "No email (held out)",
}
METRIC_LABELS = {"conversion": "Bought", "revenue_per_recipient": "Revenue per person"}
VERDICT_BADGES = {"better": "badge good", "worse": "badge bad", "need more data": "badge"}
DASH = "\u2013"  # an en dash: no number here


def parse_day(raw: str | None, errors: dict[str, str], name: str) -> date | None:
    """A YYYY-MM-DD filter (None when blank); a malformed one is noted in `errors`."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Give the date as YYYY-MM-DD, for example 2026-11-20."
        return None


def period(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """The report's window for two days a person picks: from the start of the first to the
    end of the last (the report's `until` is exclusive)."""

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=UTC)

    return (
        None if since is None else midnight(since),
        None if until is None else midnight(until + timedelta(days=1)),
    )


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"


def _money(value: Decimal | float | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def arm_cells(row: ArmRow) -> dict[str, str]:
    """One group's row of the table, formatted; email counts are a dash for the held out."""
    emailed = row.arm != "holdout"
    return {
        "group": ARM_LABELS.get(row.arm, row.arm),
        "people": str(row.recipients),
        "delivered": str(row.delivered) if emailed else DASH,
        "clicked": str(row.clicks) if emailed else DASH,
        "orders": str(row.orders_attributed) if emailed else DASH,
        "bought": f"{row.converted} ({_pct(row.conversion)})",
        "revenue": _money(row.revenue),
        "per_person": _money(row.revenue_per_recipient),
        "unsubscribed": _pct(row.unsubscribe_rate),
        "complained": _pct(row.complaint_rate),
        "bounced": _pct(row.bounce_rate),
    }


def flow_view(flow: FlowRow) -> dict[str, Any]:
    """A step of a campaign as the page shows it: its groups and its comparisons."""
    return {
        "label": flow_label(flow.kind, flow.step),
        "arms": [arm_cells(row) for row in flow.arms],
        "lifts": [
            {
                "comparison": f"Personal {VERSUS_LABELS[lift.versus]}",
                "measure": METRIC_LABELS[lift.metric],
                "difference": lift_difference_text(lift),
                "interval": lift_interval_text(lift),
                "verdict": lift.verdict,
                "badge": VERDICT_BADGES[lift.verdict],
            }
            for lift in flow.lifts
        ],
    }


def rule_in_words(rule: AttributionRule) -> str:
    """The attribution rule for a shop owner."""
    click = f"{rule.click_days} day{'' if rule.click_days == 1 else 's'}"
    delivered = f"{rule.delivered_days} day{'' if rule.delivered_days == 1 else 's'}"
    return (
        f"An order is credited to the last email the customer clicked in the {click} before "
        f"ordering; with no click, to the last email delivered to them in the {delivered} "
        "before it. Each order is credited once."
    )


def bought_in_words(rule: AttributionRule) -> str:
    """How "bought" is counted, the same for every group."""
    days = f"{rule.click_days} day{'' if rule.click_days == 1 else 's'}"
    return (
        f"“Bought” counts the people with an order placed within {days} after they entered "
        "the campaign step, whatever they clicked: every group, the held-out one too, is "
        "measured the same way."
    )


def _report(
    db: DatabaseDep, settings: SettingsDep, since: date | None, until: date | None
) -> FlowReport:
    start, end = period(since, until)
    # A write: the report first credits the orders not credited yet, as /v1 and the CLI do.
    with db.write() as session:
        return flow_report(
            session,
            since=start,
            until=end,
            click_days=settings.attribution_click_days,
            delivered_days=settings.attribution_delivered_days,
        )


def _in_order(flow: FlowRow) -> tuple[str, int, str]:
    """Steps by campaign, then by day ("d3" before "d14"), then by name."""
    day = flow.step[1:]
    return flow.kind, int(day) if flow.step.startswith("d") and day.isdigit() else 10**6, flow.step


def report_context(report: FlowReport) -> dict[str, Any]:
    """What the results page shows of a report: the steps someone is counted in, in full; the
    steps whose emails are drafted but not sent yet, as one line each."""
    ordered = sorted(report.flows, key=_in_order)
    counted = [flow for flow in ordered if any(arm.recipients for arm in flow.arms)]
    return {
        "report": report,
        "flows": [flow_view(flow) for flow in counted],
        "waiting": [
            (flow_label(flow.kind, flow.step), sum(arm.entries for arm in flow.arms))
            for flow in ordered
            if flow not in counted
        ],
        "conversion_spec": lift_spec(counted, metric="conversion"),
        "revenue_spec": lift_spec(counted, metric="revenue_per_recipient"),
        "rule": rule_in_words(report.attribution),
        "bought": bought_in_words(report.attribution),
    }


@router.get("/results", response_class=HTMLResponse, include_in_schema=False)
def results_page(
    request: Request, viewer: ViewerDep, db: DatabaseDep, settings: SettingsDep
) -> HTMLResponse:
    """The flow report, for the period picked (everything by default)."""
    errors: dict[str, str] = {}
    since = parse_day(request.query_params.get("since"), errors, "since")
    until = parse_day(request.query_params.get("until"), errors, "until")
    if since is not None and until is not None and until < since:
        errors["until"] = "Pick a day on or after the “From” day."
    context = {} if errors else report_context(_report(db, settings, since, until))
    return render(
        request,
        "results.html",
        viewer=viewer,
        title="Results",
        since=request.query_params.get("since") or "",
        until=request.query_params.get("until") or "",
        filtered=since is not None or until is not None,
        errors=errors,
        status_code=422 if errors else 200,
        **context,
    )
