"""Loading JSON Lines backfills: `import customers`, `import orders` and `ingest`."""

from pathlib import Path
from typing import Annotated

import typer

from chat_ingest.jsonl import ImportSummary, Kind, count_lines, import_file
from cli.base import (
    PROGRESS_MIN_LINES,
    Home,
    InputFile,
    JsonFlag,
    console,
    err_console,
    open_home,
    print_json,
    progress_bar,
)
from engine.status import read_status

import_app = typer.Typer(no_args_is_help=True, help="Load JSON Lines backfills.")


def run_import(kind: Kind, path: Path, *, as_json: bool, wait: bool = False) -> None:
    """Import a file, print the summary (after processing its messages, when `wait`), and
    exit 1 if any line was rejected."""
    with open_home() as home:
        lines = count_lines(path)
        if lines > PROGRESS_MIN_LINES and not as_json:
            with progress_bar(f"importing {kind}") as progress:
                task = progress.add_task(kind, total=lines)
                summary = import_file(
                    home.db,
                    path=path,
                    kind=kind,
                    on_progress=lambda n: progress.update(task, completed=n),
                )
        else:
            summary = import_file(home.db, path=path, kind=kind)
        if wait:
            process_backlog(home, show_progress=not as_json)
    report_import(kind, path, summary, as_json=as_json)
    if summary.rejected:
        raise typer.Exit(code=1)


def report_import(kind: str, path: Path, summary: ImportSummary, *, as_json: bool) -> None:
    """Print what an import did: counts, then each rejected line with its field."""
    errors = [{"line": e.line, "field": e.field, "message": e.message} for e in summary.errors]
    if as_json:
        print_json(
            {
                "file": str(path),
                "kind": kind,
                "imported": summary.imported,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected,
                "truncated": summary.truncated,
                "errors": errors,
            }
        )
        return
    for error in errors:
        err_console.print(
            f"[red]rejected[/] {path}:{error['line']}: {error['field']}: {error['message']}",
            highlight=False,
        )
    if summary.rejected > len(errors):
        err_console.print(f"... and {summary.rejected - len(errors)} more rejected lines")
    console.print(
        f"{kind}: [green]{summary.imported} imported[/], {summary.duplicates} duplicates, "
        f"[{'red' if summary.rejected else 'green'}]{summary.rejected} rejected[/]"
        # Messages over 20,000 characters, stored as their first part.
        + (f", {summary.truncated} messages truncated" if summary.truncated else "")
    )


@import_app.command("customers")
def import_customers(file: InputFile, as_json: JsonFlag = False) -> None:
    """Import customers (JSON Lines: id, email, first_name, signup_source, ...)."""
    run_import("customers", file, as_json=as_json)


@import_app.command("orders")
def import_orders(file: InputFile, as_json: JsonFlag = False) -> None:
    """Import orders (JSON Lines: order_id, customer_id, placed_at, currency, total, items)."""
    run_import("orders", file, as_json=as_json)


def ingest(
    file: InputFile,
    as_json: JsonFlag = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Store only; leave processing to a worker.")
    ] = False,
) -> None:
    """Ingest chat transcripts, then process their customer messages (unless --no-wait)."""
    run_import("transcripts", file, as_json=as_json, wait=not no_wait)


def process_backlog(home: Home, *, show_progress: bool) -> int:
    """Run the pipeline in this process until no customer message is waiting."""
    from engine.runtime import build_services

    with home.db.read() as session:
        waiting = read_status(session).backlog
    if not waiting:
        return 0
    with err_console.status("loading the encoder and the intent model"):
        services = build_services(home.settings, db=home.db)
    try:
        pipeline = services.recovered_pipeline()
        if not show_progress:
            return pipeline.run_until_idle()
        with progress_bar("processing messages") as progress:
            task = progress.add_task("processing", total=waiting)
            return pipeline.run_until_idle(
                on_progress=lambda n: progress.update(task, completed=min(n, waiting))
            )
    finally:
        services.store.close()
