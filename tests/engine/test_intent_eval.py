"""BANKING77-style evaluation: reading labelled CSVs, sampling shots, scoring a fit."""

from pathlib import Path

import pytest

from embeddings.encoder import Encoder
from engine.evals.intents import DatasetError, evaluate, read_labelled, sample_per_label
from engine.intents.classifier import IntentError

TRAIN = {
    "card_arrival": [
        "my card still hasn't arrived",
        "when will I receive my new card",
        "I ordered a card two weeks ago and nothing came",
        "how long does card delivery take",
        "is my card in the post yet",
        "still waiting for the card to show up",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is a euro in pounds today",
        "is the currency conversion rate fair",
        "what rate will I get for dollars",
        "where can I see today's exchange rates",
        "do you use the interbank rate",
    ],
    "lost_card": [
        "I lost my card",
        "my wallet was stolen with the card in it",
        "please block my card, it's gone",
        "someone took my card",
        "I can't find my card anywhere",
        "my card was stolen yesterday",
    ],
}
TEST = [
    ("the card you sent me has not come yet", "card_arrival"),
    ("which conversion rate applies to my transfer", "exchange_rate"),
    ("help, my bank card got stolen", "lost_card"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "text,category") -> Path:
    """A CSV with a header line and quoted text."""
    lines = [header] + [f'"{text}",{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_rows() -> list[tuple[str, str]]:
    """TRAIN as (text, label) rows."""
    return [(text, label) for label, texts in TRAIN.items() for text in texts]


def test_evaluate_fits_shots_per_label_and_scores_the_test_file(
    tmp_path: Path, encoder: Encoder
) -> None:
    train = write_csv(tmp_path / "train.csv", train_rows())
    test = write_csv(tmp_path / "test.csv", TEST)
    result = evaluate(train_csv=train, test_csv=test, shots=4, seed=1, encoder=encoder)
    assert (result.n_train, result.n_test, result.labels) == (12, 3, 3)
    assert (result.shots, result.seed, result.unlabeled) == (4, 1, 0)
    assert result.accuracy == 1.0
    assert result.macro_f1 == 1.0
    assert result.seconds >= result.fit_seconds + result.predict_seconds > 0

    pooled = evaluate(
        train_csv=train, test_csv=test, shots=4, seed=1, encoder=encoder, unlabeled=True
    )
    assert (pooled.n_train, pooled.unlabeled) == (12, 6)
    everything = evaluate(train_csv=train, test_csv=test, shots=None, seed=0, encoder=encoder)
    assert everything.n_train == 18
    assert everything.as_dict()["accuracy"] == everything.accuracy


def test_sampling_respects_shots_and_seed() -> None:
    labels = ["a"] * 10 + ["b"] * 3 + ["c"] * 7
    picked = sample_per_label(labels, shots=5, seed=0)
    counts = {label: sum(labels[i] == label for i in picked) for label in "abc"}
    assert counts == {"a": 5, "b": 3, "c": 5}  # "b" has fewer than 5: all of it
    assert picked == sorted(set(picked))
    assert sample_per_label(labels, shots=5, seed=0) == picked
    assert sample_per_label(labels, shots=5, seed=1) != picked
    assert sample_per_label(labels, shots=None, seed=0) == list(range(20))
    # The same rows per label whatever order the labels come in.
    shuffled = labels[10:13] + labels[:10] + labels[13:]
    again = sample_per_label(shuffled, shots=5, seed=0)
    assert sorted(shuffled[i] for i in again) == sorted(labels[i] for i in picked)


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [("hello there", "greet"), ("my card", "card")])
    assert read_labelled(good) == (["hello there", "my card"], ["greet", "card"])

    no_column = write_csv(tmp_path / "no_column.csv", [("x", "y")], header="text,label")
    with pytest.raises(DatasetError, match=r"no_column\.csv:1: missing column category"):
        read_labelled(no_column)

    extra = tmp_path / "extra.csv"
    extra.write_text('text,category\n"fine",a\n"too",many,fields\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"extra\.csv:3: expected 2 fields, got 3"):
        read_labelled(extra)

    empty_label = tmp_path / "empty_label.csv"
    empty_label.write_text('text,category\n"a, b",x\n"multi\nline",y\n"no label",\n')
    with pytest.raises(DatasetError, match=r"empty_label\.csv:5: empty text or category"):
        read_labelled(empty_label)

    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(DatasetError, match=r"blank\.csv: the file is empty"):
        read_labelled(blank)

    header_only = write_csv(tmp_path / "header_only.csv", [])
    with pytest.raises(DatasetError, match="no rows"):
        read_labelled(header_only)


def test_evaluate_refuses_zero_shots(tmp_path: Path, encoder: Encoder) -> None:
    train = write_csv(tmp_path / "train.csv", train_rows())
    with pytest.raises(DatasetError, match="shots"):
        evaluate(train_csv=train, test_csv=train, shots=0, seed=0, encoder=encoder)


def test_evaluate_can_finetune_the_encoder_first(tmp_path: Path, encoder: Encoder) -> None:
    train = write_csv(tmp_path / "train.csv", train_rows())
    test = write_csv(tmp_path / "test.csv", TEST)
    steps: list[tuple[int, int]] = []
    result = evaluate(
        train_csv=train,
        test_csv=test,
        shots=4,
        seed=1,
        encoder=encoder,
        finetune=True,
        on_finetune_step=lambda done, total: steps.append((done, total)),
    )
    assert result.finetune_seconds is not None and result.finetune_seconds > 0
    assert steps and steps[-1][0] == steps[-1][1]  # progress reached the last step
    assert result.accuracy == 1.0 and result.n_train == 12
    with pytest.raises(IntentError, match="cannot fine-tune"):
        evaluate(train_csv=train, test_csv=test, shots=1, seed=1, encoder=encoder, finetune=True)
