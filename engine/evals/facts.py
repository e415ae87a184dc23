"""The surveillance gate on a labelled set: leaks (forbidden strings anywhere in any context),
recall of allowed keywords in the customer's kept facts, and counts per reason and category."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class FactEvalReport:
    """Leaks, recall of allowed keywords, and counts per reason and category."""

    transcripts: int
    customers: int
    leaks: list[Leak] = field(default_factory=list)
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
    """Score contexts against labels: a forbidden string anywhere in any context is a leak; an
    allowed keyword counts as found when it is in the customer's kept facts or opt-outs."""
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
