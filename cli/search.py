"""Reading what customers said: `search`, `intents` and `context`."""

from contextlib import closing
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.base import JsonFlag, aware, console, open_home, print_json
from cli.output import print_context, print_matches


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
    from engine.runtime import load_encoder, load_question_encoder, open_vector_store
    from engine.search.rewrite import build_rewriter
    from engine.search.service import refusal, search_customers

    refused = refusal(query)
    if refused is not None:
        # Said before any model loads: nothing a customer said about it is kept to search.
        if as_json:
            print_json(
                {
                    "query": query,
                    "customers": [],
                    "refused": True,
                    "reason": refused,
                    "rewritten_as": [],
                }
            )
        else:
            console.print(f"Nobody: {refused}.")
        return
    # Only what a search reads: the intent model and the parser would add seconds to load.
    with open_home() as home:
        rewriter = build_rewriter(home.settings)
        phrasings = rewriter.rewrite(query) if rewriter is not None else []
        encoder = load_encoder(home.settings)
        store = open_vector_store(home.settings, dimension=encoder.dimension)
        with closing(store), home.db.read() as session:
            matches = search_customers(
                session,
                query=query,
                encoder=load_question_encoder(encoder),
                store=store,
                since=aware(since, option="--since"),
                until=aware(until, option="--until"),
                limit=limit,
                phrasings=phrasings,
            )
    if as_json:
        print_json(
            {
                "query": query,
                "customers": [asdict(m) for m in matches],
                "refused": False,
                "reason": None,
                "rewritten_as": phrasings,
            }
        )
        return
    if phrasings:
        console.print("Also searched as Claude reworded it: " + "; ".join(phrasings))
    print_matches(console, query, matches)


def intents(as_json: JsonFlag = False) -> None:
    """Built-in intents and trackers, with how many messages and customers carry each."""
    from engine.intents.service import list_intents

    with open_home() as home, home.db.read() as session:
        rows = list_intents(session)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table("intent", "kind", "messages", "customers", title="Intents")
    for row in sorted(rows, key=lambda r: -r.customers):
        table.add_row(row.name, row.kind, str(row.messages), str(row.customers))
    console.print(table)


def context(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="The context as it stood then (ISO date).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The gated context of one customer: everything a drafter may see, and nothing else."""
    from engine.customers.context import build_context

    with open_home() as home, home.db.read() as session:
        found = build_context(
            session, customer_id=customer_id, as_of=aware(as_of, option="--as-of")
        )
    if as_json:
        print(found.model_dump_json(indent=2))
        return
    print_context(console, found)
