"""Printing results for a person at a terminal."""

from rich.console import Console

from engine.search import CustomerMatch


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
