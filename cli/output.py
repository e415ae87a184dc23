"""Printing results for a person at a terminal: matches, contexts, drafts, campaigns, evals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from engine.customers.context import CustomerContext
from engine.drafting.review import DraftRead

if TYPE_CHECKING:  # the search module pulls in the vector store client
    from engine.search.service import CustomerMatch


def print_matches(out: Console, query: str, matches: list[CustomerMatch]) -> None:
    """Print search results with their quotes."""
    if not matches:
        out.print(f"No customer is asking about {query!r}.")
        return
    out.print(f"[bold]Customers asking about {query!r}:[/]")
    for rank, match in enumerate(matches, start=1):
        name = f" ({match.first_name})" if match.first_name else ""
        out.print(f"{rank:>2}. {match.customer_id}{name}  score {match.score:.2f}")
        for quote in match.evidence:
            out.print(f'      "{quote.text}"  [dim]{quote.sent_at:%Y-%m-%d}[/]', highlight=False)


def print_context(out: Console, context: CustomerContext) -> None:
    """Print a customer's gated context: who, what they bought, what they said, what is blocked."""
    name = f" ({context.first_name})" if context.first_name else ""
    consent = "yes" if context.consent.marketing_consent else "no"
    out.print(f"[bold]{context.customer_id}{name}[/]  marketing consent: {consent}")
    orders = context.orders
    spend = ", ".join(f"{amount} {currency}" for currency, amount in orders.total_spend.items())
    out.print(
        f"lifecycle: {context.lifecycle}   RFM: recency {context.rfm.recency or '-'}, "
        f"frequency {context.rfm.frequency}, monetary {context.rfm.monetary or '-'}"
    )
    out.print(f"orders: {orders.count}" + (f", spent {spend}" if spend else ""))
    for product in orders.products[:10]:
        out.print(
            f"  - {product.name} x{product.quantity}  [dim]{product.last_bought_at:%Y-%m-%d}[/]"
        )
    if context.intents:
        out.print(
            "recent intents: " + ", ".join(f"{i.intent} ({i.count})" for i in context.intents)
        )
    out.print(f"[bold]what they said about themselves[/] ({len(context.facts)}):")
    for fact in context.facts:
        out.print(
            f'  {fact.category:<11} {fact.value:<28} "{fact.quote}"  '
            f"[dim]{fact.said_at:%Y-%m-%d} {fact.message_id}[/]",
            highlight=False,
        )
    for opt_out in context.opt_outs:
        out.print(
            f'  [yellow]opt-out[/]     {opt_out.topic:<28} "{opt_out.quote}"', highlight=False
        )
    if context.blocked:
        blocked = ", ".join(f"{reason} {count}" for reason, count in context.blocked.items())
        out.print(f"[dim]blocked (counts only): {blocked}[/]")
    if context.withheld_by_opt_out:
        out.print(f"[dim]withheld because of opt-outs: {context.withheld_by_opt_out}[/]")


def print_fact_eval(out: Console, data: dict[str, Any]) -> None:
    """Print a fact evaluation report."""
    out.print(f"transcripts {data['transcripts']}, customers {data['customers']}")
    verdict = "[green]0 leaks[/]" if not data["leaks"] else f"[red]{data['leaks']} leaks[/]"
    out.print(
        f"{verdict}; recall of allowed facts {data['recall']:.3f} "
        f"({data['found']}/{data['allowed']})"
    )
    for leak in data["leaked"]:
        out.print(
            f"  [red]leak[/] {leak['reason']}: {leak['text']!r} in {leak['found_in_customer']}."
            f"{leak['field']}",
            highlight=False,
        )
    words = data["word_leaks"]
    colour = "green" if not words else "yellow"
    out.print(
        f"[{colour}]{words} word leaks[/] (a distinctive word of a forbidden phrase in that "
        "customer's context: review each)"
    )
    for leak in data["word_leaked"]:
        out.print(
            f"  [yellow]word[/] {leak['reason']}: {leak['word']!r} of {leak['text']!r}, as "
            f"{leak['found']!r} in {leak['customer']}.{leak['field']}",
            highlight=False,
        )
    for category, row in data["recall_by_category"].items():
        out.print(f"  {category:<11} {row['found']}/{row['allowed']}  {row['recall']:.3f}")
    out.print(
        "forbidden by reason (labelled / leaked): "
        + ", ".join(
            f"{reason} {row['labelled']}/{row['leaked']}"
            for reason, row in data["forbidden_by_reason"].items()
        )
    )
    out.print(
        "blocked by the gate: "
        + ", ".join(f"{r} {n}" for r, n in data["blocked_by_reason"].items())
    )


def draft_panel(draft: DraftRead) -> Panel:
    """A draft as a panel: header, the email, and the evidence behind each personal sentence."""
    name = f" ({draft.first_name})" if draft.first_name else ""
    lines = Text()
    lines.append(f"Subject: {draft.subject}\n", style="bold")
    lines.append(f"Preheader: {draft.preheader}\n\n", style="dim")
    lines.append(draft.body.strip() + "\n")
    if draft.evidence:
        lines.append("\nWhy it says what it says:\n", style="bold")
    for evidence in draft.evidence:
        lines.append(f"• {evidence.sentence}\n", style="cyan")
        for fact in evidence.facts:
            lines.append(
                f'    said "{fact.quote}" ({fact.category}, {fact.said_at:%Y-%m-%d})\n', style="dim"
            )
        for product in evidence.products:
            if product.bought and product.last_bought_at:
                lines.append(
                    f"    bought {product.name} ({product.last_bought_at:%Y-%m-%d})\n", style="dim"
                )
            else:
                lines.append(f"    suggests {product.name} (catalog)\n", style="dim")
        for intent in evidence.intents:
            lines.append(f"    asked about {intent.intent.replace('_', ' ')}\n", style="dim")
    for problem in draft.problems:
        lines.append(f"! {problem.code}: {problem.message}\n", style="red")
    title = f"#{draft.id} {draft.kind}.{draft.step} for {draft.customer_id}{name} [{draft.status}]"
    return Panel(lines, title=title, subtitle=f"{draft.drafter} {draft.template}")


def print_drafts_side_by_side(out: Console, drafts: list[DraftRead]) -> None:
    """Print drafts next to each other (one column each)."""
    table = Table.grid(expand=True, padding=(0, 1))
    for _ in drafts:
        table.add_column(ratio=1)
    table.add_row(*(draft_panel(d) for d in drafts))
    out.print(table, soft_wrap=False)


def print_campaign(out: Console, report: dict[str, Any]) -> None:
    """Print what a campaign run did."""
    out.print(
        f"[bold]{report['kind']}[/] as of {report['as_of']}: {report['due']} due, "
        f"{report['created']} drafted into the review queue"
        + (f", {report['needs_attention']} need attention" if report["needs_attention"] else "")
        + (f", {report['already_drafted']} drafted meanwhile" if report["already_drafted"] else "")
        + (f", {report['lost_consent']} unsubscribed meanwhile" if report["lost_consent"] else "")
        + (f", [red]{len(report['failed'])} failed[/]" if report["failed"] else "")
    )
    for failed in report["failed"]:
        out.print(f"  [red]failed[/] {failed['customer_id']} {failed['step']}: {failed['error']}")
