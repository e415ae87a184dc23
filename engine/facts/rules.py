"""The rules that find what a customer says about themselves in one clause: their business or role,
what they use, like, plan, struggle with or want, where they are, and what they do not want to
hear about. The rules only find candidates; the surveillance gate (engine.facts.gate) decides
what is kept."""

import re
from dataclasses import dataclass

from spacy.tokens import Token

from engine.facts.clauses import FILLERS, Clause, clause_head_above
from engine.facts.gate import denied, mine, subject_kind
from engine.facts.lexicon import (
    ABSTRACT,
    BUSINESSES,
    FUNCTION_VERBS,
    GROUPS,
    PEOPLE,
    PLACEHOLDER_NOUNS,
    TROUBLE_STATES,
    TROUBLE_VERBS,
)
from engine.facts.spelling import known

CATEGORIES = (
    "business",
    "role",
    "uses",
    "preference",
    "plan",
    "pain_point",
    "interest",
    "opt_out",
    "location",
)
RULES_VERSION = "facts.rules.v1"
PRONOUNS = frozenset({"it", "this", "that", "these", "those", "they", "them", "one", "ones"})
MAX_VALUE_WORDS = 8


@dataclass(frozen=True)
class RuleMatch:
    """A candidate fact: its category, short value, the rule's name, and how the gate reads it."""

    category: str
    value: str
    rule: str
    # A pain point's own negation ("won't pair") is the fact, not a denial of it.
    function_negation: bool = False
    # "I'd like the Office Plan" is a polite want, not a hypothetical.
    polite_want: bool = False
    # "I'm thinking about a bike fit" names a product in mind, not a maybe.
    tentative: bool = False
    # The noun the value is the phrase of, when it is one: it must name a thing (names_a_thing).
    thing: Token | None = None


PLAN_VERBS = frozenset(
    """
    open launch move expand hire build renovate relocate add introduce rebrand refit redo
    redesign relaunch extend convert organise organize host
    """.split()
)
FUTURE_TIME = re.compile(
    r"(?i)\b(?:next\s+(?:week|month|year|spring|summer|autumn|fall|winter|quarter|season)|"
    r"this\s+(?:week|month|year|spring|summer|autumn|fall|winter|weekend|quarter)|soon|"
    r"next\s+weekend|"
    r"tomorrow|(?:in|by|from|this|next)\s+(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|"
    r"dec)|in\s+(?:a|two|three|four|six|\d+)\s+(?:weeks?|months?)|later this|in the new year|"
    r"end of the (?:month|year))\b"
)
PURCHASE_VERBS = frozenset({"order", "buy", "grab", "take", "get", "try", "purchase", "pick"})
PREFERENCE_VERBS = frozenset({"love", "like", "adore", "enjoy", "prefer", "dig", "fancy"})
HABIT_VERBS = frozenset({"drink", "take", "have", "order", "get", "buy"})
HABIT_ADVERBS = frozenset({"usually", "always", "normally", "mostly", "generally", "typically"})
BUSINESS_VERBS = frozenset({"run", "own", "operate", "found", "co-own", "manage", "start"})
USE_VERBS = frozenset({"use", "own", "have", "get", "buy", "switch", "ride", "drive"})
# Verbs that say what one does something with or on: "we brew with an AeroPress", "I commute
# on a Brompton", "I run tubeless on the gravel bike".
BREW_VERBS = frozenset(
    {"brew", "make", "grind", "pull", "froth", "cook", "bake", "commute", "ride", "run", "travel"}
)
INTEREST_VERBS = frozenset({"want", "need"})
TRY_VERBS = frozenset(
    """
    try get buy order upgrade switch add sample bump move go keep sign book join set ask
    renew start extend
    """.split()
)


def match_rule(clause: Clause) -> RuleMatch | None:
    """The first rule that finds a candidate fact in the clause, if any."""
    for rule in (_pain_point, _plan, _location, _interest, _preference, _business_or_role, _uses):
        found = rule(clause)
        if found is None or not found.value or found.value in PRONOUNS:
            continue
        if found.thing is not None and not names_a_thing(found.thing, clause):
            continue  # "I've got two", "I need something", "the cone one": no thing named
        return found
    return None


def phrase(token: Token) -> str:
    """A short, lower-case phrase for a noun: its words without articles, possessives, clauses."""
    skip: set[int] = set()
    for child in token.children:
        if (
            child.dep_ in {"relcl", "acl", "advcl", "punct", "cc", "appos", "prep"}
            and child.i > token.i
        ):
            skip.update(t.i for t in child.subtree)
    tokens = [
        t
        for t in token.subtree
        if t.i not in skip
        and t.dep_ not in {"det", "poss", "punct", "case"}
        and t.lower_ not in {"my", "our", "your", "the", "a", "an"}
    ]
    if token.dep_ == "pobj" or any(c.dep_ == "prep" and c.lower_ == "of" for c in token.children):
        tokens += _of_phrase(token)
    return " ".join(t.lower_ for t in tokens[:MAX_VALUE_WORDS]).replace(" - ", "-").strip()


# "One" stands for a thing said before: "the cone one", "a new one" point back at it.
ANAPHORIC_ONE = frozenset({"one", "ones"})
# Parts of speech that never name a thing on their own.
NOT_A_THING_POS = frozenset({"PRON", "DET", "NUM", "CCONJ", "SCONJ", "ADP", "PART", "AUX"})


def names_a_thing(token: Token, clause: Clause) -> bool:  # noqa: C901 (a decision list, clearest read top to bottom)
    """Whether the noun a value is made from names something a person would recognise: not a
    number word, pronoun, determiner or indefinite ("two", "it", "something", "stuff", "a bag")
    unless words that say what it is come with it ("something small", "a bag of the Ethiopian");
    not a word describing an anaphoric "one" ("the cone one"); and inside the quote, so that the
    value is not a fragment of a phrase cut off by it ("I got a cheap[, flimsy plastic set]")."""
    quoted = {t.i for t in clause.quote_tokens}
    if token.i not in quoted:
        if token.lower_ not in FILLERS:
            return False
        # "a tattoo shop [lol]": the parser made a trailing filler the noun; the value is what
        # the quote holds of the phrase.
        return any(
            c.dep_ in {"compound", "amod"} and c.i in quoted and names_a_thing(c, clause)
            for c in token.children
        )
    following = token.nbor(1) if token.i + 1 < len(token.doc) else None
    if following is not None and following.i in quoted:
        if following.lower_ in ANAPHORIC_ONE:
            return False  # "the cone one", "the 16gb one": which one, we do not know
        if following.pos_ == "X":
            return False  # the parser lost the rest of the phrase ("a hi vis tabard")
    if token.lower_ in ANAPHORIC_ONE:
        return False
    if not (
        token.like_num
        or token.pos_ in NOT_A_THING_POS
        or (token.is_stop and token.pos_ not in {"NOUN", "PROPN"})
        or token.lower_ in PLACEHOLDER_NOUNS
    ):
        return True
    # An indefinite names a thing only by the words that say what it is.
    for child in token.children:
        if child.i not in quoted:
            continue
        if child.dep_ in {"amod", "compound"} and names_a_thing(child, clause):
            return True
        if child.dep_ == "prep" and child.lower_ == "of":
            of = _child(child, "pobj")
            if of is not None and names_a_thing(of, clause):
                return True
    return False


def _of_phrase(token: Token) -> list[Token]:
    """Keep "of" phrases of a noun ("a bag of the Ethiopian") in its value."""
    extra: list[Token] = []
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            extra += [t for t in child.subtree if t.dep_ not in {"det", "poss", "punct"}]
    return extra


def tail(clause: Clause, start: Token) -> str:
    """The clause from a token on, lower-case: the value of a plan or a pain point."""
    first = start.left_edge.i if start.pos_ in {"NOUN", "PROPN"} else start.i
    tokens = [t for t in clause.quote_tokens if t.i >= first]
    while tokens and (tokens[0].lower_ in {"the", "my", "our", "a", "an"} or tokens[0].is_punct):
        tokens.pop(0)
    while tokens and tokens[-1].is_punct:
        tokens.pop()
    if not tokens:
        return ""
    tokens = tokens[: MAX_VALUE_WORDS + 2]
    return tokens[0].doc[tokens[0].i : tokens[-1].i + 1].text.lower()


def _child(token: Token, *deps: str) -> Token | None:
    for child in token.children:
        if child.dep_ in deps:
            return child
    return None


NOUN_RUN_TAGS = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})


def _direct_object(clause: Clause) -> Token | None:
    """The verb's object; when the parser lost it ("love the house espresso btw" with "btw" as
    the object), the last noun of the first run of nouns after the verb."""
    head = clause.head
    found = _child(head, "dobj")
    if found is not None and found.pos_ in {"NOUN", "PROPN", "NUM"}:
        return found
    run: list[Token] = []
    for token in clause.tokens:
        if token.i <= head.i:
            continue
        following = token.nbor(1) if token.i + 1 < len(token.doc) else None
        gerund = token.tag_ == "VBG" and following is not None and following.pos_ == "NOUN"
        if token.pos_ in NOUN_RUN_TAGS or gerund or (token.text == "-" and run):
            run.append(token)
        elif token.pos_ == "DET" and not run:
            continue
        else:
            break
    nouns = [t for t in run if t.pos_ in {"NOUN", "PROPN"}]
    return nouns[-1] if nouns else found


def run_phrase(token: Token, clause: Clause) -> str:
    """A noun's phrase, or the run of words before it when the parser split the phrase up."""
    value = phrase(token)
    if value and value != token.lower_:
        return value
    words = []
    for candidate in reversed(token.doc[: token.i + 1]):
        if candidate.i < clause.head.i or candidate.pos_ not in NOUN_RUN_TAGS:
            break
        words.append(candidate.lower_)
    return " ".join(reversed(words)) or value


def _prep_object(token: Token, *preps: str) -> Token | None:
    """The object of a preposition under the token: "look for [X]", "brew with [X]"."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in preps:
            return _child(child, "pobj", "pcomp")
    return None


def _concrete(token: Token | None) -> bool:
    """A noun that can be a thing a customer has or wants (not "a question", not a person)."""
    if token is None:
        return False
    lower = token.lower_
    if token.pos_ not in {"NOUN", "PROPN", "NUM", "ADJ"} and lower not in {"something", "anything"}:
        return False
    if lower in {"something", "anything", "stuff", "things"}:
        # "something small for the van", "chocolatey nutty stuff" say what they want ("the
        # blue one" only points back at something said before)
        return any(child.dep_ in {"amod", "relcl", "acl", "compound"} for child in token.children)
    if lower in PEOPLE or lower in GROUPS or lower in PRONOUNS:
        return token.pos_ == "PROPN" and lower not in PEOPLE
    if lower in ABSTRACT:  # "a question" is not a thing; "the AeroPress Go" is
        return token.pos_ == "PROPN" or any(c.dep_ == "compound" for c in token.children)
    return True


# Trouble that is said with "I": "I got charged twice", "we were overcharged".
SELF_TROUBLE = re.compile(
    r"(?i)\b(?:charged\s+(?:twice|double|two times)|double[- ]charged|overcharged|"
    r"(?:still|been)\s+waiting|wrong\s+(?:item|size|order|colou?r|parcel|grind|beans))\b"
)
LOOK_PREPS = ("for", "at", "into")
# "it tastes bitter" is trouble; "it tastes like brown sugar" is praise: only the state decides.
SENSES = frozenset({"taste", "smell", "feel", "sound"})
TROUBLE_NOUNS = frozenset({"problem", "issue", "headache", "nightmare", "trouble", "bugbear"})


def _auxes(head: Token) -> set[str]:
    """The auxiliaries of a verb, borrowed from the first verb of a coordination when it has none
    ("we're a van and [are] moving next month")."""
    own = {c.lower_ for c in head.children if c.dep_ in {"aux", "auxpass"}}
    if not own and head.dep_ == "conj":
        first = clause_head_above(head)
        own = {c.lower_ for c in first.children if c.dep_ in {"aux", "auxpass"}}
        if first.lemma_ == "be":
            own.add(first.lower_)
    return own


def _troubled(token: Token | None) -> bool:
    """A word of trouble, or a noun carrying one: "stale", "the wrong width", "too fine"."""
    if token is None:
        return False
    if token.lower_ in TROUBLE_STATES or any(c.lower_ == "too" for c in token.children):
        return True
    return any(c.dep_ in {"amod", "advmod"} and c.lower_ in TROUBLE_STATES for c in token.children)


def _pain_point(clause: Clause) -> RuleMatch | None:  # noqa: C901 (a decision list, clearest read top to bottom)
    head = clause.head
    kind = subject_kind(clause)
    subject = clause.subject
    lemma = head.lemma_
    keeps_doing = lemma == "keep" and any(
        (c.tag_ == "VBG" or c.lower_.endswith("ing")) and c.i > head.i for c in head.children
    )
    if kind == "thing" and subject is not None:
        if keeps_doing:
            return RuleMatch("pain_point", tail(clause, subject), "pain.keeps")
        if lemma in TROUBLE_VERBS and not denied(head):
            return RuleMatch("pain_point", tail(clause, subject), "pain.trouble_verb")
        if lemma in FUNCTION_VERBS and denied(head):
            return RuleMatch("pain_point", tail(clause, subject), "pain.fails", True)
        if lemma == "stop" and _child(head, "xcomp") is not None:
            return RuleMatch("pain_point", tail(clause, subject), "pain.stopped", True)
        if head.tag_ == "VBN" and head.lower_ in TROUBLE_STATES:  # "my chain is stretched"
            return RuleMatch("pain_point", tail(clause, subject), "pain.state")
        state = _child(head, "acomp", "attr", "oprd")
        if state is None and lemma in {"arrive", "come", "turn", "show", "look", "get"} | SENSES:
            state = _child(head, "advmod", "xcomp", "acomp")
        if lemma == "have":
            state = _child(head, "dobj")
        if state is None and lemma in {"arrive", "come", "turn"}:
            state = _prep_object(head, "with")  # "arrived with a broken clip"
        if _troubled(state) and not denied(head):
            return RuleMatch("pain_point", tail(clause, subject), "pain.state")
        if lemma == "be" and subject.lemma_ in TROUBLE_NOUNS:
            # "our biggest headache is brake pads wearing out"
            return RuleMatch("pain_point", tail(clause, subject), "pain.problem_is")
    if kind == "self":
        start = subject if subject is not None else head
        if keeps_doing:
            return RuleMatch("pain_point", tail(clause, start), "pain.i_keep")
        obj = _child(head, "dobj")
        declined = lemma == "get" and obj is not None and obj.lower_ in ANAPHORIC_ONE | {"any"}
        if lemma in {"get", "figure", "make", "work"} and denied(head) and not declined:
            # "we're not getting one" declines a purchase; "I'm not getting the emails" is trouble.
            return RuleMatch("pain_point", tail(clause, start), "pain.cannot", True)
        trouble = _child(head, "dobj")
        if (
            lemma == "have"
            and trouble is not None
            and trouble.lemma_ in TROUBLE_NOUNS | {"difficulty"}
            and (_prep_object(trouble, "with") is not None or _child(trouble, "acl") is not None)
        ):
            return RuleMatch("pain_point", tail(clause, trouble), "pain.having_trouble")
        if lemma == "struggle" and _prep_object(head, "with") is not None:
            return RuleMatch("pain_point", tail(clause, head), "pain.struggling")
        problem = _child(head, "dobj")
        if (
            lemma in {"get", "have", "keep"}
            and problem is not None
            and problem.lemma_
            in {
                "puncture",
                "flat",
                "error",
                "leak",
                "crash",
                "fault",
                "jam",
                "blockage",
            }
        ):
            return RuleMatch("pain_point", tail(clause, head), "pain.getting")
        if SELF_TROUBLE.search(clause.text):
            return RuleMatch("pain_point", tail(clause, head), "pain.charged", True)
    return None


def _plan(clause: Clause) -> RuleMatch | None:
    head = clause.head
    if subject_kind(clause) != "self" or head.pos_ not in {"VERB", "AUX"}:
        return None
    auxes = _auxes(head)
    text = clause.text.lower()
    xcomp = _child(head, "xcomp")
    if head.lemma_ in {"plan", "intend", "aim", "prepare", "schedule"} and xcomp is not None:
        return RuleMatch("plan", tail(clause, xcomp), "plan.planning")
    future = bool(auxes & {"will", "'ll", "ll", "shall"}) or "going to" in text or "gonna" in text
    if head.lemma_ == "go" and xcomp is not None and head.tag_ == "VBG":
        head = xcomp  # "I'm gonna start riding to work": the plan is the verb after "going to"
    progressive = head.tag_ == "VBG" and (
        bool(auxes & {"'re", "re", "are", "'m", "m", "am", "is", "be"})
        or (head.dep_ == "advcl" and clause.subject is not None)
    )
    timed = bool(FUTURE_TIME.search(text))
    if future and head.lemma_ in PURCHASE_VERBS:
        return None  # "I'll grab a bag" is interest
    if future and head.lemma_ in {"go", "be", "have", "see", "let", "check", "need", "do"}:
        return None
    if future or (progressive and (timed or head.lemma_ in PLAN_VERBS)):
        return RuleMatch("plan", tail(clause, head), "plan.future")
    return None


def _verb_target(verb: Token) -> Token | None:
    """What a verb is about: "keep [the plan]", "sign up for [the plan]", "ask about [bikes]"."""
    target = _child(verb, "dobj") or _prep_object(verb, "to", "into", "for", "about", "on")
    if target is None:
        particle = _child(verb, "prt")
        if particle is not None:
            target = _prep_object(particle, "to", "for") or _prep_object(verb, "for")
    return target


def _interest(clause: Clause) -> RuleMatch | None:  # noqa: C901 (a decision list, clearest read top to bottom)
    head = clause.head
    if subject_kind(clause) != "self":
        return None
    lemma = head.lemma_
    if lemma == "look":
        target = _prep_object(head, *LOOK_PREPS)
        xcomp = _child(head, "xcomp")
        if target is None and xcomp is not None and xcomp.lemma_ in TRY_VERBS:
            target = _verb_target(xcomp)  # "we're looking to set up a trade account"
        if _concrete(target):
            assert target is not None
            return RuleMatch("interest", phrase(target), "interest.looking_for", thing=target)
    if lemma == "think" and head.tag_ == "VBG":
        # "I'm thinking about a bike fit": a product in mind (thinking about *doing* something
        # stays a maybe).
        target = _prep_object(head, "about", "of")
        if _concrete(target) and target is not None and target.tag_ != "VBG":
            return RuleMatch(
                "interest", phrase(target), "interest.thinking_about", tentative=True, thing=target
            )
    state = _child(head, "acomp") if lemma == "be" else head if head.pos_ == "ADJ" else None
    if state is not None and state.lemma_ in {"interested", "keen"}:
        target = _prep_object(state, "in", "on")
        if _concrete(target):
            assert target is not None
            return RuleMatch("interest", phrase(target), "interest.interested_in", thing=target)
    if lemma == "be":
        target = _prep_object(head, "after")
        if _concrete(target):
            assert target is not None
            return RuleMatch("interest", phrase(target), "interest.after", thing=target)
    auxes = {c.lemma_ for c in head.children if c.dep_ == "aux"}
    polite = "would" in auxes
    if lemma in INTEREST_VERBS or (polite and lemma in {"like", "love"}):
        target = _direct_object(clause)
        if _concrete(target):
            assert target is not None
            return RuleMatch(
                "interest", phrase(target), "interest.want", polite_want=polite, thing=target
            )
        xcomp = _child(head, "xcomp")
        if xcomp is not None and xcomp.lemma_ in TRY_VERBS:
            target = _verb_target(xcomp)
            if _concrete(target):
                assert target is not None
                return RuleMatch(
                    "interest", phrase(target), "interest.want_to", polite_want=polite, thing=target
                )
    if auxes & {"will"} and lemma in PURCHASE_VERBS:
        target = _direct_object(clause)
        if _concrete(target):
            assert target is not None
            return RuleMatch("interest", phrase(target), "interest.will_buy", thing=target)
    return None


def _preference(clause: Clause) -> RuleMatch | None:  # noqa: C901 (a decision list, clearest read top to bottom)
    head = clause.head
    kind = subject_kind(clause)
    lemma = head.lemma_
    auxes = {c.lemma_ for c in head.children if c.dep_ == "aux"}
    if kind == "self" and lemma in PREFERENCE_VERBS and "would" not in auxes:
        target = _direct_object(clause)
        if _concrete(target):
            assert target is not None
            return RuleMatch(
                "preference", run_phrase(target, clause), "preference.love", thing=target
            )
        xcomp = _child(head, "xcomp")
        if xcomp is not None and xcomp.pos_ == "VERB":
            return RuleMatch("preference", tail(clause, xcomp), "preference.love_doing")
    if kind == "self" and lemma == "do":
        target = _direct_object(clause)
        if target is not None and target.lower_.endswith("ing") and _concrete(target):
            return RuleMatch(
                "preference", run_phrase(target, clause), "preference.do", thing=target
            )
    habit = any(c.lower_ in HABIT_ADVERBS for c in head.children) or lemma == "drink"
    if kind == "self" and lemma in HABIT_VERBS and habit:
        target = _direct_object(clause)
        if _concrete(target):
            assert target is not None
            return RuleMatch(
                "preference", run_phrase(target, clause), "preference.habit", thing=target
            )
    if lemma == "be":
        attr = _child(head, "attr")
        subject = clause.subject
        # "oat milk is my go-to", "my favourite is the Ethiopian"
        if attr is not None and _favourite(attr) and mine(attr) and _concrete(subject):
            assert subject is not None
            return RuleMatch("preference", phrase(subject), "preference.favourite", thing=subject)
        if subject is not None and _favourite(subject) and mine(subject) and _concrete(attr):
            assert attr is not None
            return RuleMatch("preference", phrase(attr), "preference.favourite", thing=attr)
        if kind == "self" and attr is not None and attr.lemma_ == "fan":
            target = _prep_object(attr, "of")
            if _concrete(target):
                assert target is not None
                return RuleMatch("preference", phrase(target), "preference.fan", thing=target)
        if kind == "self":
            state = _child(head, "acomp")
            target = _prep_object(head, "into")
            if target is None and any(c.lower_ == "all" for c in head.children):
                target = _prep_object(head, "about")  # "I'm all about long weekend rides"
            if target is None and state is not None and state.lemma_ == "partial":
                xcomp = _child(state, "xcomp")
                target = _prep_object(state, "to") or (
                    _child(xcomp, "dobj") if xcomp is not None else None
                )
            if _concrete(target):
                assert target is not None
                return RuleMatch("preference", phrase(target), "preference.into", thing=target)
    return None


FAVOURITES = frozenset({"favourite", "favorite", "fave", "fav", "go-to"})


def _favourite(token: Token) -> bool:
    """ "favourite", "fave", or "go-to" (which the parser splits into "go", "-", "to")."""
    if token.lemma_ in FAVOURITES or token.lower_ in FAVOURITES:
        return True
    following = token.doc[token.i : token.i + 3].text.lower().replace(" ", "")
    return following.startswith("go-to")


# How one works, said as "I'm ...": "I'm self-employed", "I'm freelance".
WORKING_STATES = frozenset({"self-employed", "employed", "freelance", "self", "freelancing"})
# Things one runs that are not businesses.
NOT_RUN = frozenset(
    """
    marathon race test tests report reports errand errands program programme script check
    checks ad ads campaign promo risk numbers update updates machine dishwasher bath mile miles
    """.split()
)


def _business_or_role(clause: Clause) -> RuleMatch | None:  # noqa: C901 (a decision list, clearest read top to bottom)
    head = clause.head
    kind = subject_kind(clause)
    subject = clause.subject
    lemma = head.lemma_
    if kind != "self":
        return None
    target = _direct_object(clause)
    if lemma in BUSINESS_VERBS and _concrete(target):
        assert target is not None
        if _is_business(target) or (
            lemma in {"run", "own", "operate", "co-own"}
            and target.lower_ not in NOT_RUN
            and _indefinite(target)
            and lemma != "own"
        ):
            return RuleMatch("business", phrase(target), f"business.{lemma}", thing=target)
    if lemma == "take" and _child(head, "prt") is not None and _concrete(target):
        assert target is not None
        if _is_business(target):
            return RuleMatch("business", phrase(target), "business.took_over", thing=target)
    if lemma == "sell" and _concrete(target):
        assert target is not None
        return RuleMatch("business", phrase(target), "business.sell", thing=target)
    if lemma == "have" and target is not None and _is_business(target):
        return RuleMatch("business", phrase(target), "business.have", thing=target)
    if lemma == "work":
        role = _prep_object(head, "as")
        if _concrete(role):
            assert role is not None
            return RuleMatch("role", phrase(role), "role.work_as", thing=role)
        place = _prep_object(head, "at", "for", "in")
        if _concrete(place):
            assert place is not None
            category = "business" if _is_business(place) else "role"
            return RuleMatch(category, phrase(place), "role.work_at", thing=place)
    self_employed = head.lemma_ == "employ" and any(c.lower_ == "self" for c in head.children)
    if subject is not None and subject.lower_ == "i" and self_employed:  # "I'm self employed"
        return RuleMatch("role", tail(clause, head.doc[head.i - 1]), "role.self_employed")
    if lemma == "teach" and _concrete(target):
        assert target is not None
        return RuleMatch("role", "teach " + run_phrase(target, clause), "role.teach", thing=target)
    if lemma == "be" and subject is not None and subject.lower_ == "i":
        state = _child(head, "acomp", "advmod")
        if state is not None and state.lower_ in WORKING_STATES:
            return RuleMatch("role", tail(clause, state), "role.working_state")
    if lemma == "be" and subject is not None:
        attr = _child(head, "attr")
        if attr is None or attr.pos_ not in {"NOUN", "PROPN"}:
            attr = _direct_object(clause)  # "we're a 12-desk coworking space", parsed oddly
        if attr is None or attr.pos_ not in {"NOUN", "PROPN"} or attr.lemma_ in {"fan"}:
            return None
        if _favourite(attr):
            return None
        if attr.lemma_ == "owner":
            place = _prep_object(attr, "of")
            if _concrete(place):
                assert place is not None
                return RuleMatch("business", phrase(place), "business.owner_of", thing=place)
            return RuleMatch("role", phrase(attr), "role.owner", thing=attr)
        if not _concrete(attr):
            return None
        if attr.lemma_ in BUSINESSES or (subject.lower_ == "we" and _is_business(attr)):
            return RuleMatch("business", run_phrase(attr, clause), "business.we_are", thing=attr)
        if subject.lower_ in {"i", "job", "role"}:
            return RuleMatch("role", phrase(attr), "role.i_am", thing=attr)
    return None


def _indefinite(token: Token) -> bool:
    """ "a deli", "two barbershops": a noun with no article, or "a"/"an"/a number."""
    dets = [c.lower_ for c in token.children if c.dep_ in {"det", "poss"}]
    return not dets or dets[0] in {"a", "an"}


def _is_business(token: Token) -> bool:
    """A noun naming a kind of business, itself or by a word before it ("coworking space")."""
    if token.lemma_ in BUSINESSES or token.lower_ in BUSINESSES:
        return True
    before = token.doc[max(token.i - 2, 0) : token.i]
    if any(t.lower_ in BUSINESSES and t.pos_ != "DET" for t in before):
        return True  # "a coworking space", however the parser hung it
    return any(
        child.dep_ in {"compound", "amod"} and child.lower_ in BUSINESSES
        for child in token.children
    )


def _uses(clause: Clause) -> RuleMatch | None:
    head = clause.head
    if subject_kind(clause) != "self":
        return None
    lemma = head.lemma_
    if lemma in USE_VERBS:
        target = _direct_object(clause)
        if target is not None and target.lower_ in PRONOUNS:  # "I use them on my tourer"
            target = _prep_object(head, "on", "with", "for")
        if lemma == "switch":
            target = _prep_object(head, "to")
        if lemma in {"get", "buy"} and head.tag_ not in {"VBD", "VBN"}:
            return None  # "I get..." is a habit, "I got a Gaggia" a thing they own
        if _concrete(target) and not (target is not None and _is_business(target)):
            assert target is not None
            return RuleMatch("uses", phrase(target), f"uses.{lemma}", thing=target)
    if lemma in BREW_VERBS:
        target = _prep_object(head, "with", "on", "in", "using", "through")
        if _concrete(target):
            assert target is not None
            return RuleMatch("uses", phrase(target), "uses.brew_with", thing=target)
    if lemma == "be":
        target = _prep_object(head, "on")
        if (
            _concrete(target)
            and target is not None
            and target.lemma_
            in {
                "plan",
                "subscription",
                "tier",
                "package",
                "contract",
            }
        ):
            return RuleMatch("uses", phrase(target), "uses.on_plan", thing=target)
    return None


# Where someone is: "I'm in Winnipeg", "we're based in Leeds", "we just moved to Tacoma".
LOCATED_VERBS = frozenset({"be", "live", "base", "locate"})
MOVED_VERBS = frozenset({"move", "relocate"})
PLACE_ENTITIES = frozenset({"GPE", "LOC"})
CHAT_WORDS = frozenset({"lol", "haha", "tbh", "atm", "rn", "asap", "btw", "idk", "omg"})


def _place(token: Token | None) -> str | None:
    """The name of a town, region or neighbourhood, or None: a named place (capitalised, or a
    place the parser knows), or a lower-case name that is no English word ("las cruces"); never
    a number (a street address is personal data, and redacted)."""
    if token is None or token.pos_ not in {"PROPN", "NOUN"}:
        return None
    words = [t for t in token.subtree if t.dep_ in {"compound", "amod"} or t.i == token.i]
    if any(t.i > token.i for t in words) or any(t.like_num or "[" in t.text for t in words):
        return None
    named = token.ent_type_ in PLACE_ENTITIES or all(t.text[:1].isupper() for t in words)
    # A lower-case place is told by its own name being no English word ("las cruces"), never
    # by a word around it ("we live in fur lol").
    strange = all(t.text.islower() for t in words) and any(
        not known(t.lower_) and t.lower_ not in CHAT_WORDS for t in words
    )
    if not (named or strange) or any(t.lower_ in PLACEHOLDER_NOUNS for t in words):
        return None
    return " ".join(t.lower_ for t in words)


def _location(clause: Clause) -> RuleMatch | None:
    """Where the customer or their business is (a town, region or neighbourhood)."""
    head = clause.head
    if subject_kind(clause) != "self" or FUTURE_TIME.search(clause.text):
        return None
    lemma = head.lemma_
    if lemma in LOCATED_VERBS:
        place = _place(_prep_object(head, "in", "near", "outside"))
    elif lemma in MOVED_VERBS and head.tag_ in {"VBD", "VBN"}:
        place = _place(_prep_object(head, "to"))
    else:
        place = None
    return RuleMatch("location", place, f"location.{lemma}") if place else None
