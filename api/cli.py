"""The `personalize` command line."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from chat_ingest.jsonl import ImportSummary, Kind, count_lines, import_file
from engine.apikeys import SCOPES, create_key, list_keys, revoke_key
from engine.db import Database
from engine.errors import EngineError
from engine.settings import Settings
from engine.status import read_status

app = typer.Typer(
    no_args_is_help=True,
    help="Chat-driven 1:1 email personalization: what customers said, what they bought.",
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(no_args_is_help=True, help="Load JSON Lines backfills.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(import_app, name="import")
app.add_typer(keys_app, name="keys")

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


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (no colours, no wrapping)."""
    print(json.dumps(data, indent=2, default=str))


def run_import(kind: Kind, path: Path, *, as_json: bool, settings: Settings | None = None) -> None:
    """Import a file, print the summary, exit 1 if any line was rejected."""
    db = open_database(settings or Settings())
    try:
        lines = count_lines(path)
        if lines > PROGRESS_MIN_LINES and not as_json:
            with Progress(
                TextColumn(f"importing {kind}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
            ) as progress:
                task = progress.add_task(kind, total=lines)
                summary = import_file(
                    db,
                    path=path,
                    kind=kind,
                    on_progress=lambda n: progress.update(task, completed=n),
                )
        else:
            summary = import_file(db, path=path, kind=kind)
    finally:
        db.dispose()
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
    )


@import_app.command("customers")
def import_customers(file: InputFile, as_json: JsonFlag = False) -> None:
    """Import customers (JSON Lines: id, email, first_name, signup_source, ...)."""
    run_import("customers", file, as_json=as_json)


@import_app.command("orders")
def import_orders(file: InputFile, as_json: JsonFlag = False) -> None:
    """Import orders (JSON Lines: order_id, customer_id, placed_at, currency, total, items)."""
    run_import("orders", file, as_json=as_json)


@app.command("ingest")
def ingest(file: InputFile, as_json: JsonFlag = False) -> None:
    """Ingest chat transcripts (JSON Lines: conversation_id, customer_id, source, messages)."""
    run_import("transcripts", file, as_json=as_json)


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Counts of customers, conversations, messages, orders, and the processing backlog."""
    db = open_database(Settings())
    try:
        with db.read() as session:
            counts = read_status(session).as_dict()
    finally:
        db.dispose()
    if as_json:
        print_json(counts)
        return
    table = Table("what", "count", title="personalize status")
    for name, value in counts.items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)


@keys_app.command("create")
def keys_create(
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"One of {', '.join(SCOPES)}; repeatable.")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    db = open_database(Settings())
    try:
        with db.write() as session:
            identity, plaintext = create_key(session, name=name, scopes=scope)
    except EngineError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    if as_json:
        print_json({"id": identity.id, "name": name, "scopes": sorted(scope), "key": plaintext})
        return
    console.print(f"[bold]{plaintext}[/]", highlight=False)
    err_console.print(
        f"key {identity.id} ({name}) with scopes {', '.join(sorted(set(scope)))}: "
        "store it now, it is not shown again."
    )


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List API keys (prefixes and scopes only; secrets are never stored)."""
    db = open_database(Settings())
    try:
        with db.read() as session:
            rows: list[dict[str, Any]] = [
                {
                    "id": k.id,
                    "name": k.name,
                    "prefix": k.prefix,
                    "scopes": k.scopes.split(","),
                    "created_at": k.created_at.isoformat(),
                    "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                }
                for k in list_keys(session)
            ]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked", title="API keys")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"],
            row["prefix"],
            ",".join(row["scopes"]),
            row["created_at"][:19],
            (row["revoked_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (keys list).")],
) -> None:
    """Revoke a key; a running server stops accepting it within seconds."""
    db = open_database(Settings())
    try:
        with db.write() as session:
            revoke_key(session, prefix=prefix)
    except EngineError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(code=2) from None
    finally:
        db.dispose()
    console.print(f"revoked key {prefix}")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (serve and the imports do this on start)."""
    db = open_database(Settings())
    db.dispose()
    console.print(f"schema up to date at {Settings().sqlalchemy_url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs); migrates the database on start."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port, access_log=access_log)


@app.command()
def demo(
    home: Annotated[
        Path | None,
        typer.Option(help="Where to build the demo (default: PERSONALIZE_HOME/demo, wiped)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Load the bundled sample business into a fresh home and show what it holds."""
    from api.demo import print_demo, run_demo

    result = run_demo(home=home or Settings().personalize_home / "demo")
    if as_json:
        print_json(result.as_dict())
    else:
        print_demo(console, result)


def main() -> None:
    """Entry point of the `personalize` console script."""
    app()
