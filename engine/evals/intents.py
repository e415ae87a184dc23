"""Few-shot intent accuracy on a labelled CSV set (`text,category`), such as BANKING77."""

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from embeddings.encoder import EmbeddingError, Encoder, SentenceTransformerEncoder
from embeddings.finetune import FinetuneSettings, contrastive_finetune
from engine.intents.classifier import IntentClassifier, IntentError

COLUMNS = ("text", "category")


class DatasetError(IntentError):
    """A labelled CSV file that cannot be read: missing column, malformed or empty row."""

    code = "invalid_dataset"


@dataclass(frozen=True)
class EvalResult:
    """Accuracy and macro-F1 of one fit on the training file, measured on the test file."""

    accuracy: float
    macro_f1: float
    n_train: int
    n_test: int
    labels: int  # how many intents the classifier was fitted on
    shots: int | None
    seed: int
    seconds: float  # all of it: reading, encoding, fitting, predicting
    fit_seconds: float
    predict_seconds: float
    unlabeled: int = 0  # unlabeled training rows given to self-training
    finetune_seconds: float | None = None  # set when the encoder was fine-tuned on the shots

    def as_dict(self) -> dict[str, object]:
        """The result as a plain dict, for --json."""
        return asdict(self)


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Texts and categories of a CSV with a header naming `text` and `category`."""
    try:
        return _read_labelled(path)
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not valid UTF-8 (byte {error.start})") from None
    except csv.Error as error:
        raise DatasetError(f"{path}: not a readable CSV ({error})") from None


def _read_labelled(path: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    categories: list[str] = []
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: the file is empty, expected a header text,category")
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise DatasetError(f"{path}:1: missing column {', '.join(missing)} in header {header}")
        text_at, category_at = header.index("text"), header.index("category")
        for row in reader:
            if not row:
                continue  # a blank line carries no example
            where = f"{path}:{reader.line_num}"
            if len(row) != len(header):
                raise DatasetError(f"{where}: expected {len(header)} fields, got {len(row)}")
            text, category = row[text_at].strip(), row[category_at].strip()
            if not text or not category:
                raise DatasetError(f"{where}: empty text or category")
            texts.append(text)
            categories.append(category)
    if not texts:
        raise DatasetError(f"{path}: no rows after the header")
    return texts, categories


def sample_per_label(labels: Sequence[str], *, shots: int | None, seed: int) -> list[int]:
    """Row indices: `shots` random rows of each label (all of a label with fewer), sorted."""
    rows_of: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        rows_of.setdefault(label, []).append(row)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    # Sorted labels: the same seed picks the same rows whatever the file order of labels.
    for label in sorted(rows_of):
        rows = rows_of[label]
        if shots is None or len(rows) <= shots:
            chosen.extend(rows)
        else:
            chosen.extend(int(row) for row in rng.choice(rows, size=shots, replace=False))
    return sorted(chosen)


def evaluate(
    *,
    train_csv: Path,
    test_csv: Path,
    shots: int | None,
    seed: int,
    encoder: Encoder,
    unlabeled: bool = False,
    finetune: bool = False,
    on_finetune_step: Callable[[int, int], None] | None = None,
    finetune_settings: FinetuneSettings | None = None,
) -> EvalResult:
    """Fit on `shots` rows per label of train_csv (all when None), score plain argmax on test_csv.

    With `unlabeled`, the training rows left out of the sample are given to the classifier
    without their labels, as the product gives it the messages in its store. With `finetune`,
    a copy of the encoder is first fine-tuned on the sampled rows (embeddings.finetune) and
    encodes everything after.
    """
    started = time.perf_counter()
    train_texts, train_labels = read_labelled(train_csv)
    test_texts, test_labels = read_labelled(test_csv)
    if shots is not None and shots < 1:
        raise DatasetError(f"shots must be at least 1, got {shots}")
    picked = sample_per_label(train_labels, shots=shots, seed=seed)
    texts = [train_texts[i] for i in picked]
    pool: list[str] = []
    if unlabeled:
        taken = set(picked)
        pool = [text for row, text in enumerate(train_texts) if row not in taken]
    finetune_seconds = None
    if finetune:
        if not isinstance(encoder, SentenceTransformerEncoder):
            raise IntentError("fine-tuning needs the sentence-transformers encoder")
        tuning = time.perf_counter()
        try:
            encoder = contrastive_finetune(
                encoder,
                texts=texts,
                labels=[train_labels[i] for i in picked],
                seed=seed,
                on_step=on_finetune_step,
                settings=finetune_settings,
            )
        except EmbeddingError as error:
            raise IntentError(f"cannot fine-tune: {error}") from None
        finetune_seconds = time.perf_counter() - tuning
    vectors = encoder.encode(texts)
    pool_vectors = encoder.encode(pool)
    test_vectors = encoder.encode(test_texts)

    fitting = time.perf_counter()
    classifier = IntentClassifier.fit(
        texts=texts,
        vectors=vectors,
        labels=[train_labels[i] for i in picked],
        seed=seed,
        unlabeled_texts=pool,
        unlabeled_vectors=pool_vectors,
    )
    predicting = time.perf_counter()
    scores = classifier.scores(texts=test_texts, vectors=test_vectors)
    predicted = [classifier.labels[column] for column in scores.argmax(axis=1)]
    done = time.perf_counter()
    return EvalResult(
        accuracy=float(accuracy_score(test_labels, predicted)),
        macro_f1=float(f1_score(test_labels, predicted, average="macro", zero_division=0)),
        n_train=len(texts),
        n_test=len(test_texts),
        labels=len(classifier.labels),
        shots=shots,
        seed=seed,
        seconds=done - started,
        fit_seconds=predicting - fitting,
        predict_seconds=done - predicting,
        unlabeled=len(pool),
        finetune_seconds=finetune_seconds,
    )
