"""Cutting a parsed sentence into clauses: each verb that heads a statement, with the words that
hang on it and without the clauses that hang on it. A fact is quoted by its clause, so "I run a
bakery and since the chemo I can't taste much" quotes only "I run a bakery"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy takes seconds to import; only its types are named here
    from spacy.tokens import Doc, Token

# Dependency labels that start a clause of their own under another word.
CLAUSE_DEPS = frozenset({"conj", "ccomp", "advcl", "parataxis", "csubj", "acl", "relcl"})
# Clauses under these labels are governed by their parent ("my boss says [we need X]", "if [we
# open]"); coordinated clauses ("[I run a bakery] and [I love jazz]") are not.
SUBORDINATE = frozenset({"ccomp", "advcl", "csubj", "xcomp", "acl", "relcl"})
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "csubj", "expl"})
# Words a quote need not start or end with.
FILLERS = frozenset(
    """
    hi hello hey there ok okay so well yeah yes yep yup oh um uh also anyway btw and but or
    ah hmm right lol haha thanks thank please plus though hiya heya hiii hii hullo
    morning evening cheers salam ta fyi tbh ps
    """.split()
)
# What trails a statement without being part of it.
CORE_EXCLUDED = frozenset(
    {"cc", "punct", "conj", "advcl", "parataxis", "dep", "appos", "intj", "mark", "discourse"}
)
CLAUSE_PUNCTUATION = frozenset(
    {",", ";", ":", "(", ")", "!", "?", ".", "...", "\u2014", "\u2013", '"'}
)
LEADING_DEPS = frozenset({"cc", "punct", "intj", "discourse", "mark", "preconj", "dep"})


@dataclass(frozen=True)
class Clause:
    """A clause of a sentence: its head verb, its own tokens (a contiguous run) and parents."""

    head: Token
    tokens: tuple[Token, ...]
    subject: Token | None
    parent: Clause | None
    relation: str

    @property
    def quote_tokens(self) -> tuple[Token, ...]:
        """The clause's tokens without leading conjunctions, greetings and trailing punctuation."""
        tokens = list(self.tokens)
        # "hiya, ...", "not really, ...", "salam, ...": a lead-in before a comma that holds
        # neither the verb nor its subject is not part of the statement.
        keep = {self.head.i} | ({self.subject.i} if self.subject is not None else set())
        for position, token in enumerate(tokens):
            if token.i in keep:
                break
            if token.text == ",":
                tokens = tokens[position + 1 :]
                break
        while len(tokens) > 1 and _trimmable(tokens[0], self.head):
            tokens.pop(0)
        while len(tokens) > 1 and (
            tokens[-1].dep_ in {"cc", "punct"}
            or tokens[-1].lower_ in FILLERS
            or tokens[-1].pos_ in {"DET", "ADP", "CCONJ", "SCONJ"}
            or tokens[-1].lower_ == "to"
        ):
            if tokens[-1].i == self.head.i:
                break
            tokens.pop()
        return tuple(tokens)

    @property
    def text(self) -> str:
        """The clause as written (its quote tokens)."""
        tokens = self.quote_tokens
        doc = tokens[0].doc
        return doc[tokens[0].i : tokens[-1].i + 1].text

    @property
    def full_text(self) -> str:
        """All of the clause's words, lead-ins and tails included."""
        doc = self.head.doc
        return doc[self.tokens[0].i : self.tokens[-1].i + 1].text

    def core(self) -> Clause:
        """The statement itself: the verb with its subject, objects and modifiers, without what
        trails after a comma or a conjunction ("we run a bookshop[, not a cafe]")."""
        own = {token.i for token in self.tokens}
        core: set[int] = set()
        stack = [self.head]
        while stack:
            token = stack.pop()
            core.add(token.i)
            stack.extend(child for child in token.children if child.i in own and _in_core(child))
        start = end = self.head.i
        while start - 1 in core:
            start -= 1
        while end + 1 in core:
            end += 1
        tokens = tuple(token for token in self.tokens if start <= token.i <= end)
        return Clause(
            head=self.head,
            tokens=tokens,
            subject=self.subject,
            parent=self.parent,
            relation=self.relation,
        )

    def quoted(self) -> Clause:
        """The clause as its quote shows it: without lead-ins, greetings and fillers."""
        return Clause(
            head=self.head,
            tokens=self.quote_tokens,
            subject=self.subject,
            parent=self.parent,
            relation=self.relation,
        )

    def shortened(self) -> list[Clause]:
        """Shorter versions of the clause, each without one trailing modifier ("I run a salon
        [with my sister]"), shortest cut first."""
        tokens = self.tokens
        end = tokens[-1].i
        starts = sorted(
            {
                token.left_edge.i
                for token in tokens
                if token.i > self.head.i
                and token.dep_ in TRAILING_DEPS
                and max(t.i for t in token.subtree if t.i <= end) == end
                and token.left_edge.i > self.head.i
            },
            reverse=True,
        )
        versions = []
        for start in starts:
            kept = [token for token in tokens if token.i < start]
            while kept and (kept[-1].dep_ in {"cc", "punct"} or kept[-1].lower_ in FILLERS):
                kept.pop()
            if kept and kept[-1].i >= self.head.i:
                versions.append(
                    Clause(
                        head=self.head,
                        tokens=tuple(kept),
                        subject=self.subject,
                        parent=self.parent,
                        relation=self.relation,
                    )
                )
        return versions

    def governors(self) -> list[Clause]:
        """The clauses this one is subordinate to, nearest first."""
        chain: list[Clause] = []
        clause: Clause | None = self
        while clause is not None and clause.relation in SUBORDINATE and clause.parent:
            chain.append(clause.parent)
            clause = clause.parent
        return chain


# Modifiers that can trail a statement and be cut from its quote.
TRAILING_DEPS = frozenset(
    {"prep", "npadvmod", "advmod", "acl", "relcl", "conj", "appos", "agent", "dative", "pcomp"}
)
# A modifier that starts with one of these gives a reason or a consequence, not the statement.
REASON_WORDS = frozenset({"so", "because", "cause", "cos", "coz", "though", "although"})


def _in_core(token: Token) -> bool:
    """Whether a word belongs with its head in the statement's core."""
    if token.i > token.head.i and token.left_edge.lower_ in REASON_WORDS:
        return False
    if token.dep_ == "advcl" and token.i > token.head.i:
        # "I'll come in Saturday [to test ride the GSD]": a purpose belongs to the statement.
        first = token.left_edge
        return (first.lower_ == "to" and first.i == token.head.right_edge.i + 1) or (
            first.lower_ == "to" and token.doc[first.i - 1].text not in CLAUSE_PUNCTUATION
        )
    if token.dep_ == "punct":
        return token.text not in CLAUSE_PUNCTUATION
    if token.dep_ == "conj":  # "the Ethiopian and the Kenyan" stays, "..., and I" does not
        return _kept_conjunct(token)
    if token.dep_ == "cc" and token.lower_ in CONTRASTS:
        return False
    if token.dep_ == "cc":
        return any(c.dep_ == "conj" and _kept_conjunct(c) for c in token.head.children)
    return token.dep_ not in CORE_EXCLUDED


CONTRASTS = frozenset({"but", "yet", "so", "though", "although"})


def _kept_conjunct(token: Token) -> bool:
    if token.pos_ in {"VERB", "AUX"} or token.head.pos_ in {"VERB", "AUX"}:
        return False  # a second statement, not a second thing
    if any(c.dep_ == "cc" and c.lower_ in CONTRASTS for c in token.head.children):
        return False  # "a cafe but money is tight": a turn, not a list
    if token.lower_ in {"one", "some", "all", "both", "most", "none"}:
        return False  # "a planner and one of my brides ...": someone, not something
    if any(t.dep_ == "poss" and t.i != token.i for t in token.subtree):
        return False
    return not any(c.dep_ == "neg" or c.lower_ in {"no", "not", "never"} for c in token.children)


def _trimmable(token: Token, head: Token) -> bool:
    """Whether a leading token can go from a quote: a conjunction, greeting or filler."""
    if token.i == head.i:
        return False
    return token.dep_ in LEADING_DEPS or token.lower_ in FILLERS


# "I can't get [the reader to pair]": what a causative verb governs belongs to its clause.
CAUSATIVES = frozenset({"get", "make", "let", "help", "have"})


def is_clause_head(token: Token) -> bool:
    """The sentence's root, or a verb that heads a clause under another word."""
    if token.dep_ == "ROOT":
        return True
    if token.dep_ == "ccomp" and token.head.lemma_ in CAUSATIVES and token.i > token.head.i:
        return False
    return token.dep_ in CLAUSE_DEPS and token.pos_ in {"VERB", "AUX"}


def subject_of(head: Token) -> Token | None:
    """The clause's subject; a verb sharing its subject ("we run X and want Y") borrows it."""
    for _ in range(10):
        for child in head.children:
            if child.dep_ in SUBJECT_DEPS:
                return child
        # The small parser sometimes hangs the subject on the auxiliary ("bags [were] ground").
        for child in head.children:
            if child.dep_ in {"aux", "auxpass"}:
                for grandchild in child.children:
                    if grandchild.dep_ in SUBJECT_DEPS:
                        return grandchild
        # "we're a van, adding a second one in spring": a participle shares its head's subject.
        participle = head.dep_ == "advcl" and head.tag_ == "VBG" and head.i > head.head.i
        if (head.dep_ not in {"conj", "xcomp"} and not participle) or head.head.i == head.i:
            return None
        head = clause_head_above(head)
    return None


def clause_head_above(token: Token) -> Token:
    """The nearest clause head above a token (the root if none is nearer)."""
    walker = token.head
    for _ in range(50):
        if is_clause_head(walker) or walker.head.i == walker.i:
            return walker
        walker = walker.head
    return walker


def split_clauses(doc: Doc) -> list[Clause]:
    """The clauses of a parsed sentence, in order, each with its governing clause."""
    heads = [token for token in doc if is_clause_head(token)]
    head_set = {token.i for token in heads}
    owner: dict[int, int] = {}
    for token in doc:
        walker = token
        while walker.i not in head_set and walker.head.i != walker.i:
            walker = walker.head
        owner[token.i] = walker.i if walker.i in head_set else token.i
    clauses: dict[int, Clause] = {}
    owned: dict[int, list[Token]] = {}
    for token in doc:
        owned.setdefault(owner[token.i], []).append(token)
    # Parents come before their children when walking the heads from the root down.
    for head in sorted(heads, key=_depth):
        run = _contiguous_run(owned.get(head.i, [head]), head)
        parent = None
        if head.dep_ != "ROOT":
            parent = clauses.get(owner.get(head.head.i, head.head.i))
        clauses[head.i] = Clause(
            head=head,
            tokens=tuple(run),
            subject=subject_of(head),
            parent=parent,
            relation=head.dep_,
        )
    return sorted(clauses.values(), key=lambda clause: clause.tokens[0].i)


def _depth(token: Token) -> int:
    depth = 0
    while token.head.i != token.i and depth < 100:
        token = token.head
        depth += 1
    return depth


def _contiguous_run(tokens: list[Token], head: Token) -> list[Token]:
    """The longest gap-free run of a clause's tokens that holds its head."""
    indexes = {token.i for token in tokens}
    start = end = head.i
    while start - 1 in indexes:
        start -= 1
    while end + 1 in indexes:
        end += 1
    return [token for token in tokens if start <= token.i <= end]
