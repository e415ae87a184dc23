"""Train the fact scorer (engine.facts.learned) from `training/facts`, seeded:

    .venv/bin/python -m engine.facts.train_scorer [--out engine/facts/scorer.npz]

Each customer message is redacted and split as the pipeline does; every clause of every
sentence is a training row, labelled with the category of the kept quote it holds, or "none"
(blocked spans and chit-chat). Seven of the 36 businesses are a development split: the weight
decay and the probability threshold are chosen there (the threshold on the clauses the scorer
acts on: those no rule reads), then the model is refitted on every business and saved."""

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embeddings.encoder import SentenceTransformerEncoder
from engine.facts import gate
from engine.facts.clauses import split_clauses
from engine.facts.extract import FactExtractor, fix_lemmas
from engine.facts.learned import (
    FEATURES_VERSION,
    LABELS,
    SCORER_PATH,
    FactScorer,
    clause_features,
    learned_value,
)
from engine.facts.rules import RuleMatch, match_rule
from engine.text.redact import redact
from engine.text.sentences import split_sentences

TRAINING = Path(__file__).resolve().parents[2] / "training" / "facts"
SEED = 0
DEV_BUSINESSES = 7
WEIGHT_DECAYS = (1e-3, 1e-2, 3e-2, 1e-1)
THRESHOLDS = tuple(round(0.15 + 0.05 * step, 2) for step in range(16))  # 0.15 .. 0.90
STEPS = 300
# The sensitivity net: the least share of the development split's sensitive sentences it must
# catch; its threshold is the highest that does.
SENSITIVE_RECALL = 0.95
SENSITIVE_DECAY = 1e-3


@dataclass
class Rows:
    """Training rows: features, label index, business, and whether the scorer would act."""

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    businesses: list[str]
    acts: npt.NDArray[np.bool_]  # no rule reads the clause and the gate would not block it
    by_self: npt.NDArray[np.bool_]  # its subject is the customer (FactScorer.read asks it)
    # One row per sentence, for the sensitivity net: its vector, whether it holds something
    # labelled sensitive, its business.
    sentence_vectors: npt.NDArray[np.float32]
    sentence_sensitive: npt.NDArray[np.bool_]
    sentence_businesses: list[str]


def training_files() -> list[Path]:
    """The training parts, in order."""
    return sorted(TRAINING.glob("part*.jsonl"))


def training_digest(files: Sequence[Path]) -> str:
    """A sha256 of the training files, saved with the weights to show what they came from."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def dev_businesses(businesses: Sequence[str]) -> set[str]:
    """The businesses held out to choose the settings on: a seeded pick of DEV_BUSINESSES."""
    kinds = sorted(set(businesses))
    order = np.random.default_rng(SEED).permutation(len(kinds))
    return {kinds[i] for i in order[:DEV_BUSINESSES]}


def _label(start: int, end: int, kept: list[tuple[int, int, str]]) -> str:
    """The category of the kept quote a clause's span holds, or "none"."""
    for quote_start, quote_end, category in kept:
        overlap = min(end, quote_end) - max(start, quote_start)
        if overlap > 0 and overlap >= 0.5 * min(end - start, quote_end - quote_start):
            return category
    return "none"


def build_rows(
    extractor: FactExtractor, encoder: SentenceTransformerEncoder, files: Sequence[Path]
) -> Rows:
    """Every clause of every customer message of the training files, with its label."""
    messages = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["role"] != "customer":
                continue  # staff and bot turns never reach the extractor
            text = redact(record["text"]).text
            sensitive = [b["text"].lower() for b in record["blocked"] if b["reason"] == "sensitive"]
            kept = []
            for item in record["kept"]:
                if item["category"] not in LABELS:
                    continue  # opt-outs have rules of their own
                at = text.lower().find(item["quote"].lower())
                if at >= 0:  # a quote the redaction changed cannot be placed; left out
                    kept.append((at, at + len(item["quote"]), item["category"]))
            messages.append((record["business"], text, kept, sensitive))
    sentences = [(m, s) for m in messages for s in split_sentences(m[1])]
    print(f"{len(messages)} customer messages, {len(sentences)} sentences", file=sys.stderr)
    vectors = encoder.encode([s.text for _, s in sentences])
    docs = extractor.parser.pipe([s.text for _, s in sentences], batch_size=500)
    features, labels, businesses, acts, by_self = [], [], [], [], []
    for ((business, _text, kept, _sensitive), sentence), vector, parsed in zip(
        sentences, vectors, docs, strict=True
    ):
        doc = fix_lemmas(parsed)
        for clause in split_clauses(doc):
            core = clause.core().quoted()
            start = sentence.start + core.tokens[0].idx
            end = sentence.start + core.tokens[-1].idx + len(core.tokens[-1].text)
            label = _label(start, end, kept)
            features.append(clause_features(core, vector))
            labels.append(LABELS.index(label))
            businesses.append(business)
            category = label if label != "none" else "uses"
            value = learned_value(core, category)
            reading = RuleMatch(category, value or "x", "learned")
            acts.append(match_rule(core) is None and gate.gate_reason(core, reading) is None)
            by_self.append(gate.subject_kind(core) == "self")
    return Rows(
        features=np.asarray(features, dtype=np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        businesses=businesses,
        acts=np.asarray(acts, dtype=np.bool_),
        by_self=np.asarray(by_self, dtype=np.bool_),
        sentence_vectors=np.asarray(vectors, dtype=np.float32),
        sentence_sensitive=np.asarray(
            [any(span in s.text.lower() for span in m[3]) for m, s in sentences], dtype=np.bool_
        ),
        sentence_businesses=[m[0] for m, _ in sentences],
    )


def fit(
    features: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    *,
    weight_decay: float,
    threshold: float,
) -> FactScorer:
    """Softmax regression on standardized features, full batch, seeded."""
    import torch

    torch.manual_seed(SEED)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = torch.from_numpy((features - mean) / scale)
    y = torch.from_numpy(labels)
    weights = torch.zeros((x.shape[1], len(LABELS)), requires_grad=True)
    bias = torch.zeros(len(LABELS), requires_grad=True)
    optimizer = torch.optim.Adam([weights, bias], lr=0.01)
    for _ in range(STEPS):
        optimizer.zero_grad()
        logits = x @ weights + bias
        loss = torch.nn.functional.cross_entropy(logits, y) + weight_decay * (weights**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return FactScorer(
        weights=weights.detach().numpy().astype(np.float32),
        bias=bias.detach().numpy().astype(np.float32),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        threshold=threshold,
        version="learned-training",
    )


def fit_sensitive(
    vectors: npt.NDArray[np.float32], sensitive: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float32], float]:
    """Logistic regression of "holds something sensitive" on sentence vectors, the rare class
    weighted up; seeded, full batch. Returns (weights, bias)."""
    import torch

    torch.manual_seed(SEED)
    x = torch.from_numpy(vectors)
    y = torch.from_numpy(sensitive.astype(np.float32))
    positives = float(y.sum())
    weight = torch.tensor((len(y) - positives) / max(positives, 1.0))
    weights = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weights, bias], lr=0.05)
    for _ in range(STEPS):
        optimizer.zero_grad()
        logits = x @ weights + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)
        loss = loss + SENSITIVE_DECAY * (weights**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return weights.detach().numpy().astype(np.float32), float(bias.detach()[0])


def sensitive_probability(
    vectors: npt.NDArray[np.float32], weights: npt.NDArray[np.float32], bias: float
) -> npt.NDArray[np.float32]:
    """The net's probability that each sentence holds something sensitive."""
    return np.asarray(1 / (1 + np.exp(-(vectors @ weights + bias))), dtype=np.float32)


def choose_sensitive_threshold(
    probabilities: npt.NDArray[np.float32], sensitive: npt.NDArray[np.bool_]
) -> float:
    """The highest threshold that still catches SENSITIVE_RECALL of the sensitive sentences."""
    caught = np.sort(probabilities[sensitive])[::-1]
    if not len(caught):
        return 0.5
    needed = int(np.ceil(SENSITIVE_RECALL * len(caught)))
    return float(np.floor(caught[needed - 1] * 100) / 100)


@dataclass(frozen=True)
class DevScore:
    """How the scorer does on the development clauses it acts on."""

    precision: float
    recall: float
    kept: int
    facts: int

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def dev_score(
    probabilities: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    acts: npt.NDArray[np.bool_],
    by_self: npt.NDArray[np.bool_],
    threshold: float,
) -> DevScore:
    """Kept means the best category reaches the threshold (and is trouble, or said of the
    customer themselves, as FactScorer.read asks); right means it is the label's."""
    best = probabilities[:, 1:].argmax(axis=1) + 1
    said = by_self | (best == LABELS.index("pain_point"))
    kept = acts & said & (probabilities[np.arange(len(best)), best] >= threshold)
    right = kept & (best == labels)
    facts = int((acts & (labels > 0)).sum())
    return DevScore(
        precision=float(right.sum() / kept.sum()) if kept.sum() else 1.0,
        recall=float(right.sum() / facts) if facts else 1.0,
        kept=int(kept.sum()),
        facts=facts,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the rows, choose the settings on the development split, fit on all, save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SCORER_PATH)
    args = parser.parse_args(argv)
    started = time.monotonic()
    import spacy

    from engine.settings import Settings

    extractor = FactExtractor(spacy.load(Settings().spacy_model, exclude=["ner"]))
    encoder = SentenceTransformerEncoder()
    files = training_files()
    rows = build_rows(extractor, encoder, files)
    dev_kinds = dev_businesses(rows.businesses)
    dev = np.asarray([b in dev_kinds for b in rows.businesses])
    print(
        f"{len(rows.labels)} clauses ({int((rows.labels > 0).sum())} hold a fact); "
        f"development businesses: {', '.join(sorted(dev_kinds))}",
        file=sys.stderr,
    )
    sentence_dev = np.asarray([b in dev_kinds for b in rows.sentence_businesses])
    net = fit_sensitive(
        rows.sentence_vectors[~sentence_dev], rows.sentence_sensitive[~sentence_dev]
    )
    held_out = sensitive_probability(rows.sentence_vectors[sentence_dev], *net)
    sensitive_threshold = choose_sensitive_threshold(
        held_out, rows.sentence_sensitive[sentence_dev]
    )
    dev_sensitive = rows.sentence_sensitive[sentence_dev]
    flagged = held_out >= sensitive_threshold
    print(
        f"sensitivity net: threshold {sensitive_threshold:.2f} catches "
        f"{int(flagged[dev_sensitive].sum())}/{int(dev_sensitive.sum())} sensitive development "
        f"sentences and flags {flagged[~dev_sensitive].mean():.1%} of the others"
    )
    # The scorer acts only where the net does not flag the clause's sentence.
    clause_vectors = rows.features[:, : rows.sentence_vectors.shape[1]]
    unflagged = sensitive_probability(clause_vectors, *net) < sensitive_threshold
    acts = rows.acts & unflagged
    best: tuple[float, float, float, DevScore] | None = None
    for decay in WEIGHT_DECAYS:
        model = fit(rows.features[~dev], rows.labels[~dev], weight_decay=decay, threshold=0.5)
        probabilities = model.probabilities(rows.features[dev])
        for threshold in THRESHOLDS:
            score = dev_score(
                probabilities, rows.labels[dev], acts[dev], rows.by_self[dev], threshold
            )
            print(
                f"decay {decay:g} threshold {threshold:.2f}: precision {score.precision:.3f} "
                f"recall {score.recall:.3f} f1 {score.f1:.3f} ({score.kept} kept of "
                f"{score.facts} facts no rule reads)",
                file=sys.stderr,
            )
            if best is None or score.f1 > best[3].f1:
                best = (score.f1, decay, threshold, score)
    assert best is not None
    _, decay, threshold, score = best
    print(
        f"chosen on the development split: weight decay {decay:g}, threshold {threshold:.2f} "
        f"(precision {score.precision:.3f}, recall {score.recall:.3f} of the facts no rule "
        "reads)"
    )
    model = fit(rows.features, rows.labels, weight_decay=decay, threshold=threshold)
    sensitive_weights, sensitive_bias = fit_sensitive(
        rows.sentence_vectors, rows.sentence_sensitive
    )
    np.savez_compressed(
        args.out,
        weights=model.weights,
        bias=model.bias,
        mean=model.mean,
        scale=model.scale,
        threshold=np.float32(threshold),
        weight_decay=np.float32(decay),
        sensitive_weights=sensitive_weights,
        sensitive_bias=np.float32(sensitive_bias),
        sensitive_threshold=np.float32(sensitive_threshold),
        labels=np.asarray(LABELS),
        features=np.asarray(FEATURES_VERSION),
        training_sha256=np.asarray(training_digest(files)),
        seed=np.int64(SEED),
    )
    size = args.out.stat().st_size
    print(f"saved {args.out} ({size / 1024:.0f} KiB) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
