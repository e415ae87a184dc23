"""A learned reader of fact candidates, for what the rules miss: a linear model over the
sentence's vector (the one the pipeline indexes), the clause's own spaCy features and a few
marks of its grammar says whether a clause states a fact and of which category.

It only ever proposes: what it reads goes through the same gate as a rule's reading, so every
blocked reason (pii, sensitive, third party, question, hypothetical, negated) still vetoes it,
and it never sees an agent's or a bot's turn. It is trained from `training/facts` by
`python -m engine.facts.train_scorer` (seeded); the weights ship in `scorer.npz` (kilobytes)."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from spacy.tokens import Token

from engine.errors import EngineError
from engine.facts import gate
from engine.facts.clauses import Clause
from engine.facts.rules import CATEGORIES, MAX_VALUE_WORDS, RuleMatch, names_a_thing, phrase

Vector = npt.NDArray[np.float32]
SCORER_PATH = Path(__file__).with_name("scorer.npz")
# "none" first: the model's first column is "no fact here". Opt-outs have rules of their own.
LABELS = ("none", *(category for category in CATEGORIES if category != "opt_out"))
# Bumped whenever clause_features changes, so stale weights are refused, not misread.
FEATURES_VERSION = "clause-features-1"
SUBJECT_KINDS = ("self", "thing", "person")
HEAD_POS = ("VERB", "AUX", "NOUN", "PROPN", "ADJ")
HEAD_TAGS = ("VBD", "VBP", "VBZ", "VBG", "VBN", "VB")
COMPLEMENTS = ("dobj", "attr", "oprd", "acomp", "prep", "xcomp", "advmod", "neg")


class ScorerError(EngineError):
    """The shipped fact scorer is missing, damaged or made for other features."""

    code = "model_missing"


def _grammar(clause: Clause) -> list[float]:
    """A few marks of the clause's grammar, as 0/1 (and a length)."""
    head = clause.head
    kind = gate.subject_kind(clause)
    children = {child.dep_ for child in head.children}
    words = {token.lower_ for token in clause.tokens}
    marks = [float(kind == name) for name in SUBJECT_KINDS]
    marks += [float(head.pos_ == pos) for pos in HEAD_POS]
    marks += [float(head.tag_ == tag) for tag in HEAD_TAGS]
    marks += [float(dep in children) for dep in COMPLEMENTS]
    marks += [
        float(bool(words & {"my", "our"})),
        float(any(token.like_num for token in clause.tokens)),
        float(clause.tokens[-1].doc.text.rstrip().endswith("?")),
        float(clause.parent is not None),
        min(len(clause.tokens), 30) / 30,
    ]
    return marks


def clause_features(clause: Clause, sentence_vector: Vector) -> Vector:
    """What the model reads of a clause: the sentence's vector, the mean of the clause's spaCy
    token vectors (its words in their context), and the marks of its grammar."""
    doc = clause.head.doc
    rows = [token.i for token in clause.tokens]
    tensor = doc.tensor
    if tensor is None or getattr(tensor, "shape", (0,))[0] != len(doc) or tensor.shape[1] != 96:
        own = np.zeros(96, dtype=np.float32)
    else:
        own = np.asarray(tensor[rows].mean(axis=0), dtype=np.float32)
    marks = np.asarray(_grammar(clause), dtype=np.float32)
    return np.concatenate([np.asarray(sentence_vector, dtype=np.float32), own, marks])


def _complement(clause: Clause) -> Token | None:
    """The word a clause is about: its object, attribute or place ("do [pour over]",
    "I'm a [florist]", "based in [Leeds]"), looking one verb down ("want to get [a kiln]")."""
    own = {token.i for token in clause.tokens}
    heads = [clause.head] + [c for c in clause.head.children if c.dep_ == "xcomp" and c.i in own]
    for head in heads:
        for child in head.children:
            if child.i in own and child.dep_ in {"dobj", "attr", "oprd"}:
                return child
        for child in head.children:
            if child.i in own and child.dep_ in {"prep", "agent"}:
                for grandchild in child.children:
                    if grandchild.dep_ == "pobj" and grandchild.i in own:
                        return grandchild
    return None


def learned_value(clause: Clause, category: str) -> str:
    """A short value for a clause the model kept: the thing it names, or for trouble (and
    when it names no thing) its content words; "" when the thing it names is none ("two")."""
    thing = _complement(clause)
    if thing is not None and category != "pain_point":
        if not names_a_thing(thing, clause):
            return ""
        value = phrase(thing)
        if value:
            return value
    words = [
        token.lower_
        for token in clause.tokens
        if not token.is_stop and token.pos_ not in {"PRON", "PUNCT", "DET", "SYM"}
    ]
    return " ".join(words[:MAX_VALUE_WORDS])


@dataclass(frozen=True)
class FactScorer:
    """Softmax regression over clause features: standardized, then weights and a bias."""

    weights: npt.NDArray[np.float32]  # (features, labels)
    bias: npt.NDArray[np.float32]  # (labels,)
    mean: npt.NDArray[np.float32]  # (features,)
    scale: npt.NDArray[np.float32]  # (features,)
    threshold: float  # the least probability of a category for a clause to be read as one
    version: str  # names the weights: rules and facts record which reader found a fact
    # A net under the gate's word lists, for what the scorer reads only: a logistic regression
    # on the sentence's vector, trained on the corpus's sensitive spans ("im due in august").
    # A sentence it flags gives the scorer nothing, whatever the lexicon says.
    sensitive_weights: npt.NDArray[np.float32] | None = None  # (vector size,)
    sensitive_bias: float = 0.0
    sensitive_threshold: float = 1.0

    @classmethod
    def load(cls, path: Path = SCORER_PATH) -> "FactScorer":
        """The weights written by train_scorer; never unpickles (allow_pickle=False)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as error:
            raise ScorerError(
                f"the fact scorer {path} cannot be read ({error}); rebuild it with "
                "`python -m engine.facts.train_scorer`"
            ) from None
        needed = {
            "weights",
            "bias",
            "mean",
            "scale",
            "threshold",
            "labels",
            "features",
            "sensitive_weights",
            "sensitive_bias",
            "sensitive_threshold",
        }
        if needed - set(arrays):
            raise ScorerError(f"the fact scorer {path} lacks {sorted(needed - set(arrays))}")
        if str(arrays["features"]) != FEATURES_VERSION or tuple(arrays["labels"]) != LABELS:
            raise ScorerError(
                f"the fact scorer {path} was made for other features or labels; rebuild it "
                "with `python -m engine.facts.train_scorer`"
            )
        weights = arrays["weights"].astype(np.float32)
        if weights.shape[1] != len(LABELS) or arrays["mean"].shape != (weights.shape[0],):
            raise ScorerError(f"the fact scorer {path} has weights of the wrong shape")
        digest = hashlib.sha256(weights.tobytes()).hexdigest()[:8]
        return cls(
            weights=weights,
            bias=arrays["bias"].astype(np.float32),
            mean=arrays["mean"].astype(np.float32),
            scale=arrays["scale"].astype(np.float32),
            threshold=float(arrays["threshold"]),
            version=f"learned-{digest}",
            sensitive_weights=arrays["sensitive_weights"].astype(np.float32),
            sensitive_bias=float(arrays["sensitive_bias"]),
            sensitive_threshold=float(arrays["sensitive_threshold"]),
        )

    def may_be_sensitive(self, sentence_vector: Vector) -> bool:
        """Whether the sensitivity net flags the sentence (always, without a net)."""
        if self.sensitive_weights is None:
            return True
        logit = float(np.asarray(sentence_vector, dtype=np.float32) @ self.sensitive_weights)
        return bool(1 / (1 + np.exp(-(logit + self.sensitive_bias))) >= self.sensitive_threshold)

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Each label's probability, one row per clause."""
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)

    def read(self, clause: Clause, sentence_vector: Vector) -> RuleMatch | None:
        """The clause read as a candidate fact, or None when no category is likely enough."""
        if self.may_be_sensitive(sentence_vector):
            return None
        features = clause_features(clause, sentence_vector)[None, :]
        if features.shape[1] != self.weights.shape[0]:
            raise ScorerError("the fact scorer was made for vectors of another size")
        probabilities = self.probabilities(features)[0]
        best = int(np.argmax(probabilities[1:])) + 1
        if probabilities[best] < self.threshold:
            return None
        category = LABELS[best]
        if category != "pain_point" and gate.subject_kind(clause) != "self":
            # Only trouble is said of a thing ("the lid melted"); anything else is a fact about
            # the customer only when they say it of themselves, never of "our chairman".
            return None
        value = learned_value(clause, category)
        if not value:
            return None
        return RuleMatch(category, value, f"{self.version}:{category}")
