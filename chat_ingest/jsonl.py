"""JSON Lines backfills: every line stored or rejected with its line number, never a crash."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from chat_ingest.errors import InvalidInput
from chat_ingest.schemas import CustomerCreate, OrderCreate, TranscriptCreate, invalid_from
from chat_ingest.service import store_order, store_transcript, upsert_customer
from engine.db import Database
from engine.errors import ConflictError

Kind = Literal["customers", "orders", "transcripts"]
SCHEMAS: dict[Kind, type[BaseModel]] = {
    "customers": CustomerCreate,
    "orders": OrderCreate,
    "transcripts": TranscriptCreate,
}
# Records per transaction: enough to amortize commits, few enough that a kill loses little.
BATCH_SIZE = 200
MAX_ERRORS_KEPT = 1000


@dataclass
class ImportSummary:
    """What an import did: records imported, already known, and rejected (with why), and the
    messages stored cut (over 20,000 characters: their first part is kept)."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    truncated: int = 0
    errors: list[InvalidInput] = field(default_factory=list)
    # Ids of the new customer messages, so a caller can wait until they are processed.
    message_ids: list[str] = field(default_factory=list)

    def reject(self, error: InvalidInput) -> None:
        """Count a rejected line, keeping its error (up to a cap)."""
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)


def parse_line(raw: bytes, *, line: int, schema: type[BaseModel]) -> BaseModel:
    """One JSON Lines line as a validated record, or InvalidInput naming line and field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"not valid UTF-8 (byte {error.start})", field="(line)", line=line
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"not valid JSON: {error.msg} at column {error.colno}", field="(line)", line=line
        ) from None
    except ValueError as error:  # an integer of more than 4300 digits
        raise InvalidInput(f"not valid JSON: {error}", field="(line)", line=line) from None
    except RecursionError:
        raise InvalidInput("not valid JSON: nested too deeply", field="(line)", line=line) from None
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object", field="(line)", line=line)
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise invalid_from(error, line=line) from None


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a file with their 1-based numbers, as raw bytes."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            stripped = raw.strip()
            if stripped:
                yield number, stripped


def count_lines(path: Path) -> int:
    """How many lines a file has (for a progress bar)."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def import_file(
    db: Database,
    *,
    path: Path,
    kind: Kind,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a JSON Lines file of customers, orders or transcripts."""
    summary = ImportSummary()
    batch: list[tuple[int, BaseModel]] = []
    last_line = 0
    for number, raw in iter_lines(path):
        last_line = number
        try:
            batch.append((number, parse_line(raw, line=number, schema=SCHEMAS[kind])))
        except InvalidInput as error:
            summary.reject(error)
        if len(batch) >= BATCH_SIZE:
            _store_batch(db, batch=batch, kind=kind, summary=summary)
            batch = []
            if on_progress:
                on_progress(number)
    if batch:
        _store_batch(db, batch=batch, kind=kind, summary=summary)
    if on_progress:
        on_progress(last_line)
    return summary


def _store_batch(
    db: Database, *, batch: list[tuple[int, BaseModel]], kind: Kind, summary: ImportSummary
) -> None:
    """Store a batch in one transaction; each record in its own savepoint, so one bad record
    is rejected alone and a transcript is stored whole or not at all."""
    with db.write() as session:
        for number, record in batch:
            try:
                with session.begin_nested():
                    new = _store_record(session, record=record, kind=kind, summary=summary)
            except ConflictError as error:
                summary.reject(InvalidInput(str(error), field=error.field, line=number))
                continue
            if new:
                summary.imported += 1
            else:
                summary.duplicates += 1


def _store_record(
    session: Session, *, record: BaseModel, kind: Kind, summary: ImportSummary
) -> bool:
    """Store one validated record; True when something new was stored."""
    if isinstance(record, CustomerCreate):
        return upsert_customer(session, customer=record).created
    if isinstance(record, OrderCreate):
        return not store_order(session, order=record).duplicate
    assert isinstance(record, TranscriptCreate), kind
    result = store_transcript(session, transcript=record)
    summary.truncated += result.truncated
    customer_turns = {m.id for m in record.messages if m.role == "customer"}
    summary.message_ids.extend(i for i in result.new_message_ids if i in customer_turns)
    return not result.duplicate
