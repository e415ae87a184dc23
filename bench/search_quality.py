"""Search quality on a labelled set (tests/data/search_eval by default, or search_blind):
recall@10 of the expected customers and unrelated customers per query, with the shipped
settings (the query side, RELEVANCE_THRESHOLD), and for information dense against hybrid over
a few thresholds. Nothing is chosen here: the settings come from bench/search_dev.py.

    .venv/bin/python bench/search_quality.py [--set search_blind]
"""

import argparse
import tempfile
from pathlib import Path

from chat_ingest.jsonl import import_file
from engine.evals.search import evaluate_search, load_queries
from engine.runtime import build_services
from engine.search.service import RELEVANCE_THRESHOLD
from engine.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
THRESHOLDS = (0.22, 0.24, 0.26, 0.28, 0.30, 0.34, 0.38)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="search_eval", choices=["search_eval", "search_blind"])
    data = DATA / parser.parse_args().set
    with tempfile.TemporaryDirectory(prefix="bench-search-quality-") as home:
        settings = Settings(personalize_home=Path(home), database_url=None, qdrant_url=None)
        services = build_services(settings)
        try:
            import_file(services.db, path=data / "customers.jsonl", kind="customers")
            import_file(services.db, path=data / "transcripts.jsonl", kind="transcripts")
            services.pipeline().run_until_idle()
            queries = load_queries(data / "queries.json")
            encoder = services.question_encoder()
            shipped = evaluate_search(
                services.db, encoder=encoder, store=services.store, queries=queries
            )
            met = shipped.recall >= 0.9 and shipped.unrelated_per_query <= 0.5
            print(
                f"{data.name}, {len(queries)} queries, shipped (query side, dense, "
                f"{RELEVANCE_THRESHOLD:.2f}): recall@10 {shipped.recall:.3f}, unrelated "
                f"{shipped.unrelated_per_query:.2f} per query; goal recall >= 0.9 and unrelated "
                f"<= 0.5: {'MET' if met else 'MISSED'}"
            )
            print(f"{'mode':<8}{'threshold':>10}{'recall':>9}{'unrelated':>11}")
            for mode in ("dense", "hybrid"):
                for threshold in THRESHOLDS:
                    result = evaluate_search(
                        services.db,
                        encoder=encoder,
                        store=services.store,
                        queries=queries,
                        mode=mode,
                        threshold=threshold,
                    )
                    print(
                        f"{mode:<8}{threshold:>10.3f}{result.recall:>9.3f}"
                        f"{result.unrelated_per_query:>11.2f}"
                    )
        finally:
            services.close()


if __name__ == "__main__":
    main()
