"""BM25 sparse vectors: stable term ids, stopwords dropped, saturating term frequency."""

import itertools
import os
import subprocess
import sys
import zlib

import pytest

from embeddings.sparse import bm25_document, bm25_query, term_id, tokenize


def test_term_ids_are_stable_across_processes() -> None:
    # crc32 of the UTF-8 token, fixed forever: stored vectors must match tomorrow's queries.
    assert term_id("grinder") == zlib.crc32(b"grinder") % 2**31
    assert term_id("grinder") == 856_914_141
    code = "from embeddings.sparse import term_id; print(term_id('grinder'))"
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert int(out.stdout) == term_id("grinder")


def test_stopwords_and_punctuation_are_dropped() -> None:
    assert tokenize("I don't want THE Grinder, please!") == ["want", "grinder"]
    # A typographic apostrophe is the same contraction.
    assert tokenize("I don\u2019t know") == ["know"]
    assert bm25_query("the and of it") == bm25_document("the and of it")
    assert bm25_query("the and of it").indices == []


def test_plurals_and_possessives_fold() -> None:
    assert tokenize("grinders batteries Priya's glass bus") == [
        "grinder",
        "battery",
        "priya",
        "glass",
        "bus",
    ]
    assert bm25_query("Grinders") == bm25_query("grinder")


def test_query_weighs_each_unique_term_once() -> None:
    query = bm25_query("grinder grinder kettle")
    assert query.indices == sorted([term_id("grinder"), term_id("kettle")])
    assert query.values == [1.0, 1.0]


def test_document_indices_are_sorted_unique_and_in_range() -> None:
    doc = bm25_document("The kettle whistles, the kettle leaks, the grinder hums.")
    assert doc.indices == sorted(set(doc.indices))
    assert len(doc.indices) == len(doc.values) == 5
    assert all(0 <= i < 2**31 for i in doc.indices)


def test_one_occurrence_in_an_average_length_document_weighs_one() -> None:
    # 12 counted words, the assumed average length: tf part = 1 * 2.2 / (1 + 1.2) = 1.
    text = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima"
    doc = bm25_document(text)
    assert len(doc.indices) == 12
    assert doc.values == pytest.approx([1.0] * 12)


def test_repeated_terms_saturate() -> None:
    def weight(repeats: int) -> float:
        doc = bm25_document(" ".join(["grinder"] * repeats + ["other"] * (12 - repeats)))
        return doc.values[doc.indices.index(term_id("grinder"))]

    weights = [weight(n) for n in range(1, 9)]
    gains = [b - a for a, b in itertools.pairwise(weights)]
    assert all(g > 0 for g in gains)
    assert all(later < earlier for earlier, later in itertools.pairwise(gains))
    assert weights[-1] < 2.2  # never past k1 + 1


def test_longer_documents_weigh_a_term_less() -> None:
    short = bm25_document("grinder broken")
    long = bm25_document("grinder " + " ".join(f"word{n}" for n in range(30)))
    grinder = term_id("grinder")
    assert short.values[short.indices.index(grinder)] > long.values[long.indices.index(grinder)]
