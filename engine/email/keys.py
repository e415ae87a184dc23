"""The key that signs unsubscribe and click links: made once, kept in the database, so every
process (API, workers) signs and reads the same links without a setting to manage."""

import secrets

from sqlalchemy import select

from engine.db import Database, insert_ignoring_conflicts
from engine.models import Secret

LINK_KEY = "link_key"


def link_key(db: Database) -> bytes:
    """The link-signing key, made (and committed) on first use; two processes making it at
    once agree on the one stored first."""
    query = select(Secret.value).where(Secret.name == LINK_KEY)
    with db.read() as session:
        value = session.scalar(query)
    if value is None:
        with db.write() as session:
            row = {"name": LINK_KEY, "value": secrets.token_hex(32)}
            insert_ignoring_conflicts(session, Secret, row, key=["name"])
            value = session.scalars(query).one()
    return bytes.fromhex(value)
