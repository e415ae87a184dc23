"""Running the fact evaluation: a labelled set loaded into a fresh embedded home, processed by
the real pipeline, every customer's context built and scored."""

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from chat_ingest.jsonl import ImportSummary, Kind, import_file
from embeddings.encoder import Encoder
from engine.customers.context import CustomerContext, build_context, monetary_cuts
from engine.errors import EngineError
from engine.evals.facts import FactEvalReport, load_labels, score
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from engine.models import Customer, Message, Order
from engine.runtime import build_services
from engine.settings import Settings


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
    """Load the three files into a fresh temporary home, process every message, and score
    every customer's context against the transcripts' labels."""
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
