"""The `personalize` command line."""

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api import cli_customers, cli_drafting
from api.cli_base import (
    PROGRESS_MIN_LINES,
    InputFile,
    JsonFlag,
    aware,
    console,
    err_console,
    fail,
    open_database,
    print_json,
)
from api.logs import install_log_masking
from api.output import print_context, print_fact_eval, print_matches
from chat_ingest.jsonl import ImportSummary, Kind, count_lines, import_file
from engine.apikeys import SCOPES, create_key, list_keys, revoke_key
from engine.db import Database
from engine.errors import EngineError
from engine.settings import Settings, reveal
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


def run_import(
    kind: Kind, path: Path, *, as_json: bool, wait: bool = False, settings: Settings | None = None
) -> None:
    """Import a file, print the summary (after processing its messages, when `wait`), and
    exit 1 if any line was rejected."""
    settings = settings or Settings()
    db = open_database(settings)
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
        if wait:
            process_backlog(settings, db=db, show_progress=not as_json)
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


@app.command("ingest")
def ingest(
    file: InputFile,
    as_json: JsonFlag = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Store only; leave processing to a worker.")
    ] = False,
) -> None:
    """Ingest chat transcripts, then process their customer messages (unless --no-wait)."""
    run_import("transcripts", file, as_json=as_json, wait=not no_wait)


def process_backlog(settings: Settings, *, db: Database, show_progress: bool) -> int:
    """Run the pipeline in this process until no customer message is waiting."""
    from engine.runtime import build_services

    with db.read() as session:
        waiting = read_status(session).backlog
    if not waiting:
        return 0
    with err_console.status("loading the encoder and the intent model"):
        services = build_services(settings, db=db)
    try:
        pipeline = services.recovered_pipeline()
        if not show_progress:
            return pipeline.run_until_idle()
        with Progress(
            TextColumn("processing messages"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as progress:
            task = progress.add_task("processing", total=waiting)
            return pipeline.run_until_idle(
                on_progress=lambda n: progress.update(task, completed=min(n, waiting))
            )
    finally:
        services.store.close()


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
        fail(error)
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
        fail(error)
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
    import torch
    import uvicorn

    from api.app import create_app

    # One thread per encode: the in-process worker and a search's query encoding then share
    # the cores instead of each oversubscribing them (a search's encode went from p99 ~1 s to
    # ~50 ms while ingesting on 2 cores). Bulk backfills belong to `personalize ingest`.
    torch.set_num_threads(1)
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

    with err_console.status("starting") as spinner:
        result = run_demo(
            home=home or Settings().personalize_home / "demo",
            on_step=lambda text: spinner.update(text),
        )
    if as_json:
        print_json(result.as_dict())
    else:
        print_demo(console, result)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain the backlog, then exit.")] = False,
    batch_size: Annotated[int, typer.Option(help="Messages per batch.")] = 1024,
) -> None:
    """Run a pipeline worker: embed, index and classify customer messages as they arrive; with
    REVIEW_WEBHOOK_URL set, it also pushes new drafts to the reviewer (retrying failures)."""
    import contextlib
    import gc
    import logging
    import signal
    import threading

    from engine.outbox import OutboxDeliverer
    from engine.runtime import BackgroundWorker, build_services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    with err_console.status("loading the encoder and the intent model"):
        services = build_services(settings)
    gc.freeze()  # the models' objects are long-lived: keep full collections off them
    try:
        pipeline = services.recovered_pipeline(batch_size=batch_size)
        if once:
            done = pipeline.run_until_idle()
            console.print(f"processed {done} messages")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        background = BackgroundWorker(pipeline)
        background.start()
        outbox = (
            OutboxDeliverer(services.db, secret=reveal(settings.review_webhook_secret))
            if settings.review_webhook_url
            else None
        )
        if outbox:
            outbox.start()
        err_console.print("worker running; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        background.stop()
        if outbox:
            outbox.stop()
    finally:
        services.close()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What customers ask about.")],
    since: Annotated[
        datetime | None, typer.Option(help="Only messages sent on or after (ISO date).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Only messages sent before.")] = None,
    limit: Annotated[int, typer.Option(help="Most customers to return.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Customers asking about something, each with a score and their own words as evidence."""
    from engine.runtime import load_encoder, open_vector_store
    from engine.search.service import refusal, search_customers

    refused = refusal(query)
    if refused is not None:
        # Said before any model loads: nothing a customer said about it is kept to search.
        if as_json:
            print_json({"query": query, "customers": [], "refused": True, "reason": refused})
        else:
            console.print(f"Nobody: {refused}.")
        return
    # Only what a search reads: the intent model and the parser would add seconds to load.
    settings = Settings()
    db = open_database(settings)
    try:
        encoder = load_encoder(settings)
        store = open_vector_store(settings, dimension=encoder.dimension)
        try:
            with db.read() as session:
                matches = search_customers(
                    session,
                    query=query,
                    encoder=encoder,
                    store=store,
                    since=aware(since, option="--since"),
                    until=aware(until, option="--until"),
                    limit=limit,
                )
        finally:
            store.close()
    finally:
        db.dispose()
    if as_json:
        print_json(
            {
                "query": query,
                "customers": [asdict(m) for m in matches],
                "refused": False,
                "reason": None,
            }
        )
        return
    print_matches(console, query, matches)


@app.command()
def intents(as_json: JsonFlag = False) -> None:
    """Built-in intents and trackers, with how many messages and customers carry each."""
    from engine.intents.service import list_intents

    db = open_database(Settings())
    try:
        with db.read() as session:
            rows = list_intents(session)
    finally:
        db.dispose()
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table("intent", "kind", "messages", "customers", title="Intents")
    for row in sorted(rows, key=lambda r: -r.customers):
        table.add_row(row.name, row.kind, str(row.messages), str(row.customers))
    console.print(table)


@app.command()
def context(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="The context as it stood then (ISO date).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The gated context of one customer: everything a drafter may see, and nothing else."""
    from engine.customers.context import build_context

    db = open_database(Settings())
    try:
        with db.read() as session:
            found = build_context(
                session, customer_id=customer_id, as_of=aware(as_of, option="--as-of")
            )
    except EngineError as error:
        fail(error)
    finally:
        db.dispose()
    if as_json:
        print(found.model_dump_json(indent=2))
        return
    print_context(console, found)


eval_app = typer.Typer(no_args_is_help=True, help="Measure the models on labelled data.")
app.add_typer(eval_app, name="eval")


@eval_app.command("intents")
def eval_intents(
    train: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV text,category.")],
    test: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="CSV text,category.")],
    shots: Annotated[
        int | None, typer.Option(help="Examples per label (default: all).", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling the shots.")] = 0,
    unlabeled: Annotated[
        bool,
        typer.Option(
            "--unlabeled", help="Also give the classifier the rest of --train, without labels."
        ),
    ] = False,
    finetune: Annotated[
        bool,
        typer.Option(
            "--finetune",
            help="First fine-tune a copy of the encoder on the shots (contrastive, SetFit-style; "
            "about a minute on 2 cores for 770 phrases).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Few-shot intent accuracy and macro-F1 on a labelled set."""
    from engine.evals.intents import evaluate
    from engine.runtime import load_encoder

    with err_console.status("loading the encoder"):
        encoder = load_encoder(Settings())
    try:
        with Progress(
            TextColumn("fine-tuning the encoder"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not finetune or as_json,
        ) as progress:
            task = progress.add_task("steps", total=None)
            result = evaluate(
                train_csv=train,
                test_csv=test,
                shots=shots,
                seed=seed,
                encoder=encoder,
                unlabeled=unlabeled,
                finetune=finetune,
                on_finetune_step=lambda done, total: progress.update(
                    task, completed=done, total=total
                ),
            )
    except EngineError as error:
        fail(error)
    data = result.as_dict()
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


@eval_app.command("facts")
def eval_facts(
    customers: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="customers.jsonl")],
    orders: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="orders.jsonl")],
    transcripts: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help='transcripts.jsonl with "labels".'),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Leaks and recall of the surveillance gate on a labelled set, loaded into a fresh home."""
    from api.fact_eval_run import run_fact_eval

    try:
        with err_console.status("loading the models") as spinner:
            report = run_fact_eval(
                customers=customers,
                orders=orders,
                transcripts=transcripts,
                on_step=lambda step: spinner.update(step),
            )
    except EngineError as error:
        fail(error)
    data = report.as_dict()
    if as_json:
        print_json(data)
    else:
        print_fact_eval(console, data)
    if report.leaks:
        raise typer.Exit(code=1)


cli_drafting.register(app)
cli_customers.register(app)


def main() -> None:
    """Entry point of the `personalize` console script."""
    install_log_masking()
    try:
        app()
    except EngineError as error:
        # What a command did not handle itself (say, the vector store held by `serve`) is
        # still the user's to fix: a one-line message, not a traceback.
        err_console.print(f"[red]error:[/] {error}")
        raise SystemExit(2) from None
