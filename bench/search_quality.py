"""Search quality on the labelled set in tests/data/search_eval: recall@10 of the expected
customers and unrelated customers per query, dense against hybrid, over a few thresholds.

    .venv/bin/python bench/search_quality.py
"""

import tempfile
from pathlib import Path

from chat_ingest.jsonl import import_file
from engine.runtime import build_services
from engine.search_eval import evaluate_search, load_queries
from engine.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "search_eval"
THRESHOLDS = (0.35, 0.40, 0.45, 0.50, 0.55)


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
            for mode in ("dense", "hybrid"):
                for threshold in THRESHOLDS:
                    result = evaluate_search(
                        services.db,
                        encoder=services.encoder,
                        store=services.store,
                        queries=queries,
                        mode=mode,
                        threshold=threshold,
                    )
                    print(
                        f"{mode:<8}{threshold:>10.2f}{result.recall:>9.3f}"
                        f"{result.unrelated_per_query:>11.2f}"
                    )
        finally:
            services.close()


if __name__ == "__main__":
    main()
