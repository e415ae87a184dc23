"""Search quality on the labelled set in tests/data/search_eval: recall@10 of the expected
customers and unrelated customers per query, dense against hybrid, over a few thresholds.

    .venv/bin/python bench/search_quality.py
"""

import tempfile
from pathlib import Path

from chat_ingest.jsonl import import_file
from engine.evals.search import evaluate_search, load_queries
from engine.runtime import build_services
from engine.search.service import RELEVANCE_THRESHOLD
from engine.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "search_eval"
THRESHOLDS = (0.25, 0.27, 0.28, 0.29, 0.30, 0.32, 0.35)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-search-quality-") as home:
        settings = Settings(personalize_home=Path(home), database_url=None, qdrant_url=None)
        services = build_services(settings)
        try:
            import_file(services.db, path=DATA / "customers.jsonl", kind="customers")
            import_file(services.db, path=DATA / "transcripts.jsonl", kind="transcripts")
            services.pipeline().run_until_idle()
            queries = load_queries(DATA / "queries.json")
            print(f"{len(queries)} queries, recall@10 and unrelated customers per query")
            print(f"{'mode':<8}{'threshold':>10}{'recall':>9}{'unrelated':>11}")
            shipped = None
            for mode in ("dense", "hybrid"):
                for threshold in THRESHOLDS:
                    result = evaluate_search(
                        services.db,
                        encoder=services.question_encoder(),
                        store=services.store,
                        queries=queries,
                        mode=mode,
                        threshold=threshold,
                    )
                    print(
                        f"{mode:<8}{threshold:>10.3f}{result.recall:>9.3f}"
                        f"{result.unrelated_per_query:>11.2f}"
                    )
                    if mode == "dense" and threshold == RELEVANCE_THRESHOLD:
                        shipped = result
            assert shipped is not None
            met = shipped.recall >= 0.9 and shipped.unrelated_per_query <= 1.0
            print(
                f"shipped (dense, {RELEVANCE_THRESHOLD:.2f}): recall {shipped.recall:.3f}, "
                f"unrelated {shipped.unrelated_per_query:.2f}; goal recall >= 0.9 and "
                f"unrelated <= 1: {'MET' if met else 'MISSED'}"
            )
        finally:
            services.close()


if __name__ == "__main__":
    main()
