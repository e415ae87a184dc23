"""Running the service: `serve`, `worker`, `migrate` and `status`."""

from typing import Annotated

import typer
from rich.table import Table

from cli.base import JsonFlag, console, err_console, open_home, print_json
from engine.settings import Settings, reveal
from engine.status import read_status


def status(as_json: JsonFlag = False) -> None:
    """Counts of customers, conversations, messages, orders, and the processing backlog."""
    with open_home() as home, home.db.read() as session:
        counts = read_status(session).as_dict()
    if as_json:
        print_json(counts)
        return
    table = Table("what", "count", title="personalize status")
    for name, value in counts.items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)


def migrate() -> None:
    """Create or upgrade the database schema (serve and the imports do this on start)."""
    with open_home() as home:
        url = home.settings.sqlalchemy_url
    console.print(f"schema up to date at {url.split('@')[-1]}")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs); migrates the database on start."""
    import torch
    import uvicorn

    from api.app import create_app
    from engine.email.sender import make_transport, sender_config

    settings = Settings()
    # A sending setting left out ends the command here, in one line, not in a server traceback.
    if make_transport(settings) is not None:
        sender_config(settings)

    # One thread per encode: the in-process worker and a search's query encoding then share
    # the cores instead of each oversubscribing them (a search's encode went from p99 ~1 s to
    # ~50 ms while ingesting on 2 cores). Bulk backfills belong to `personalize ingest`.
    torch.set_num_threads(1)
    err_console.print(
        f"The console: http://{host}:{port}/app (people sign in with an account made by "
        "`personalize users create EMAIL --role marketer|admin`)"
    )
    uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)


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

    from engine.email.sender import start_sender
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
        sender = start_sender(services.db, settings)
        err_console.print("worker running; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        background.stop()
        if outbox:
            outbox.stop()
        if sender:
            sender.stop()
    finally:
        services.close()
