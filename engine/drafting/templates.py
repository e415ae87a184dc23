"""The offline drafter: versioned templates filled from a customer's gated context. No model, no
network, no randomness: the same request always gets the same email, and every personalized
sentence names the facts, products and intents it rests on."""

import hashlib
import re
import string
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from engine.context import KeptFact, ProductBought
from engine.drafting.base import (
    KINDS,
    Catalog,
    CatalogProduct,
    DraftContent,
    DraftFailed,
    DraftingError,
    DraftRequest,
    Evidence,
    Kind,
)
from engine.lexicon import ABSTRACT, BUSINESSES, FAMILY_ROLES, GROUPS, PEOPLE
from engine.optouts import ALL_MARKETING, mentions
from engine.voice import GENERIC_PHRASES, VoiceChecks

VERSION = "v1"
# The steps of each sequence, days after its anchor (signup, order, last activity).
STEPS: dict[Kind, tuple[str, ...]] = {
    "welcome": ("d0", "d3", "d7", "d14"),
    "post_purchase": ("d1", "d3", "d14", "d30"),
    "win_back": ("d90",),
}
# A plan a customer spoke of this long ago may have happened already: no "good luck" line.
STALE_PLAN = timedelta(days=120)
# Longest fact values woven in, in words: longer ones are sentences, not values.
MAX_BUSINESS_WORDS = 5
MAX_ROLE_WORDS = 3
MAX_PLAN_WORDS = 8
MAX_MATCHED_VALUE_WORDS = 6
# Products named in one sentence at most (a list of five reads like a catalogue).
MAX_NAMED = 3

_TOKEN = re.compile(r"[^\W_]+")
_WORD = re.compile(r"[\w'\u2019-]+")
# Characters a fact value never holds when it reads as a value (placeholders, markup, links).
_ODD = re.compile(r"[@\[\]{}<>#|\\/=_*~^]|https?:|www\.")
_NAME = re.compile(r"^[^\W\d_]+(?:[ '\u2019.-][^\W\d_]+){0,2}$")
# Words too vague to tie a fact to a product ("something small", "a bag of each").
_STOP = frozenset(
    """
    the and for with from into onto about like just really very quite some any each every all
    one two three four five six ten few lot lots bit more less most much many little small big
    large huge tiny new old cheap good nice great best better fine okay usual regular normal
    bag box pack kind sort type stuff thing something anything everything nothing this that
    these those they them their our your his her its mine ours yours still keep keeps kept
    monthly weekly daily yearly annual month week day year house home
    """.split()
) | (ABSTRACT - {"plan", "subscription"})
_PLAN_WORDS = frozenset({"plan", "subscription", "membership"})
_DETERMINERS = frozenset({"a", "an", "the", "my", "our", "one", "just"})
_FIRST_PERSON = frozenset({"i", "me", "we", "us", "myself", "ourselves", "i'm", "we're", "im"})
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve twenty few several".split()
)
# Business words too vague to stand alone ("For a space like yours").
_VAGUE_BUSINESS = frozenset(
    "business company space firm startup start-up chain outlet hall market practice".split()
)
_ROLE_WORDS = frozenset(
    """
    nurse chef cook barista baker owner manager teacher student midwife coach trainer stylist
    admin assistant receptionist buyer clerk architect lawyer accountant pharmacist scientist
    artist writer editor photographer musician mechanic plumber electrician farmer florist
    caterer host founder director head lead engineer developer designer consultant carpenter
    """.split()
)
_ROLE_SUFFIXES = ("er", "or", "ist", "ian", "ant", "ent", "eur", "ess", "ive")
_NOT_ROLES = PEOPLE | GROUPS | FAMILY_ROLES | _FIRST_PERSON
_MONTHS = frozenset(
    """
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    """.split()
)
_SMALL_NUMBERS = "zero one two three four five six seven eight nine ten eleven".split()
_SETUP_INTENTS = ("setup_trouble",)
_PLAN_INTENTS = ("pricing_interest", "upgrade_interest")
_DELIVERY_INTENTS = ("shipping_delivery", "order_problem")
# Contractions the templates use, spelled out for a guide that avoids them.
_EXPANSIONS = {
    "it's been": "it has been",
    "we're": "we are",
    "you're": "you are",
    "we'll": "we will",
    "you'll": "you will",
    "we've": "we have",
    "you've": "you have",
    "you'd": "you would",
    "we'd": "we would",
    "it's": "it is",
    "that's": "that is",
    "there's": "there is",
    "here's": "here is",
    "what's": "what is",
    "how's": "how is",
    "let's": "let us",
    "don't": "do not",
    "isn't": "is not",
    "haven't": "have not",
    "anything's": "anything is",
    "all's": "all is",
}
_CONTRACTED = re.compile(
    r"(?i)\b(" + "|".join(re.escape(k) for k in sorted(_EXPANSIONS, key=len, reverse=True)) + r")\b"
)


@dataclass(frozen=True)
class StepTemplate:
    """One released email of a sequence: what leads it, and the copy that does not depend on the
    customer. Never edited once released; a change is a new version alongside."""

    id: str
    kind: Kind
    step: str
    # The personalized lines this step prefers, most wanted first; the first one it can write
    # names the variant.
    priority: tuple[str, ...]
    openers: tuple[str, ...]
    # Said when nothing about the customer fits.
    basics: tuple[str, ...]
    closings: tuple[str, ...]
    # Subject lines (after "Name, " when the name is known), tried in order until one fits.
    subjects: tuple[str, ...]
    preheaders: tuple[str, ...]


def template_id(kind: str, step: str) -> str:
    """The versioned id of a sequence step's template: "welcome.d0.v1"."""
    return f"{kind}.{step}.{VERSION}"


def _ranked(keys: str) -> tuple[str, ...]:
    return tuple(keys.split())


def _template(kind: Kind, step: str, **copy: tuple[str, ...]) -> StepTemplate:
    return StepTemplate(id=template_id(kind, step), kind=kind, step=step, **copy)


TEMPLATES: dict[str, StepTemplate] = {
    t.id: t
    for t in (
        _template(
            "welcome",
            "d0",
            priority=_ranked("setup delivery plans business picks gear role milestone thanks"),
            openers=(
                "Thanks for signing up with {biz}. We're glad you're here.",
                "Thanks for joining us at {biz}. It's good to have you with us.",
            ),
            basics=(
                "If you're not sure where to start, reply with what you're looking for and "
                "we'll point you the right way.",
            ),
            closings=(
                "Questions? Just reply to this email and we'll help.",
                "If you ever need a hand, just reply. We read every email.",
            ),
            subjects=("welcome to {biz}", "welcome"),
            preheaders=(
                "A quick hello from {biz}, and how to get help fast.",
                "Hello from {biz}. Here's how to get help when you need it.",
            ),
        ),
        _template(
            "welcome",
            "d3",
            priority=_ranked("picks gear plans business setup delivery role milestone thanks"),
            openers=(
                "A few days in, here's a quick pointer or two from {biz}.",
                "Here's a short note to help you find your way around {biz}.",
            ),
            basics=(
                "If you're not sure where to start, reply with what you're after and we'll "
                "suggest something.",
            ),
            closings=(
                "That's all for now. Reply any time if you need something.",
                "Any questions? Just reply and we'll help.",
            ),
            subjects=("a couple of pointers", "a quick pointer"),
            preheaders=(
                "Not sure where to start? We'll point you the right way.",
                "A few pointers to help you find your way around.",
            ),
        ),
        _template(
            "welcome",
            "d7",
            priority=_ranked("setup gear delivery picks plans business role milestone thanks"),
            openers=(
                "You've been with us a week now, so here's how to get help when you need it.",
                "A week in, here's the quickest way to get help from {biz}.",
            ),
            basics=(
                "The fastest way to get an answer is to reply to this email with your question.",
            ),
            closings=("We're here when you need us.", "Talk soon."),
            subjects=("help is one reply away", "need a hand?"),
            preheaders=(
                "The quickest way to get an answer from {biz}.",
                "Got a question? A reply is all it takes.",
            ),
        ),
        _template(
            "welcome",
            "d14",
            priority=_ranked("plans business milestone role picks gear setup delivery thanks"),
            openers=(
                "Here's the last of our welcome notes, so we'll keep it short.",
                "This is the last note in our welcome series, and it's a short one.",
            ),
            basics=(
                "If there's something you'd like us to stock, or a question we haven't "
                "answered, just reply.",
            ),
            closings=("Thanks for being here.", "Thanks for reading, and talk soon."),
            subjects=("one last welcome note", "one last note"),
            preheaders=(
                "The last of our welcome notes, and a short one.",
                "One more note from {biz}, then we'll leave you be.",
            ),
        ),
        _template(
            "post_purchase",
            "d1",
            priority=_ranked("delivery setup thanks business gear picks plans role milestone"),
            openers=(
                "Thanks for your order, and for choosing {biz}.",
                "Thanks for your order. It means a lot to a shop like ours.",
            ),
            basics=(
                "If anything's not right when it arrives, reply to this email and we'll sort it.",
            ),
            closings=("Enjoy, and talk soon.", "Talk soon."),
            subjects=("thanks for your order", "thank you"),
            preheaders=("A quick thank-you from {biz}.", "Thank you, from all of us at {biz}."),
        ),
        _template(
            "post_purchase",
            "d3",
            priority=_ranked("setup gear picks delivery business thanks plans role milestone"),
            openers=(
                "A few days on from your order, here's a quick check-in.",
                "Your order has had a few days to settle in, so here's a quick check-in.",
            ),
            basics=(
                "If you'd like tips on anything you ordered, reply and we'll share what we know.",
            ),
            closings=("Enjoy.", "Talk soon."),
            subjects=("getting the most from your order", "a quick check-in"),
            preheaders=(
                "Help getting the most from your order.",
                "Questions about your order? We're one reply away.",
            ),
        ),
        _template(
            "post_purchase",
            "d14",
            priority=_ranked("picks thanks business gear setup plans delivery role milestone"),
            openers=(
                "How are you getting on with your order?",
                "It's been a couple of weeks since your order, so here's a quick check-in.",
            ),
            basics=("If there's anything you'd change about your order, just reply and tell us.",),
            closings=("Thanks for shopping with us.", "Talk soon."),
            subjects=("how's it going?", "a quick check-in"),
            preheaders=(
                "A quick check-in from {biz}.",
                "Two weeks on: how's everything working out?",
            ),
        ),
        _template(
            "post_purchase",
            "d30",
            priority=_ranked("plans picks business milestone gear thanks setup delivery role"),
            openers=(
                "It's been about a month since your order, so here's a quick check-in.",
                "A month on from your order, here's a short note from {biz}.",
            ),
            basics=("If you'd like to order again, just reply and we'll make it easy.",),
            closings=("Thanks for being a customer.", "Talk soon."),
            subjects=("a quick check-in", "checking in"),
            preheaders=(
                "A month on, a quick note from {biz}.",
                "Running low? Ordering again takes one reply.",
            ),
        ),
        _template(
            "win_back",
            "d90",
            priority=_ranked("picks setup delivery plans business thanks milestone gear role"),
            openers=(
                "It's been a while, so here's a quick hello from {biz}.",
                "We haven't heard from you in a while, so here's a quick hello.",
            ),
            basics=(
                "If something put you off last time, we'd like to hear it. Just reply and tell us.",
            ),
            closings=(
                "Either way, we're here if you need us.",
                "Hope to hear from you soon.",
            ),
            subjects=("it's been a while", "been a while"),
            preheaders=(
                "A quick hello from {biz}.",
                "Just a quick hello, nothing more, from {biz}.",
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    fact_ids: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    personal: bool = True


@dataclass(frozen=True, slots=True)
class _Para:
    """A paragraph of the body, what it names, and the subject and preheader it suggests."""

    key: str
    sentences: tuple[_Sentence, ...]
    # Products the paragraph names (checked against opt-outs with their categories).
    products: tuple[CatalogProduct | ProductBought, ...] = ()
    subject: str | None = None
    preheader: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


# -- words and products -----------------------------------------------------------------------


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    """The words of a text that can tie it to a product: singular, lower-case, no numbers, no
    vague words."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.casefold()):
        if any(c.isdigit() for c in raw):
            continue
        word = _singular(raw)
        if len(word) >= 3 and word not in _STOP and word not in out:
            out.append(word)
    return tuple(out)


def _related(a: str, b: str) -> bool:
    """The same word, or one a longer form of the other ("ethiopia", "ethiopian")."""
    if a == b:
        return True
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 5 and long.startswith(short)


class _Index:
    """The catalog's products by the words of their names and categories."""

    def __init__(
        self, products: Sequence[CatalogProduct | ProductBought], *, catalog_size: int | None = None
    ) -> None:
        self.products = tuple(products)
        # Products past this position were bought but are not in the catalog (any more).
        self.catalog_size = len(self.products) if catalog_size is None else catalog_size
        self.by_sku: dict[str, int] = {}
        self.names: dict[str, list[int]] = {}
        self.categories: dict[str, list[int]] = {}
        plans: list[int] = []
        for i, product in enumerate(self.products):
            self.by_sku.setdefault(product.sku, i)
            name_tokens = _tokens(product.name)
            category_tokens = _tokens(product.category or "")
            for token in name_tokens:
                self.names.setdefault(token, []).append(i)
            for token in category_tokens:
                self.categories.setdefault(token, []).append(i)
            if _PLAN_WORDS.intersection(name_tokens + category_tokens):
                plans.append(i)
        self.plans = tuple(plans)
        self.vocab = sorted(set(self.names) | set(self.categories))

    def sells(self, sku: str) -> bool:
        """Whether the catalog lists the product (not only the customer's orders)."""
        return self.by_sku.get(sku, self.catalog_size) < self.catalog_size

    def _related_words(self, token: str) -> list[str]:
        found = [token] if token in self.names or token in self.categories else []
        if len(token) >= 5:
            at = bisect_left(self.vocab, token)
            while at < len(self.vocab) and self.vocab[at].startswith(token):
                if self.vocab[at] != token:
                    found.append(self.vocab[at])
                at += 1
            found.extend(
                token[:k]
                for k in range(5, len(token))
                if token[:k] in self.names or token[:k] in self.categories
            )
        return found

    def scores(self, tokens: Sequence[str]) -> dict[int, int]:
        """Each product's overlap with the words: 2 a word of its name, 1 of its category."""
        scores: dict[int, int] = {}
        for token in tokens:
            best: dict[int, int] = {}
            for word in self._related_words(token):
                for i in self.categories.get(word, ()):
                    best[i] = max(best.get(i, 0), 1)
                for i in self.names.get(word, ()):
                    best[i] = 2
            for i, weight in best.items():
                scores[i] = scores.get(i, 0) + weight
        return scores


def _stable(text: str) -> int:
    """A number from text that is the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _article(phrase: str) -> str:
    lower = phrase.lower()
    if lower.startswith(("uni", "use", "usu", "eu", "one ")) or lower == "one":
        return "a"
    if lower[:1] in "aeio" or lower.startswith(("u", "hour", "honest", "8", "11 ", "18 ")):
        return "an"
    return "a"


def _since(days: int) -> str:
    """A rough, honest span of time: "a couple of weeks", "about three months"."""
    if days < 10:
        return "a few days"
    if days < 21:
        return "a couple of weeks"
    if days < 45:
        return "about a month"
    if days < 365:
        return f"about {_SMALL_NUMBERS[min(max(2, round(days / 30.4)), 11)]} months"
    return "over a year"


def _listing(names: Sequence[str]) -> str:
    """ "the A", "the A and the B", "the A, the B and the C"."""
    named = [f"the {n}" for n in names]
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + " and " + named[-1]


def _first_name(raw: str | None) -> str | None:
    """The name to greet by, or None when it is missing or does not read as a name."""
    name = " ".join((raw or "").split())
    if len(name) > 30 or not _NAME.match(name):
        # "Bartholomew-Alexander von Longname-Smythe": the first word will do.
        name = name.split(" ")[0]
        if not name or len(name) > 30 or not _NAME.match(name):
            return None
    if name.islower() or name.isupper():
        name = name.title()
    return name


def _plain(value: str) -> list[str] | None:
    """The words of a fact value, or None when it holds anything that is not plain words."""
    value = value.strip().strip(".,;:!?\"'")
    if not value or _ODD.search(value):
        return None
    return value.split()


def _business_phrase(value: str) -> str | None:
    """ "small bakery", "30-seat cafe" (from "30 seat cafe margins"), or None."""
    words = _plain(value)
    if words is None:
        return None
    lower = [w.casefold().strip(".,;:!?\"'()") for w in words]
    while lower and lower[0] in _DETERMINERS:
        words, lower = words[1:], lower[1:]
    head = max((i for i, w in enumerate(lower) if w in BUSINESSES), default=None)
    if head is None or head + 1 > MAX_BUSINESS_WORDS:
        return None
    words, lower = words[: head + 1], lower[: head + 1]
    if head == 0 and lower[0] in _VAGUE_BUSINESS:
        return None
    if lower[0] in _NUMBER_WORDS or any(w in _NOT_ROLES for w in lower):
        return None
    out: list[str] = []
    for i, word in enumerate(words):
        # "30 seat cafe" -> "30-seat cafe": a number before a noun it measures.
        if out and out[-1].isdigit() and i < head:
            out[-1] = f"{out[-1]}-{word}"
        else:
            out.append(word)
    return " ".join(out)


def _role_phrase(value: str) -> str | None:
    """ "office manager", "nurse", or None ("teach high school chemistry")."""
    words = _plain(value)
    if words is None:
        return None
    lower = [w.casefold() for w in words]
    while lower and lower[0] in _DETERMINERS:
        words, lower = words[1:], lower[1:]
    if not lower or len(lower) > MAX_ROLE_WORDS:
        return None
    if not all(w.replace("-", "").isalpha() for w in lower) or any(w in _NOT_ROLES for w in lower):
        return None
    last = lower[-1]
    if last not in _ROLE_WORDS and not (len(last) > 4 and last.endswith(_ROLE_SUFFIXES)):
        return None
    return " ".join(words)


def _plan_phrase(value: str) -> str | None:
    """ "opening a second salon in March", or None: a plan must start with what they are doing."""
    words = _plain(value)
    if words is None or not 2 <= len(words) <= MAX_PLAN_WORDS:
        return None
    lower = [w.casefold() for w in words]
    if not (lower[0].endswith("ing") and len(lower[0]) > 4 and lower[0].isalpha()):
        return None
    if any(w in _FIRST_PERSON or w in PEOPLE for w in lower):
        return None
    out = []
    for word, low in zip(words, lower, strict=True):
        if low in ("my", "our"):
            out.append("your")
        elif low in _MONTHS:
            out.append(low.capitalize())
        else:
            out.append(word)
    return " ".join(out)


# -- reading the context ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Match:
    product: CatalogProduct | ProductBought
    fact: KeptFact
    bought: bool
    plan: bool


class _Reader:
    """What one request's context offers a template, read once."""

    def __init__(self, request: DraftRequest, index: _Index) -> None:
        context = request.context
        self.context = context
        self.index = index
        self.template = TEMPLATES[template_id(request.kind, request.step)]
        self.biz = request.voice.business
        # Phrasing varies by customer and step; product picks by customer only, so one
        # customer's sequence keeps pointing at the same thing.
        self.seed = _stable(f"{context.customer_id}|{self.template.id}")
        self.customer_seed = _stable(context.customer_id)
        self.topics = tuple(o.topic for o in context.opt_outs if o.topic != ALL_MARKETING)
        self.intents = {i.intent for i in context.intents}
        self._blocked: dict[str, bool] = {}
        self.bought = [p for p in context.orders.products if not self.blocked(p)]
        self.bought_skus = {p.sku for p in self.bought}
        self.facts: dict[str, list[KeptFact]] = {}
        for fact in context.facts:
            # The context already withholds these; a drafter checks again all the same.
            if not self.opted_out(fact.value):
                self.facts.setdefault(fact.category, []).append(fact)
        # Products already named, so no two lines point at the same one.
        self.named: set[str] = set()

    def pick(self, options: Sequence[str], slot: int) -> str:
        """One of the options, the same for this customer and step every time."""
        return options[(self.seed >> (slot * 7)) % len(options)]

    def opted_out(self, text: str) -> bool:
        return bool(self.topics) and mentions(text, self.topics) is not None

    def blocked(self, product: CatalogProduct | ProductBought) -> bool:
        """Whether the product's name or category touches a topic the customer opted out of."""
        if not self.topics:
            return False
        found = self._blocked.get(product.sku)
        if found is None:
            found = self._blocked[product.sku] = self.opted_out(
                f"{product.name} {product.category or ''}"
            )
        return found

    def have(self, intents: Sequence[str]) -> tuple[str, ...]:
        return tuple(i for i in intents if i in self.intents)

    def matches(self, fact: KeptFact, *, pool: str = "all") -> list[_Match]:
        """Products the fact's words point at, best first; only products the customer bought
        when pool is "bought"."""
        words = _plain(fact.value)
        if words is None or len(words) > MAX_MATCHED_VALUE_WORDS:
            return []
        tokens = _tokens(fact.value)
        if not tokens:
            return []
        scored = self.index.scores(tokens)
        found: list[tuple[tuple[int, int, int], _Match]] = []
        for i, score in scored.items():
            product = self.index.products[i]
            bought = product.sku in self.bought_skus
            if pool == "bought" and not bought:
                continue
            if self.blocked(product):
                continue
            # Equal scores: products not bought yet first (a suggestion), then the catalog's
            # order turned by the customer's seed, so similar customers see different picks.
            turn = (i + self.customer_seed) % len(self.index.products)
            found.append(
                ((-score, int(bought), turn), _Match(product, fact, bought, i in self.index.plans))
            )
        found.sort(key=lambda item: item[0])
        return [m for _, m in found]

    def latest(self) -> list[ProductBought]:
        """The products of the customer's latest order, things that are not plans first."""
        if not self.bought:
            return []
        last = self.bought[0].last_bought_at
        products = [p for p in self.bought if p.last_bought_at == last]
        return sorted(products, key=lambda p: self.is_plan(p))

    def is_plan(self, product: CatalogProduct | ProductBought) -> bool:
        i = self.index.by_sku.get(product.sku)
        return i is not None and i in self.index.plans

    def plan_products(self) -> list[CatalogProduct | ProductBought]:
        return [
            self.index.products[i]
            for i in self.index.plans
            if not self.blocked(self.index.products[i])
        ]


# -- the personalized lines -------------------------------------------------------------------


def _setup(r: _Reader) -> _Para | None:
    intents = r.have(_SETUP_INTENTS)
    product: ProductBought | CatalogProduct | None = None
    facts: list[KeptFact] = []
    for fact in r.facts.get("pain_point", ()):
        found = r.matches(fact, pool="bought")
        if found and product is None:
            product = found[0].product
            facts.insert(0, fact)
        elif not found:
            facts.append(fact)
    if not intents and not facts:
        return None
    fact_ids = tuple(f.id for f in facts[:1])
    if product is not None:
        sentence = _Sentence(
            f"If the {product.name} still isn't quite right, reply and tell us what's happening, "
            "and we'll help you sort it.",
            fact_ids=fact_ids,
            skus=(product.sku,),
            intents=intents,
        )
        return _Para(
            "setup",
            (sentence,),
            (product,),
            subject=f"need a hand with the {product.name}?",
            preheader="Reply with what's happening and we'll help you sort it.",
        )
    if intents:
        text = (
            "If you're still stuck getting set up, reply with what you're seeing and we'll walk "
            "you through it."
        )
        subject = "need a hand getting set up?"
    else:
        text = (
            "If anything still isn't working the way it should, reply and tell us what's "
            "happening, and we'll help."
        )
        subject = "need a hand?"
    return _Para(
        "setup",
        (_Sentence(text, fact_ids=fact_ids, intents=intents),),
        subject=subject,
        preheader="Reply with what's happening and we'll help you sort it.",
    )


def _delivery(r: _Reader) -> _Para | None:
    intents = r.have(_DELIVERY_INTENTS)
    if not intents:
        return None
    kind, step = r.template.kind, r.template.step
    if kind == "welcome":
        text = (
            "If an order ever turns up late or not quite right, reply to this email and we'll "
            "put it right."
        )
    elif step == "d1":
        text = (
            "If it's late or not quite right when it arrives, reply to this email and we'll "
            "sort it straight away."
        )
    else:
        text = (
            "If anything about an order ever goes wrong, reply to this email and we'll put it "
            "right."
        )
    return _Para(
        "delivery",
        (_Sentence(text, intents=intents),),
        preheader="And what to do if an order is ever late or not right.",
    )


def _plans(r: _Reader) -> _Para | None:
    intents = r.have(_PLAN_INTENTS)
    facts: list[KeptFact] = []
    for fact in r.facts.get("interest", []) + r.facts.get("preference", []):
        found = r.matches(fact)
        if found and found[0].plan:
            facts.append(fact)
    if not intents and not facts:
        return None
    plans = [p for p in r.plan_products() if p.name.casefold() not in r.named]
    mine = [p for p in plans if p.sku in r.bought_skus]
    others = [p for p in plans if p.sku not in r.bought_skus]
    fact_ids = tuple(f.id for f in facts[:1])
    named: list[CatalogProduct | ProductBought]
    if mine and others:
        named = [mine[0], *others[: MAX_NAMED - 1]]
        first = (
            f"Since you've had the {mine[0].name}, you might like to compare it with "
            f"{_listing([p.name for p in named[1:]])}."
        )
    elif len(others) > MAX_NAMED:
        named = list(others[:MAX_NAMED])
        first = f"We offer {len(others)} plans, including {_listing([p.name for p in named])}."
    elif len(others) >= 2:
        named = list(others)
        first = f"We offer {_listing([p.name for p in named])}."
    elif others:
        named = [others[0]]
        first = (
            f"If you'd like the details of the {others[0].name}, just reply and we'll send them "
            "over."
        )
    elif "pricing_interest" in intents:
        named = []
        first = "If you'd like prices on anything, just reply and we'll send them straight over."
    else:
        return None
    sentences = [
        _Sentence(first, fact_ids=fact_ids, skus=tuple(p.sku for p in named), intents=intents)
    ]
    if len(named) >= 2:
        sentences.append(
            _Sentence(
                "Reply with what you need and we'll tell you which one works out best.",
                personal=False,
            )
        )
    return _Para(
        "plans",
        tuple(sentences),
        tuple(named),
        subject="a quick look at our plans" if named else "prices, whenever you want them",
        preheader="Tell us what you need and we'll suggest the right one."
        if named
        else "Reply and we'll send prices straight over.",
    )


def _thanks(r: _Reader) -> _Para | None:
    if "praise" not in r.intents:
        return None
    if r.template.kind == "win_back":
        text = "Thanks again for the kind words last time. They meant a lot."
    else:
        text = "Thanks again for the kind words, by the way. It's good to hear."
    first, _, second = text.partition(". ")
    return _Para(
        "thanks",
        (_Sentence(f"{first}.", intents=("praise",)), _Sentence(second, personal=False)),
        preheader="And thanks for the kind words.",
    )


def _business(r: _Reader) -> _Para | None:
    for fact in r.facts.get("business", ()):
        phrase = _business_phrase(fact.value)
        if phrase is not None:
            break
    else:
        return None
    kind, step = r.template.kind, r.template.step
    subject = None
    if kind == "welcome" and step == "d0":
        text = (
            f"Running {_article(phrase)} {phrase}? Tell us what you need and we'll help you find "
            "the right fit."
        )
    elif kind == "welcome" and step in ("d3", "d7"):
        text = (
            f"If you're buying for your {phrase}, tell us what you need and we'll point you to "
            "the right things."
        )
    elif (kind == "welcome" and step == "d14") or step == "d30":
        if r.plan_products():
            text = (
                f"If a regular order would make life easier at your {phrase}, reply and we'll "
                "set one up."
            )
        else:
            text = (
                f"If a bigger order would help at your {phrase}, reply and we'll work out the "
                "details."
            )
        subject = f"a note for your {phrase}"
    elif kind == "win_back":
        text = f"We hope all's well at your {phrase}."
    else:
        text = f"Hope things are going well at your {phrase}."
    return _Para(
        "business",
        (_Sentence(text, fact_ids=(fact.id,)),),
        subject=subject,
        preheader=f"A quick note for your {phrase}.",
    )


def _role(r: _Reader) -> _Para | None:
    for fact in r.facts.get("role", ()):
        phrase = _role_phrase(fact.value)
        if phrase is not None:
            break
    else:
        return None
    a = _article(phrase)
    for match in r.matches(fact):
        if not match.bought and match.product.name.casefold() not in r.named:
            product = match.product
            return _Para(
                "role",
                (
                    _Sentence(
                        f"As {a} {phrase}, you might find the {product.name} handy.",
                        fact_ids=(fact.id,),
                        skus=(product.sku,),
                    ),
                ),
                (product,),
            )
    return _Para(
        "role",
        (
            _Sentence(
                f"If there's anything that would make your day easier as {a} {phrase}, just "
                "reply and tell us.",
                fact_ids=(fact.id,),
            ),
        ),
    )


def _picks(r: _Reader) -> _Para | None:
    for fact in r.facts.get("preference", []) + r.facts.get("interest", []):
        for match in r.matches(fact):
            if match.plan or match.product.name.casefold() in r.named:
                continue
            product = match.product
            if match.bought:
                text = (
                    f"If you'd like more of the {product.name}, just reply and we'll get it to you."
                )
                subject = f"more of the {product.name}?"
            else:
                text = r.pick(
                    (
                        f"From what you've told us, the {product.name} might be a good fit.",
                        f"The {product.name} might be just what you're after.",
                    ),
                    1,
                )
                subject = f"one to try: the {product.name}"
            return _Para(
                "picks",
                (_Sentence(text, fact_ids=(fact.id,), skus=(product.sku,)),),
                (product,),
                subject=subject,
                preheader="A pick based on what you've told us.",
            )
    return None


def _gear(r: _Reader) -> _Para | None:
    for fact in r.facts.get("uses", ()):
        found = r.matches(fact)
        if not found:
            continue
        product = found[0].product
        if found[0].bought:
            word = product.name
            named: tuple[CatalogProduct | ProductBought, ...] = (product,)
        else:
            word = _gear_word(fact.value, product.name, r.index)
            named = ()
        text = r.pick(
            (
                f"If you'd like tips for getting the most from your {word}, just reply and "
                "we'll help.",
                f"Got questions about your {word}? Reply and we'll share what we know.",
            ),
            2,
        )
        first, sep, rest = text.partition("? ")
        sentences: tuple[_Sentence, ...]
        if sep:
            sentences = (
                _Sentence(first + "?", fact_ids=(fact.id,), skus=tuple(p.sku for p in named)),
                _Sentence(rest, personal=False),
            )
        else:
            sentences = (_Sentence(text, fact_ids=(fact.id,), skus=tuple(p.sku for p in named)),)
        return _Para(
            "gear",
            sentences,
            named,
            subject=f"tips for your {word}",
            preheader=f"Getting the most from your {word}.",
        )
    return None


def _gear_word(value: str, product_name: str, index: _Index) -> str:
    """The word of the value that ties it to the product: spelled as the product spells it when
    it looks like a brand ("AeroPress", "Brompton": not a word of any category), else as the
    customer's word, singular ("grinder")."""
    tokens = _tokens(value)
    for raw in product_name.split():
        low = _singular(raw.casefold())
        for token in tokens:
            if _related(token, low):
                generic = low in index.categories or token in index.categories
                return token if generic and raw[1:] == raw[1:].lower() else raw
    return tokens[0]


def _milestone(r: _Reader) -> _Para | None:
    for fact in r.facts.get("plan", ()):
        if r.context.as_of - fact.said_at > STALE_PLAN:
            continue
        phrase = _plan_phrase(fact.value)
        if phrase is None:
            continue
        return _Para(
            "milestone",
            (
                _Sentence(f"Good luck {phrase}.", fact_ids=(fact.id,)),
                _Sentence("If there's anything we can do to help, just reply.", personal=False),
            ),
            subject=f"good luck {phrase}",
            preheader="And good luck with what's next.",
        )
    return None


def _product(r: _Reader, *, has_setup: bool) -> _Para | None:
    """The post-purchase and win-back paragraph about what they bought."""
    kind, step = r.template.kind, r.template.step
    latest = r.latest()
    if not latest:
        return None
    main = latest[0]
    follow: str | None = None
    named: list[ProductBought] = [main]
    if kind == "win_back":
        # "Your usual": bought more than once (plans aside), and the most of.
        usual = max(
            (p for p in r.bought if not r.is_plan(p)), key=lambda p: p.quantity, default=None
        )
        if usual is not None and usual.quantity >= 2 and r.context.orders.count >= 2:
            text = f"Your usual {usual.name}"
        else:
            usual = main
            text = f"The {usual.name} from your last order"
        named = [usual]
        if r.index.sells(usual.sku):
            text += " is still here whenever you want it."
            subject: str | None = f"your {usual.name} is still here"
        else:
            text = f"If you'd like another {usual.name}, just reply and we'll see what we can do."
            subject = None
        days = r.context.rfm.recency_days
        opener = (
            f"It's been {_since(days)} since your last order, so here's a quick hello."
            if days is not None
            else None
        )
        sentences = [_Sentence(text, skus=(usual.sku,))]
        if opener:
            sentences.insert(0, _Sentence(opener, personal=False))
        r.named.add(usual.name.casefold())
        return _Para("product", tuple(sentences), tuple(named), subject=subject)
    if step == "d1":
        named = latest[:2]
        text = f"Thanks for ordering {_listing([p.name for p in named])}."
        if len(latest) > 2:
            text = f"Thanks for your order, including {_listing([p.name for p in named])}."
        follow = "We hope it's all just what you wanted."
        subject = f"thanks for ordering the {main.name}"
    elif step == "d3":
        text = (
            "A few days on from your order, we'd like to help you get the most from the "
            f"{main.name}."
        )
        follow = "Reply with how you're using it, and we'll share what we know."
        subject = f"getting the most from the {main.name}"
    elif step == "d14":
        text = f"How are you getting on with the {main.name}?"
        follow = None if has_setup else "If it's not quite right, tell us and we'll help."
        subject = f"how's the {main.name} working out?"
    else:
        days = max(0, (r.context.as_of - main.last_bought_at).days)
        text = f"It's been {_since(days)} since you ordered the {main.name}."
        follow = "If you need more, or something to go with it, just reply."
        subject = f"checking in on the {main.name}"
    for p in named:
        r.named.add(p.name.casefold())
    sentences = [_Sentence(text, skus=tuple(p.sku for p in named))]
    if follow:
        sentences.append(_Sentence(follow, personal=False))
    return _Para("product", tuple(sentences), tuple(named), subject=subject)


_BUILDERS: dict[str, Callable[[_Reader], _Para | None]] = {
    "setup": _setup,
    "delivery": _delivery,
    "plans": _plans,
    "thanks": _thanks,
    "business": _business,
    "role": _role,
    "picks": _picks,
    "gear": _gear,
    "milestone": _milestone,
}


# -- the drafter ------------------------------------------------------------------------------


class TemplateDrafter:
    """Drafts from versioned templates, offline and deterministically; the default drafter."""

    name = "template"

    def __init__(self) -> None:
        # The last catalog seen and its word index: a campaign drafts with one catalog.
        self._indexed: tuple[Catalog, _Index] | None = None

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        """One draft per request, in order; a request no template answers is a DraftFailed."""
        outcomes: list[DraftContent | DraftFailed] = []
        for request in requests:
            try:
                outcomes.append(self.draft(request))
            except DraftingError as error:
                outcomes.append(DraftFailed(key=request.key, error=str(error)))
        return outcomes

    def draft(self, request: DraftRequest) -> DraftContent:
        """The draft for one request; DraftingError when no template answers it."""
        if request.kind not in KINDS:
            raise DraftingError(f"no sequence {request.kind!r}; sequences: {', '.join(KINDS)}")
        if request.step not in STEPS[request.kind]:
            raise DraftingError(
                f"no template for {request.kind} step {request.step!r}; steps: "
                f"{', '.join(STEPS[request.kind])}"
            )
        return _compose(_Reader(request, self._index(request)), request)

    def _index(self, request: DraftRequest) -> _Index:
        indexed = self._indexed
        if indexed is None or indexed[0] is not request.catalog:
            indexed = (request.catalog, _Index(request.catalog.products))
            self._indexed = indexed
        index = indexed[1]
        missing = [p for p in request.context.orders.products if p.sku not in index.by_sku]
        if missing:
            # Bought products the catalog does not list may still be named (they were bought).
            return _Index([*index.products, *missing], catalog_size=len(index.products))
        return index


def _compose(r: _Reader, request: DraftRequest) -> DraftContent:
    t = r.template
    voice = request.voice
    checks = voice.checks
    biz = voice.business
    # A retry after the grounding check complained: say nothing personal at all.
    plain = bool(request.feedback)

    lines: list[_Para] = []
    product: _Para | None = None
    if not plain:
        limit = 3 if t.kind == "welcome" else 2
        # The product paragraph first (it claims its product), then the step's priorities.
        if t.kind != "welcome":
            has_setup = bool(r.have(_SETUP_INTENTS) or r.facts.get("pain_point"))
            product = _keep(_product(r, has_setup=has_setup), r, checks)
        for key in t.priority:
            if len(lines) >= limit:
                break
            para = _keep(_BUILDERS[key](r), r, checks)
            if para is not None:
                lines.append(para)
                r.named.update(p.name.casefold() for p in para.products)

    if lines:
        variant, lead = lines[0].key, lines[0]
    elif product is not None:
        variant, lead = "product", product
    else:
        variant, lead = ("plain" if plain else "basic"), None

    paras: list[_Para] = []
    if product is not None:
        paras.append(product)
    else:
        opener = r.pick(t.openers, 3).format(biz=biz)
        if t.kind == "win_back" and not plain and r.context.rfm.recency_days is not None:
            opener = (
                f"It's been {_since(r.context.rfm.recency_days)} since your last order, so "
                "here's a quick hello."
            )
        paras.append(_Para("opener", (_Sentence(_tidy(opener), personal=False),)))
    paras.extend(lines)
    # After a post-purchase paragraph about the product, a generic line would only repeat it.
    if not lines and not (product is not None and t.kind == "post_purchase"):
        paras.append(_Para("basic", (_Sentence(r.pick(t.basics, 4), personal=False),)))
    paras.append(_Para("closing", (_Sentence(r.pick(t.closings, 5), personal=False),)))
    paras = _without_banned(paras, checks)

    name = _first_name(r.context.first_name)
    subject = _subject(
        [lead.subject] if lead is not None and lead.subject else [],
        t.subjects,
        name=name,
        biz=biz,
        limit=checks.max_subject_chars,
    )
    preheader = (
        lead.preheader
        if lead is not None and lead.preheader
        else r.pick(t.preheaders, 6).format(biz=biz)
    )
    sign_off = voice.sign_off or "The team"
    body = "\n\n".join([f"Hi {name or 'there'},", *(p.text for p in paras), sign_off])

    evidence: list[Evidence] = []
    fact_ids: list[int] = []
    products: list[str] = []
    for para in paras:
        for sentence in para.sentences:
            if sentence.personal:
                evidence.append(
                    Evidence(
                        sentence=sentence.text,
                        fact_ids=list(sentence.fact_ids),
                        skus=list(sentence.skus),
                        intents=list(sentence.intents),
                    )
                )
                fact_ids.extend(i for i in sentence.fact_ids if i not in fact_ids)
        products.extend(p.name for p in para.products if p.name not in products)

    if checks.contractions == "avoid":
        subject, preheader, body = _spell_out(subject), _spell_out(preheader), _spell_out(body)
        for item in evidence:
            item.sentence = _spell_out(item.sentence)
    return DraftContent(
        subject=subject,
        preheader=_tidy(preheader),
        body=body,
        fact_ids=sorted(fact_ids),
        evidence=evidence,
        products=products,
        drafter=TemplateDrafter.name,
        template=f"{t.id}/{variant}",
    )


def _keep(para: _Para | None, r: _Reader, checks: VoiceChecks) -> _Para | None:
    """The paragraph, unless it touches an opted-out topic or has a sentence too long."""
    if para is None:
        return None
    if r.topics and (any(r.blocked(p) for p in para.products) or r.opted_out(para.text)):
        return None
    for sentence in para.sentences:
        if len(_WORD.findall(sentence.text)) > checks.max_sentence_words:
            return None
    return para


def _without_banned(paras: list[_Para], checks: VoiceChecks) -> list[_Para]:
    """Drop paragraphs using a phrase the business banned (the built-in list never matches)."""
    if checks.banned_phrases == list(GENERIC_PHRASES):
        return paras
    banned = [p.casefold() for p in checks.banned_phrases]
    return [p for p in paras if not any(b in p.text.casefold() for b in banned)]


def _subject(
    preferred: list[str], defaults: Sequence[str], *, name: str | None, biz: str, limit: int
) -> str:
    """The first subject that fits, with the name in front when there is one."""
    candidates = [c.format(biz=biz) for c in (*preferred, *defaults)]
    for candidate in candidates:
        for with_name in (True, False) if name else (False,):
            text = f"{name}, {candidate}" if with_name else candidate[:1].upper() + candidate[1:]
            text = _tidy(text)
            if len(text) <= limit:
                return text
    last = candidates[-1]
    return (last[:1].upper() + last[1:])[:limit]


def _tidy(text: str) -> str:
    """ "Co.." -> "Co." where a name ending in a full stop ends a sentence."""
    return text.replace("..", ".")


def _spell_out(text: str) -> str:
    """The text without contractions, for a guide that avoids them."""

    def expand(match: re.Match[str]) -> str:
        word = match.group(1)
        full = _EXPANSIONS[word.lower().replace("\u2019", "'")]
        return full[:1].upper() + full[1:] if word[:1].isupper() else full

    return _CONTRACTED.sub(expand, text)


def _check_templates() -> None:
    """Every template uses only the {biz} placeholder and ranks every line once."""
    for t in TEMPLATES.values():
        for text in (*t.openers, *t.subjects, *t.preheaders, *t.basics, *t.closings):
            for _, field, _, _ in string.Formatter().parse(text):
                if field not in (None, "biz"):
                    raise ValueError(f"{t.id}: unknown placeholder {{{field}}} in {text!r}")
        if sorted(t.priority) != sorted(_BUILDERS):
            raise ValueError(f"{t.id}: the priority must rank every line once")


_check_templates()
