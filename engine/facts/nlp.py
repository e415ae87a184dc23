"""The spaCy pipeline the fact rules read, made cheap enough to run in the processing pipeline:
no entity recognizer, and the attribute ruler (which maps fine tags to parts of speech with a
pattern matcher) replaced by dictionary lookups built from its own patterns."""

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Token

# Attributes the ruler sets that the rules read (MORPH feeds the lemmatizer).
ATTRIBUTES = ("POS", "MORPH", "LEMMA")


def _values(spec: Any) -> list[str]:
    """A pattern value: a string, or {"IN": [...]}."""
    if isinstance(spec, dict):
        return [str(value) for value in spec.get("IN", [])]
    return [str(spec)]


Condition = tuple[str, str, frozenset[str]]  # (attribute, "in" or "not_in", values)


def _condition(name: str, spec: Any) -> Condition | None:
    """A pattern condition on one attribute, or None for a kind this class does not read."""
    if isinstance(spec, str):
        return (name, "in", frozenset({spec}))
    if isinstance(spec, dict) and set(spec) == {"IN"}:
        return (name, "in", frozenset(spec["IN"]))
    if isinstance(spec, dict) and set(spec) == {"NOT_IN"}:
        return (name, "not_in", frozenset(spec["NOT_IN"]))
    return None


class FastAttributes:
    """Sets POS, MORPH and LEMMA as the model's attribute ruler does: single-token patterns
    on TAG, LOWER and DEP (with IN and NOT_IN), and pairs of words ("gon na", "y' all"),
    applied in the ruler's order so later patterns win."""

    def __init__(self, patterns: Iterable[dict[str, Any]]) -> None:
        self.rules: list[tuple[tuple[Condition, ...], dict[str, str]]] = []
        # Rules keyed by the exact (lower, tag) they need, for speed; the rest are checked
        # one by one. Each keeps its position so the order of application is the ruler's.
        self.pairs: list[tuple[TokenTest, TokenTest, int, dict[str, str]]] = []
        for pattern in patterns:
            attrs = {k: str(v) for k, v in pattern["attrs"].items() if k in ATTRIBUTES}
            if not attrs:
                continue
            for tokens in pattern["patterns"]:
                if len(tokens) == 2:
                    first, second = (_token_test(t) for t in tokens)
                    self.pairs.append((first, second, pattern.get("index", 0), attrs))
                    continue
                if len(tokens) != 1 or set(tokens[0]) - {"LOWER", "TAG", "DEP"}:
                    continue
                read = [_condition(name, spec) for name, spec in tokens[0].items()]
                kept = tuple(c for c in read if c is not None)
                if len(kept) == len(read):
                    self.rules.append((kept, attrs))
        self.by_tag: dict[str, list[int]] = {}
        self.general: list[int] = []
        for position, (rule, _) in enumerate(self.rules):
            tags = [c for c in rule if c[0] == "TAG" and c[1] == "in"]
            if tags:
                for tag in tags[0][2]:
                    self.by_tag.setdefault(tag, []).append(position)
            else:
                self.general.append(position)
        self._for_tag: dict[str, list[int]] = {}
        self._cache: dict[tuple[str, str, str], dict[str, str]] = {}

    def _positions(self, tag: str) -> list[int]:
        """The rules that can apply to a token of this tag, in the ruler's order."""
        found = self._for_tag.get(tag)
        if found is None:
            found = self._for_tag[tag] = sorted(self.by_tag.get(tag, []) + self.general)
        return found

    def _attributes(self, tag: str, dep: str, lower: str) -> dict[str, str]:
        """The attributes the rules give a word with this tag and dependency."""
        key = (tag, dep, lower)
        found = self._cache.get(key)
        if found is None:
            values = {"TAG": tag, "DEP": dep, "LOWER": lower}
            found = {}
            for position in self._positions(tag):
                conditions, attrs = self.rules[position]
                if all(
                    (values[name] in allowed) == (kind == "in")
                    for name, kind, allowed in conditions
                ):
                    found.update(attrs)
            if len(self._cache) < 200_000:
                self._cache[key] = found
        return found

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            found = self._attributes(token.tag_, token.dep_, token.lower_)
            if "POS" in found:
                token.pos_ = found["POS"]
            if "MORPH" in found:
                token.set_morph(found["MORPH"])  # type: ignore[attr-defined]
            if "LEMMA" in found:
                token.lemma_ = found["LEMMA"]
        for first, second in itertools.pairwise(doc):
            for one, two, index, attrs in self.pairs:
                if one(first) and two(second):
                    target = first if index == 0 else second
                    if "POS" in attrs:
                        target.pos_ = attrs["POS"]
                    if "LEMMA" in attrs:
                        target.lemma_ = attrs["LEMMA"]
        return doc


TokenTest = Callable[[Token], bool]
_READ: dict[str, Callable[[Token], str]] = {
    "LOWER": lambda token: token.lower_,
    "TAG": lambda token: token.tag_,
    "DEP": lambda token: token.dep_,
}


def _token_test(spec: dict[str, Any]) -> TokenTest:
    """A test of one token of a two-token pattern (LOWER, TAG, DEP: a value, IN, NOT_IN or
    REGEX)."""
    conditions: list[tuple[Callable[[Token], str], str, Any]] = []
    for name, value in spec.items():
        read = _READ.get(name, lambda token: "")
        if isinstance(value, dict) and "REGEX" in value:
            conditions.append((read, "regex", re.compile(value["REGEX"])))
        elif isinstance(value, dict) and "NOT_IN" in value:
            conditions.append((read, "not_in", frozenset(value["NOT_IN"])))
        else:
            conditions.append((read, "in", frozenset(_values(value))))

    def test(token: Token) -> bool:
        for read, kind, expected in conditions:
            value = read(token)
            if kind == "regex" and not expected.search(value):
                return False
            if kind == "in" and value not in expected:
                return False
            if kind == "not_in" and value in expected:
                return False
        return True

    return test


class Parser:
    """Runs a spaCy pipeline with FastAttributes in place of its attribute ruler."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.fast: FastAttributes | None = None
        self.after: list[str] = []
        if "attribute_ruler" in nlp.pipe_names:
            self.fast = FastAttributes(nlp.get_pipe("attribute_ruler").patterns)  # type: ignore[attr-defined]
            # What ran after the ruler has to run after its replacement (the lemmatizer).
            position = nlp.pipe_names.index("attribute_ruler")
            self.after = nlp.pipe_names[position + 1 :]

    def pipe(self, texts: Iterable[str], *, batch_size: int) -> Iterator[Doc]:
        """Parsed documents, in order."""
        if self.fast is None:
            yield from self.nlp.pipe(texts, batch_size=batch_size)
            return
        skipped = ["attribute_ruler", *self.after]
        components = [self.nlp.get_pipe(name) for name in self.after]
        for doc in self.nlp.pipe(texts, batch_size=batch_size, disable=skipped):
            doc = self.fast(doc)
            for component in components:
                doc = component(doc)
            yield doc
