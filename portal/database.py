"""Database engine tuning and the write-transaction helper.

SQLite is shared by several gunicorn workers: WAL lets readers run beside one
writer, a busy timeout makes writers wait instead of failing, and write
transactions start with BEGIN IMMEDIATE so two writers can never deadlock by
both upgrading a read lock. Reads keep using deferred transactions.
"""
import contextvars
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from .extensions import db

_immediate = contextvars.ContextVar("sqlite_begin_immediate", default=False)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every engine (SQLite returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class octet_length(FunctionElement):
    """The UTF-8 byte length of a text column (PostgreSQL's octet_length; SQLite before 3.43
    has none: length() of the text as a BLOB counts its bytes)."""

    type = Integer()
    inherit_cache = True


@compiles(octet_length)
def _octet_length_default(element, compiler, **kw):
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(octet_length, "sqlite")
def _octet_length_sqlite(element, compiler, **kw):
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def configure_engine(engine: Engine, busy_timeout: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


@contextmanager
def write_transaction():
    """Run a block as one all-or-nothing write transaction.

    Ends any read transaction first (so SQLite takes the write lock up front),
    commits on success, rolls back on any exception. The BEGIN IMMEDIATE flag is
    cleared before the commit, so after-commit hooks (search sync) that open new
    transactions start ordinary ones.
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("pending changes outside write_transaction()")
    session.rollback()
    token = _immediate.set(True)
    try:
        yield session
        session.flush()
    except BaseException:
        _immediate.reset(token)
        session.rollback()
        raise
    _immediate.reset(token)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
