"""Words of fact values and product names: tokens, the catalog index, and phrase cleaners."""

import hashlib
import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

from engine.customers.context import ProductBought
from engine.drafting.base import CatalogProduct
from engine.facts.lexicon import ABSTRACT, BUSINESSES, FAMILY_ROLES, GROUPS, PEOPLE

# Longest fact values woven in, in words: longer ones are sentences, not values.
MAX_BUSINESS_WORDS = 5
MAX_ROLE_WORDS = 3
MAX_PLAN_WORDS = 8
MAX_MATCHED_VALUE_WORDS = 6

_TOKEN = re.compile(r"[^\W_]+")
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


# -- words and products -----------------------------------------------------------------------


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=8192)
def tokens_of(text: str) -> tuple[str, ...]:
    """The words of a text that can tie it to a product: singular, lower-case, no numbers, no
    vague words."""
    out: list[str] = []
    for raw in _TOKEN.findall(text.casefold()):
        if any(c.isdigit() for c in raw):
            continue
        word = singular(raw)
        if len(word) >= 3 and word not in _STOP and word not in out:
            out.append(word)
    return tuple(out)


def related(a: str, b: str) -> bool:
    """The same word, or one a longer form of the other ("ethiopia", "ethiopian")."""
    if a == b:
        return True
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 5 and long.startswith(short)


class CatalogIndex:
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
            name_tokens = tokens_of(product.name)
            category_tokens = tokens_of(product.category or "")
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


def stable_hash(text: str) -> int:
    """A number from text that is the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def article(phrase: str) -> str:
    lower = phrase.lower()
    if lower.startswith(("uni", "use", "usu", "eu", "one ")) or lower == "one":
        return "a"
    if lower[:1] in "aeio" or lower.startswith(("u", "hour", "honest", "8", "11 ", "18 ")):
        return "an"
    return "a"


def since(days: int) -> str:
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


def listing(names: Sequence[str]) -> str:
    """ "the A", "the A and the B", "the A, the B and the C"."""
    named = [f"the {n}" for n in names]
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + " and " + named[-1]


def first_name(raw: str | None) -> str | None:
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


def plain_words(value: str) -> list[str] | None:
    """The words of a fact value, or None when it holds anything that is not plain words."""
    value = value.strip().strip(".,;:!?\"'")
    if not value or _ODD.search(value):
        return None
    return value.split()


def business_phrase(value: str) -> str | None:
    """ "small bakery", "30-seat cafe" (from "30 seat cafe margins"), or None."""
    words = plain_words(value)
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


def role_phrase(value: str) -> str | None:
    """ "office manager", "nurse", or None ("teach high school chemistry")."""
    words = plain_words(value)
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


def plan_phrase(value: str) -> str | None:
    """ "opening a second salon in March", or None: a plan must start with what they are doing."""
    words = plain_words(value)
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
