"""Console page: trends (customers and messages per intent per week, as charts and a table)
and trackers (the custom intents, and a form to add one)."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.console.auth import FormDep, ViewerDep
from api.console.charts import (
    intent_weeks_spec,
    top_intents,
    week_label,
)
from api.console.pages import render
from api.console.words import name_words
from api.deps import ServicesDep
from engine.errors import ConflictError
from engine.intents.service import (
    IntentWeek,
    InvalidTracker,
    create_tracker,
    intent_weeks,
    list_trackers,
    score_tracker_over_stored,
    week_starts,
)
from engine.models import utcnow
from engine.runtime import Services

router = APIRouter(prefix="/app")

WEEKS = 12
# The chart's colours stay tellable apart, and the table stays readable, up to this many.
TOP_INTENTS = 8
# The same limits the /v1 tracker schema sets.
MAX_EXAMPLES = 50
MAX_EXAMPLE_CHARS = 500
MAX_DESCRIPTION_CHARS = 1000
_SEPARATORS = re.compile(r"[\s\-]+")
# What the person is told when the engine refuses a field, in plain words.
_PLAIN = {
    "name": (
        "Use 2 to 64 lowercase letters, digits or underscores, starting with a letter "
        "(for example grinder_noise)."
    ),
    "examples": "Give at least one example phrase, one per line.",
}


@dataclass
class TrackerForm:
    """What was typed into the tracker form, and what is wrong with it."""

    name: str = ""
    examples: str = ""
    description: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def example_lines(self) -> list[str]:
        """The example phrases, one per non-blank line."""
        return [line.strip() for line in self.examples.splitlines() if line.strip()]


def tracker_name(typed: str) -> str:
    """The tracker name for what was typed: lowercase, spaces and dashes as underscores."""
    return _SEPARATORS.sub("_", typed.strip().lower()).strip("_")


def parse_as_of(raw: str | None) -> tuple[date, str | None]:
    """The day the weeks end on (today if not given), and an error for a malformed one."""
    today = utcnow().date()
    if not raw:
        return today, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return today, "Give the date as YYYY-MM-DD, for example 2026-11-20."


def _week_table(
    rows: list[IntentWeek], *, weeks: list[date], intents: list[str]
) -> list[dict[str, Any]]:
    """Per top intent, its customers and messages in each week, and over all the weeks."""
    found = {(r.intent, r.week_start): r for r in rows}
    table = []
    for intent in intents:
        cells = [
            (row.customers, row.messages) if (row := found.get((intent, w))) else (0, 0)
            for w in weeks
        ]
        table.append(
            {
                "intent": name_words(intent),
                "cells": cells,
                "messages": sum(m for _, m in cells),
            }
        )
    return table


def _trends(session: Session, *, as_of: date) -> dict[str, Any]:
    """Everything the trends page shows, as of a day."""
    rows = intent_weeks(session, as_of=as_of, weeks=WEEKS)
    weeks = week_starts(as_of=as_of, weeks=WEEKS)
    intents = top_intents(rows, limit=TOP_INTENTS)
    return {
        "as_of": as_of,
        "weeks": [week_label(w) for w in weeks],
        "first_week": weeks[0],
        "top": len(intents),
        "has_intents": bool(rows),
        "customers_spec": intent_weeks_spec(
            rows, weeks=weeks, intents=intents, measure="customers"
        ),
        "messages_spec": intent_weeks_spec(rows, weeks=weeks, intents=intents, measure="messages"),
        "table": _week_table(rows, weeks=weeks, intents=intents),
        "trackers": list_trackers(session),
    }


def _page(
    request: Request,
    services: Services,
    viewer: ViewerDep,
    *,
    as_of: date,
    form: TrackerForm,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    with services.db.read() as session:
        data = _trends(session, as_of=as_of)
    return render(
        request,
        "trends.html",
        viewer=viewer,
        title="Trends",
        form=form,
        status_code=status_code,
        **data,
        **context,
    )


@router.get("/trends", response_class=HTMLResponse, include_in_schema=False)
def trends_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> HTMLResponse:
    """Customers and messages per intent per week over the last 12 weeks, and the trackers."""
    as_of, as_of_error = parse_as_of(request.query_params.get("as_of"))
    return _page(
        request,
        services,
        viewer,
        as_of=as_of,
        form=TrackerForm(),
        as_of_error=as_of_error,
        added=request.query_params.get("added"),
        matched=request.query_params.get("matched"),
    )


def _check(form: TrackerForm) -> None:
    """Note the limits the form's fields break (the engine checks the rest)."""
    lines = form.example_lines
    if not lines:
        form.errors["examples"] = _PLAIN["examples"]
    elif len(lines) > MAX_EXAMPLES:
        form.errors["examples"] = f"Give at most {MAX_EXAMPLES} example phrases."
    elif any(len(line) > MAX_EXAMPLE_CHARS for line in lines):
        form.errors["examples"] = f"Keep each phrase under {MAX_EXAMPLE_CHARS} characters."
    if len(form.description.strip()) > MAX_DESCRIPTION_CHARS:
        form.errors["description"] = f"Keep it under {MAX_DESCRIPTION_CHARS} characters."
    if not form.name.strip():
        form.errors["name"] = "Give the tracker a name."


def _create(services: Services, form: TrackerForm) -> tuple[str, int] | None:
    """Store the tracker and score it over the messages already stored (as POST /v1/trackers
    does; the pipeline picks it up for new messages on its next batch). Its name and how many
    messages matched, or None with the form's errors noted."""
    try:
        with services.db.write() as session:
            tracker = create_tracker(
                session,
                name=tracker_name(form.name),
                description=form.description,
                examples=form.example_lines,
            )
            matched = score_tracker_over_stored(
                session, tracker=tracker, encoder=services.encoder, store=services.store
            )
            return tracker.name, matched
    except InvalidTracker as error:
        form.errors[error.field] = _PLAIN.get(error.field, error.message)
    except ConflictError:
        form.errors["name"] = "There is already an intent or a tracker with this name."
    return None


@router.post("/trends/trackers", include_in_schema=False)
def add_tracker(
    request: Request, viewer: ViewerDep, posted: FormDep, services: ServicesDep
) -> Response:
    """Add a tracker from the form; on a mistake, the page again with it next to the field."""
    as_of, _ = parse_as_of(str(posted.get("as_of") or ""))
    form = TrackerForm(
        name=str(posted.get("name") or ""),
        examples=str(posted.get("examples") or ""),
        description=str(posted.get("description") or ""),
    )
    _check(form)
    created = None if form.errors else _create(services, form)
    if created is None:
        return _page(request, services, viewer, as_of=as_of, form=form, status_code=422)
    name, matched = created
    query = urlencode({"as_of": as_of.isoformat(), "added": name, "matched": matched})
    return RedirectResponse(f"/app/trends?{query}#trackers", status_code=303)
