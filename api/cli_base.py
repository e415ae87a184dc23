"""What every command shares: consoles, common options, opening the database, errors."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console

from engine.db import Database
from engine.errors import EngineError, InvalidInput
from engine.models import time_out_of_range
from engine.outbox import deliver_due
from engine.settings import Settings, reveal

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
# Files longer than this get a progress bar.
PROGRESS_MIN_LINES = 2000

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
InputFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A JSON Lines file.")
]


def open_database(settings: Settings) -> Database:
    """Open the configured database and migrate it to the newest schema."""
    db = Database(settings)
    db.migrate()
    return db


def fail(error: EngineError) -> NoReturn:
    """End a command on an error the user can fix: one line, exit code 2."""
    err_console.print(f"[red]error:[/] {error}")
    raise typer.Exit(code=2) from None


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (no colours, no wrapping)."""
    print(json.dumps(data, indent=2, default=str))


def aware(value: datetime | None, *, option: str) -> datetime | None:
    """A date typed on the command line, without a zone taken as UTC; one the store cannot
    hold ends the command naming the option."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    problem = time_out_of_range(value)
    if problem:
        fail(InvalidInput(problem, field=option))
    return value


def push_review_webhook(db: Database, settings: Settings) -> None:
    """One delivery pass of the review webhook outbox (what fails is retried by `serve` or
    `worker`)."""
    if not settings.review_webhook_url:
        return
    with httpx.Client(timeout=10.0) as client:
        report = deliver_due(db, client=client, secret=reveal(settings.review_webhook_secret))
    if report.retrying or report.failed:
        err_console.print(
            f"[yellow]review webhook:[/] {report.delivered} delivered, {report.retrying} to "
            "retry (by `personalize serve` or `personalize worker`)"
        )
