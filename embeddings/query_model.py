"""A query tower for "which customers are asking about X?": the bundled MiniLM with its top
layers fine-tuned to read a marketer's question ("salon owners wanting the monthly price for
several shops") the way customers talk ("how much would it be for 3 locations?").

An asymmetric two-tower: documents (customer sentences) keep the frozen base model's vectors,
exactly those already in the index, so nothing is re-indexed; only the query side is trained.
Since the document side never changes, every document vector is computed once before training,
and so are the questions' states below the trained layers: a step runs only the trained layers.

Trained on training/search/pairs.jsonl with a multiple-negatives ranking loss (InfoNCE): the
question is the anchor, each of its positives in turn the target, and the negatives are the
other questions' positives in the batch plus the question's own hard negatives (staff text
among them, which is never a document). Settings were chosen on six held-out businesses only
(`dev_split`, bench/search_training.py --sweep); the shipped layers are then trained on all 30.

On those six businesses (60 questions, each ranking every customer sentence of its business),
trained on the other 24: recall@10 0.737 -> 0.822, MRR 0.772 -> 0.869, and at the threshold
that keeps under 0.5 other sentences per question, 0.148 -> 0.278 of the positives (0.58 ->
0.44). Long questions gain most (recall@10 0.750 -> 0.861); short ones little (0.707 -> 0.730,
MRR 0.880 both). Seeds 1 and 2 gave recall@10 0.822 and MRR 0.881 and 0.869. Settings were
compared by the mean of those three figures, one change at a time from the defaults (0.656):
without hard negatives 0.599; learning rates 5e-5 to 4e-4, 10 or 40 epochs, 1, 3 or 4 layers,
scale 10 or 40, batches of 16 or 64, and questions reworded by the search's focus_query while
training (0.641) or only at query time (0.644) all gave 0.625 to 0.655, within the noise of
60 questions; none beat the defaults.

    .venv/bin/python -m embeddings.query_model train

rebuilds embeddings/query_model/ from the repository (see `main`).
"""

import copy
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from embeddings.encoder import EmbeddingError, Encoder, SentenceTransformerEncoder
from embeddings.finetune import warmup_then_decay

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "training" / "search" / "pairs.jsonl"
# The module's own name without `.py`: the shipped files sit next to the code that reads them.
SHIPPED = Path(__file__).with_suffix("")
WEIGHTS_FILE = "layers.safetensors"
CARD_FILE = "card.json"
AGENT_PREFIX = "[agent] "
DEV_BUSINESSES = 6  # of the 30 in the training file, held out to choose the settings on
DEV_SEED = 2026  # the seeded shuffle that picks them, fixed so every run holds out the same six
SEED = 0
THRESHOLDS = tuple(round(0.05 + 0.01 * step, 2) for step in range(76))  # 0.05 to 0.80
# The product cuts results by a similarity threshold; the shipped one finds the most positives
# with at most this many other sentences of the business above it, per question.
MAX_FALSE_PER_QUESTION = 0.5


@dataclass(frozen=True)
class QuerySettings:
    """How the query tower is trained; the defaults are the best on the dev businesses."""

    epochs: int = 20  # each question is an anchor once per epoch, with all its positives
    batch_size: int = 32  # questions per step, each a different one
    learning_rate: float = 1e-4
    warmup: float = 0.1  # share of the steps with a rising learning rate
    trained_layers: int = 2  # of MiniLM's 6 transformer layers, counted from the top
    scale: float = 20.0  # cosine similarities times this are the loss's logits
    hard_negatives: bool = True  # the question's own hard negatives join its negatives
    max_seq_length: int = 48  # tokens per question while training; questions are short


@dataclass(frozen=True)
class SearchPair:
    """One marketer question with the customer sentences that fit it and some that do not."""

    id: str
    business: str
    question: str
    short: bool
    positives: tuple[str, ...]
    hard_negatives: tuple[str, ...]  # customers' own words: documents as well as negatives
    staff_negatives: tuple[str, ...]  # what an agent said: a negative, never a document


def load_pairs(path: Path = PAIRS) -> list[SearchPair]:
    """Every question of a search training file, staff text told apart by its prefix."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        negatives = [str(text) for text in row["hard_negatives"]]
        pairs.append(
            SearchPair(
                id=str(row["id"]),
                business=str(row["business"]),
                question=str(row["question"]),
                short=bool(row["short"]),
                positives=tuple(str(text) for text in row["positives"]),
                hard_negatives=tuple(t for t in negatives if not t.startswith(AGENT_PREFIX)),
                staff_negatives=tuple(
                    t.removeprefix(AGENT_PREFIX) for t in negatives if t.startswith(AGENT_PREFIX)
                ),
            )
        )
    return pairs


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dev_businesses(pairs: Sequence[SearchPair]) -> list[str]:
    """The businesses held out to choose settings on: a seeded shuffle of all of them, so the
    choice does not depend on the order of the file."""
    businesses = sorted({pair.business for pair in pairs})
    order = np.random.default_rng(DEV_SEED).permutation(len(businesses))
    return sorted(businesses[int(i)] for i in order[:DEV_BUSINESSES])


def dev_split(pairs: Sequence[SearchPair]) -> tuple[list[SearchPair], list[SearchPair]]:
    """(train, dev): split by business, so no dev question's sentences were trained on."""
    dev = set(dev_businesses(pairs))
    return [p for p in pairs if p.business not in dev], [p for p in pairs if p.business in dev]


def document_texts(pairs: Sequence[SearchPair]) -> list[str]:
    """Every text the document side embeds while training: positives and all hard negatives."""
    texts = {
        text
        for pair in pairs
        for text in (*pair.positives, *pair.hard_negatives, *pair.staff_negatives)
    }
    return sorted(texts)


def document_vectors(
    base: Encoder, pairs: Sequence[SearchPair], *, batch_size: int = 64
) -> dict[str, npt.NDArray[np.float32]]:
    """Each document text's vector from the frozen base model, as the index holds it."""
    texts = document_texts(pairs)
    vectors = base.encode(texts, batch_size=batch_size)
    return {text: vectors[row] for row, text in enumerate(texts)}


def question_batches(
    pairs: Sequence[SearchPair], *, epochs: int, batch_size: int, seed: int
) -> list[list[int]]:
    """Batches of question rows: every question once per epoch, shuffled with a seeded rng; a
    batch never holds a question twice, so one's positives are never its own negatives."""
    rng = np.random.default_rng(seed)
    batches: list[list[int]] = []
    for _ in range(epochs):
        order = [int(row) for row in rng.permutation(len(pairs))]
        batches.extend(order[i : i + batch_size] for i in range(0, len(order), batch_size))
    return batches


@contextmanager
def _reproducible(seed: int) -> Iterator[None]:
    """Seeded torch randomness (dropout) and deterministic kernels, without leaving either
    changed for the caller: the process may be serving other models."""
    import torch

    was_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)


def _batch_loss(
    anchors: "torch.Tensor",
    batch: Sequence[SearchPair],
    documents: Mapping[str, npt.NDArray[np.float32]],
    settings: QuerySettings,
) -> "torch.Tensor":
    """Mean InfoNCE over every (question, positive) of a batch: each positive is the target
    once, against the other questions' positives and the question's own hard negatives; the
    question's other positives are left out of its denominator rather than counted wrong."""
    import torch
    import torch.nn.functional as functional

    candidates: list[str] = []
    index: dict[str, int] = {}
    for pair in batch:
        extra = (*pair.hard_negatives, *pair.staff_negatives) if settings.hard_negatives else ()
        for text in (*pair.positives, *extra):
            if text not in index:
                index[text] = len(candidates)
                candidates.append(text)
    in_batch = {index[text] for pair in batch for text in pair.positives}
    allowed = torch.zeros((len(batch), len(candidates)), dtype=torch.bool)
    targets: list[tuple[int, int]] = []
    for row, pair in enumerate(batch):
        own = {index[text] for text in pair.positives}
        negatives = in_batch - own
        if settings.hard_negatives:
            negatives |= {index[t] for t in (*pair.hard_negatives, *pair.staff_negatives)} - own
        allowed[row, sorted(negatives)] = True
        targets.extend((row, column) for column in sorted(own))
    matrix = torch.from_numpy(np.stack([documents[text] for text in candidates]))
    logits = settings.scale * anchors @ matrix.T
    rows = torch.tensor([row for row, _ in targets])
    columns = torch.tensor([column for _, column in targets])
    mask = allowed[rows].clone()
    mask[torch.arange(len(targets)), columns] = True
    masked = logits[rows].masked_fill(~mask, float("-inf"))
    return functional.cross_entropy(masked, columns)


def train_query_model(
    base: SentenceTransformerEncoder,
    pairs: Sequence[SearchPair],
    *,
    documents: Mapping[str, npt.NDArray[np.float32]],
    seed: int = SEED,
    settings: QuerySettings | None = None,
    rewrite: Callable[[str], str] | None = None,
    steps: int | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> SentenceTransformerEncoder:
    """A copy of the base model with its top layers trained as the query side; the base itself
    is unchanged. `rewrite` words each question before it is encoded (as the search does at
    query time), `steps` stops early (tests), `on_step` hears (step, steps, loss)."""
    settings = settings or QuerySettings()
    missing = [t for p in pairs for t in document_texts([p]) if t not in documents]
    if not pairs or missing:
        raise EmbeddingError(f"no pairs, or {len(missing)} texts without a document vector")
    batches = question_batches(
        pairs, epochs=settings.epochs, batch_size=settings.batch_size, seed=seed
    )[:steps]
    questions = [rewrite(p.question) if rewrite else p.question for p in pairs]
    _check_layer_count(base.model, settings.trained_layers)
    with _reproducible(seed):
        # The layers below the trained ones are shared with the base, not copied: training
        # never runs them (their outputs are computed once, without gradients) nor changes
        # them, so only the trained layers are copies and put in training mode.
        model = _copy_sharing_frozen(base.model, settings.trained_layers)
        top = _layers(model)[-settings.trained_layers :]
        trainable = [parameter.requires_grad_(True) for parameter in top.parameters()]
        full_length = model.max_seq_length
        model.max_seq_length = settings.max_seq_length
        try:
            states = _frozen_states(model, questions, settings.trained_layers)
            _check_top_path(model, questions[:8], states[:8], settings.trained_layers)
            top.train()
            _optimize(model, pairs, states, batches, trainable, documents, settings, on_step)
        finally:
            top.eval()
            model.max_seq_length = full_length
    return SentenceTransformerEncoder.wrap(model, model_id=f"{base.model_id}+query")


def _optimize(
    model: "SentenceTransformer",
    pairs: Sequence[SearchPair],
    states: Sequence["torch.Tensor"],
    batches: Sequence[Sequence[int]],
    trainable: list["torch.nn.Parameter"],
    documents: Mapping[str, npt.NDArray[np.float32]],
    settings: QuerySettings,
    on_step: Callable[[int, int, float], None] | None,
) -> None:
    """AdamW over the batches with a linear warm-up and decay, clipped gradients."""
    import torch

    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.01)
    schedule = warmup_then_decay(optimizer, steps=len(batches), warmup=settings.warmup)
    for step, rows in enumerate(batches, start=1):
        anchors = _top_forward(model, [states[row] for row in rows], settings.trained_layers)
        loss = _batch_loss(anchors, [pairs[row] for row in rows], documents, settings)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if on_step is not None:
            on_step(step, len(batches), float(loss.detach()))


def _frozen_states(
    model: "SentenceTransformer", texts: Sequence[str], trained_layers: int
) -> list["torch.Tensor"]:
    """Each text's token states below the trained layers, computed once: those layers never
    change, so running them at every step (most of a step's cost) would only add their
    dropout. Padding is dropped; `_top_forward` pads each batch again."""
    import torch

    transformer: Any = model[0].auto_model
    below = _layers(model)[: len(_layers(model)) - trained_layers]
    states: list[torch.Tensor] = []
    # sentence-transformers leaves a model it loads in training mode until its first
    # encode(), which switches to eval() itself: without this, the states would carry dropout.
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            features = model.preprocess(list(texts[start : start + 64]))
            # The layers are run by hand, not with output_hidden_states: transformers records
            # those with hooks it installs on the modules once per model, and the modules
            # shared with the base would carry every copy's hooks and record twice.
            hidden = transformer.embeddings(
                input_ids=features["input_ids"], token_type_ids=features.get("token_type_ids")
            )
            hidden = _run_layers(transformer, below, hidden, features["attention_mask"])
            mask = features["attention_mask"].bool()
            states.extend(hidden[row][mask[row]].clone() for row in range(len(hidden)))
    return states


def _run_layers(
    transformer: Any, layers: Any, hidden: "torch.Tensor", mask: "torch.Tensor"
) -> "torch.Tensor":
    """Token states through some transformer layers, as BertModel's forward runs them."""
    from transformers.masking_utils import create_bidirectional_mask

    attention = create_bidirectional_mask(
        config=transformer.config, inputs_embeds=hidden, attention_mask=mask
    )
    for layer in layers:
        output = layer(hidden, attention)
        hidden = output[0] if isinstance(output, tuple) else output  # transformers 4: a tuple
    return hidden


def _top_forward(
    model: "SentenceTransformer", states: Sequence["torch.Tensor"], trained_layers: int
) -> "torch.Tensor":
    """Normalized sentence vectors from cached states, through the trained layers and the
    model's own pooling."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    layers = _layers(model)
    hidden = pad_sequence(list(states), batch_first=True)
    ones = [torch.ones(len(state), dtype=torch.long) for state in states]
    mask = pad_sequence(ones, batch_first=True)
    top = layers[len(layers) - trained_layers :]
    hidden = _run_layers(model[0].auto_model, top, hidden, mask)
    pooled = model[1]({"token_embeddings": hidden, "attention_mask": mask})
    return torch.nn.functional.normalize(pooled["sentence_embedding"], dim=1)


def _check_top_path(
    model: "SentenceTransformer",
    texts: Sequence[str],
    states: Sequence["torch.Tensor"],
    trained_layers: int,
) -> None:
    """The cached path must give the model's own vectors (in eval mode), or what is trained is
    not what is shipped: a transformers upgrade that changes a layer's call would show here."""
    import torch

    with torch.no_grad():
        features = model.preprocess(list(texts))
        own = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=1)
        cached = _top_forward(model, states, trained_layers)
    if not torch.allclose(own, cached, atol=1e-5):
        raise EmbeddingError("the cached training path no longer matches the model's forward")


def _check_layer_count(model: "SentenceTransformer", trained_layers: int) -> None:
    """EmbeddingError unless the model has that many layers to train."""
    if not 1 <= trained_layers <= len(_layers(model)):
        raise EmbeddingError(f"trained_layers must be 1 to {len(_layers(model))}")


def _layers(model: "SentenceTransformer") -> Any:
    """The BertModel's transformer layers (an nn.ModuleList); torch types them loosely."""
    transformer: Any = model[0].auto_model
    return transformer.encoder.layer


def _layer_prefix(index: int) -> str:
    """The key prefix of one transformer layer's tensors in the shipped file."""
    return f"encoder.layer.{index}."


def trained_tensors(
    query: SentenceTransformerEncoder, trained_layers: int, *, dtype: str = "float16"
) -> dict[str, "torch.Tensor"]:
    """The top layers' tensors, named as in the BertModel, in the dtype they ship in."""
    import torch

    layers = _layers(query.model)
    tensors = {}
    for index in range(len(layers) - trained_layers, len(layers)):
        for name, tensor in layers[index].state_dict().items():
            value = tensor.detach().to(getattr(torch, dtype)).contiguous()
            tensors[_layer_prefix(index) + name] = value
    return tensors


def base_fingerprint(base: SentenceTransformerEncoder, trained_layers: int) -> str:
    """sha256 of the frozen part of the base model (embeddings and the layers below the
    trained ones): the shipped layers only make sense on top of exactly these weights."""
    transformer: Any = base.model[0].auto_model
    layers = _layers(base.model)
    digest = hashlib.sha256()
    for module in [transformer.embeddings, *layers[: len(layers) - trained_layers]]:
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelCard:
    """What the shipped layers were trained from and how; saved beside them as JSON."""

    base_model: str
    base_fingerprint: str
    trained_layers: int
    dtype: str
    seed: int
    settings: dict[str, Any]
    rewrite: bool
    training_file: str
    training_sha256: str
    threshold: float  # chosen on the dev businesses, on sentence cosine similarity
    weights_sha256: str
    dev: dict[str, Any] = field(default_factory=dict)  # the dev figures it was chosen with


def save_query_model(
    query: SentenceTransformerEncoder,
    *,
    base: SentenceTransformerEncoder,
    settings: QuerySettings,
    seed: int,
    rewrite: bool,
    training_file: Path,
    threshold: float,
    dev: dict[str, Any],
    folder: Path = SHIPPED,
    dtype: str = "float16",
) -> ModelCard:
    """Write the trained layers (safetensors, never pickle) and their card to `folder`."""
    from safetensors.torch import save

    tensors = trained_tensors(query, settings.trained_layers, dtype=dtype)
    data = save(tensors)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS_FILE).write_bytes(data)
    try:
        training_name = str(training_file.relative_to(ROOT))
    except ValueError:
        training_name = training_file.name
    card = ModelCard(
        base_model=base.model_id,
        base_fingerprint=base_fingerprint(base, settings.trained_layers),
        trained_layers=settings.trained_layers,
        dtype=dtype,
        seed=seed,
        settings=asdict(settings),
        rewrite=rewrite,
        training_file=training_name,
        training_sha256=file_sha256(training_file),
        threshold=threshold,
        weights_sha256=hashlib.sha256(data).hexdigest(),
        dev=dev,
    )
    (folder / CARD_FILE).write_text(json.dumps(asdict(card), indent=2) + "\n", encoding="utf-8")
    return card


def read_card(folder: Path = SHIPPED) -> ModelCard:
    """The shipped layers' card; EmbeddingError if it is missing or malformed."""
    path = folder / CARD_FILE
    try:
        return ModelCard(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as error:
        raise EmbeddingError(
            f"no query model at {folder}: build it with `python -m embeddings.query_model train`"
        ) from error
    except (ValueError, TypeError) as error:
        raise EmbeddingError(f"the query model's card {path} is malformed: {error}") from error


def load_query_encoder(base: SentenceTransformerEncoder, *, folder: Path = SHIPPED) -> Encoder:
    """The query-side encoder: the base model with the shipped top layers loaded over a copy of
    them. Its vectors compare with the base model's document vectors, already in the index.
    EmbeddingError if the files are missing, altered, or were trained on another base model."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load

    card = read_card(folder)
    if card.base_model != base.model_id:
        raise EmbeddingError(
            f"the query model was trained for {card.base_model!r}, not {base.model_id!r}"
        )
    _check_layer_count(base.model, card.trained_layers)
    if base_fingerprint(base, card.trained_layers) != card.base_fingerprint:
        raise EmbeddingError(
            f"the query model was trained for other {card.base_model!r} weights than these"
        )
    try:
        data = (folder / WEIGHTS_FILE).read_bytes()
    except FileNotFoundError as error:
        raise EmbeddingError(
            f"the query model's weights {folder / WEIGHTS_FILE} are missing"
        ) from error
    if hashlib.sha256(data).hexdigest() != card.weights_sha256:
        raise EmbeddingError(f"{folder / WEIGHTS_FILE} does not match its card: altered or stale")
    try:
        tensors = load(data)
    except SafetensorError as error:  # pragma: no cover - the checksum catches it first
        raise EmbeddingError(f"{folder / WEIGHTS_FILE} is not a safetensors file") from error
    model = _copy_sharing_frozen(base.model, card.trained_layers)
    layers = _layers(model)
    for index in range(len(layers) - card.trained_layers, len(layers)):
        prefix = _layer_prefix(index)
        state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        expected = layers[index].state_dict()
        if state.keys() != expected.keys() or any(
            state[k].shape != expected[k].shape for k in state
        ):
            raise EmbeddingError(f"{folder / WEIGHTS_FILE} does not fit layer {index}")
        layers[index].load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    model.eval()
    return SentenceTransformerEncoder.wrap(model, model_id=f"{base.model_id}+query")


def _copy_sharing_frozen(
    model: "SentenceTransformer", trained_layers: int
) -> "SentenceTransformer":
    """A copy of the model whose embeddings and lower layers are the base's own modules, not
    copies: they are never changed, and sharing them saves about 70 MB on a small machine."""
    transformer: Any = model[0].auto_model
    layers = _layers(model)
    shared = [transformer.embeddings, *layers[: len(layers) - trained_layers]]
    return copy.deepcopy(model, {id(module): module for module in shared})


# ---- Dev figures: each question ranks every customer sentence of its business.


@dataclass(frozen=True)
class QuestionScores:
    """One question's cosine similarity to every customer sentence of its business."""

    pair: SearchPair
    scores: npt.NDArray[np.float32]
    relevant: npt.NDArray[np.bool_]  # the question's own positives


@dataclass(frozen=True)
class ThresholdRow:
    """What a similarity cut keeps: the share of all positives above it, and the mean number
    of other sentences of the business above it per question."""

    threshold: float
    recall: float
    false_per_question: float


@dataclass(frozen=True)
class RankingFigures:
    """Ranking quality over some questions; recall@k and MRR are means over questions."""

    questions: int
    recall_at_5: float
    recall_at_10: float
    mrr: float
    sweep: tuple[ThresholdRow, ...]
    chosen: ThresholdRow  # the most recall with at most MAX_FALSE_PER_QUESTION

    def summary(self) -> dict[str, float]:
        """The headline figures, rounded, for the card and the printout."""
        return {
            "questions": self.questions,
            "recall_at_5": round(self.recall_at_5, 4),
            "recall_at_10": round(self.recall_at_10, 4),
            "mrr": round(self.mrr, 4),
            "threshold": self.chosen.threshold,
            "threshold_recall": round(self.chosen.recall, 4),
            "false_per_question": round(self.chosen.false_per_question, 3),
        }


def business_pools(pairs: Sequence[SearchPair]) -> dict[str, list[str]]:
    """Each business's customer sentences, de-duplicated: every positive of every question and
    the customers' hard negatives; staff text is no document (it is never indexed)."""
    pools: dict[str, set[str]] = {}
    for pair in pairs:
        pools.setdefault(pair.business, set()).update(pair.positives, pair.hard_negatives)
    return {business: sorted(texts) for business, texts in pools.items()}


def score_questions(
    query: Encoder,
    pairs: Sequence[SearchPair],
    *,
    documents: Mapping[str, npt.NDArray[np.float32]],
    rewrite: Callable[[str], str] | None = None,
) -> list[QuestionScores]:
    """Each question's similarity to every customer sentence of its business."""
    pools = business_pools(pairs)
    matrices = {b: np.stack([documents[t] for t in texts]) for b, texts in pools.items()}
    vectors = query.encode([rewrite(p.question) if rewrite else p.question for p in pairs])
    scored = []
    for pair, vector in zip(pairs, vectors, strict=True):
        relevant = np.isin(np.array(pools[pair.business], dtype=object), pair.positives)
        scored.append(QuestionScores(pair, matrices[pair.business] @ vector, relevant))
    return scored


def ranking_figures(
    scored: Sequence[QuestionScores], *, thresholds: Sequence[float] = THRESHOLDS
) -> RankingFigures:
    """Recall@5, recall@10, MRR and a threshold sweep over these questions."""
    if not scored:
        raise EmbeddingError("no questions to measure")
    recall_5, recall_10, reciprocal = [], [], []
    for item in scored:
        order = np.argsort(-item.scores, kind="stable")
        hits = item.relevant[order]
        recall_5.append(hits[:5].sum() / hits.sum())
        recall_10.append(hits[:10].sum() / hits.sum())
        reciprocal.append(1.0 / (1 + int(np.argmax(hits))))
    positives = sum(int(item.relevant.sum()) for item in scored)
    sweep = tuple(
        ThresholdRow(
            threshold=threshold,
            recall=sum(int((i.scores[i.relevant] >= threshold).sum()) for i in scored) / positives,
            false_per_question=float(
                np.mean([(i.scores[~i.relevant] >= threshold).sum() for i in scored])
            ),
        )
        for threshold in thresholds
    )
    allowed = [row for row in sweep if row.false_per_question <= MAX_FALSE_PER_QUESTION]
    # Most recall; among equals, the highest threshold (fewest unrelated sentences).
    chosen = max(allowed or [sweep[-1]], key=lambda row: (row.recall, row.threshold))
    return RankingFigures(
        questions=len(scored),
        recall_at_5=float(np.mean(recall_5)),
        recall_at_10=float(np.mean(recall_10)),
        mrr=float(np.mean(reciprocal)),
        sweep=sweep,
        chosen=chosen,
    )


def dev_report(
    scored: Sequence[QuestionScores],
) -> dict[str, RankingFigures]:
    """Figures over all questions, the short ones and the long ones."""
    return {
        "all": ranking_figures(scored),
        "short": ranking_figures([s for s in scored if s.pair.short]),
        "long": ranking_figures([s for s in scored if not s.pair.short]),
    }


def figures_table(reports: Mapping[str, Mapping[str, RankingFigures]]) -> str:
    """Named reports as rows: recall@5/@10, MRR and the chosen threshold, per question kind."""
    lines = [
        f"{'model':<24}{'questions':<10}{'n':>4}{'R@5':>8}{'R@10':>8}{'MRR':>8}"
        f"{'thresh':>8}{'recall':>8}{'false/q':>9}"
    ]
    for name, report in reports.items():
        for kind, figures in report.items():
            lines.append(
                f"{name:<24}{kind:<10}{figures.questions:>4}{figures.recall_at_5:>8.3f}"
                f"{figures.recall_at_10:>8.3f}{figures.mrr:>8.3f}"
                f"{figures.chosen.threshold:>8.2f}{figures.chosen.recall:>8.3f}"
                f"{figures.chosen.false_per_question:>9.2f}"
            )
    return "\n".join(lines)


def sweep_table(figures: RankingFigures, *, every: int = 5) -> str:
    """The threshold sweep, one row per `every` hundredths."""
    lines = [f"{'threshold':>10}{'recall':>8}{'false/q':>9}"]
    for row in figures.sweep[::every]:
        lines.append(f"{row.threshold:>10.2f}{row.recall:>8.3f}{row.false_per_question:>9.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`train`: choose nothing, rebuild the shipped layers with the default settings. Trains on
    the 24 training businesses and prints the dev figures (base against trained) and the
    threshold they give; then trains on all 30 and writes embeddings/query_model/."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["train"]:
        print("usage: python -m embeddings.query_model train", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def say(text: str) -> None:
        """Progress with the time since the start."""
        print(f"[{time.perf_counter() - started:6.1f}s] {text}", flush=True)

    def progress(step: int, steps: int, loss: float) -> None:
        """Every tenth of the steps, and the last."""
        if step % max(1, steps // 10) == 0 or step == steps:
            say(f"  step {step}/{steps} loss {loss:.3f}")

    base = SentenceTransformerEncoder()
    pairs = load_pairs(PAIRS)
    train, dev = dev_split(pairs)
    settings = QuerySettings()
    say(f"{len(pairs)} questions; dev businesses: {', '.join(dev_businesses(pairs))}")
    documents = document_vectors(base, pairs)
    say(f"{len(documents)} document vectors from the frozen base model")
    say(f"training on {len(train)} questions of the other businesses: {settings}")
    held_out = train_query_model(
        base, train, documents=documents, seed=SEED, settings=settings, on_step=progress
    )
    reports = {
        "base": dev_report(score_questions(base, dev, documents=documents)),
        "trained (dev held out)": dev_report(score_questions(held_out, dev, documents=documents)),
    }
    print(figures_table(reports))
    threshold = reports["trained (dev held out)"]["all"].chosen.threshold
    say(f"training the shipped layers on all {len(pairs)} questions")
    shipped = train_query_model(
        base, pairs, documents=documents, seed=SEED, settings=settings, on_step=progress
    )
    card = save_query_model(
        shipped,
        base=base,
        settings=settings,
        seed=SEED,
        rewrite=False,
        training_file=PAIRS,
        threshold=threshold,
        dev={name: {k: f.summary() for k, f in report.items()} for name, report in reports.items()},
    )
    size = (SHIPPED / WEIGHTS_FILE).stat().st_size
    say(
        f"wrote {SHIPPED / WEIGHTS_FILE} ({size / 1e6:.1f} MB, {card.dtype}), threshold {threshold}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
