"""Database engine, sessions and migrations, for SQLite (embedded) and PostgreSQL."""

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from engine.models import Secret
from engine.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(settings: Settings, *, immediate: bool = False) -> Engine:
    """Build the SQLAlchemy engine; on SQLite, `immediate` engines take the write lock at BEGIN."""
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    settings.personalize_home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    # pysqlite would BEGIN lazily and upgrade to a write lock mid-transaction, which
    # fails at once under a concurrent writer; writers say BEGIN IMMEDIATE and queue
    # on busy_timeout instead. Readers keep a plain BEGIN (WAL lets them run alongside).
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """WAL for concurrent readers, foreign keys on, wait (not fail) on a busy writer, zeros
    over deleted data."""
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # NORMAL in WAL mode never corrupts and never loses a commit on a process crash;
    # only a power cut can take the last commits back.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted and rewritten rows are overwritten with zeros, not just unlinked: an erased
    # customer's words must not linger in free space of the file. Deletes are rare here.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class Database:
    """The SQL store: a session for reading, and a serialized transaction for writing."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = make_engine(settings)
        self.write_engine = make_engine(settings, immediate=True) if self.is_sqlite else self.engine
        self._reader = make_sessionmaker(self.engine)
        self._writer = make_sessionmaker(self.write_engine)
        # SQLite has one writer at a time; queueing our own threads on a lock is cheaper
        # and fairer than letting them spin on SQLITE_BUSY.
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    def migrate(self) -> None:
        """Bring the schema up to the newest migration."""
        migrate(self.write_engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads (no commit)."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self._write_lock, transaction(self._writer) as session:
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.write_engine.dispose()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to the engine; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at the bundled migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration."""
    command.upgrade(alembic_config(engine), "head")


def insert_ignoring(session: Session, model: type[Any], *, key: list[str]) -> Any:
    """An INSERT (for one row or executemany) that skips rows whose `key` already exists."""
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=key)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")  # pragma: no cover


def insert_ignoring_conflicts(
    session: Session, model: type[Any], values: dict[str, Any], *, key: list[str]
) -> bool:
    """INSERT one row unless `key` already exists; True when a row was added."""
    stmt = insert_ignoring(session, model, key=key).values(**values)
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    return session.execute(stmt.returning(model.__table__.c[key[0]])).first() is not None


# Values per `IN (...)` list: well under SQLite's and PostgreSQL's limits on bound parameters.
IN_CHUNK = 1000
Value = TypeVar("Value")


def in_chunks(values: Sequence[Value], size: int = IN_CHUNK) -> Iterator[Sequence[Value]]:
    """The values in slices short enough for one `IN (...)` list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def stored_secret(db: Database, name: str) -> bytes:
    """A key the product made for itself, made (and committed) on first use and kept in the
    database, so every process shares it without a setting to manage; two processes making it
    at once agree on the one stored first."""
    query = select(Secret.value).where(Secret.name == name)
    with db.read() as session:
        value = session.scalar(query)
    if value is None:
        with db.write() as session:
            row = {"name": name, "value": secrets.token_hex(32)}
            insert_ignoring_conflicts(session, Secret, row, key=["name"])
            value = session.scalars(query).one()
    return bytes.fromhex(value)
