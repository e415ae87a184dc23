"""The migrations create the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from engine.db import Database, alembic_config
from engine.models import Base


def test_migration_creates_every_table(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_models_and_migrations_agree(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    db.migrate()
    with db.engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert versions == [head]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database) -> None:
    if not db.is_sqlite:
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
