"""The key that signs unsubscribe and click links: made once, kept in the database, so every
process (API, workers) signs and reads the same links without a setting to manage."""

from engine.db import Database, stored_secret

LINK_KEY = "link_key"


def link_key(db: Database) -> bytes:
    """The link-signing key, made (and committed) on first use."""
    return stored_secret(db, LINK_KEY)
