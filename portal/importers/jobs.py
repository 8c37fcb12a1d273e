"""Uploads awaiting confirmation and imports running as jobs, kept in the database (SPEC §11).

    job = store_upload(kind, data, filename, department, user, rows)   # at preview (prunes old ones)
    job, started = start(token, user, accept_warnings=…, publish=…)    # at confirm: claims the job
    run(job_id, owner)           # the import: in the request (small files) or in a background thread
    resume_if_stale(job)         # whoever reports on a job restarts it when its worker died

Any host can do any step: the file, the state and the progress are rows of `upload_job`. A running
job's owner ("host:pid:nonce") writes a heartbeat (with its progress) every HEARTBEAT_SECONDS from
a separate connection. If the worker is recycled or killed mid-import, its transaction rolls back
(nothing written) and the heartbeat stops; after IMPORT_JOB_STALE_SECONDS the next request about the
job claims it (one atomic UPDATE, so only one claimant wins) and runs it again. The import and the
job's change to `done` commit in one transaction, so the page never reports an import that did not
happen nor misses one that did.

On SQLite the import holds the database's only write lock, so neither heartbeat nor claim can be
written while it runs (both give up after a short wait instead of queueing behind it): a job whose
import is writing is therefore never claimed twice; its progress shows again when it commits.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import undefer

from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import Department, UploadJob, User
from .service import ImportRejected, commit

log = logging.getLogger(__name__)

KEEP = timedelta(days=2)  # an upload nobody confirmed within this is deleted (preview again)
HEARTBEAT_SECONDS = 2.0
SHORT_LOCK_WAIT_MS = 200  # SQLite: how long a heartbeat or claim waits for the write lock
LIVE = ("running",)
MAX_PROBLEMS = 200  # problems of a rejected import kept for its page


class JobLost(Exception):
    """Another worker claimed this job (ours was taken for dead): our import must not commit."""


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:120]


def is_stale(job: UploadJob, now: datetime | None = None) -> bool:
    if job.state not in LIVE:
        return False
    limit = (now or utcnow()) - timedelta(seconds=float(current_app.config["IMPORT_JOB_STALE_SECONDS"]))
    return job.heartbeat_at is None or job.heartbeat_at < limit


# ---------------------------------------------------------------- preview: store the file

def prune(now: datetime) -> int:
    """Delete uploads past their expiry that are not being imported right now."""
    with write_transaction() as session:
        result = session.execute(delete(UploadJob).where(UploadJob.expires_at < now, UploadJob.state.not_in(LIVE)))
    return result.rowcount or 0


def store_upload(kind: str, data: bytes, filename: str, sha256: str, department: Department, user,
                 rows: int) -> UploadJob:
    """Keep an uploaded file until it is confirmed (or expires); returns its row (token names it)."""
    now = utcnow()
    prune(now)
    with write_transaction() as session:
        job = UploadJob(token=secrets.token_hex(16), kind=kind, department_id=department.id, user_id=user.id,
                        filename=filename[:255], sha256=sha256, size=len(data), row_count=rows, data=data,
                        created_at=now, expires_at=now + KEEP, state="previewed", total=rows)
        session.add(job)
    return job


def find(token: str, user) -> UploadJob | None:
    """The user's own upload (nobody else's: a token seen elsewhere gives nothing away)."""
    if not isinstance(token, str) or len(token) != 32:
        return None
    return db.session.execute(select(UploadJob).where(UploadJob.token == token, UploadJob.user_id == user.id)) \
        .scalar()


def open_jobs(user, limit: int = 10) -> list[UploadJob]:
    """The user's imports still running, or ended without importing (not yet uploaded again), newest first."""
    return db.session.execute(select(UploadJob).where(UploadJob.user_id == user.id,
                                                      UploadJob.state.in_(("running", "rejected", "failed")))
                              .order_by(UploadJob.id.desc()).limit(limit)).scalars().all()


# ---------------------------------------------------------------- confirm: claim and run

def start(job: UploadJob, *, accept_warnings: bool, publish: bool) -> tuple[str | None, bool]:
    """Claim a previewed (or finished: confirm again) upload for importing.

    Returns (owner, True) when this caller must now run it, (None, False) when it is already running
    (a double submit; its page shows it)."""
    owner = new_owner()
    now = utcnow()
    with write_transaction() as session:
        result = session.execute(
            update(UploadJob).where(UploadJob.id == job.id, UploadJob.state.not_in(LIVE))
            .values(state="running", owner=owner, heartbeat_at=now, attempts=UploadJob.attempts + 1,
                    accept_warnings=accept_warnings, publish=publish, done=0, total=UploadJob.row_count,
                    batch_id=None, message=None, problems=None, finished_at=None,
                    expires_at=now + KEEP))
    if result.rowcount != 1:
        return None, False
    return owner, True


def resume_if_stale(job: UploadJob) -> bool:
    """If the job's worker died (no heartbeat for IMPORT_JOB_STALE_SECONDS), claim it and run it again
    in a background thread of this worker. True when this call restarted it."""
    now = utcnow()
    if not is_stale(job, now):
        return False
    limit = now - timedelta(seconds=float(current_app.config["IMPORT_JOB_STALE_SECONDS"]))
    owner = new_owner()
    try:
        with _short_transaction() as conn:
            result = conn.execute(
                update(UploadJob).where(UploadJob.id == job.id, UploadJob.state.in_(LIVE),
                                        or_(UploadJob.heartbeat_at.is_(None), UploadJob.heartbeat_at < limit))
                .values(owner=owner, heartbeat_at=now, attempts=UploadJob.attempts + 1, done=0))
            claimed = result.rowcount == 1
    except OperationalError:
        return False  # SQLite: the write lock is held (by the import itself, most likely): it is alive
    if claimed:
        log.warning("upload job %s had no heartbeat since %s; restarted by %s", job.id, job.heartbeat_at, owner)
        run_in_background(job.id, owner)
    db.session.expire(job)
    return claimed


def run_in_background(job_id: int, owner: str) -> threading.Thread:
    """Run the import in a thread of this worker, so no request waits for it (and no request
    timeout ends it). Not a daemon: a worker told to stop gracefully finishes it first if it can."""
    app = current_app._get_current_object()

    def target():
        with app.app_context():
            try:
                run(job_id, owner)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name=f"upload-job-{job_id}", daemon=False)
    thread.start()
    return thread


def run(job_id: int, owner: str) -> tuple[str, ImportRejected | None]:
    """Import the job's file (one transaction) and record the outcome.

    Returns the final state ("done", "rejected", "failed"; "lost" if another worker owns the job)
    and, when rejected, the ImportRejected (its preview lists the problems)."""
    job = db.session.execute(select(UploadJob).options(undefer(UploadJob.data))
                             .where(UploadJob.id == job_id)).scalar()
    if job is None or job.owner != owner or job.state not in LIVE:
        return "lost", None
    department = db.session.get(Department, job.department_id)
    actor = db.session.get(User, job.user_id)
    kind, data, filename = job.kind, job.data, job.filename
    accept, publish = job.accept_warnings, job.publish
    db.session.expunge(job)
    beat = _Heartbeat(db.engine, job_id, owner)
    beat.start()

    def finish(batch):
        result = db.session.execute(
            update(UploadJob).where(UploadJob.id == job_id, UploadJob.owner == owner, UploadJob.state.in_(LIVE))
            .values(state="done", batch_id=batch.id, done=batch.row_count, total=batch.row_count,
                    message=batch.message, finished_at=utcnow(), heartbeat_at=utcnow()))
        if result.rowcount != 1:
            raise JobLost(job_id)

    try:
        commit(kind, data, filename, department, actor=actor, accept_warnings=accept, publish=publish,
               progress=beat.progress, before_commit=finish)
        return "done", None
    except ImportRejected as exc:
        problems = [{"row": p.row, "column": p.column, "severity": p.severity, "message": p.message, "fix": p.fix}
                    for p in exc.preview.problems[:MAX_PROBLEMS]]
        return _end(job_id, owner, "rejected", str(exc), problems), exc
    except JobLost:
        log.warning("upload job %s was claimed by another worker; this attempt rolled back", job_id)
        return "lost", None
    except Exception:
        log.exception("upload job %s failed; nothing was written", job_id)
        return _end(job_id, owner, "failed", "导入时发生内部错误，未写入任何数据。请稍后重新确认导入；"
                                              "如仍失败，请联系管理员。", None), None
    finally:
        beat.stop()


def _end(job_id, owner, state, message, problems) -> str:
    db.session.rollback()
    with write_transaction() as session:
        session.execute(update(UploadJob).where(UploadJob.id == job_id, UploadJob.owner == owner,
                                                UploadJob.state.in_(LIVE))
                        .values(state=state, message=message, problems=problems, finished_at=utcnow()))
    return state


# ---------------------------------------------------------------- heartbeat

@contextmanager
def _short_transaction(engine=None, restore_ms: int | None = None):
    """A transaction on its own connection that gives up quickly if SQLite's write lock is taken."""
    if engine is None:
        engine = db.engine
        restore_ms = int(float(current_app.config["SQLITE_BUSY_TIMEOUT"]) * 1000)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute(f"PRAGMA busy_timeout = {SHORT_LOCK_WAIT_MS}")
        try:
            with conn.begin():
                yield conn
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout = {restore_ms}")


class _Heartbeat:
    """Writes `heartbeat_at` (and the rows done so far) every HEARTBEAT_SECONDS from its own thread
    and connection while the job runs, so other hosts see it alive and how far it got."""

    def __init__(self, engine, job_id: int, owner: str):
        self.engine, self.job_id, self.owner = engine, job_id, owner
        self.restore_ms = int(float(current_app.config["SQLITE_BUSY_TIMEOUT"]) * 1000)
        self.done, self.total = 0, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"upload-job-{job_id}-heartbeat", daemon=True)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self):
        while not self._stop.wait(HEARTBEAT_SECONDS):
            values = {"heartbeat_at": utcnow(), "done": self.done}
            if self.total is not None:
                values["total"] = self.total
            try:
                with _short_transaction(self.engine, self.restore_ms) as conn:
                    conn.execute(update(UploadJob).where(UploadJob.id == self.job_id, UploadJob.owner == self.owner,
                                                         UploadJob.state.in_(LIVE)).values(**values))
            except OperationalError:
                pass  # SQLite's write lock is held (by this very import): the next beat tries again
            except Exception:
                log.exception("upload job %s: heartbeat failed", self.job_id)
