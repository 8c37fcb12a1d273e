"""Where sign-in back-off state lives, and how many password checks a host runs at once.

Back-off counts (portal/domain/signin.py) are shared by every worker and host: in Redis when
`REDIS_URL` is set, otherwise in the `signin_backoff` table. Each change is one short statement
of its own (an atomic upsert or delete), never inside the records' write transactions and never
under the audit chain's lock.

Password checks cost ~0.2 s of CPU each (argon2). `hash_slot()` lets at most `SIGNIN_HASH_SLOTS`
run at once on one host (lock files in the instance folder, shared by gunicorn's workers); a
sign-in that finds every slot busy is refused at once and asked to retry, so a flood of
sign-ins cannot take the CPU from clerks' work or tie up the workers waiting.
"""
import fcntl
import hashlib
import os
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import case, delete, select

from ..domain.signin import FAILURE_MEMORY, Backoff, backoff
from ..extensions import db
from ..models import SigninBackoff


def _settings():
    config = current_app.config
    return int(config["SIGNIN_FREE_FAILURES"]), int(config["SIGNIN_BACKOFF_MAX_SECONDS"])


class DatabaseBackoff:
    """Back-off counts in the `signin_backoff` table."""

    def state(self, username: str, address: str, now: datetime) -> Backoff:
        row = db.session.execute(select(SigninBackoff.failures, SigninBackoff.last_failure_at)
                                 .where(SigninBackoff.username == username,
                                        SigninBackoff.address == address)).first()
        db.session.rollback()  # end the read at once: this session's next statement may write
        if row is None:
            return Backoff(0, None)
        return backoff(row.failures, row.last_failure_at, now, *_settings())

    def failed(self, username: str, address: str, now: datetime) -> Backoff:
        """Count a failure; return the new state."""
        insert = insert_for(db.session)
        stmt = insert(SigninBackoff).values(username=username, address=address, failures=1, last_failure_at=now)
        forgotten = SigninBackoff.last_failure_at < now - FAILURE_MEMORY
        stmt = stmt.on_conflict_do_update(
            index_elements=[SigninBackoff.username, SigninBackoff.address],
            set_={"failures": case((forgotten, 1), else_=SigninBackoff.failures + 1),
                  "last_failure_at": stmt.excluded.last_failure_at}).returning(SigninBackoff.failures)
        failures = run_alone(stmt)[0][0]
        return backoff(failures, now, now, *_settings())

    def succeeded(self, username: str, address: str) -> None:
        run_alone(delete(SigninBackoff).where(SigninBackoff.username == username,
                                               SigninBackoff.address == address))

    def forget_older_than(self, moment: datetime) -> int:
        return run_alone(delete(SigninBackoff).where(SigninBackoff.last_failure_at < moment)) or 0


class RedisBackoff:
    """Back-off counts in Redis: one hash per account+address that expires a day after its last failure."""

    def __init__(self, url: str, prefix: str):
        self.client = _redis_client(url)
        self.prefix = prefix

    def _key(self, username: str, address: str) -> str:
        # Hashed: user names are typed by strangers and may contain anything.
        digest = hashlib.sha256(f"{username}\n{address}".encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}:signin-backoff:{digest}"

    def state(self, username: str, address: str, now: datetime) -> Backoff:
        failures, last = self.client.hmget(self._key(username, address), "failures", "last")
        if failures is None or last is None:
            return Backoff(0, None)
        last_at = datetime.fromtimestamp(float(last), tz=timezone.utc)
        return backoff(int(failures), last_at, now, *_settings())

    def failed(self, username: str, address: str, now: datetime) -> Backoff:
        """Count a failure; return the new state."""
        key = self._key(username, address)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.hset(key, "last", now.timestamp())
            pipe.expire(key, int(FAILURE_MEMORY.total_seconds()))
            failures = pipe.execute()[0]
        return backoff(int(failures), now, now, *_settings())

    def succeeded(self, username: str, address: str) -> None:
        self.client.delete(self._key(username, address))

    def forget_older_than(self, moment: datetime) -> int:
        return 0  # keys expire by themselves


_REDIS_CLIENTS: dict = {}


def _redis_client(url: str):
    """One client (connection pool) per URL and process."""
    client = _REDIS_CLIENTS.get((url, os.getpid()))
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _REDIS_CLIENTS[(url, os.getpid())] = client
    return client


def backoff_store():
    """The store this app uses: Redis when REDIS_URL is set, else the database."""
    url = current_app.config["REDIS_URL"]
    if url:
        return RedisBackoff(url, current_app.config["RATELIMIT_KEY_PREFIX"])
    return DatabaseBackoff()


def insert_for(session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def run_alone(*statements):
    """Run writing statements as one short transaction of their own (no BEGIN IMMEDIATE, no chain lock).

    On SQLite a transaction whose first statement writes takes the write lock only from then
    until its commit (a millisecond); the busy timeout makes it wait its turn behind a clerk's
    transaction instead of failing. Returns the rows the last statement returned (or its row count).
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("pending changes: sign-in state is written on its own")
    session.rollback()
    try:
        connection = session.connection()
        for statement in statements:
            result = connection.execute(statement)
        outcome = result.all() if result.returns_rows else result.rowcount
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return outcome


@contextmanager
def hash_slot(instance_path: str, slots: int):
    """Yield True while holding one of this host's password-check slots, or False if all are busy."""
    folder = Path(instance_path) / "signin-slots"
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(max(1, slots)):
        fd = os.open(folder / f"{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    yield False


def forget_stale(now: datetime) -> int:
    """Drop back-off rows whose last failure is older than a day (they no longer count)."""
    return backoff_store().forget_older_than(now - FAILURE_MEMORY - timedelta(minutes=1))
