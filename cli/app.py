"""The one `personalize` Typer app: every command group registered, and the console entry point."""

import typer

from api.logs import install_log_masking
from cli import (
    customers,
    demo,
    drafting,
    evals,
    imports,
    keys,
    report,
    search,
    sending,
    serve,
    users,
)
from cli.base import err_console
from engine.errors import EngineError

app = typer.Typer(
    no_args_is_help=True,
    help="Chat-driven 1:1 email personalization: what customers said, what they bought.",
    pretty_exceptions_enable=False,
)
# In the order `personalize --help` lists them: the commands, then the groups.
app.command("ingest")(imports.ingest)
app.command()(serve.status)
app.command()(serve.migrate)
app.command()(serve.serve)
app.command()(demo.demo)
app.command()(serve.worker)
app.command()(search.search)
app.command()(search.intents)
app.command()(search.context)
app.command()(drafting.draft)
app.command()(customers.forget)
app.command("unsubscribe")(customers.unsubscribe_command)
app.command()(sending.send)
app.command()(report.report)
app.add_typer(imports.import_app, name="import")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(users.users_app, name="users")
app.add_typer(evals.eval_app, name="eval")
app.add_typer(drafting.voice_app, name="voice")
app.add_typer(drafting.campaign_app, name="campaign")
app.add_typer(drafting.review_app, name="review")


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
