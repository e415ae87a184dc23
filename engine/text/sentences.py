"""Splitting messages into sentences, so each vector and each quote is one thought."""

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (or a run of them) followed by space, or at a line break.
# Abbreviations like "St." or "e.g." split wrongly now and then; a split too many only
# makes a quote shorter.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
MAX_SENTENCE_CHARS = 1000


@dataclass(frozen=True)
class Sentence:
    """A sentence and where it sits in its message."""

    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of a message with character spans; very long runs are cut into pieces."""
    sentences: list[Sentence] = []
    position = 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() if match else len(text)
        _add(sentences, text, position, end)
        if match:
            position = match.end()
    return sentences


def _add(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    """Add text[start:end] stripped, cut at MAX_SENTENCE_CHARS, if it holds a word."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end:
        stop = min(end, start + MAX_SENTENCE_CHARS)
        if stop < end:  # cut at the last space inside the window, if there is one
            space = text.rfind(" ", start, stop)
            stop = space if space > start else stop
        piece = text[start:stop].strip()
        if any(ch.isalnum() for ch in piece):
            sentences.append(Sentence(text=piece, start=start, end=start + len(piece)))
        start = stop
        while start < end and text[start].isspace():
            start += 1
