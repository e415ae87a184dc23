"""The fast attribute lookup gives the parts of speech and lemmas the model's own ruler gives."""

import spacy

from engine.facts.nlp import Parser
from engine.settings import Settings

SENTENCES = [
    "I run a bakery and since the chemo I can't taste much",
    "we're gonna open a second salon in March, y'all",
    "this is the one I ordered, that one never arrived",
    "ain't nobody got time for a grinder that won't grind",
    "my card reader keeps dropping the connection at lunch",
    "Do you ship to Canada? We have two shops in Toronto.",
    "there are scratches on the screen and it was late",
    "i'd love to try the decaf but my husband says no",
]


def test_parser_matches_the_models_attribute_ruler() -> None:
    """Same POS and lemma for every token of these sentences as the stock pipeline."""
    nlp = spacy.load(Settings().spacy_model, exclude=["ner"])
    stock = list(nlp.pipe(SENTENCES))
    fast = list(Parser(nlp).pipe(SENTENCES, batch_size=4))
    pairs = [(a, b) for x, y in zip(stock, fast, strict=True) for a, b in zip(x, y, strict=True)]
    assert len(pairs) > 80
    differing = [
        (a.text, a.pos_, b.pos_, a.lemma_, b.lemma_)
        for a, b in pairs
        if a.pos_ != b.pos_ or a.lemma_ != b.lemma_
    ]
    assert len(differing) <= len(pairs) // 100, differing
    assert [t.pos_ for t in fast[0]][:3] == ["PRON", "VERB", "DET"]
