"""Drafting and review: `voice ...`, `draft`, `campaign run` and `review ...`."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cli.base import (
    Home,
    JsonFlag,
    aware,
    console,
    err_console,
    open_home,
    print_json,
    progress_bar,
    push_review_webhook,
)
from cli.output import draft_panel, print_campaign
from engine.drafting.review import approve, get_draft, list_drafts, reject, statuses_for
from engine.drafting.service import CampaignReport, draft_one, run_campaign
from engine.drafting.voice import InvalidVoiceGuide, current_voice, parse_voice_guide, set_voice
from engine.models import DraftKind

voice_app = typer.Typer(no_args_is_help=True, help="The business's voice guide.")
campaign_app = typer.Typer(no_args_is_help=True, help="Draft a lifecycle email for everyone due.")
review_app = typer.Typer(
    no_args_is_help=True, help="The review queue: list, show, approve, reject."
)

# What the audit trail names as the actor of what is done from the command line.
CLI_ACTOR = "cli"
# Draft ids are 32-bit integers in PostgreSQL.
DraftIdArgument = Annotated[int, typer.Argument(help="The draft's id.", min=1, max=2**31 - 1)]
KindOption = Annotated[
    DraftKind,
    typer.Option("--kind", help="welcome, post_purchase or win_back.", show_default=False),
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option("--as-of", help="Who is due as of this time (ISO date; default now)."),
]


@voice_app.command("set")
def voice_set(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A JSON file.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Set the voice guide from a JSON file: business, samples (3-5), rules (5-10), contrast,
    checks; see engine/sample/voice.json."""
    try:
        guide = parse_voice_guide(file.read_bytes())
    except InvalidVoiceGuide as error:
        err_console.print(f"[red]error:[/] {file}: {error}")
        raise typer.Exit(code=2) from None
    with open_home() as home, home.db.write() as session:
        stored = set_voice(session, guide=guide, actor=CLI_ACTOR)
    if as_json:
        print(stored.model_dump_json(indent=2))
        return
    console.print(
        f"voice guide v{stored.version} for {stored.business}: {len(stored.samples)} samples, "
        f"{len(stored.rules)} rules, {len(stored.checks.banned_phrases)} banned phrases"
    )


@voice_app.command("show")
def voice_show(as_json: JsonFlag = False) -> None:
    """The voice guide in use (the built-in default until one is set)."""
    with open_home() as home, home.db.read() as session:
        guide = current_voice(session)
    if as_json:
        print(guide.model_dump_json(indent=2))
        return
    version = f"v{guide.version}" if guide.version else "built-in default"
    console.print(f"[bold]{guide.business}[/] ({version})")
    for rule in guide.rules:
        console.print(f"  - {rule}")


def draft(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    kind: KindOption,
    as_of: AsOfOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Draft one email for one customer into the review queue (the step they are due for, or a
    manual one)."""
    from engine.runtime import build_drafter  # heavy to import; review commands do not need it

    with open_home() as home:
        detail, created = draft_one(
            home.db,
            drafter=build_drafter(home.settings),
            customer_id=customer_id,
            kind=kind,
            as_of=aware(as_of, option="--as-of"),
            actor=CLI_ACTOR,
            webhook_url=home.settings.review_webhook_url,
        )
        push_review_webhook(home)
    if as_json:
        print_json({"created": created, "draft": detail.model_dump(mode="json")})
        return
    if not created:
        console.print("[dim]this step was drafted already; the existing draft:[/]")
    console.print(draft_panel(detail), soft_wrap=False)


HoldoutOption = Annotated[
    float,
    typer.Option(
        "--holdout",
        min=0.0,
        max=1.0,
        help="The share of due customers held out (no email; counted in the report), 0 to <1.",
    ),
]
UnengagedOption = Annotated[
    bool,
    typer.Option(
        "--include-unengaged",
        help="Also draft customers whose last 6 emails over 90+ days drew no click or open.",
    ),
]
AbOption = Annotated[
    bool,
    typer.Option(
        "--ab", help="Split the rest evenly between the personal draft and the generic template."
    ),
]


@campaign_app.command("run")
def campaign_run(
    kind: KindOption,
    as_of: AsOfOption = None,
    holdout: HoldoutOption = 0.0,
    ab: AbOption = False,
    include_unengaged: UnengagedOption = False,
    as_json: JsonFlag = False,
) -> None:
    """Draft every customer due for KIND into the review queue; running it twice creates
    nothing new."""
    with open_home() as home:
        report = _run_with_progress(
            home,
            kind=kind,
            as_of=aware(as_of, option="--as-of"),
            quiet=as_json,
            holdout=holdout,
            ab=ab,
            include_unengaged=include_unengaged,
        )
        push_review_webhook(home)
    data = {
        "kind": report.kind,
        "as_of": report.as_of.isoformat(),
        "due": report.due,
        "created": report.created,
        "already_drafted": report.already_drafted,
        "lost_consent": report.lost_consent,
        "needs_attention": report.needs_attention,
        "failed": [vars(f) for f in report.failed],
        "draft_ids": report.draft_ids,
        "held_out": report.held_out,
        "generic": report.generic,
    }
    if as_json:
        print_json(data)
    else:
        print_campaign(console, data)
        if report.held_out or report.generic:
            console.print(
                f"  {report.held_out} held out (no email), "
                f"{report.generic} generic drafts (A/B), "
                f"{report.created - report.generic} personal drafts"
            )
    if report.failed:
        raise typer.Exit(code=1)


def _run_with_progress(
    home: Home,
    *,
    kind: DraftKind,
    as_of: datetime | None,
    quiet: bool,
    holdout: float = 0.0,
    ab: bool = False,
    include_unengaged: bool = False,
) -> CampaignReport:
    """Run a campaign with a progress bar on stderr (none when `quiet`)."""
    from engine.runtime import build_drafter  # heavy to import; review commands do not need it

    drafter = build_drafter(home.settings)
    with progress_bar("{task.description}", disable=quiet, transient=True) as progress:
        task = progress.add_task(f"drafting {kind}", total=None)
        return run_campaign(
            home.db,
            drafter=drafter,
            kind=kind,
            as_of=as_of,
            actor=CLI_ACTOR,
            webhook_url=home.settings.review_webhook_url,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            holdout=holdout,
            ab=ab,
            include_unengaged=include_unengaged,
        )


@review_app.command("list")
def review_list(
    status: Annotated[
        str, typer.Option(help="waiting (pending_review and needs_attention), all, or a status.")
    ] = "waiting",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Drafts in the review queue, oldest first."""
    from engine.models import DRAFT_STATUSES

    if status not in (*DRAFT_STATUSES, "waiting", "all"):
        err_console.print(f"[red]error:[/] --status: unknown status {status!r}")
        raise typer.Exit(code=2)
    statuses = statuses_for(status)
    with open_home() as home, home.db.read() as session:
        drafts = list_drafts(session, statuses=statuses, limit=limit)
    if as_json:
        print_json([d.model_dump(mode="json") for d in drafts])
        return
    if not drafts:
        console.print("The review queue is empty.")
    for d in drafts:
        console.print(
            f"#{d.id:<5} {d.status:<15} {d.kind}.{d.step:<4} {d.customer_id:<12} {d.subject}",
            highlight=False,
        )


@review_app.command("show")
def review_show(draft_id: DraftIdArgument, as_json: JsonFlag = False) -> None:
    """One draft with the evidence behind it and its audit trail."""
    with open_home() as home, home.db.read() as session:
        detail = get_draft(session, draft_id=draft_id)
    if as_json:
        print(detail.model_dump_json(indent=2))
        return
    console.print(draft_panel(detail), soft_wrap=False)
    for event in detail.history:
        console.print(f"  {event.at:%Y-%m-%d %H:%M} {event.action} by {event.actor}")


@review_app.command("approve")
def review_approve(draft_id: DraftIdArgument) -> None:
    """Approve a draft waiting for review."""
    _review(lambda session: approve(session, draft_id=draft_id, actor=CLI_ACTOR))
    console.print(f"draft {draft_id} approved")


@review_app.command("reject")
def review_reject(
    draft_id: DraftIdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
) -> None:
    """Reject a draft waiting for review, with a reason."""
    _review(lambda session: reject(session, draft_id=draft_id, actor=CLI_ACTOR, reason=reason))
    console.print(f"draft {draft_id} rejected")


def _review(action: Callable[[Session], None]) -> None:
    """Do one review action in its own transaction."""
    with open_home() as home, home.db.write() as session:
        action(session)
