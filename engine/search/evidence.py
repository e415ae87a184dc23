"""What a customer's sentence may be used for in search: never indexed when the surveillance
gate would block it as sensitive; never quoted as evidence of interest when it holds personal
data, is an opt-out, touches a topic the customer opted out of, or says something is not so
about the customer themselves. One policy, read by the pipeline (what is indexed), search (what
is quoted) and the upgrade of stores written by earlier versions.

Every definition here is the gate's (engine.facts.gate, engine.facts.lexicon,
engine.facts.optouts), applied to a sentence's words: search must not load the parser, so
what the gate decides on a parse is approximated by the same word lists."""

import re
from collections.abc import Iterable

from engine.facts.gate import (
    INABILITY,
    NOT_ANY_MORE,
    SELF_WORD,
    negative_word,
    pii_text,
    sensitive_text,
)
from engine.facts.lexicon import DEMONYMS, GROUPS, PEOPLE, TROUBLE_STATES, TROUBLE_VERBS
from engine.facts.optouts import find_opt_outs, mentions

# Why a sentence is not evidence, in the order they are checked.
REASONS = ("sensitive", "pii", "opt_out", "opted_out_topic", "negated")
# How many words may stand between "I" and its negation: "I really don't", "we do not",
# "I've never", "we just don't".
NEGATION_REACH = 3
# A nationality or people word said of a person, which the gate finds on the parse
# (engine.facts.gate._said_of_a_person): "I'm Kenyan", "as a Kenyan woman", "Kenyan customers".
_DEMONYM = "|".join(sorted(DEMONYMS, key=len, reverse=True))
_PERSON = "|".join(sorted(re.escape(w) for w in PEOPLE | GROUPS))
_DEMONYM_OF_A_PERSON = re.compile(
    rf"(?i)\b(?:(?:i'?m|i am|we'?re|we are|as an?|who (?:is|are)|that (?:is|are))\s+"
    rf"(?:[\w-]+\s+)?(?:{_DEMONYM})\b|\b(?:{_DEMONYM})\s+(?:{_PERSON})\b)"
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def sensitive_category(text: str) -> str | None:
    """The sensitive category a sentence (or a question about customers) touches, if any."""
    category = sensitive_text(text)
    if category is None and _DEMONYM_OF_A_PERSON.search(text.replace("\u2019", "'")):
        return "ethnicity"
    return category


def withheld_from_index(sentence: str) -> str | None:
    """Why a customer sentence is never embedded, indexed or classified (the gate would block
    it as sensitive, whoever it is about), or None when it may be indexed."""
    return "sensitive" if sensitive_category(sentence) is not None else None


def not_evidence(sentence: str, *, opted_out: Iterable[str] = ()) -> str | None:
    """Why a customer sentence is not evidence of interest (one of REASONS), or None when it
    is. `opted_out` are the topics that customer asked not to hear about."""
    if sensitive_category(sentence) is not None:
        return "sensitive"
    if pii_text(sentence):
        return "pii"
    if find_opt_outs(sentence):
        return "opt_out"
    if mentions(sentence, opted_out):
        return "opted_out_topic"
    if negated_about_self(sentence):
        return "negated"
    return None


def negated_about_self(sentence: str) -> bool:
    """The customer says something is not so of themselves: "we don't have a grinder", "I'm
    not interested in kilns", "I no longer use the V60". Trouble said with a negation stays
    trouble: not being able to ("I can't get it to grind"), or a word of trouble anywhere
    ("I don't know why it's so loud"); a thing that will not work has no "I" ("my grinder
    doesn't work", "the card reader won't pair")."""
    lowered = sentence.lower().replace("\u2019", "'")
    words = _WORD.findall(lowered)
    for position, word in enumerate(words):
        if not re.fullmatch(SELF_WORD, word):
            continue
        following = words[position + 1 : position + 1 + NEGATION_REACH]
        negation = next((w for w in following if negative_word(w)), None)
        if negation is None and not _no_longer_after(lowered, word):
            continue
        # Trouble, not a denial: unable to, or a word of trouble anywhere in the sentence.
        return not (negation in INABILITY or any(_troubled(w) for w in words))
    return False


def _no_longer_after(lowered: str, self_word: str) -> bool:
    """Right after the customer's "I", the gate's words for what is not so any more: "I no
    longer...", "we stopped...", "I've cut out..."."""
    for match in re.finditer(rf"\b{re.escape(self_word)}\b", lowered):
        after = lowered[match.end() :].split()[:NEGATION_REACH]
        if NOT_ANY_MORE.search(" ".join(after)):
            return True
    return False


def _troubled(word: str) -> bool:
    """A word of trouble (the gate's lexicon), in any of its plain inflections."""
    if word in TROUBLE_STATES or word in TROUBLE_VERBS:
        return True
    for ending in ("s", "es", "ed", "ing"):
        stem = word.removesuffix(ending)
        if stem != word and len(stem) > 2 and {stem, stem + "e", stem[:-1]} & TROUBLE_VERBS:
            return True
    return False
