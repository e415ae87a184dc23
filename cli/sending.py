"""Sending: `send` pushes approved drafts out through the configured transport."""

from dataclasses import asdict
from typing import Annotated

import typer

from cli.base import JsonFlag, console, err_console, open_home, print_json
from engine.email.sender import make_transport, send_due, sender_config
from engine.email.transports import SmtpTransport


def send(
    limit: Annotated[
        int | None, typer.Option(min=1, help="Send at most this many (oldest approved first).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send approved drafts, oldest first, through EMAIL_TRANSPORT (smtp or webhook); a
    customer who lost consent or whose address is suppressed is not sent (the draft is
    withdrawn). Failures are retried with backoff by later runs, `serve` and `worker`."""
    with open_home() as home:
        transport = make_transport(home.settings)
        if transport is None:
            err_console.print(
                "EMAIL_TRANSPORT is none: nothing is sent (set it to smtp or webhook)."
            )
            if as_json:
                print_json({"transport": "none", "sent": 0})
            return
        config = sender_config(home.settings)
        try:
            report = send_due(home.db, transport=transport, config=config, limit=limit)
        finally:
            if isinstance(transport, SmtpTransport):
                transport.close()
    if as_json:
        print_json({"transport": transport.name, **asdict(report)})
        return
    console.print(
        f"{report.sent} sent, {report.retrying} to retry, {report.failed} failed, "
        f"{report.withdrawn} withdrawn (consent or address lost)"
    )
    for error in report.errors:
        err_console.print(f"  [yellow]{error}[/]", highlight=False)
