"""Spelling: which words an English word list (pyspellchecker's, offline, with British spellings
and the engine's own lexicon), a business's catalog or a customer's own writing vouch for, and
the correction of a misspelt word of a fact from the customer's other words and the catalog.

The word list takes ~0.2 s to load: it is loaded once per process, on first use, never at
import (the light CLI commands import this module through engine.customers.context)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from engine.facts.gate import SENSITIVE_PATTERN
from engine.facts.lexicon import (
    BUSINESSES,
    EVERYDAY_WORDS,
    FIRST_NAMES,
    FUNCTION_VERBS,
    PEOPLE,
    TROUBLE_STATES,
    TROUBLE_VERBS,
)

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

# A run of letters, digits, apostrophes and hyphens: one written word ("hi-vis", "128gb", "we're").
_WRITTEN = re.compile(r"[\w'\u2019-]+")
# A written word with a digit in it ("v60", "128gb"), which is not judged; else the letters of a
# word, with apostrophes inside ("we're") but without a possessive's ("the customer's").
_WORD_OR_NUMBER = re.compile(r"[\w'-]*\d[\w'-]*|([^\W\d_]+(?:'(?!s\b)[^\W\d_]+)*)(?:'s\b)?")
_LETTERS = re.compile(r"^[^\W\d_]+$")
# Words the engine's own lexicons hold are words, whatever the English list says ("coworking").
_OWN_WORDS = frozenset(
    word
    for word in BUSINESSES | TROUBLE_STATES | TROUBLE_VERBS | FUNCTION_VERBS | EVERYDAY_WORDS
    if _LETTERS.match(word)
)
# British spellings the (American-leaning) list lacks, as the American ending they stand for:
# colour, favourite, organise(d), analyse, centre, tyres, licence, travelling, programme, cheque.
_BRITISH = (
    ("our", "or"),
    ("ours", "ors"),
    ("ourite", "orite"),
    ("ourites", "orites"),
    ("ise", "ize"),
    ("ised", "ized"),
    ("ises", "izes"),
    ("ising", "izing"),
    ("isation", "ization"),
    ("yse", "yze"),
    ("ysed", "yzed"),
    ("tre", "ter"),
    ("tres", "ters"),
    ("yre", "ire"),
    ("yres", "ires"),
    ("ence", "ense"),
    ("lled", "led"),
    ("lling", "ling"),
    ("mme", "m"),
    ("mmes", "ms"),
    ("que", "ck"),
    ("ium", "um"),
)
# Corrections are made only this far (edit distance) from the word written: one edit, two for
# a long word ("begginer"); words this short or shorter are never corrected ("teh", "fone" and
# "evey" have too many neighbours to choose from), and a correction keeps the first letter
# (typos seldom hit it; "reiver", a name written in lower case, is not "never").
NEVER_CORRECTED_LENGTH = 4
TWO_EDITS_FROM_LENGTH = 8


@functools.cache
def _dictionary() -> AbstractSet[str]:
    """The English word list (lower-case words), loaded once per process."""
    from spellchecker import SpellChecker  # ~0.2 s: only when a word is first checked

    return SpellChecker(distance=1).word_frequency.dictionary.keys()


@functools.lru_cache(maxsize=65536)
def known(word: str) -> bool:
    """Whether a lower-case word is English: in the word list, in a British spelling of a word
    in it, a plural of one, or a word of the engine's own lexicon."""
    if len(word) < 2 or word in _OWN_WORDS:
        return True
    dictionary = _dictionary()
    if word in dictionary:
        return True
    stems = [word]
    if word.endswith("s") and len(word) > 3:  # "tyres" when only "tyre" is listed
        stems.append(word[:-1])
    for stem in stems:
        if stem != word and stem in dictionary:
            return True
        for british, american in _BRITISH:
            if stem.endswith(british) and stem[: -len(british)] + american in dictionary:
                return True
    return False


def words(text: str) -> list[str]:
    """The words of a text a spell checker can judge, lower-case, in order: letters only (not
    "v60" or "128gb"), a hyphenated word in its parts ("hi-vis": "hi", "vis"), no possessive 's."""
    found = _WORD_OR_NUMBER.findall(text.casefold().replace("\u2019", "'"))
    return [word for word in found if word]


def unknown_words(text: str, *, vouched: AbstractSet[str] = frozenset()) -> list[str]:
    """The words of a text neither English nor vouched for (catalog, names), once each."""
    seen: list[str] = []
    for word in words(text):
        if word not in seen and word not in vouched and not known(word):
            seen.append(word)
    return seen


def catalog_words(names: Iterable[str | None]) -> frozenset[str]:
    """The words of product names and categories: names a business sells under ("AeroPress")."""
    return frozenset(word for name in names if name for word in words(name))


def written_as_names(texts: Iterable[str]) -> frozenset[str]:
    """Words (lower-case) a writer gave as names: capitalised inside a sentence ("just got a
    Gaggia") or in mixed case anywhere ("AeroPress", "iPhone"). A word in capitals throughout
    is not one ("NOW", "BOOKSSSSS": shouting cannot be told from an acronym)."""
    names = set()
    for text in texts:
        # Whether the next word starts a sentence: the text's first, or the first after . ! ?
        starts_sentence = True
        last = 0
        for match in _WRITTEN.finditer(text):
            between = text[last : match.start()]
            if any(c in ".!?\n" for c in between):
                starts_sentence = True
            last = match.end()
            written = match.group(0)
            letters = [c for c in written if c.isalpha()]
            if letters and not all(c.isupper() for c in letters):
                mixed = any(c.isupper() for c in letters[1:])
                if mixed or (letters[0].isupper() and not starts_sentence):
                    names.update(words(written))
            starts_sentence = False
    return frozenset(names)


def edit_distance(a: str, b: str, *, limit: int) -> int:
    """The edit distance of two words (insertions, deletions, substitutions and swaps of two
    neighbours), or limit + 1 when it is more than limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _without_apostrophe(word: str) -> str | None:
    """The contraction a word is without its apostrophe ("wasnt": "wasn't"), if it is one."""
    for at in range(1, len(word)):
        contracted = f"{word[:at]}'{word[at:]}"
        if contracted in _dictionary():
            return contracted
    return None


def correction(word: str, pool: Iterable[str]) -> str | None:
    """The one word of the pool closest to a misspelt word, with its first letter (one edit away,
    two for a long word), or None when there is none, or more than one as close (a guess)."""
    if len(word) <= NEVER_CORRECTED_LENGTH:
        return None
    pool = set(pool)
    contraction = _without_apostrophe(word)
    if contraction is not None:
        # Chat drops the apostrophe ("wasnt"): that word, not a neighbour of it ("want").
        return contraction if contraction in pool else None
    limit = 2 if len(word) >= TWO_EDITS_FROM_LENGTH else 1
    best: list[str] = []
    best_distance = limit + 1
    for candidate in pool:
        if (
            candidate == word
            or candidate[:1] != word[:1]
            or len(candidate) <= NEVER_CORRECTED_LENGTH
        ):
            continue
        distance = edit_distance(word, candidate, limit=limit)
        if distance < best_distance:
            best, best_distance = [candidate], distance
        elif distance == best_distance and distance <= limit:
            best.append(candidate)
    return best[0] if len(best) == 1 else None


# A correction never brings in a word about someone else or a sensitive topic, even one the
# customer wrote elsewhere (in a message the gate blocked).
_NEVER_A_CORRECTION = PEOPLE | FIRST_NAMES


class FactSpeller:
    """Reads one customer's fact values for drafting: each word English, a catalog word, a name
    the customer wrote as one, or corrected to a word they wrote elsewhere or the catalog holds;
    the words none of these vouch for are reported. The catalog's words and the customer's own
    messages are read only when a value has a word the word list does not know."""

    def __init__(
        self,
        *,
        catalog: Callable[[], AbstractSet[str]],
        own_texts: Callable[[], Sequence[str]],
    ) -> None:
        self._catalog_loader = catalog
        self._texts_loader = own_texts
        self._catalog: AbstractSet[str] | None = None
        self._names: frozenset[str] | None = None
        self._pool: frozenset[str] | None = None

    def value(self, value: str, *, quote: str) -> tuple[str, list[str]]:
        """The value with misspelt words corrected, and the words nothing vouches for."""
        doubtful = unknown_words(value)
        if not doubtful:
            return value, []
        in_quote = written_as_names([quote])
        catalog = self.catalog()
        doubtful = [w for w in doubtful if w not in in_quote and w not in catalog]
        unknown = []
        for word in doubtful:
            if word in self.names():
                continue
            fixed = correction(word, self.pool())
            corrected = _replace_word(value, word, fixed) if fixed is not None else value
            if fixed is not None and fixed not in _NEVER_A_CORRECTION and not _sensitive(corrected):
                value = corrected
            else:
                unknown.append(word)
        return value, unknown

    def catalog(self) -> AbstractSet[str]:
        """The catalog's words, read once."""
        if self._catalog is None:
            self._catalog = self._catalog_loader()
        return self._catalog

    def names(self) -> frozenset[str]:
        """Words the customer wrote as names in any of their messages."""
        if self._names is None:
            self._names = written_as_names(self._texts_loader())
        return self._names

    def pool(self) -> frozenset[str]:
        """What a misspelt word may be corrected to: English words the customer wrote, and the
        catalog's words."""
        if self._pool is None:
            own = {w for text in self._texts_loader() for w in words(text)}
            self._pool = frozenset(w for w in own if known(w)) | frozenset(self.catalog())
        return self._pool


def _replace_word(text: str, word: str, by: str) -> str:
    """The text with each whole occurrence of a word replaced."""
    return re.sub(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", by, text)


def _sensitive(text: str) -> bool:
    return SENSITIVE_PATTERN.search(text.lower()) is not None
