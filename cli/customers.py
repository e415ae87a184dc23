"""Commands about one customer's data: `forget` (erasure) and `unsubscribe`."""

import sys
from typing import Annotated

import typer

from cli.base import JsonFlag, console, open_home, print_json, push_review_webhook
from engine.customers.consent import unsubscribe
from engine.settings import Settings

CustomerArgument = Annotated[str, typer.Argument(help="The customer's id.")]


def forget(
    customer_id: CustomerArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    vacuum_full: Annotated[
        bool,
        typer.Option(
            "--vacuum-full",
            help="PostgreSQL: then rewrite the tables their rows were in (VACUUM (FULL), which "
            "locks each table while it runs), so the bytes leave the table files at once.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Erase a customer everywhere: chats, facts, intents, orders, drafts with their review
    history and webhook deliveries, and vectors (purged from the embedded store's files).
    Records that an erasure happened, not whose."""
    # Imported here: the vector store's clients take seconds to import, and the other commands
    # do not need them.
    from engine.customers.erasure import forget_customer, vacuum_full_tables
    from engine.runtime import open_existing_vector_store

    settings = Settings()
    # Asked only at a terminal: scripts and cron jobs pass the id they mean.
    if not yes and sys.stdin.isatty():
        typer.confirm(f"Erase customer {customer_id} everywhere? This cannot be undone", abort=True)
    with open_home(settings) as home:
        # Opened before anything is deleted: a store held by a running server fails here, with
        # nothing half-erased.
        store = open_existing_vector_store(settings)
        try:
            report = forget_customer(
                db=home.db,
                store=store,
                customer_id=customer_id,
                actor="cli",
                webhook_url=settings.review_webhook_url,
            )
        finally:
            if store is not None:
                store.close()
        push_review_webhook(home)
        rewritten = vacuum_full_tables(home.db, tables=report.removed) if vacuum_full else []
    if as_json:
        print_json(
            {
                "erased": True,
                "removed": report.removed,
                "audit_id": report.audit_id,
                "notified_drafts": report.notified_drafts,
                "vacuumed": rewritten,
            }
        )
        return
    parts = ", ".join(f"{count} {table}" for table, count in report.removed.items() if count)
    console.print(f"Erased customer {customer_id}: {parts or 'nothing left to remove'}.")
    console.print(f"Audit row {report.audit_id} records that it happened (not whose).")
    if rewritten:
        console.print(f"Rewrote {', '.join(rewritten)} (VACUUM (FULL)).")
    if report.notified_drafts:
        ids = ", ".join(f"#{draft_id}" for draft_id in report.notified_drafts)
        console.print(f"The review webhook receiver is told to erase drafts {ids}.")


def unsubscribe_command(customer_id: CustomerArgument, as_json: JsonFlag = False) -> None:
    """Withdraw a customer's marketing consent; their drafts waiting for review are withdrawn."""
    with open_home() as home:
        with home.db.write() as session:
            withdrawn = unsubscribe(session, customer_id=customer_id, actor="cli")
        push_review_webhook(home)  # the receiver hears of the drafts it holds
    if as_json:
        print_json(
            {"customer_id": customer_id, "marketing_consent": False, "drafts_withdrawn": withdrawn}
        )
        return
    console.print(f"Customer {customer_id} unsubscribed; {withdrawn} draft(s) withdrawn.")
