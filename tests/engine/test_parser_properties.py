"""Property tests: the engine's readers of user-supplied files (voice guide, labelled intent CSV,
labelled fact transcripts, labelled search queries) read them or raise an EngineError.

The bugs these found (bad UTF-8, deep nesting, a CSV field over the csv module's limit, a list
where a label name goes) are pinned by regression examples at the end.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.drafting.voice import InvalidVoiceGuide, VoiceGuide, parse_voice_guide
from engine.errors import EngineError
from engine.evals.facts import InvalidLabels, Labelled, load_labels
from engine.evals.intents import DatasetError, read_labelled
from engine.evals.search import LabelledQuery, load_queries
from engine.facts.gate import REASONS
from engine.facts.rules import CATEGORIES
from tests.json_strategies import JSON_VALUES, Path_, outcome
from tests.json_strategies import dumps as shared_dumps
from tests.json_strategies import near_valid as near_valid_with

PROPERTY = settings(max_examples=100, deadline=None)

SAMPLE_GUIDE: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "engine" / "sample" / "voice.json").read_text(encoding="utf-8")
)

LONG_STRINGS = st.tuples(
    st.text(max_size=3), st.sampled_from(["x", "é", " "]), st.integers(1, 5100)
).map(lambda t: t[0] + t[1] * t[2])
REPLACEMENTS: st.SearchStrategy[Any] = st.one_of(
    JSON_VALUES, LONG_STRINGS, st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800"])
)


def near_valid(
    record: Any, replacements: st.SearchStrategy[Any] = REPLACEMENTS
) -> st.SearchStrategy[tuple[Any, Path_, str]]:
    """A near-valid copy of a record."""
    return near_valid_with(record, replacements)


def dumps(value: Any, *, ascii_only: bool = False) -> bytes:
    """JSON as a file would hold it; not ASCII-only here, so lone surrogates make bad UTF-8."""
    return shared_dumps(value, ascii_only=ascii_only)


def render(path: Path_) -> str:
    """A path as `samples[2]` / `checks.max_sentence_words`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def related(field: str, path: str) -> bool:
    """True when one field path is the other or lies inside it."""
    return any(
        a == b or a.startswith(f"{b}.") or a.startswith(f"{b}[")
        for a, b in ((field, path), (path, field))
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the files every example writes (module-scoped: no health check)."""
    return tmp_path_factory.mktemp("parser-properties")


# Voice guide


def test_sample_guide_parses() -> None:
    """The bundled sample guide is valid, so near-valid copies of it are near-valid."""
    assert parse_voice_guide(dumps(SAMPLE_GUIDE)) == VoiceGuide.model_validate(SAMPLE_GUIDE)


@PROPERTY
@given(raw=st.binary(max_size=200) | JSON_VALUES.map(dumps))
def test_voice_guide_from_any_bytes_parses_or_raises_invalid_voice_guide(raw: bytes) -> None:
    """Any file content: a guide, or InvalidVoiceGuide (an EngineError)."""
    result = outcome(lambda: parse_voice_guide(raw), InvalidVoiceGuide)
    assert isinstance(result, VoiceGuide) or (
        isinstance(result, EngineError) and result.code == "invalid"
    )


@settings(PROPERTY, max_examples=200)
@given(change=near_valid(SAMPLE_GUIDE))
def test_near_valid_voice_guides_parse_or_name_the_changed_field(
    change: tuple[Any, Path_, str],
) -> None:
    """The sample guide with one change: a guide whose business fits its column, or
    InvalidVoiceGuide naming the changed field; extra keys are ignored."""
    guide, where, how = change
    result = outcome(lambda: parse_voice_guide(dumps(guide, ascii_only=True)), InvalidVoiceGuide)
    if how == "extra":
        assert result == VoiceGuide.model_validate(SAMPLE_GUIDE)
    if isinstance(result, InvalidVoiceGuide):
        assert result.field and related(result.field, render(where)), (result.field, where)
        assert result.field in str(result)
    else:
        assert isinstance(result, VoiceGuide)
        assert "\x00" not in result.business and len(result.business) <= 200


@PROPERTY
@given(value=JSON_VALUES | near_valid(SAMPLE_GUIDE).map(lambda change: change[0]))
def test_voice_guide_schema_raises_only_validation_error(value: Any) -> None:
    """What PUT /v1/voice relies on: the schema gives a guide or a ValidationError (a 422)."""
    try:
        VoiceGuide.model_validate(value)
    except ValidationError as error:
        assert error.errors()


def test_voice_guide_regressions() -> None:
    """What `personalize voice set` let escape as a traceback: bad UTF-8, deep nesting, an
    over-long integer; and a NUL in `business`, which PostgreSQL cannot store."""
    for raw in (b'{"business": "caf\xe9"}', b"[" * 100_000, b"1" * 5000):
        with pytest.raises(InvalidVoiceGuide, match=r"UTF-8|JSON"):
            parse_voice_guide(raw)
    with pytest.raises(InvalidVoiceGuide) as caught:
        parse_voice_guide(dumps(SAMPLE_GUIDE | {"business": "Kettle\x00"}))
    assert caught.value.field == "business"
    assert isinstance(caught.value, EngineError) and caught.value.code == "invalid"


# Labelled intent CSV (`personalize eval intents`)

CELLS = st.text(st.characters(codec="utf-8"), max_size=30)


def csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text, quoted where needed."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@PROPERTY
@given(
    content=st.text(st.characters(codec="utf-8"), max_size=300).map(str.encode)
    | st.binary(max_size=300)
    | st.lists(st.lists(CELLS, max_size=4), max_size=6).map(lambda r: csv_text(r).encode())
    | st.lists(st.lists(CELLS, min_size=2, max_size=3), max_size=6).map(
        lambda rows: csv_text([["text", "category"], *rows]).encode()
    )
)
def test_labelled_csv_of_any_bytes_reads_or_raises_dataset_error(
    folder: Path, content: bytes
) -> None:
    """Any file content: rows, or DatasetError naming the file."""
    path = folder / "labelled.csv"
    path.write_bytes(content)
    result = outcome(lambda: read_labelled(path), DatasetError)
    if isinstance(result, DatasetError):
        assert str(path) in str(result)
    else:
        texts, categories = result
        assert texts and len(texts) == len(categories)
        assert all(t and t == t.strip() for t in texts + categories)


@PROPERTY
@given(
    rows=st.lists(
        st.tuples(CELLS, CELLS).filter(lambda r: r[0].strip() != "" and r[1].strip() != ""),
        min_size=1,
        max_size=8,
    ),
    header=st.sampled_from(
        [["text", "category"], ["category", "text"], ["id", "text", "category"]]
    ),
)
def test_valid_labelled_csv_reads_back_its_rows(
    folder: Path, rows: list[tuple[str, str]], header: list[str]
) -> None:
    """A well-formed CSV (any column order, extra columns) reads back its stripped rows."""
    written = [
        [{"text": text, "category": category}.get(name, "x") for name in header]
        for text, category in rows
    ]
    path = folder / "valid.csv"
    path.write_text(csv_text([header, *written]), encoding="utf-8", newline="")
    assert read_labelled(path) == (
        [text.strip() for text, _ in rows],
        [category.strip() for _, category in rows],
    )


# Labelled fact transcripts (`personalize eval facts`)

LABELLED_ROW: dict[str, Any] = {
    "conversation_id": "c1",
    "customer_id": "u1",
    "messages": [],
    "labels": {
        "allowed": [{"keyword": "bakery", "category": CATEGORIES[0]}],
        "forbidden": [{"text": "chemo", "reason": REASONS[0]}],
    },
}


@PROPERTY
@given(
    lines=st.lists(
        JSON_VALUES.map(dumps)
        | near_valid(LABELLED_ROW).map(lambda change: dumps(change[0]))
        | st.just(dumps(LABELLED_ROW))
        | st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=30).map(
            str.encode
        ),
        max_size=5,
    )
)
def test_labelled_transcripts_load_or_raise_invalid_labels(
    folder: Path, lines: list[bytes]
) -> None:
    """Any lines (lone surrogates make some of them bad UTF-8): labels, or InvalidLabels
    naming the file."""
    path = folder / "labelled.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = outcome(lambda: load_labels(path), InvalidLabels)
    if isinstance(result, InvalidLabels):
        assert str(path) in str(result)
    else:
        assert all(isinstance(item, Labelled) for item in result)


# Labelled search queries (bench/search evaluation)


@PROPERTY
@given(
    raw=st.binary(max_size=100)
    | JSON_VALUES.map(dumps)
    | near_valid([{"query": "decaf", "expected": ["u1", "u2"]}]).map(
        lambda change: dumps(change[0])
    )
)
def test_labelled_queries_load_or_raise_engine_error(folder: Path, raw: bytes) -> None:
    """Any file content: queries, or an EngineError naming the file."""
    path = folder / "queries.json"
    path.write_bytes(raw)
    result = outcome(lambda: load_queries(path), EngineError)
    if isinstance(result, EngineError):
        assert str(path) in str(result)
    else:
        assert all(isinstance(query, LabelledQuery) for query in result)


# Regressions: what escaped as a traceback before.


def test_labelled_csv_that_is_not_utf8_raises_dataset_error(tmp_path: Path) -> None:
    """A Latin-1 CSV (it escaped as UnicodeDecodeError, a traceback from the CLI)."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"text,category\ncaf\xe9,drinks\n")
    with pytest.raises(DatasetError):
        read_labelled(path)


def test_labelled_csv_with_a_huge_field_raises_dataset_error(tmp_path: Path) -> None:
    """A field over csv's 131072-character limit (it escaped as csv.Error)."""
    path = tmp_path / "huge.csv"
    path.write_text("text,category\n" + "x" * 200_000 + ",y\n", encoding="utf-8")
    with pytest.raises(DatasetError):
        read_labelled(path)


def test_labelled_transcripts_not_utf8_raise_invalid_labels(tmp_path: Path) -> None:
    """Not UTF-8 (read_text was outside the try)."""
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"conversation_id": "caf\xe9"}\n')
    with pytest.raises(InvalidLabels):
        load_labels(path)


def test_labelled_transcripts_nested_too_deeply_raise_invalid_labels(tmp_path: Path) -> None:
    """Nested too deeply for json.loads (RecursionError escaped)."""
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"[" * 100_000 + b"\n")
    with pytest.raises(InvalidLabels):
        load_labels(path)


@pytest.mark.parametrize(
    "labels",
    [
        {"forbidden": [{"text": "chemo", "reason": ["health"]}]},
        {"allowed": [{"keyword": "bakery", "category": {"name": "business"}}]},
    ],
    ids=["reason-list", "category-object"],
)
def test_labelled_transcripts_with_unhashable_labels_raise_invalid_labels(
    tmp_path: Path, labels: dict[str, Any]
) -> None:
    """A list or object where a label name goes (TypeError escaped)."""
    path = tmp_path / "labels.jsonl"
    path.write_bytes(dumps(LABELLED_ROW | {"labels": labels}))
    with pytest.raises(InvalidLabels):
        load_labels(path)


def test_labelled_queries_nested_too_deeply_raise_engine_error(tmp_path: Path) -> None:
    """Nested too deeply for json.loads (RecursionError escaped)."""
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000)
    with pytest.raises(EngineError):
        load_queries(path)


def test_a_spreadsheets_byte_order_mark_is_not_part_of_the_header(tmp_path: Path) -> None:
    """Excel writes UTF-8 CSVs with a BOM; the first column is still `text`."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbftext,category\nhow much is it,pricing\n")
    assert read_labelled(path) == (["how much is it"], ["pricing"])
