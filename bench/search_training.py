"""The trained query side against the base model on the dev businesses of the search training
file (embeddings/query_model.py): each dev question ranks every customer sentence of its
business; recall@5, recall@10 and MRR of its positives, and a threshold sweep (share of
positives above, other sentences above per question) with the threshold that finds the most
with at most 0.5 others per question. Each model is asked the question as typed and as the
search words it (focus_query). Nothing under tests/data is read.

    .venv/bin/python bench/search_training.py            # base against the default settings
    .venv/bin/python bench/search_training.py --sweep    # and one setting changed at a time
"""

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.query_model import (
    SEED,
    QuerySettings,
    RankingFigures,
    SearchPair,
    dev_businesses,
    dev_report,
    dev_split,
    document_vectors,
    figures_table,
    load_pairs,
    score_questions,
    sweep_table,
    train_query_model,
)
from engine.search.service import focus_query

Documents = dict[str, npt.NDArray[np.float32]]
Rewrite = Callable[[str], str] | None
DEFAULTS = QuerySettings()
# One change from the defaults at a time: (name, settings, rewrite the questions while training).
VARIANTS: list[tuple[str, QuerySettings, bool]] = [
    ("lr 5e-5", replace(DEFAULTS, learning_rate=5e-5), False),
    ("lr 2e-4", replace(DEFAULTS, learning_rate=2e-4), False),
    ("lr 4e-4", replace(DEFAULTS, learning_rate=4e-4), False),
    ("epochs 10", replace(DEFAULTS, epochs=10), False),
    ("epochs 40", replace(DEFAULTS, epochs=40), False),
    ("1 layer", replace(DEFAULTS, trained_layers=1), False),
    ("3 layers", replace(DEFAULTS, trained_layers=3), False),
    ("4 layers", replace(DEFAULTS, trained_layers=4), False),
    ("scale 10", replace(DEFAULTS, scale=10.0), False),
    ("scale 40", replace(DEFAULTS, scale=40.0), False),
    ("no hard negatives", replace(DEFAULTS, hard_negatives=False), False),
    ("batch 16", replace(DEFAULTS, batch_size=16), False),
    ("batch 64", replace(DEFAULTS, batch_size=64), False),
    ("focus_query training", DEFAULTS, True),
]


def selection_score(figures: RankingFigures) -> float:
    """How settings are compared: the mean of recall@10, MRR and the recall at the chosen
    threshold (the product's cut), each on all dev questions."""
    return (figures.recall_at_10 + figures.mrr + figures.chosen.recall) / 3


def measure(
    model: Encoder, dev: list[SearchPair], documents: Documents, rewrite: Rewrite
) -> dict[str, RankingFigures]:
    """Dev figures for one model, questions worded by `rewrite`."""
    return dev_report(score_questions(model, dev, documents=documents, rewrite=rewrite))


def trained(
    base: SentenceTransformerEncoder,
    train: list[SearchPair],
    documents: Documents,
    settings: QuerySettings,
    rewrite: Rewrite,
) -> tuple[SentenceTransformerEncoder, float]:
    """A query side trained on the training businesses, and the seconds it took."""
    started = time.perf_counter()
    model = train_query_model(
        base, train, documents=documents, seed=SEED, settings=settings, rewrite=rewrite
    )
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also try one change at a time")
    args = parser.parse_args()
    base = SentenceTransformerEncoder()
    pairs = load_pairs()
    train, dev = dev_split(pairs)
    print(f"dev businesses ({len(dev)} questions): {', '.join(dev_businesses(pairs))}")
    print(f"training businesses: {len(train)} questions")
    documents = document_vectors(base, pairs)
    model, seconds = trained(base, train, documents, DEFAULTS, None)
    print(f"default settings {DEFAULTS}: trained in {seconds:.0f} s")
    reports = {
        "base": measure(base, dev, documents, None),
        "base, focus_query": measure(base, dev, documents, focus_query),
        "trained": measure(model, dev, documents, None),
        "trained, focus_query": measure(model, dev, documents, focus_query),
    }
    print(figures_table(reports))
    for name in ("base", "trained"):
        print(f"\n{name}, all dev questions, as typed:")
        print(sweep_table(reports[name]["all"]))
    if not args.sweep:
        return
    print(f"\n{'setting':<26}{'score':>7}{'R@5':>7}{'R@10':>7}{'MRR':>7}{'thr':>6}{'rec':>7}")
    row("defaults", reports["trained"]["all"], seconds)
    row("defaults, focus at query", reports["trained, focus_query"]["all"], seconds)
    for name, settings, rewrite in VARIANTS:
        use = focus_query if rewrite else None
        variant, spent = trained(base, train, documents, settings, use)
        row(name, measure(variant, dev, documents, use)["all"], spent)


def row(name: str, figures: RankingFigures, seconds: float) -> None:
    """One setting's dev figures, as soon as they are known."""
    print(
        f"{name:<26}{selection_score(figures):>7.3f}{figures.recall_at_5:>7.3f}"
        f"{figures.recall_at_10:>7.3f}{figures.mrr:>7.3f}{figures.chosen.threshold:>6.2f}"
        f"{figures.chosen.recall:>7.3f}  {seconds:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
