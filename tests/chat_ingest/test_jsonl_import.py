"""JSON Lines imports: good lines stored, bad lines rejected by line and field, none half-stored."""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from chat_ingest.jsonl import import_file
from engine.db import Database
from engine.models import Customer, Message, Order


def message(
    mid: str, role: str = "customer", text: str = "hello", **changes: Any
) -> dict[str, Any]:
    data = {"id": mid, "role": role, "text": text, "sent_at": "2026-11-01T10:00:00Z"}
    data.update(changes)
    return data


def transcript(cid: str, *messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "customer_id": "u1",
        "source": "chat_widget",
        "messages": list(messages),
    }


def write_lines(path: Path, lines: list[bytes | dict[str, Any]]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            handle.write(b"\n")
    return path


def test_bad_lines_are_rejected_by_line_and_field_and_the_rest_imported(
    db: Database, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "t.jsonl",
        [
            transcript("c1", message("a"), message("b", role="agent")),  # 1 ok
            transcript("c2", message("c", role="system")),  # 2 unknown role
            b'{"conversation_id": "c3", "customer_id": "u1", "messages": [',  # 3 bad JSON
            '{"conversation_id": "caf\xe9"}'.encode("latin-1"),  # 4 bad UTF-8
            transcript("c5", message("e", sent_at="2026-11-01T10:00:00")),  # 5 naive time
            transcript("c6", message("f", text="x" * 20_001)),  # 6 long: kept, cut
            {"conversation_id": "c7", "customer_id": 7, "messages": [message("g")]},  # 7 type
            {"conversation_id": "c8", "messages": [message("h")]},  # 8 missing
            b"",  # 9 blank: skipped
            transcript("c1", message("a"), message("b", role="agent")),  # 10 duplicate
            transcript("c11", message("k")),  # 11 ok
        ],
    )
    summary = import_file(db, path=path, kind="transcripts")
    assert (summary.imported, summary.duplicates, summary.rejected) == (3, 1, 6)
    assert summary.truncated == 1
    where = {(e.line, e.field) for e in summary.errors}
    assert where == {
        (2, "messages[0].role"),
        (3, "(line)"),
        (4, "(line)"),
        (5, "messages[0].sent_at"),
        (7, "customer_id"),
        (8, "customer_id"),
    }
    assert "UTF-8" in next(e.message for e in summary.errors if e.line == 4)
    with db.read() as session:
        stored = set(session.scalars(select(Message.message_id)))
        long = session.scalars(select(Message).where(Message.message_id == "f")).one()
        assert (len(long.text), long.truncated) == (20_000, True)
    assert stored == {"a", "b", "f", "k"}
    assert summary.message_ids == ["a", "f", "k"]


def test_transcript_with_one_bad_message_stores_none_of_it(db: Database, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.jsonl",
        [transcript("c1", message("a"), message("b"), message("c", text=""))],
    )
    summary = import_file(db, path=path, kind="transcripts")
    assert summary.rejected == 1 and summary.errors[0].field == "messages[2].text"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_conflicting_transcript_is_rejected_alone(db: Database, tmp_path: Path) -> None:
    other = transcript("c1", message("a"))
    other["customer_id"] = "someone-else"
    path = write_lines(
        tmp_path / "t.jsonl",
        [transcript("c1", message("x")), other, transcript("c2", message("y"))],
    )
    summary = import_file(db, path=path, kind="transcripts")
    assert (summary.imported, summary.rejected) == (2, 1)
    assert (summary.errors[0].line, summary.errors[0].field) == (2, "conversation_id")


def test_orders_and_customers_import_with_negative_quantity_rejected(
    db: Database, tmp_path: Path
) -> None:
    item = {"sku": "S1", "name": "Beans", "category": "beans", "quantity": 1, "unit_price": 10}
    orders = write_lines(
        tmp_path / "o.jsonl",
        [
            {
                "order_id": "o1",
                "customer_id": "u1",
                "placed_at": "2026-01-01T00:00:00Z",
                "currency": "USD",
                "total": 10,
                "items": [item],
            },
            {
                "order_id": "o2",
                "customer_id": "u1",
                "placed_at": "2026-01-01T00:00:00Z",
                "currency": "USD",
                "total": 10,
                "items": [dict(item, quantity=-1)],
            },
        ],
    )
    customers = write_lines(
        tmp_path / "c.jsonl",
        [
            {"id": "u1", "email": "u1@example.com", "marketing_consent": True, "extra": "ignored"},
            {"id": "u2", "email": "not-an-email"},
        ],
    )
    order_summary = import_file(db, path=orders, kind="orders")
    customer_summary = import_file(db, path=customers, kind="customers")
    assert (order_summary.imported, order_summary.rejected) == (1, 1)
    assert order_summary.errors[0].field == "items[0].quantity"
    assert order_summary.errors[0].line == 2
    # u1 was created as a stub by its order; the customer line fills it in.
    assert (customer_summary.imported, customer_summary.duplicates) == (0, 1)
    assert customer_summary.errors[0].field == "email"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
        customer = session.get(Customer, "u1")
        assert customer is not None and customer.marketing_consent is True


def test_progress_is_reported_up_to_the_last_line(db: Database, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", [{"id": f"u{i}"} for i in range(450)])
    seen: list[int] = []
    summary = import_file(db, path=path, kind="customers", on_progress=seen.append)
    assert summary.imported == 450
    assert seen == sorted(seen) and seen[-1] == 450 and len(seen) >= 3
