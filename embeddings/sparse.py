"""BM25-style sparse vectors from text, for hybrid (dense + keyword) retrieval.

Qdrant applies the IDF part itself (the "bm25" sparse vector has the IDF modifier), so a
document vector carries only the term-frequency part of BM25 and a query vector weighs each
unique term 1.0.
"""

import re
import zlib
from collections import Counter

from embeddings.store import SparseVector

K1 = 1.2
B = 0.75
# Chat messages are short; the usual 256-token average would make every message look "short"
# and flatten the length normalization.
AVERAGE_DOCUMENT_LENGTH = 12.0
# Term ids live in 2**31 buckets so they fit Qdrant's u32 indices with room to spare.
BUCKETS = 2**31

# Words, keeping contractions whole ("don't", "don\u2019t") so the stopword list can drop them.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")

_STOPWORD_TEXT = """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each few for from further had hadn't has hasn't have haven't having
    he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've
    if in into is isn't it it's its itself just let's me more most mustn't my myself no nor not
    now of off on once only or other ought our ours ourselves out over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves
    then there there's these they they'd they'll they're they've this those through to too under
    until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's will with won't would wouldn't you you'd you'll
    you're you've your yours yourself yourselves hi hello thanks thank please ok okay yes also
    get got im ive
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of text, stopwords dropped, lightly stemmed."""
    tokens = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("\u2019", "'")
        if word in STOPWORDS:
            continue
        tokens.append(_stem(word))
    return tokens


def _stem(word: str) -> str:
    """Fold possessives and plain plurals only, so "grinders" finds "grinder"."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def term_id(token: str) -> int:
    """A stable id for a token: the same on every run and machine (unlike the salted hash())."""
    return zlib.crc32(token.encode("utf-8")) % BUCKETS


def _term_counts(text: str) -> tuple[Counter[int], int]:
    """Occurrences per term id (hash collisions simply merge), and the document length."""
    tokens = tokenize(text)
    return Counter(term_id(token) for token in tokens), len(tokens)


def bm25_document(text: str) -> SparseVector:
    """The BM25 term-frequency part of text, as stored for a document."""
    counts, length = _term_counts(text)
    norm = K1 * (1 - B + B * length / AVERAGE_DOCUMENT_LENGTH)
    indices = sorted(counts)
    values = [counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices]
    return SparseVector(indices=indices, values=values)


def bm25_query(text: str) -> SparseVector:
    """Text as a query: weight 1.0 for each unique term."""
    indices = sorted(_term_counts(text)[0])
    return SparseVector(indices=indices, values=[1.0] * len(indices))
