"""`report`: how each campaign step did per arm, and whether personal emails earned more."""

from datetime import datetime
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from cli.base import JsonFlag, aware, console, err_console, open_home, print_json
from engine.measure.report import FlowReport, FlowRow, LiftRow, flow_report

SinceOption = Annotated[
    datetime | None,
    typer.Option("--since", help="Entries entered at or after this time (ISO date, UTC)."),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option("--until", help="Entries entered before this time (ISO date, UTC)."),
]
_METRICS = {"conversion": "conversion", "revenue_per_recipient": "revenue per recipient"}


def report(since: SinceOption = None, until: UntilOption = None, as_json: JsonFlag = False) -> None:
    """Per campaign step and arm: recipients, delivered, clicks, attributed orders, conversion,
    revenue and unsubscribe/complaint/bounce rates, and the personal email's lift over the
    generic one and over sending nothing (with 95% intervals)."""
    start, end = aware(since, option="--since"), aware(until, option="--until")
    if start is not None and end is not None and end <= start:
        err_console.print("[red]error:[/] --until: must come after --since")
        raise typer.Exit(code=2)
    with open_home() as home, home.db.write() as session:
        result = flow_report(
            session,
            since=start,
            until=end,
            click_days=home.settings.attribution_click_days,
            delivered_days=home.settings.attribution_delivered_days,
        )
    if as_json:
        print_json(result.as_dict())
        return
    print_report(result)


def print_report(result: FlowReport) -> None:
    """The report as a table per step, its lifts, and the attribution rule."""
    if result.simulated:
        console.print("[yellow]simulated:[/] some of these emails or events were simulated")
    if not result.flows:
        console.print("No campaign entries in this period.")
    for flow in result.flows:
        console.print(_table(flow))
        for lift in flow.lifts:
            console.print(_lift_line(lift), highlight=False)
        console.print()
    rule = result.attribution
    console.print(f"[dim]attribution: {rule.rule}; conversion: {rule.conversion}[/]")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(flow: FlowRow) -> Table:
    table = Table(
        title=f"{flow.kind} {flow.step}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
    )
    # Short headings: the table fits 80 columns (piped output, CI logs) without cutting.
    for column in (
        "arm",
        "people",
        "deliv.",
        "clicks",
        "orders",
        "conv.",
        "revenue",
        "rev./r.",
        "unsub.",
        "compl.",
        "bounce",
    ):
        left = column == "arm"
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in flow.arms:
        table.add_row(
            row.arm,
            str(row.recipients),
            "-" if row.arm == "holdout" else str(row.delivered),
            "-" if row.arm == "holdout" else str(row.clicks),
            "-" if row.arm == "holdout" else str(row.orders_attributed),
            _pct(row.conversion),
            f"{row.revenue:.2f}",
            "-" if row.revenue_per_recipient is None else f"{row.revenue_per_recipient:.2f}",
            _pct(row.unsubscribe_rate),
            _pct(row.complaint_rate),
            _pct(row.bounce_rate),
        )
    return table


def _lift_line(lift: LiftRow) -> str:
    """One lift in words: "need more data" plainly while the interval spans zero."""
    percent = lift.metric == "conversion"

    def show(value: float) -> str:
        return f"{value * 100:+.1f} pts" if percent else f"{value:+.2f}"

    interval = (
        "no interval yet"
        if lift.low is None or lift.high is None
        else f"95% interval {show(lift.low)} to {show(lift.high)}"
    )
    return (
        f"  personal vs {lift.versus}, {_METRICS[lift.metric]}: {show(lift.difference)} "
        f"({interval}): {lift.verdict}"
    )
