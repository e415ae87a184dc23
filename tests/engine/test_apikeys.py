"""API keys: shown once, stored hashed, checked, revoked."""

import pytest
from sqlalchemy import select

from engine.apikeys import InvalidScope, create_key, revoke_key, verify_key
from engine.db import Database
from engine.models import ApiKey


def test_key_verifies_and_is_stored_hashed(db: Database) -> None:
    with db.write() as session:
        identity, plaintext = create_key(session, name="widget", scopes=["ingest"])
    with db.read() as session:
        found = verify_key(session, presented=plaintext)
        stored = session.scalars(select(ApiKey)).one()
    assert found is not None and found.id == identity.id and found.scopes == {"ingest"}
    assert plaintext not in (stored.key_hash, stored.prefix, stored.name)
    assert plaintext.split("_", 2)[2] not in stored.key_hash  # the secret may hold "_"


def test_wrong_and_malformed_keys_fail(db: Database) -> None:
    with db.write() as session:
        _, plaintext = create_key(session, name="widget", scopes=["ingest"])
    with db.read() as session:
        # One character changed (never to itself: a key may already end in "x").
        changed = plaintext[:-1] + ("y" if plaintext.endswith("x") else "x")
        assert verify_key(session, presented=changed) is None
        assert verify_key(session, presented="not-a-key") is None
        assert verify_key(session, presented="") is None


def test_revoked_key_fails(db: Database) -> None:
    with db.write() as session:
        _, plaintext = create_key(session, name="widget", scopes=["ingest"])
    with db.write() as session:
        revoke_key(session, prefix=plaintext.split("_")[1])
    with db.read() as session:
        assert verify_key(session, presented=plaintext) is None


def test_admin_holds_every_scope(db: Database) -> None:
    with db.write() as session:
        admin, _ = create_key(session, name="owner", scopes=["admin"])
        marketer, _ = create_key(session, name="team", scopes=["marketer"])
    assert admin.allows("ingest") and admin.allows("marketer")
    assert marketer.allows("marketer") and not marketer.allows("ingest")


@pytest.mark.parametrize("scopes", [[], ["superuser"], ["ingest", "root"]])
def test_unknown_scopes_are_refused(db: Database, scopes: list[str]) -> None:
    with pytest.raises(InvalidScope), db.write() as session:
        create_key(session, name="x", scopes=scopes)
