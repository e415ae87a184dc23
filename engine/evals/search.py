"""Search quality on a labelled set: recall of expected customers, and unrelated ones returned."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.encoder import Encoder
from embeddings.store import VectorStore
from engine.db import Database
from engine.errors import EngineError
from engine.search.service import RELEVANCE_THRESHOLD, Mode, search_customers


@dataclass(frozen=True)
class LabelledQuery:
    """A marketer's question and the customers who really asked about it."""

    query: str
    expected: frozenset[str]


@dataclass
class SearchEvalResult:
    """Recall@k of expected customers, and unrelated customers returned per query."""

    mode: str
    threshold: float
    k: int
    recall: float
    unrelated_per_query: float
    queries: int
    misses: dict[str, list[str]] = field(default_factory=dict)
    unrelated: dict[str, list[str]] = field(default_factory=dict)


def load_queries(path: Path) -> list[LabelledQuery]:
    """Read `[{"query", "expected": [customer ids]}, ...]`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [LabelledQuery(q["query"], frozenset(q["expected"])) for q in data]
    # ValueError covers bad UTF-8 and JSON; RecursionError, JSON nested too deeply.
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise EngineError(f"{path}: not a list of {{query, expected}} objects ({error})") from None


def evaluate_search(
    db: Database,
    *,
    encoder: Encoder,
    store: VectorStore,
    queries: list[LabelledQuery],
    mode: Mode = "dense",
    threshold: float = RELEVANCE_THRESHOLD,
    k: int = 10,
) -> SearchEvalResult:
    """Run every query; recall counts expected customers found in the top k (over all
    queries), unrelated counts returned customers not expected (averaged per query)."""
    expected_total = found_total = unrelated_total = 0
    result = SearchEvalResult(
        mode=mode,
        threshold=threshold,
        k=k,
        recall=0.0,
        unrelated_per_query=0.0,
        queries=len(queries),
    )
    with db.read() as session:
        for labelled in queries:
            matches = search_customers(
                session,
                query=labelled.query,
                encoder=encoder,
                store=store,
                limit=k,
                threshold=threshold,
                mode=mode,
            )
            returned = {m.customer_id for m in matches}
            missing = sorted(labelled.expected - returned)
            extra = sorted(returned - labelled.expected)
            expected_total += len(labelled.expected)
            found_total += len(labelled.expected) - len(missing)
            unrelated_total += len(extra)
            if missing:
                result.misses[labelled.query] = missing
            if extra:
                result.unrelated[labelled.query] = extra
    result.recall = found_total / expected_total if expected_total else 1.0
    result.unrelated_per_query = unrelated_total / len(queries) if queries else 0.0
    return result
