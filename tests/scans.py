"""Looking for a customer everywhere the engine keeps anything: every table and vector payload."""

from sqlalchemy import select

from engine.models import Base
from engine.runtime import Services


def haystack(services: Services) -> tuple[str, str]:
    """Every row of every table, and every vector payload, as lowercase text."""
    with services.db.read() as session:
        rows = [
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in session.execute(select(table)).all()
        ]
    payloads = [repr(hit.payload) for hit in services.store.scroll()]
    return "\n".join(rows).lower(), "\n".join(payloads).lower()
