"""Alembic environment: runs against the engine handed in, or the configured database."""

from alembic import context
from sqlalchemy import Engine

from engine.models import Base

config = context.config


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is None:
        from engine.db import make_engine
        from engine.settings import Settings

        engine = make_engine(Settings())
    return engine


def run_migrations_online() -> None:
    """Run migrations in a transaction on a live connection."""
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
