"""What every command shares: consoles, options, the opened home, errors and progress bars."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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


@dataclass(frozen=True)
class Home:
    """The settings a command runs with and their database, migrated to the newest schema."""

    settings: Settings
    db: Database


@contextmanager
def open_home(settings: Settings | None = None) -> Iterator[Home]:
    """Open the configured database (migrated) for one command; an EngineError inside ends the
    command through `fail`, and the database is disposed of however the command ends."""
    settings = settings or Settings()
    db = Database(settings)
    try:
        db.migrate()
        yield Home(settings=settings, db=db)
    except EngineError as error:
        fail(error)
    finally:
        db.dispose()


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


def progress_bar(text: str, *, disable: bool = False, transient: bool = False) -> Progress:
    """A progress bar on stderr: `text`, the bar, done of total, and the time remaining."""
    return Progress(
        TextColumn(text),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=disable,
        transient=transient,
    )


def push_review_webhook(home: Home) -> None:
    """One delivery pass of the review webhook outbox (what fails is retried by `serve` or
    `worker`)."""
    settings = home.settings
    if not settings.review_webhook_url:
        return
    with httpx.Client(timeout=10.0) as client:
        report = deliver_due(home.db, client=client, secret=reveal(settings.review_webhook_secret))
    if report.retrying or report.failed:
        err_console.print(
            f"[yellow]review webhook:[/] {report.delivered} delivered, {report.retrying} to "
            "retry (by `personalize serve` or `personalize worker`)"
        )
