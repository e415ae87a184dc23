"""The surveillance gate on a labelled set: leaks (forbidden strings anywhere in any context),
word leaks (a distinctive word of a forbidden string in that customer's own context), recall of
allowed keywords in the customer's kept facts, and counts per reason and category."""

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from engine.customers.context import CustomerContext
from engine.errors import EngineError
from engine.facts.gate import REASONS
from engine.facts.rules import CATEGORIES


class InvalidLabels(EngineError):
    """A labelled transcript file we cannot read."""

    code = "invalid"


@dataclass(frozen=True)
class Labelled:
    """The labels of one transcript: what may be kept, and what must never show."""

    conversation_id: str
    customer_id: str
    allowed: tuple[tuple[str, str], ...]  # (keyword, category)
    forbidden: tuple[tuple[str, str], ...]  # (text, reason)


@dataclass(frozen=True)
class Leak:
    """A forbidden string found in a context."""

    text: str
    reason: str
    labelled_customer: str
    found_in_customer: str
    field: str


@dataclass(frozen=True)
class WordLeak:
    """A distinctive word of a forbidden string found in the labelled customer's own context,
    where the whole string is not."""

    word: str  # as written in the forbidden string
    found: str  # as written in the context
    text: str
    reason: str
    customer: str
    field: str


@dataclass
class FactEvalReport:
    """Leaks, word leaks, recall of allowed keywords, and counts per reason and category."""

    transcripts: int
    customers: int
    leaks: list[Leak] = field(default_factory=list)
    word_leaks: list[WordLeak] = field(default_factory=list)
    allowed: int = 0
    found: int = 0
    recall_by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    forbidden_by_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    blocked_by_reason: dict[str, int] = field(default_factory=dict)
    kept_facts_by_category: dict[str, int] = field(default_factory=dict)
    missed: list[dict[str, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Share of allowed keywords found in the customer's kept facts."""
        return self.found / self.allowed if self.allowed else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "transcripts": self.transcripts,
            "customers": self.customers,
            "leaks": len(self.leaks),
            "leaked": [leak.__dict__ for leak in self.leaks],
            "word_leaks": len(self.word_leaks),
            "word_leaked": [leak.__dict__ for leak in self.word_leaks],
            "recall": round(self.recall, 4),
            "allowed": self.allowed,
            "found": self.found,
            "recall_by_category": self.recall_by_category,
            "forbidden_by_reason": self.forbidden_by_reason,
            "blocked_by_reason": self.blocked_by_reason,
            "kept_facts_by_category": self.kept_facts_by_category,
            "missed": self.missed,
        }


def load_labels(path: Path) -> list[Labelled]:
    """The labels of every transcript line (`"labels": {"allowed": [...], "forbidden": [...]}`)."""
    labelled = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InvalidLabels(f"{path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InvalidLabels(f"{path}: not valid UTF-8 (byte {error.start})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            labels = row.get("labels") or {}
            allowed = tuple(
                (_text(a["keyword"]), _text(a["category"])) for a in labels.get("allowed", [])
            )
            forbidden = tuple(
                (_text(f["text"]), _text(f["reason"])) for f in labels.get("forbidden", [])
            )
            labelled.append(
                Labelled(row["conversation_id"], row["customer_id"], allowed, forbidden)
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
            raise InvalidLabels(f"{path} line {number}: bad labels ({error!r})") from None
        unknown = {reason for _, reason in forbidden} - set(REASONS)
        if unknown:
            raise InvalidLabels(f"{path} line {number}: unknown reason {sorted(unknown)[0]!r}")
        strange = {category for _, category in allowed} - set(CATEGORIES)
        if strange:
            raise InvalidLabels(
                f"{path} line {number}: unknown category {sorted(strange)[0]!r} "
                f"(one of {', '.join(CATEGORIES)})"
            )
    return labelled


def _text(value: Any) -> str:
    """A label's value, which must be a string."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strings(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in nested data, with where it sits ("facts[2].quote")."""
    if isinstance(data, str):
        return [(path, data)]
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _strings(value, f"{path}.{key}")]
    if isinstance(data, list | tuple):
        return [item for i, value in enumerate(data) for item in _strings(value, f"{path}[{i}]")]
    return [(path, str(data))] if data is not None else []


def score(contexts: dict[str, CustomerContext], labelled: list[Labelled]) -> FactEvalReport:
    """Score contexts against labels: a forbidden string anywhere in any context is a leak; a
    distinctive word of one in the labelled customer's own context is a word leak (see
    word_leaks); an allowed keyword counts as found when it is in the customer's kept facts or
    opt-outs."""
    report = FactEvalReport(transcripts=len(labelled), customers=len(contexts))
    fields = {
        customer: [(f.lstrip("."), s.lower()) for f, s in _strings(ctx.model_dump(mode="json"))]
        for customer, ctx in contexts.items()
    }
    forbidden: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    for item in labelled:
        for text, reason in item.forbidden:
            forbidden[reason] += 1
            hits = []
            for customer, strings in fields.items():
                where = next((w for w, value in strings if text.lower() in value), None)
                if where is not None:  # one leak per context, named by the first field
                    hits.append(Leak(text, reason, item.customer_id, customer, where))
            if hits:
                leaked[reason] += 1
                report.leaks.extend(hits)
    report.word_leaks = word_leaks(contexts, labelled, phrase_leaks=report.leaks)
    report.forbidden_by_reason = {
        reason: {"labelled": forbidden[reason], "leaked": leaked[reason]}
        for reason in REASONS
        if forbidden[reason]
    }
    allowed: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for item in labelled:
        context = contexts.get(item.customer_id)
        kept = _kept_text(context) if context else ""
        for keyword, category in item.allowed:
            allowed[category] += 1
            if keyword.lower() in kept:
                found[category] += 1
            else:
                report.missed.append(
                    {"customer": item.customer_id, "keyword": keyword, "category": category}
                )
    report.allowed, report.found = sum(allowed.values()), sum(found.values())
    report.recall_by_category = {
        category: {
            "allowed": allowed[category],
            "found": found[category],
            "recall": round(found[category] / allowed[category], 4),
        }
        for category in sorted(allowed)
    }
    blocked: Counter[str] = Counter()
    kept_facts: Counter[str] = Counter()
    for context in contexts.values():
        blocked.update(context.blocked)
        kept_facts.update(fact.category for fact in context.facts)
        kept_facts["opt_out"] += len(context.opt_outs)
    report.blocked_by_reason = dict(sorted(blocked.items()))
    report.kept_facts_by_category = dict(sorted((k, v) for k, v in kept_facts.items() if v))
    return report


def _kept_text(context: CustomerContext) -> str:
    """The customer's kept facts and opt-outs as one lower-case text."""
    parts = [f"{f.value} | {f.quote}" for f in context.facts]
    parts += [f"{o.topic} | {o.quote}" for o in context.opt_outs]
    return " || ".join(parts).lower()


# Word leaks. A distinctive word has MIN_LETTERS letters or more (a trailing clitic such as
# "'s" or "n't" aside) and is no stop word (spaCy's English list); words are compared
# lower-case and whole (letters and digits, with inner apostrophes, curly read as straight),
# with a trailing clitic stripped and "word" the same as "words".
MIN_LETTERS = 5
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_CLITIC = re.compile(r"(?:'s|n't|'re|'ve|'ll|'d|'m)$")
# The customer's record and orders: their words are the customer's own (a name, a product they
# bought), so a forbidden string's word that is also one of them is no word leak.
RECORD_FIELDS = ("customer_id", "first_name", "as_of", "consent", "orders", "rfm", "lifecycle")
# Parts of the context that cannot carry anything said: ids, times, counts, a fact's category
# and extractor, and recent intents (labels of the intent taxonomy). Every other field (a kept
# fact's value, quote and unknown words, an opt-out's topic and quote, and any field added
# later) is looked into.
_UNSAID = re.compile(
    r"(?:facts\[\d+\]\.(?:id|category|message_id|conversation_id|span\[\d+\]|said_at|extractor)"
    r"|opt_outs\[\d+\]\.(?:message_id|said_at)|intents\[\d+\]\..*|blocked\..*"
    r"|withheld_by_opt_out)"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    """Each word of a text as written (lower-case) and its base: the word without a trailing
    clitic ("wife's" -> "wife", "couldn't" -> "could")."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    words = [match.group().strip("'") for match in _WORD.finditer(text)]
    return [(word, _CLITIC.sub("", word)) for word in words if word]


def _key(base: str) -> str:
    """The same key for a word and its plural ("word" and "words")."""
    return base[:-1] if len(base) > 3 and base.endswith("s") and not base.endswith("ss") else base


def distinctive_words(text: str) -> list[tuple[str, str]]:
    """The distinctive words of a text (word as written, key), once each, in order: at least
    MIN_LETTERS letters once a trailing clitic is stripped, and neither it nor its base nor its
    singular a stop word."""
    found: dict[str, str] = {}
    for word, base in _tokens(text):
        key = _key(base)
        if sum(c.isalpha() for c in base) < MIN_LETTERS or {word, base, key} & STOP_WORDS:
            continue
        found.setdefault(key, word)
    return [(word, key) for key, word in found.items()]


def _keys(text: str) -> dict[str, str]:
    """Every word's key in a text, with the word as first written."""
    keys: dict[str, str] = {}
    for word, base in _tokens(text):
        keys.setdefault(_key(base), word)
    return keys


def _said_and_own(
    context: CustomerContext, allowed: set[str]
) -> tuple[list[tuple[str, dict[str, str]]], set[str]]:
    """The fields of a context that can carry something said (path, word keys), and the word
    keys that are the customer's own (their record, orders and allowed keywords)."""
    looked, own = [], set(allowed)
    for path, value in _strings(context.model_dump(mode="json")):
        where = path.lstrip(".")
        if where.split(".")[0].split("[")[0] in RECORD_FIELDS:
            own.update(_keys(value))
        elif not _UNSAID.fullmatch(where):
            looked.append((where, _keys(value)))
    return looked, own


def word_leaks(
    contexts: dict[str, CustomerContext],
    labelled: list[Labelled],
    *,
    phrase_leaks: Sequence[Leak] = (),
) -> list[WordLeak]:
    """A distinctive word of a forbidden string that shows up in the labelled customer's own
    context, outside the customer's record and orders, is a word leak (one per string and word,
    named by the first field it is in), unless the word is also in the customer's record or
    orders or in an allowed keyword of any transcript labelled for them. A string already found
    whole in that customer's context is a (phrase) leak, and its words are not counted again."""
    allowed: dict[str, set[str]] = {}
    for item in labelled:
        own = allowed.setdefault(item.customer_id, set())
        for keyword, _ in item.allowed:
            own.update(_keys(keyword))
    whole = {
        (leak.text, leak.labelled_customer)
        for leak in phrase_leaks
        if leak.found_in_customer == leak.labelled_customer
    }
    fields: dict[str, list[tuple[str, dict[str, str]]]] = {}
    excluded: dict[str, set[str]] = {}
    for customer, context in contexts.items():
        fields[customer], excluded[customer] = _said_and_own(context, allowed.get(customer, set()))
    leaks = []
    for item in labelled:
        customer = item.customer_id
        if customer not in contexts:
            continue
        for text, reason in item.forbidden:
            if (text, customer) in whole:
                continue
            for word, key in distinctive_words(text):
                if key in excluded[customer]:
                    continue
                hit = next(((w, keys[key]) for w, keys in fields[customer] if key in keys), None)
                if hit is not None:
                    leaks.append(WordLeak(word, hit[1], text, reason, customer, hit[0]))
    return leaks
