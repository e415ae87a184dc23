"""Measuring the models on labelled data: `eval intents` and `eval facts`, and its runner."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import func, select

from chat_ingest.jsonl import ImportSummary, Kind, import_file
from cli.base import JsonFlag, console, err_console, fail, print_json, progress_bar
from cli.output import print_fact_eval
from embeddings.encoder import Encoder
from engine.customers.context import CustomerContext, build_context, monetary_cuts
from engine.errors import EngineError
from engine.models import Customer, Message, Order
from engine.settings import Settings

if TYPE_CHECKING:  # the models' modules take seconds to import; the runner imports them
    from engine.evals.facts import FactEvalReport
    from engine.facts.extract import FactExtractor
    from engine.intents.model import IntentModel

eval_app = typer.Typer(no_args_is_help=True, help="Measure the models on labelled data.")


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
        with progress_bar("fine-tuning the encoder", disable=not finetune or as_json) as progress:
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


class LabelledSetRejected(EngineError):
    """Lines of the labelled set were rejected on import."""

    code = "invalid"


def run_fact_eval(
    *,
    customers: Path,
    orders: Path,
    transcripts: Path,
    encoder: Encoder | None = None,
    intents: IntentModel | None = None,
    facts: FactExtractor | None = None,
    on_step: Callable[[str], None] | None = None,
) -> FactEvalReport:
    """Load the three files into a fresh temporary home, process every message by the real
    pipeline, and score every customer's context against the transcripts' labels."""
    # Imported here: they load the models' libraries, which the other commands do not need.
    from engine.evals.facts import load_labels, score
    from engine.runtime import build_services

    labelled = load_labels(transcripts)
    with tempfile.TemporaryDirectory(prefix="personalize-eval-facts-") as home:
        settings = Settings(personalize_home=Path(home), database_url=None, qdrant_url=None)
        services = build_services(settings, encoder=encoder, intents=intents, facts=facts)
        try:
            kinds: list[tuple[Kind, Path]] = [
                ("customers", customers),
                ("orders", orders),
                ("transcripts", transcripts),
            ]
            for kind, path in kinds:
                if on_step:
                    on_step(f"importing {kind}")
                _check(import_file(services.db, path=path, kind=kind), kind=kind, path=path)
            if on_step:
                on_step("processing messages")
            services.pipeline().run_until_idle()
            contexts: dict[str, CustomerContext] = {}
            with services.db.read() as session:
                cuts = monetary_cuts(session)
                # A day after the set's last event, not now: the context carries its as_of
                # time, and today's digits once matched a forbidden card fragment ("4242").
                last = max(
                    [
                        t
                        for t in (
                            session.scalar(func.max(Message.sent_at)),
                            session.scalar(func.max(Order.placed_at)),
                        )
                        if t is not None
                    ],
                    default=None,
                )
                as_of = last + timedelta(days=1) if last is not None else None
                for customer_id in session.scalars(select(Customer.id).order_by(Customer.id)):
                    contexts[customer_id] = build_context(
                        session, customer_id=customer_id, cuts=cuts, as_of=as_of
                    )
        finally:
            services.close()
    return score(contexts, labelled)


def _check(summary: ImportSummary, *, kind: str, path: Path) -> None:
    """A labelled set must load whole: a rejected line would silently shrink what is scored."""
    if summary.rejected:
        first = summary.errors[0] if summary.errors else None
        raise LabelledSetRejected(
            f"{path}: {summary.rejected} {kind} line(s) rejected"
            + (f" (first: {first})" if first else "")
        )
