"""The grounding check, run on every draft from any drafter: it may rest only on the customer's
gated context, name only real products, hold no PII, nothing sensitive, nothing the gate blocked,
nothing about an opted-out topic, and follow the voice guide's checkable rules."""

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel

from engine.customers.context import CustomerContext
from engine.drafting.base import Catalog, DraftContent
from engine.drafting.voice import VoiceChecks, VoiceGuide, lint
from engine.facts.gate import PLACEHOLDER, sensitive_spans
from engine.facts.optouts import mentions
from engine.facts.spelling import catalog_words, unknown_words, words
from engine.text.redact import redact

ProblemCode = Literal[
    "unknown_fact",
    "pii",
    "sensitive",
    "blocked_material",
    "opt_out",
    "unknown_product",
    "evidence",
    "voice",
    "spelling",
]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Words too common to make a shared run of words mean anything.
_COMMON = frozenset(
    "a an the and or but so of to in on at for with from by as is are was were be been it its "
    "this that these those i we you he she they me us my our your their his her them not no "
    "do does did have has had will would can could just if then than there here what when how "
    "all any some more very really also too up out about get got like".split()
)
# A draft shares this many words in a row with a blocked message (beyond what kept facts
# quote) only if it repeats that message.
SHINGLE = 4


class Problem(BaseModel):
    """A reason a draft may not go to a customer as it is."""

    code: ProblemCode
    message: str
    excerpt: str | None = None


def check_draft(
    *,
    content: DraftContent,
    context: CustomerContext,
    catalog: Catalog,
    checks: VoiceChecks,
    blocked_texts: Sequence[str] = (),
    email: str | None = None,
    business: str | None = None,
    voice: VoiceGuide | None = None,
) -> list[Problem]:
    """Every problem of the draft; an empty list means it may go to review as it is.

    `blocked_texts` are the customer's messages in which the gate blocked something;
    `email` is the customer's address, which a draft never repeats; `business` is the shop's
    own name, which never counts as mentioning an opted-out topic ("coffee" in "... Coffee Co.");
    the words of `voice` (the guide in use: its business name, sign-off and samples) and of
    `business` are never misspellings."""
    text = f"{content.subject}\n{content.preheader}\n{content.body}"
    problems = _facts(content, context)
    problems += _pii(text, email)
    problems += [
        Problem(
            code="sensitive",
            message=f"touches a sensitive category ({category})",
            excerpt=text[start:end],
        )
        for start, end, category in sensitive_spans(text)
    ]
    problems += _blocked(text, blocked_texts, context, catalog)
    unnamed = re.sub(re.escape(business), " ", text, flags=re.IGNORECASE) if business else text
    topic = mentions(unnamed, [o.topic for o in context.opt_outs])
    if topic is not None:
        problems.append(
            Problem(code="opt_out", message=f"mentions {topic!r}, which the customer opted out of")
        )
    problems += _products(content, context, catalog)
    problems += _evidence(content, text)
    problems += _spelling(text, context, catalog, voice, business)
    problems += [
        Problem(code="voice", message=v.message, excerpt=v.excerpt)
        for v in lint(
            subject=content.subject, preheader=content.preheader, body=content.body, checks=checks
        )
    ]
    return problems


def _facts(content: DraftContent, context: CustomerContext) -> list[Problem]:
    known = {fact.id for fact in context.facts}
    cited = set(content.fact_ids)
    for evidence in content.evidence:
        cited.update(evidence.fact_ids)
    return [
        Problem(
            code="unknown_fact",
            message=f"cites fact {fact_id}, which is not in this customer's gated context",
        )
        for fact_id in sorted(cited - known)
    ]


def _pii(text: str, email: str | None) -> list[Problem]:
    problems = []
    found = redact(text).found
    for kind in sorted(found):
        problems.append(Problem(code="pii", message=f"holds personal data ({kind})"))
    placeholder = PLACEHOLDER.search(text)
    if placeholder:
        problems.append(
            Problem(
                code="pii",
                message="quotes a redacted passage (personal data was there)",
                excerpt=placeholder.group(0),
            )
        )
    if email and email.casefold() in text.casefold() and "email" not in found:
        problems.append(Problem(code="pii", message="holds the customer's email address"))
    return problems


def _shingles(text: str, cut: re.Pattern[str] | None = None) -> set[tuple[str, ...]]:
    """Runs of SHINGLE words that carry meaning (at least two uncommon words); no run crosses
    what `cut` matches."""
    folded = text.casefold().replace("\u2019", "'")
    runs = set()
    for segment in cut.split(folded) if cut else [folded]:
        words = _WORD.findall(segment)
        for i in range(len(words) - SHINGLE + 1):
            run = tuple(words[i : i + SHINGLE])
            if sum(w not in _COMMON for w in run) >= 2:
                runs.add(run)
    return runs


@functools.lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for product names, longest first; built once per catalog, not per draft."""
    return re.compile("|".join(re.escape(n) for n in names))


def _blocked(
    text: str, blocked_texts: Iterable[str], context: CustomerContext, catalog: Catalog
) -> list[Problem]:
    blocked_texts = list(blocked_texts)
    if not blocked_texts:
        return []
    # Product names may be said even when a message with blocked words also held them ("the
    # Burr Grinder Pro we got ... my wife's back"): runs of words stop at them.
    names = {p.name.casefold() for p in context.orders.products}
    names.update(p.name.casefold() for p in catalog.products)
    cut = _names_pattern(tuple(sorted(names, key=lambda n: (-len(n), n)))) if names else None
    blocked_runs: set[tuple[str, ...]] = set()
    for blocked in blocked_texts:
        blocked_runs |= _shingles(blocked, cut)
    # What a kept fact quotes may be said back, even when its message also held blocked words.
    allowed: set[tuple[str, ...]] = set()
    for fact in context.facts:
        allowed |= _shingles(fact.quote, cut)
    shared = (_shingles(text, cut) & blocked_runs) - allowed
    if not shared:
        return []
    return [
        Problem(
            code="blocked_material",
            message="repeats words from a message in which the gate blocked something",
            excerpt=" ".join(sorted(shared)[0]),
        )
    ]


def _products(content: DraftContent, context: CustomerContext, catalog: Catalog) -> list[Problem]:
    bought_names = {p.name.casefold() for p in context.orders.products}
    bought_skus = {p.sku for p in context.orders.products}
    problems = [
        Problem(
            code="unknown_product",
            message=f"names {name!r}, which is neither in the customer's orders nor the catalog",
            excerpt=name,
        )
        for name in content.products
        if name.strip().casefold() not in bought_names and catalog.find(name) is None
    ]
    catalog_skus = {p.sku for p in catalog.products}
    for evidence in content.evidence:
        for sku in evidence.skus:
            if sku not in bought_skus and sku not in catalog_skus:
                problems.append(
                    Problem(code="unknown_product", message=f"rests on an unknown product {sku!r}")
                )
    return problems


def _evidence(content: DraftContent, text: str) -> list[Problem]:
    return [
        Problem(
            code="evidence",
            message="an evidence sentence is not in the draft",
            excerpt=evidence.sentence[:200],
        )
        for evidence in content.evidence
        if evidence.sentence.strip() not in text
    ]


def _spelling(
    text: str,
    context: CustomerContext,
    catalog: Catalog,
    voice: VoiceGuide | None,
    business: str | None,
) -> list[Problem]:
    """Words that are not English, unless the draft may say them: the customer's first name, the
    voice guide's own words, product names and categories, and the words of kept facts that
    nothing left in doubt (a fact's `unknown_words` are misspellings here too)."""
    # The draft's own words first: most are English, and the shared catalog and voice sets
    # are looked into only for the few that are not (copying them per draft cost more).
    doubtful = unknown_words(text)
    if not doubtful:
        return []
    sold, voiced = _catalog_words(catalog), _voice_words(voice)
    own = set(words(f"{context.first_name or ''} {business or ''}"))
    for product in context.orders.products:
        own.update(words(f"{product.name} {product.category or ''}"))
    for fact in context.facts:
        own.update(w for w in words(fact.value) if w not in fact.unknown_words)
    return [
        Problem(
            code="spelling",
            message=f"{word!r} is not an English word, a product's or the customer's: a "
            "misspelling?",
            excerpt=word,
        )
        for word in doubtful
        if word not in sold and word not in voiced and word not in own
    ]


# The last catalog and voice guide read, with their words: a campaign checks every draft
# against the same ones, and reading 200 product names per draft would cost more than the rest.
_last_catalog: tuple[Catalog, frozenset[str]] | None = None
_last_voice: tuple[VoiceGuide, frozenset[str]] | None = None


def _catalog_words(catalog: Catalog) -> frozenset[str]:
    global _last_catalog
    last = _last_catalog
    if last is None or last[0] is not catalog:
        names = [part for p in catalog.products for part in (p.name, p.category)]
        last = _last_catalog = (catalog, catalog_words(names))
    return last[1]


def _voice_words(voice: VoiceGuide | None) -> frozenset[str]:
    global _last_voice
    if voice is None:
        return frozenset()
    last = _last_voice
    if last is None or last[0] is not voice:
        said = " ".join([voice.business, voice.sign_off, *voice.samples])
        last = _last_voice = (voice, frozenset(words(said)))
    return last[1]
