"""The surveillance gate: a candidate fact is kept only if the customer says it about themselves,
affirmatively, as a fact, and it is not sensitive, about someone else, or holding PII. When the
gate is unsure it blocks: a missed fact costs a little personalization, a leaked one trust.

This module is the whole policy: the reasons (`REASONS`), who speaks (`SELF_SUBJECTS`,
`subject_kind`), what negates (`NEGATIONS`, `negated`), what is hypothetical, a question, about
someone else, sensitive or PII, the verdict on a parsed clause (`gate_reason`) and on a sentence
not worth parsing (`blocked_without_parsing`). The rules and search's evidence policy use these
definitions; none of them defines its own."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from engine.facts.clauses import Clause
from engine.facts.lexicon import (
    DEMONYMS,
    FAMILY_ROLES,
    FIRST_NAMES,
    GROUPS,
    PEOPLE,
    SENSITIVE,
    SENSITIVE_ONLY_AS,
)

if TYPE_CHECKING:  # spaCy takes seconds to import; the draft checks use only the lexicon
    from spacy.tokens import Doc, Token

# Why a candidate was blocked, in the order they are checked (a candidate counts once, under the
# first reason that applies). Agent and bot turns never reach the gate; their reasons are
# counted from the stored turns (engine.customers.context).
CUSTOMER_REASONS = ("pii", "sensitive", "third_party", "question", "hypothetical", "negated")
TURN_REASONS = ("agent_stated", "bot_stated", "inferred_by_agent")
REASONS = (*TURN_REASONS, *CUSTOMER_REASONS)

# Who speaks. The customer as the subject of a parse ("I", "we"), and in any role.
SELF_SUBJECTS = frozenset({"i", "we"})
FIRST_PERSON = SELF_SUBJECTS | {"me", "us", "myself", "ourselves"}
# The customer as chat writes it in plain text ("I'm", "we've", "im", "ive"), for the checks
# that read words, not a parse (search evidence).
SELF_WORD = r"(?:i|we|i'm|im|i've|ive|we're|we've|weve|i'd|we'd|i'll|we'll)"
# The same, with the forms that are also other words ("id", "ill") and "I am": enough to make
# a sentence worth parsing, where the parse tells them apart.
SELF_SAID = r"(?:i|i'm|im|i've|ive|i'd|id|i'll|ill|we|we're|we've|weve|we'll|we'd|i\s+am|we\s+are)"
SAID_BY_SELF = re.compile(r"(?i)\b" + SELF_SAID + r"\b")
PLACEHOLDER = re.compile(r"\[(?:email|phone|card|address)\]")
PII_CUES = re.compile(
    r"(?i)\b(?:my|our)\s+(?:(?:phone|mobile|cell|work|home)\s+(?:number|no|num|is)|e-?mail|"
    r"email address|number|address|postcode|"
    r"post code|zip|zip code|card number|card details|bank details|name|surname|birthday|"
    r"date of birth|dob)"
    r"\b|\b(?:live|living|lives|based)\s+(?:at|on)\b|\b(?:call|text|ring|reach|whatsapp)\s+me\b|"
    r"\bcard\s+(?:number|ending|ends)\b|\b(?:passport|ssn|social security|national insurance|"
    r"sort code|account number|iban|routing number|pin)\b"
)


def _term(term: str) -> str:
    """A lexicon term as a regular expression; terms starting "re:" are one already."""
    return term[3:] if term.startswith("re:") else re.escape(term)


# One pattern for every sensitive term, a named group per category, longest terms first: one
# pass over a sentence finds them all.
SENSITIVE_PATTERN = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(
        f"(?P<{category}>" + "|".join(_term(t) for t in sorted(terms, key=len, reverse=True)) + ")"
        for category, terms in SENSITIVE.items()
    )
    + r")(?![\w-])"
)


def sensitive_spans(text: str) -> list[tuple[int, int, str]]:
    """Where a text touches a sensitive category: (start, end, category) of each term."""
    lowered = text.lower().replace("\u2019", "'")
    return [
        (match.start(), match.end(), match.lastgroup or "sensitive")
        for match in SENSITIVE_PATTERN.finditer(lowered)
    ]


def _doc_sensitive_spans(doc: Doc) -> list[tuple[int, int, str]]:
    """The sensitive spans of a parsed sentence, found once per sentence."""
    spans: list[tuple[int, int, str]] | None = doc.user_data.get("sensitive_spans")
    if spans is None:
        spans = sensitive_spans(doc.text)
        doc.user_data["sensitive_spans"] = spans
    return spans


QUESTION_WORDS = frozenset({"what", "which", "who", "whom", "whose", "how", "why", "where"})
QUESTION_AUX = frozenset(
    """
    do does did is are was were am can could would will should shall may might have has had
    wo ca must
    """.split()
)
WONDER_VERBS = frozenset({"wonder", "ask", "query", "curious"})
HEDGE_VERBS = frozenset(
    {"wish", "hope", "dream", "imagine", "suppose", "guess", "fantasize", "fantasise", "pray"}
)
HYPOTHETICAL_MARKS = frozenset(
    {"if", "unless", "whether", "once", "when", "whenever", "till", "until", "lest", "suppose"}
)
HYPOTHETICAL_WORDS = frozenset(
    """
    maybe perhaps possibly probably hopefully someday eventually ideally potentially
    theoretically presumably supposedly apparently considering pondering tempted
    """.split()
)
MODALS = frozenset({"would", "could", "might", "may", "should", "must", "shall"})
POLITE_PHRASES = frozenset({"i'd", "we'd", "id love", "id like"})
HYPOTHETICAL_PHRASES = re.compile(
    r"(?i)\b(?:one day|some day|one of these days|at some point|in the future|if ever|"
    r"when i ever|whenever i|thinking (?:about|of)|think about|not sure|kind of thinking|"
    r"kinda thinking|toying with|on the fence|in theory|fingers crossed|down the line|"
    r"down the road|sooner or later|if so|in case|would be|'d be|i'd|we'd|id love|id like)\b"
)
# "I'd like" and "I'd love" are polite ways to say what one wants, not hypotheticals.
POLITE_WANTS = frozenset({"like", "love", "appreciate"})
NEGATIONS = frozenset(
    """
    not n't nt never no nobody nothing none neither nor without hardly barely nowhere
    noone cannot cant dont doesnt didnt isnt arent wasnt werent wont wouldnt couldnt
    shouldnt havent hasnt hadnt aint nope nah
    """.split()
)
NOT_ANY_MORE = re.compile(
    r"(?i)\b(?:no longer|any ?more|used to|stopped|quit|gave up|give up|giving up|"
    r"cut out|cutting out|switched from|moved away from|over it|done with|sold (?:my|our))\b"
)
# Negated auxiliaries, with or without the apostrophe chat drops ("dont", "cant"); not any
# word ending in "nt" ("want", "meant", "front").
NEGATED_AUX = re.compile(
    r"(?i)\b(?:not|never|no|(?:do|does|did|is|are|was|were|have|has|had|ca|can|wo|would|could|"
    r"should|must|need|ai)n'?t)\b"
)
# Not being able to is trouble, not a denial: "I can't get it to grind", "we couldn't log in".
INABILITY = frozenset({"can't", "cant", "cannot", "couldn't", "couldnt"})
# What negates a verb when it modifies it: "I can't get it to pair", "it barely works".
NEGATING_MODIFIERS = frozenset({"never", "not", "n't", "barely", "hardly"})


def denied(token: Token) -> bool:
    """A negation or a "barely" modifies the word ("doesn't work", "hardly grinds")."""
    return any(c.dep_ == "neg" or c.lower_ in NEGATING_MODIFIERS for c in token.children)


def negative_word(word: str) -> bool:
    """A word of negation, with or without the apostrophe chat drops ("don't", "dont")."""
    return word in NEGATIONS or word.endswith("n't") or word.replace("'", "") in NEGATIONS


def words(tokens: Iterable[Token]) -> set[str]:
    """Lower-case forms of tokens."""
    return {token.lower_ for token in tokens}


def pii(clause: Clause) -> bool:
    """The clause holds a redacted email, phone, card or address, or says where to find one."""
    return pii_text(clause.text)


def pii_text(text: str) -> bool:
    """The text holds a redacted email, phone, card or address, or says where to find one."""
    return bool(PLACEHOLDER.search(text) or PII_CUES.search(text))


def sensitive_text(text: str) -> str | None:
    """The sensitive category a text touches by its words alone, if any."""
    spans = sensitive_spans(text)
    return spans[0][2] if spans else None


def opt_out_reason(sentence: str, start: int, end: int) -> str | None:
    """Why an opt-out's words cannot be kept: sensitive, or conditional. (A topic may name
    people as a kind of product: "stop emailing me about kids' bikes".)"""
    quote = sentence[start:end]
    if PLACEHOLDER.search(quote):
        return "pii"
    if sensitive_text(quote):
        return "sensitive"
    if re.search(r"(?i)\b(?:if|unless|would|might|maybe)\b", sentence[:start]):
        return "hypothetical"
    return None


def sensitive_category(tokens: tuple[Token, ...]) -> str | None:
    """The sensitive category the tokens touch, if any: a sensitive word among them, or a
    sensitive phrase of the sentence that reaches into them ("i run a cafe and [im broke]")."""
    if not tokens:
        return None
    first, last = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
    for start, end, category in _doc_sensitive_spans(tokens[0].doc):
        if start < last and first < end:
            return category
    for token in tokens:
        only = SENSITIVE_ONLY_AS.get(token.lower_)
        if only and token.pos_ in only[1]:
            return only[0]
        if token.lower_ in DEMONYMS and _said_of_a_person(token):
            return "ethnicity"
    return None


def _said_of_a_person(token: Token) -> bool:
    """A nationality or people word said of a person ("I'm Kenyan", "a Kenyan woman")."""
    if token.dep_ in {"attr", "acomp"} and token.head.lemma_ == "be":
        return True
    if token.dep_ in {"amod", "compound"} and (
        token.head.lower_ in PEOPLE or token.head.lower_ in GROUPS or token.head.lemma_ == "owner"
    ):
        return True
    previous = token.doc[max(token.i - 2, 0) : token.i]
    return "as" in words(previous) or token.head.lower_ in {"i", "we"}


def third_party(clause: Clause) -> bool:
    """The clause is said of, by or about someone other than the customer."""
    if _has_third_party_subject(clause):
        return True
    for token in clause.tokens:
        lower = token.lower_
        if lower in PEOPLE or lower in FIRST_NAMES:
            return True
        if lower in GROUPS and token.dep_ in {"nsubj", "nsubjpass", "poss", "conj"}:
            return True
        if token.tag_ == "POS" and token.head.pos_ == "PROPN":  # "Sarah's"
            return True
        if _maybe_a_name(token):
            return True
    return any(
        _has_third_party_subject(parent)
        and (not _preposed(clause, parent) or parent.head.lemma_ in SPEECH_VERBS)
        for parent in clause.governors()
    )


# Verbs that report someone's words or views: "we need a bigger grinder, my boss says".
SPEECH_VERBS = frozenset(
    """
    say tell think reckon believe feel insist want claim mention suggest complain argue decide
    agree wish hope prefer like love hate recommend advise reckon swear moan blame
    """.split()
)


# Verbs only people do: their subject is someone, whatever the noun.
SAYING_VERBS = frozenset(
    "say tell reckon insist claim mention suggest recommend advise think believe swear".split()
)


def _preposed(clause: Clause, parent: Clause) -> bool:
    """The clause comes before the clause it hangs on: the parser often hangs a separate
    statement there ("I'm a barista, do you do wholesale?")."""
    return clause.tokens[-1].i < parent.head.i


def _has_third_party_subject(clause: Clause) -> bool:
    subject = clause.subject
    if subject is None or is_self(subject):
        return False
    # Whoever says, reckons or recommends is a person, whatever the noun ("our vet says").
    return _is_person(subject) or clause.head.lemma_ in SAYING_VERBS


def is_self(token: Token) -> bool:
    """The token is the customer speaking (I, we), and no one else stands with them."""
    if token.lower_ not in FIRST_PERSON:
        return False
    return not any(child.dep_ == "conj" for child in token.children)


def _is_person(token: Token) -> bool:
    """A subject that is (or may be) a person other than the customer."""
    lower = token.lower_
    if lower in PEOPLE or lower in GROUPS:
        return True
    if any(child.dep_ == "conj" for child in token.children):  # "Marcus and I"
        return True
    if token.pos_ == "PROPN" and not any(child.dep_ == "det" for child in token.children):
        return True
    return token.ent_type_ == "PERSON"


def _maybe_a_name(token: Token) -> bool:
    """A proper noun in a place where people stand: "for Sarah", "with Tom", "Tom and I"."""
    if token.pos_ != "PROPN" or any(child.dep_ in {"det", "poss"} for child in token.children):
        return False
    if _moved_to(token):
        return False  # a place: "we just moved to Tacoma"
    if token.dep_ == "conj" and token.head.lower_ in FIRST_PERSON:
        return True
    if token.dep_ == "appos":
        return True
    if token.dep_ == "pobj" and token.head.lower_ in {"for", "to", "from"}:
        return not any(child.dep_ == "compound" for child in token.children)
    if token.dep_ == "pobj" and token.head.lower_ == "with":
        verb = token.head.head
        return verb.lemma_ not in {"brew", "make", "use", "grind", "pull", "cook", "go", "start"}
    return token.dep_ in {"dative", "npadvmod"}


def _moved_to(token: Token) -> bool:
    """The place one moved to: "we just moved to Tacoma" (people are sent to, not moved to)."""
    preposition = token.head
    return preposition.lower_ == "to" and preposition.head.lemma_ in {"move", "relocate"}


def question(clause: Clause) -> bool:
    """The clause asks rather than tells."""
    if _asks(clause):
        return True
    return any(_asks(parent) and not _preposed(clause, parent) for parent in clause.governors())


def _asks(clause: Clause) -> bool:
    tokens = clause.quote_tokens
    if any(token.text == "?" for token in clause.tokens):
        return True
    if clause.head.lemma_ in WONDER_VERBS or any(t.lower_ == "wondering" for t in tokens):
        return True
    first = tokens[0]
    if first.lower_ in QUESTION_WORDS and first.dep_ != "mark":
        return True
    if first.lower_ in QUESTION_AUX and first.pos_ in {"AUX", "VERB"}:
        subject = clause.subject
        if subject is not None and subject.i > first.i:
            return True
    # The last clause of a sentence that ends with a question mark is the question.
    doc = clause.head.doc
    last = [token for token in doc if not token.is_punct]
    return bool(last) and doc.text.rstrip().endswith("?") and last[-1] in clause.tokens


def hypothetical(
    clause: Clause, *, polite_want: bool, pain: bool = False, tentative: bool = False
) -> bool:
    """The clause is a condition, a wish, a guess or a maybe, not a fact."""
    if WHEN_EVER.search(clause.head.doc.text):
        return True
    if _conditional(clause, polite_want=polite_want, pain=pain, tentative=tentative):
        return True
    return any(
        _conditional(parent, polite_want=False, pain=False) and not _preposed(clause, parent)
        for parent in clause.governors()
    )


WHEN_EVER = re.compile(r"(?i)\b(?:when\s+(?:i|we)\s+ever|if\s+ever|if\s+(?:i|we)\s+ever)\b")


def _conditional(clause: Clause, *, polite_want: bool, pain: bool, tentative: bool = False) -> bool:  # noqa: C901 (a decision list, clearest read top to bottom)
    head = clause.head
    if any(c.dep_ == "mark" and c.lower_ in HYPOTHETICAL_MARKS for c in head.children):
        return True
    first = clause.tokens[0]
    if clause.relation == "advcl" and first.lower_ in {"when", "whenever", "once"}:
        return True
    modal = any(c.dep_ == "aux" and c.lemma_ in MODALS | {"will", "can"} for c in head.children)
    for token in clause.tokens:
        lower = token.lower_
        if lower in HYPOTHETICAL_MARKS and token.dep_ == "mark":
            return True
        if lower in {"if", "unless", "whether"}:
            return True
        if token.lemma_ in HEDGE_VERBS or lower in HYPOTHETICAL_WORDS:
            return True
        if token.tag_ == "MD" and token.lemma_ in MODALS and token.dep_ in {"aux", "auxpass"}:
            if polite_want and token.lemma_ == "would" and token.head.lemma_ in POLITE_WANTS:
                continue
            if pain and token.lemma_ == "could" and _negated_here(token.head):
                continue  # "I couldn't get it to pair" tells of trouble that happened
            return True
    # A condition hanging on a clause with a modal makes it conditional: "I'd buy it if you
    # did one", "we'll open a cafe if the loan comes through" (but not "I run a bakery, if
    # that helps").
    for child in clause.head.children:
        if (
            modal
            and child.dep_ == "advcl"
            and any(
                grandchild.dep_ == "mark" and grandchild.lower_ in HYPOTHETICAL_MARKS
                for grandchild in child.children
            )
        ):
            return True
    for match in HYPOTHETICAL_PHRASES.finditer(clause.full_text):
        said = match.group(0).lower()
        if polite_want and said in POLITE_PHRASES:
            continue
        if tentative and said.startswith("thinking"):
            continue
        return True
    return False


def _negated_here(token: Token) -> bool:
    return any(child.dep_ == "neg" for child in token.children)


def negated(clause: Clause, *, allow_function_negation: bool) -> bool:
    """The clause says something is not so ("we don't have a grinder", "I'm not a barista"),
    or hangs on a clause that does ("I don't think [we need a grinder]")."""
    for parent in clause.governors():
        if not _preposed(clause, parent) and _negated_here(parent.head):
            return True
    for token in clause.tokens:
        if token.dep_ == "neg" or token.lower_ in NEGATIONS or token.lemma_ == "not":
            if allow_function_negation and token.head.i == clause.head.i:
                continue
            if allow_function_negation and token.head.dep_ == "xcomp":
                continue
            return True
    return not allow_function_negation and bool(NOT_ANY_MORE.search(clause.text))


def family_role(token: Token) -> bool:
    """A role that tells of other people ("I'm a mum of three")."""
    return token.lower_ in FAMILY_ROLES


THINGS_AS_SUBJECT = frozenset(
    {
        "it",
        "its",  # chat's "it's": "its been great"
        "this",
        "that",
        "these",
        "those",
        "they",
        "nothing",
        "something",
        "everything",
        "mine",
        "ours",
    }
)

YOU = frozenset({"you", "u", "ya", "y'all", "yall"})
# Verbs a customer starts a sentence with, leaving "I" out: "love the Ethiopian!", "just got a
# Gaggia", "run a small bakery in Leeds".
IMPLICIT_SELF_VERBS = frozenset(
    """
    love like adore enjoy prefer run own manage operate use have get got buy bought brew make
    drink work need want sell
    """.split()
)


def subject_kind(clause: Clause) -> str:
    """Who the clause is about: "self", "thing", "person", "you" (the business) or "none"."""
    subject = clause.subject
    if subject is None:
        return "self" if _implicit_self(clause.head) else "none"
    lower = subject.lower_
    if lower in SELF_SUBJECTS or lower in {"me", "us"}:
        if _third_person_verb(clause.head):
            return "person"  # "I run a shop and [one of my brides] wants ...": not the "I"
        return "self" if not any(c.dep_ == "conj" for c in subject.children) else "person"
    if lower in YOU:
        return "you"
    if lower in PEOPLE or lower in GROUPS:
        return "person"
    if lower in THINGS_AS_SUBJECT:
        return "thing"
    if subject.pos_ == "NOUN":
        return "self" if mine(subject) and lower in {"job", "role", "business"} else "thing"
    if subject.pos_ == "PROPN" and any(c.dep_ in {"det", "poss"} for c in subject.children):
        return "thing"
    return "person" if subject.pos_ in {"PROPN", "PRON"} else "none"


IMPLICIT_SELF_STATES = frozenset({"interested", "keen", "partial"})
LEAD_INS = frozenset(
    """
    just also really so recently actually ok okay hi hey hello hiya yeah yes yep and but oh
    totally absolutely honestly still currently basically anyway btw
    """.split()
)


def _implicit_self(head: Token) -> bool:
    """A statement that leaves out "I" and starts with its verb: "just got a Gaggia", "love the
    Ethiopian", "looking for a travel kettle", "interested in the Office Plan"."""
    while head.dep_ == "conj" and head.head.i != head.i:
        head = head.head
    state = head.lemma_ in IMPLICIT_SELF_STATES and head.pos_ == "ADJ"
    verb = head.lemma_ in IMPLICIT_SELF_VERBS | {"look"} and (
        head.tag_ in {"VBD", "VBP", "VB", "VBN"} or (head.tag_ == "VBG" and head.lemma_ == "look")
    )
    if not state and not verb:
        return False
    # Only at the start of a sentence or right after a comma: "need more filters, ...".
    before = []
    for token in reversed(head.doc[: head.i]):
        if token.text in {",", ";", "-", "."}:
            break
        before.append(token)
    return all(t.lower_ in LEAD_INS or t.dep_ in {"intj", "advmod"} for t in before)


def _third_person_verb(head: Token) -> bool:
    """The verb agrees with someone else ("wants", "is", "has"), so its subject is not "I"."""
    finite = [c for c in head.children if c.dep_ in {"aux", "auxpass"}] or [head]
    return finite[0].tag_ == "VBZ"


def mine(token: Token) -> bool:
    """The thing is the customer's own ("my job", "our favourite")."""
    return any(c.dep_ == "poss" and c.lower_ in {"my", "our"} for c in token.children)


class Reading(Protocol):
    """What a rule read in a clause, as far as the gate cares."""

    @property
    def category(self) -> str: ...
    @property
    def function_negation(self) -> bool: ...
    @property
    def polite_want(self) -> bool: ...
    @property
    def tentative(self) -> bool: ...


# Sentences no rule can keep anything from are not parsed; what they say that the gate would
# block is still counted, by its words.
_ABOUT_SOMEONE_ELSE = re.compile(
    r"(?i)\b(?:my|our)\s+(?:\w+\s+)?(?:" + "|".join(sorted(PEOPLE)) + r")\b"
    r"|\b(?:says|said|reckons|thinks|recommends)\b"
    r"|^\W*(?:" + "|".join(sorted(FIRST_NAMES)) + r")\b"
)
_MAYBE = re.compile(r"(?i)\b(?:if|would|'d|might|maybe|wish|should|could|may|hopefully)\b")
_ASKS = re.compile(
    r"(?i)\?\s*$|^\W*(?:do|does|did|can|could|is|are|should|would|will)\s+(?:i|we)\b"
)


def blocked_without_parsing(sentence: str) -> str | None:
    """What the gate would block in a sentence no rule can keep anything from, by its words."""
    if PLACEHOLDER.search(sentence):
        return "pii"
    if SENSITIVE_PATTERN.search(sentence.lower()):
        return "sensitive"
    if _ABOUT_SOMEONE_ELSE.search(sentence):
        return "third_party"
    if not SAID_BY_SELF.search(sentence):
        return None
    if _ASKS.search(sentence):
        return "question"
    if _MAYBE.search(sentence):
        return "hypothetical"
    if NEGATED_AUX.search(sentence):
        return "negated"
    return None


def gate_reason(clause: Clause, match: Reading | None) -> str | None:
    """Why the gate blocks a candidate clause, or None when it may be kept."""
    if pii(clause):
        return "pii"
    if sensitive_category(clause.tokens) is not None:
        return "sensitive"
    if match is not None and match.category == "role" and family_role(clause.head):
        return "third_party"
    if third_party(clause):
        return "third_party"
    kind = subject_kind(clause)
    if kind == "person":
        return "third_party"
    if kind not in {"self", "thing"}:
        return "question" if question(clause) else "negated"
    if question(clause):
        return "question"
    pain = match is not None and match.function_negation
    polite = match is not None and match.polite_want
    tentative = match is not None and match.tentative
    if hypothetical(clause, polite_want=polite, pain=pain, tentative=tentative):
        return "hypothetical"
    if negated(clause, allow_function_negation=pain):
        return "negated"
    return None


# Reasons a trailing modifier can carry while the statement before it stands on its own.
TRIMMABLE_REASONS = frozenset({"sensitive", "third_party", "pii", "negated"})
