"""The surveillance gate: a candidate fact is kept only if the customer says it about themselves,
affirmatively, as a fact, and it is not sensitive, about someone else, or holding PII. When the
gate is unsure it blocks: a missed fact costs a little personalization, a leaked one trust."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

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

FIRST_PERSON = frozenset({"i", "we", "me", "us", "myself", "ourselves"})
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


def _conditional(clause: Clause, *, polite_want: bool, pain: bool, tentative: bool = False) -> bool:
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
