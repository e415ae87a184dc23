"""Fact extraction: what customers say about themselves, from their own turns, through the
surveillance gate. Only sentences that can hold a first-person statement, a complaint or an
opt-out are parsed, in batches with `nlp.pipe`."""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from spacy.attrs import NORM, ORTH
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc

from engine.facts import gate
from engine.facts.clauses import Clause, split_clauses
from engine.facts.learned import FactScorer, Vector
from engine.facts.lexicon import TROUBLE_STATES, TROUBLE_VERBS
from engine.facts.nlp import Parser
from engine.facts.optouts import FoundOptOut, find_opt_outs
from engine.facts.rules import FUTURE_TIME, RULES_VERSION, RuleMatch, match_rule
from engine.text.redact import PLACEHOLDERS
from engine.text.sentences import Sentence, split_sentences

# A sentence is parsed only if it has one of these: a first-person subject, a word of
# trouble, or a word about emails. Everything else cannot become a fact.
_TROUBLE_WORDS = "|".join(
    sorted(
        {re.escape(word) + r"\w*" for word in TROUBLE_VERBS}
        | {re.escape(w) for w in TROUBLE_STATES}
    )
)
# Words a rule starts from (stems): the verbs of businesses, roles, use, liking, wanting and
# plans, and the words of trouble said with "I" ("I can't get it to pair").
_TRIGGERS = (
    r"(?:(?:run|ran|own|manag|operat|sell|sold|work|teach|taught|employ|freelanc|use|using|"
    r"brew|make|making|made|ride|riding|rode|commut|driv|drove|cook|bak|grind|love|loving|like|"
    r"adore|enjoy|prefer|drink|drank|usual|always|normally|interest|keen|plan|struggl|switch|"
    r"swap|upgrad)\w*"
    r"|all\s+about|took\s+over|self[- ]employed|(?:a|huge|big)\s+fan|partial|fav\w*|go-to"
    r"|into|after"
    r"|look\w*\s+(?:for|at|into|to)|thinking\s+(?:about|of)|\w+ing\b|keep\w*\s+\w+ing"
    r"|(?:want|need)\w*\s+(?:a|an|the|some|more|another|new|\d+|to\s+\w+)"
    r"|(?:have|has|'ve|ve|got|had)\s+(?:got\s+)?(?!to\b|been\b|it\b|this\b|that\b|no\b)\w+"
    r"|bought"
    r"|(?:will|'ll|ll)\s+\w+|can'?t\s+(?:get|figure|make)|couldn'?t\s+(?:get|figure|make)"
    r"|charged\s+(?:twice|double)|overcharged|on\s+the\s+\w+\s+(?:plan|subscription))"
)
MAY_HOLD_A_FACT = re.compile(
    # "I run a bakery", "we've got a Gaggia", "I'm looking for...": "I" or "we" shortly before
    # a word a rule starts from; "I'm a barista", "we're a cafe".
    r"(?i)\b"
    + gate.SELF_SAID
    + r"\b(?:\W+\w+){0,3}?\W+"
    + _TRIGGERS
    + r"|\b(?:i'?m|im|i\s+am|we'?re|we\s+are)\s+(?:just\s+|now\s+|also\s+|not\s+)?(?:an?|the)\b"
    # "I'll pop in Friday": a plan, whatever the verb.
    r"|\b(?:i'll|ill|we'll)\s+\w+"
    # Where they are: "I'm in Winnipeg", "we're based in Leeds", "we just moved to Tacoma".
    r"|\b(?:i'?m|im|i\s+am|we'?re|we\s+are|i|we)\s+(?:\w+\s+){0,2}?"
    r"(?:in|based|located|live|living|moved|relocated)\b"
    r"|\b(?:my|our)\s+(?:fav|favourite|favorite|go-to|job|role)\b|\b(?:mine|ours)\b"
    # Trouble with a thing: "the reader keeps dropping", "it arrived damaged".
    r"|\b(?:keeps?|kept|won'?t|wont|doesn'?t|isn'?t|aren'?t|stopped|broke|broken|barely|hardly|"
    r"arrived|problems?|issues?|headaches?|nightmare|" + _TROUBLE_WORDS + r")\b"
    # Chat leaves the "I" out: "just got a Gaggia", "love the Ethiopian!".
    r"|(?:^|[,;]\s*)(?:(?:just|also|really|recently|actually|so|ok|okay|yeah|and|hi|hey|hiya|"
    r"still|currently)\W+)*(?:got|love|loving|like|adore|run|own|use|using|have|bought|brew|"
    r"drink|need|want|work|looking|interested|keen|sell)\b"
)


def may_hold_a_fact(sentence: str) -> bool:
    """Whether a sentence is worth parsing: a rule may find a fact in it."""
    if MAY_HOLD_A_FACT.search(sentence):
        return True
    return bool(gate.SAID_BY_SELF.search(sentence) and FUTURE_TIME.search(sentence))


# What the learned scorer may read beyond the rules' sentences: a sentence in the first person
# ("I mostly do v60 pour over", "our van got broken into"); facts said otherwise are rare.
FIRST_PERSON_WORDS = re.compile(r"(?i)\b(?:" + gate.SELF_SAID + r"|my|our|me|us|mine|ours)\b")


@dataclass(frozen=True)
class StatedFact:
    """A kept fact: category, short value, the verbatim quote and where it sits in the message."""

    category: str
    value: str
    quote: str
    start: int
    end: int
    rule: str


@dataclass
class Extraction:
    """What one message gave: kept facts, and blocked candidates counted by reason."""

    facts: list[StatedFact] = field(default_factory=list)
    blocked: Counter[str] = field(default_factory=Counter)


def _without_the_blocked_tail(clause: Clause) -> tuple[Clause, RuleMatch] | None:
    """The clause cut before a trailing modifier that holds what the gate blocks, if what is
    left is still a fact the gate keeps."""
    for shorter in clause.shortened():
        match = match_rule(shorter)
        if match is not None and gate.gate_reason(shorter, match) is None:
            return shorter, match
    return None


def _joined_to(clause: Clause, spans: Sequence[tuple[int, int, str]]) -> bool:
    """Whether the clause goes on, by "and" and without a subject of its own, from one that
    holds one of the spans: what it says then follows from it ("I'm type 1 diabetic and need to
    keep my pump stuff dry"), so it is blocked with it. What comes first stands alone ("i run a
    cafe and im broke" keeps the cafe)."""
    parent = clause.parent
    if clause.relation != "conj" or parent is None:
        return False
    if any(c.dep_ in {"nsubj", "nsubjpass", "expl"} for c in clause.head.children):
        return False
    start = parent.tokens[0].idx
    end = parent.tokens[-1].idx + len(parent.tokens[-1].text)
    return any(first < end and start < last for first, last, _ in spans)


def _is_candidate(clause: Clause, match: RuleMatch | None) -> bool:
    """Whether a clause says something about a person at all (what blocked counts count)."""
    if match is not None:
        return True
    return gate.subject_kind(clause) in {"self", "person"} and clause.head.pos_ in {"VERB", "AUX"}


# Chat spellings the tokenizer splits without saying what the pieces mean: "im" -> "i" + "m"
# (am). The norms help the tagger; the lemmas are set after parsing (fix_lemmas).
CHAT_CONTRACTIONS = {
    "im": ("i", "m", "am"),
    "Im": ("I", "m", "am"),
    "IM": ("I", "M", "am"),
    "thats": ("that", "s", "is"),
    "whats": ("what", "s", "is"),
    "youre": ("you", "re", "are"),
    "theyre": ("they", "re", "are"),
    "ive": ("i", "ve", "have"),
    "Ive": ("I", "ve", "have"),
    "weve": ("we", "ve", "have"),
    # In chat "ill" is far more often "I'll" than "ill"; "I'm ill" is still caught by its words.
    "ill": ("i", "ll", "will"),
}
LEMMA_BY_NORM = {"am": "be", "are": "be", "is": "be", "have": "have", "will": "will"}


def add_chat_spellings(nlp: Language) -> None:
    """Teach the tokenizer the chat spellings of contractions ("im", "ive", "thats"), that
    "go-to" is one word, and that a redaction placeholder ("[email]") is one token."""
    tokenizer: Tokenizer = nlp.tokenizer
    for text, (first, second, norm) in CHAT_CONTRACTIONS.items():
        tokenizer.add_special_case(text, [{ORTH: first}, {ORTH: second, NORM: norm}])
    for text in ("go-to", "Go-to", "go-tos"):
        tokenizer.add_special_case(text, [{ORTH: text, NORM: "favourite"}])
    for placeholder in PLACEHOLDERS.values():
        tokenizer.add_special_case(placeholder, [{ORTH: placeholder, NORM: "something"}])


_CONTRACTED = re.compile(r"(?i)\b(?:" + "|".join(CHAT_CONTRACTIONS) + r")\b")


def fix_lemmas(doc: Doc) -> Doc:
    """Give the pieces of contractions the lemma of the word they stand for ("m" -> "be")."""
    if not _CONTRACTED.search(doc.text):
        return doc
    for token in doc:
        lemma = LEMMA_BY_NORM.get(token.norm_)
        if lemma and token.lemma_ != lemma and token.pos_ in {"AUX", "VERB"}:
            token.lemma_ = lemma
    return doc


class FactExtractor:
    """Finds kept facts in customer messages with a spaCy pipeline and the gate."""

    def __init__(
        self, nlp: Language, *, batch_size: int = 1000, scorer: FactScorer | None = None
    ) -> None:
        add_chat_spellings(nlp)
        self.nlp = nlp
        self.parser = Parser(nlp)
        self.batch_size = batch_size
        self.scorer = scorer
        self.version = (
            f"{RULES_VERSION}/{nlp.meta.get('name', 'nlp')}-{nlp.meta.get('version', '')}"
        )

    def extract(
        self, texts: Sequence[str], vectors: Sequence[Mapping[int, Vector]] | None = None
    ) -> list[Extraction]:
        """Facts and blocked counts for each (already redacted) message text. With `vectors`
        (per message, each sentence's vector by its place, as the pipeline indexes them) the
        learned scorer reads the clauses no rule reads; without, the rules alone."""
        results = [Extraction() for _ in texts]
        jobs: list[tuple[int, Sentence, list[FoundOptOut], Vector | None]] = []
        for index, text in enumerate(texts):
            for place, sentence in enumerate(split_sentences(text)):
                opt_outs = self._opt_outs(results[index], text, sentence)
                vector = None
                if self.scorer is not None and vectors is not None:
                    vector = vectors[index].get(place)
                if may_hold_a_fact(sentence.text) or (
                    vector is not None and FIRST_PERSON_WORDS.search(sentence.text)
                ):
                    jobs.append((index, sentence, opt_outs, vector))
                elif not opt_outs:
                    reason = gate.blocked_without_parsing(sentence.text)
                    if reason is not None:
                        results[index].blocked[reason] += 1
        docs = self.parser.pipe([job[1].text for job in jobs], batch_size=self.batch_size)
        for (index, sentence, opt_outs, vector), parsed in zip(jobs, docs, strict=True):
            doc = fix_lemmas(parsed)
            self._sentence(results[index], texts[index], sentence, doc, opt_outs, vector)
        return results

    def _opt_outs(self, result: Extraction, text: str, sentence: Sentence) -> list[FoundOptOut]:
        """Record the opt-outs a sentence says; return them all (kept or not)."""
        found = find_opt_outs(sentence.text)
        for opt_out in found:
            reason = gate.opt_out_reason(sentence.text, opt_out.start, opt_out.end)
            if reason is not None:
                result.blocked[reason] += 1
                continue
            start, end = sentence.start + opt_out.start, sentence.start + opt_out.end
            self._add(result, "opt_out", opt_out.topic, text, start, end, opt_out.rule)
        return found

    def _sentence(
        self,
        result: Extraction,
        text: str,
        sentence: Sentence,
        doc: Doc,
        opt_outs: list[FoundOptOut],
        vector: Vector | None = None,
    ) -> None:
        """Match, gate and keep the facts of one parsed sentence."""
        pii_before = result.blocked["pii"]
        self._clauses(result, text, sentence, doc, opt_outs, vector)
        if result.blocked["pii"] == pii_before and gate.PLACEHOLDER.search(sentence.text):
            # Personal data the parser hung on no candidate still counts as blocked once.
            result.blocked["pii"] += 1

    def _clauses(
        self,
        result: Extraction,
        text: str,
        sentence: Sentence,
        doc: Doc,
        opt_outs: list[FoundOptOut],
        vector: Vector | None,
    ) -> None:
        """Match, gate and keep the facts of each clause of a parsed sentence: a rule reads
        it, or else the learned scorer may; either way the gate decides."""
        sensitive = gate.sensitive_spans(doc.text)
        for clause in split_clauses(doc):
            # The statement itself is what is matched, gated and quoted; what trails it after
            # a comma or "and" ("we run a bookshop, not a cafe") is gated on its own.
            core = clause.core().quoted()
            first, last = core.tokens[0].idx, core.tokens[-1].idx + len(core.tokens[-1].text)
            if any(o.start < last and first < o.end for o in opt_outs):
                continue  # said as an opt-out, recorded as one
            match = match_rule(core)
            if match is None and self.scorer is not None and vector is not None:
                match = self.scorer.read(core, vector)
            if not _is_candidate(core, match):
                continue
            reason = gate.gate_reason(core, match)
            if match is not None and sensitive and _joined_to(clause, sensitive):
                # "I'm diabetic and need to keep my pump stuff dry": no part of it stands alone.
                result.blocked["sensitive"] += 1
                continue
            trimmed = False
            if reason in gate.TRIMMABLE_REASONS:
                shorter = _without_the_blocked_tail(core)
                if shorter is not None:
                    # "I run a salon [with my sister]": the fact stands without its tail.
                    result.blocked[reason or ""] += 1
                    core, match = shorter
                    reason, trimmed = None, True
                    first = core.tokens[0].idx
                    last = core.tokens[-1].idx + len(core.tokens[-1].text)
            if reason is None and not trimmed and len(core.tokens) < len(clause.tokens):
                trailing = gate.gate_reason(clause.quoted(), match)
                if trailing is not None:
                    result.blocked[trailing] += 1
            if reason is not None:
                result.blocked[reason] += 1
                continue
            if match is not None:
                start, end = sentence.start + first, sentence.start + last
                self._add(result, match.category, match.value, text, start, end, match.rule)

    def _add(
        self,
        result: Extraction,
        category: str,
        value: str,
        text: str,
        start: int,
        end: int,
        rule: str,
    ) -> None:
        """Keep a fact once per message (the same category and value said twice is one fact)."""
        quote = text[start:end].lower()
        quote_words = set(re.findall(r"[\w']+", quote)) | set(re.findall(r"[\w'-]+", quote))
        # A value only ever repeats the quote's own words (never words the quote was cut from);
        # an opt-out's topic is the pattern's own reading ("all marketing email").
        if category != "opt_out":
            value = " ".join(word for word in value.split() if word in quote_words)
            vocab = self.nlp.vocab
            if all(vocab[word].is_stop or vocab[word].like_num for word in value.split()):
                return  # what is left names nothing: "one" of "the 16gb one", "two"
        if not value or any(f.category == category and f.value == value for f in result.facts):
            return
        result.facts.append(
            StatedFact(
                category=category,
                value=value,
                quote=text[start:end],
                start=start,
                end=end,
                rule=f"{self.version}:{rule}",
            )
        )
