"""Keeping the index in step with the database: build, rebuild, sync, catch-up, verify, hooks.

The database is the source of truth; the index is a rebuildable cache fed from the
`search_change` log (appended by portal.journal in the writing transaction). There is one
writer path, `_write_batches`, under a host-wide lock taken with a timeout: whoever cannot
have it within the timeout leaves the work to the next sync (nothing is lost, the log is in
the database).
"""
from __future__ import annotations

import gc
import logging
import os
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from whoosh.index import LockError
from whoosh.reading import TermNotFound

from ..database import _immediate
from ..domain.visibility import public_state
from ..extensions import db
from ..models import SearchChange
from . import store
from .whoosh_compat import BulkWriter, is_segment, raw_postings
from .documents import MODELS, PAGE, affected, documents_for, iter_documents, load, ts

log = logging.getLogger(__name__)

BATCH = 2000  # change-log rows applied per Whoosh commit
CATCHUP_BATCH = 200  # …when a public request catches up within its time budget


class InjectedFailure(RuntimeError):
    """Raised by the test-only SEARCH_FAIL_RATE setting to simulate a failed index write."""


def _now() -> datetime:
    from .. import clock
    return clock.now()


@contextmanager
def read_session():
    """A separate, read-only session: never BEGIN IMMEDIATE, even when called from inside a
    write_transaction()'s commit (the after-commit hook), so syncing never holds the write lock."""
    token = _immediate.set(False)
    try:
        with Session(db.engine) as session:
            yield session
    finally:
        _immediate.reset(token)


def max_change(session: Session) -> int:
    return session.execute(select(func.max(SearchChange.id))).scalar() or 0


def change_key(kind: str, record_id: int, at) -> str:
    """What a change-log row holds, as stored with the index (store.LAST_CHANGE_KEY)."""
    return f"{kind}:{record_id}:{at.isoformat() if at is not None else ''}"


def key_of(session: Session, change_id: int) -> str:
    """The key of change `change_id` in this database ("" when there is no such row)."""
    row = session.execute(select(SearchChange.record_kind, SearchChange.record_id, SearchChange.at)
                          .where(SearchChange.id == change_id)).first()
    return change_key(*row) if row is not None else ""


def another_database(session: Session, ix) -> bool:
    """True when this index was not made from this database's change log: the log ends before the
    index's last change, or its row with that id holds another change (a host's instance folder
    pointed at another database, or a database restored or replaced under it)."""
    last = store.last_applied(ix)
    if max_change(session) < last:
        return True
    known = store.last_key(ix)
    return bool(last) and known is not None and known != key_of(session, last)


def open_index():
    """The live index; built from the database first if there is none yet (or it was made by an
    older schema version: the outdated generations are then removed)."""
    return store.open_live(_first_build)


def _first_build(base: Path) -> str:
    gen = _build(base)
    _drop_other_generations(base, gen)
    return gen


BUILD_CHUNK = 20_000  # documents per segment written by a rebuild (bounded memory, sorted in memory)


def build_procs(procs: int | None = None) -> int:
    """Writer processes of a full build: `procs` if given, else SEARCH_BUILD_PROCS."""
    return max(1, int(procs or current_app.config.get("SEARCH_BUILD_PROCS", 1) or 1))


def _build_writer(ix, procs: int):
    """A writer for a full build: one BulkWriter (whoosh_compat), or Whoosh's multi-process writer
    with procs > 1 (its children use Whoosh's stock writer: more CPU for the same wall time here)."""
    if procs > 1:
        return ix.writer(procs=procs, multisegment=True, limitmb=512)
    return BulkWriter(ix)


@contextmanager
def _collected_per_segment():
    """Automatic garbage collection off (the caller collects per segment), restored after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(base: Path, now: datetime | None = None, stats: dict | None = None, procs: int | None = None) -> str:
    """Build a complete index generation from the database; returns its name (now live).

    Writes one segment per BUILD_CHUNK documents (no merging: merging re-writes every posting
    in Python), so memory stays bounded and postings are sorted in memory, never spilled.

    Python's automatic garbage collection is paused meanwhile and run once per segment instead:
    with a segment's postings in memory (hundreds of thousands of containers) each automatic
    full collection rescans them all, which cost about a fifth of the build's CPU time. Memory
    stays bounded the same way (cycles left by a chunk's records are collected after it)."""
    now = now or _now()
    procs = build_procs(procs)
    gen = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{random.randrange(16 ** 6):06x}"
    path = base / gen
    path.mkdir(parents=True)
    ix = store.create(path)
    count = 0
    with read_session() as session, _collected_per_segment():
        last = max_change(session)  # read first: later changes get re-applied by sync (idempotent)
        writer = None
        try:
            for doc in iter_documents(session, now):
                if writer is None:
                    writer = _build_writer(ix, procs)
                writer.add_document(**doc)
                count += 1
                if count % BUILD_CHUNK == 0:
                    writer.commit(merge=False)
                    writer = None
                    gc.collect()
            if writer is not None:
                writer.commit(merge=False)
                writer = None
            store.write_last(path, last, key_of(session, last))
            store.write_purged(path, ts(now))  # ended windows were never added
        except BaseException:
            if writer is not None:
                writer.cancel()
            shutil.rmtree(path, ignore_errors=True)
            raise
    if stats is not None:
        stats["documents"] = count
    store.switch(base, gen)
    return gen


def rebuild(procs: int | None = None) -> dict:
    """Build a new generation beside the live one, switch atomically, drop the old ones.

    `procs`: writer processes (default SEARCH_BUILD_PROCS).

    Returns what it did, with the build's rate (documents written per second of wall clock and
    of this process's CPU time, children included)."""
    base = store.root()
    started, cpu_started = time.monotonic(), _cpu()
    stats: dict = {}
    with store.file_lock(base / "rebuild.lock"):
        old = store.current_gen(base)
        gen = _build(base, stats=stats, procs=procs)
        built, built_cpu = time.monotonic() - started, _cpu() - cpu_started
        _drop_other_generations(base, gen)
    applied = sync()
    ix = open_index()
    with ix.searcher() as s:
        count = s.doc_count()
    written = stats.get("documents", count)
    return {"generation": gen, "replaced": old, "documents": count, "seconds": round(time.monotonic() - started, 2),
            "build_seconds": round(built, 2), "build_cpu_seconds": round(built_cpu, 2), "written": written,
            "docs_per_second": round(written / built) if built else None,
            "docs_per_cpu_second": round(written / built_cpu) if built_cpu else None, "synced": applied,
            "procs": build_procs(procs)}


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _drop_other_generations(base: Path, keep: str) -> None:
    for child in base.iterdir():
        if child.is_dir() and child.name.startswith("gen-") and child.name != keep:
            store.forget(child)
            shutil.rmtree(child, ignore_errors=True)


def _ended_keys(ix, since: int, until: int) -> set[tuple[str, int]]:
    """(kind, id) of the live documents whose public window ended in (since, until]."""
    out: set[tuple[str, int]] = set()
    with ix.reader() as reader:
        leaves = [reader] if reader.is_atomic() else [leaf for leaf, _ in reader.leaf_readers()]
        for leaf in leaves:
            if leaf.doc_count_all() == 0 or not is_segment(leaf):
                continue
            limit = leaf.schema["hide_at"].to_bytes(until)
            for fname, tbytes in leaf.terms_from("hide_at", since + 1):
                if fname != "hide_at" or tbytes[:1] != b"\x00" or tbytes > limit:
                    break
                for docnum in raw_postings(leaf, "hide_at", tbytes):
                    if not leaf.is_deleted(docnum):
                        kind, rid = leaf.stored_fields(docnum)["key"].split(":")
                        out.add((kind, int(rid)))
    return out


def _apply(writer, session: Session, keys, now: datetime) -> None:
    """Re-write the documents of `keys`: the old versions deleted through one searcher (Whoosh's
    update_document opens a searcher per document), the public ones added back."""
    by_kind: dict[str, list[int]] = {}
    for kind, rid in keys:
        by_kind.setdefault(kind, []).append(rid)
    with writer.searcher() as searcher:
        reader = searcher.reader()
        for kind, rids in by_kind.items():
            for rid in rids:
                try:
                    docnums = list(reader.postings("key", f"{kind}:{rid}").all_ids())
                except TermNotFound:
                    continue
                for docnum in docnums:
                    writer.delete_document(docnum)
    for kind, rids in sorted(by_kind.items()):
        for start in range(0, len(rids), PAGE):
            chunk = sorted(rids)[start:start + PAGE]
            for _rid, doc in documents_for(session, kind, load(session, kind, chunk), now):
                if doc is not None:
                    writer.add_document(**doc)


def sync(timeout: float | None = None, now: datetime | None = None, budget: float | None = None) -> int:
    """Apply the change log to the index in order; returns how many changes were applied.

    One writer at a time (a host-wide lock, waited for up to `timeout` seconds; default
    SEARCH_LOCK_TIMEOUT). Each change re-reads its record and applies the visibility rule
    (index if public, delete otherwise); documents whose public window ended since the last
    purge are deleted on the way (once: PURGED_UNTIL remembers how far). With `budget`
    (seconds), stops after the batch that used it up and leaves the rest to the next sync.
    """
    if timeout is None:
        timeout = float(current_app.config.get("SEARCH_LOCK_TIMEOUT", 10))
    started = time.monotonic()
    now = now or _now()
    ix = open_index()
    applied = 0
    needs_rebuild = False
    batch = BATCH if budget is None else CATCHUP_BATCH
    with store.file_lock(store.root() / "sync.lock", timeout) as got:
        if not got:
            log.info("search index busy; leaving the change log to the next sync")
            return 0
        with read_session() as session:  # a snapshot taken under the lock
            if another_database(session, ix):
                needs_rebuild = True
            while not needs_rebuild:
                last = store.last_applied(ix)
                changes = session.execute(select(SearchChange.id, SearchChange.record_kind, SearchChange.record_id,
                                                 SearchChange.at)
                                          .where(SearchChange.id > last).order_by(SearchChange.id)
                                          .limit(batch)).all()
                purged = store.purged_until(ix)
                ended = _ended_keys(ix, purged, ts(now)) if ts(now) > purged else set()
                if not changes and not ended:
                    break
                try:
                    writer = BulkWriter(ix, timeout=timeout)
                except LockError:
                    log.info("search index writer busy; leaving changes after %s to the next sync", last)
                    break
                try:
                    keys = set()
                    # Public windows that have ended: the documents go (re-evaluated: none is public
                    # now), and those that depend on them follow (an entity's "has publications").
                    for kind, rid in sorted(ended | {(kind, rid) for _id, kind, rid, _at in changes}):
                        keys |= affected(session, kind, rid)
                    _apply(writer, session, keys, now)
                    rate = float(current_app.config.get("SEARCH_FAIL_RATE", 0) or 0)
                    if rate and random.random() < rate:
                        raise InjectedFailure("injected index write failure")
                    writer.commit(merge=budget is None)
                except BaseException:
                    writer.cancel()
                    raise
                if changes:
                    change_id, kind, rid, at = changes[-1]
                    store.write_last(ix.storage.folder, change_id, change_key(kind, rid, at))
                if ts(now) > purged:
                    store.write_purged(ix.storage.folder, ts(now))
                applied += len(changes)
                session.expunge_all()
                if len(changes) < batch:
                    break
                if budget is not None and time.monotonic() - started >= budget:
                    log.info("search catch-up stopped after %.2f s; %s change(s) applied, the rest next time",
                             time.monotonic() - started, applied)
                    break
    if needs_rebuild:
        if budget is not None:
            log.warning("search index was made from another database's change log: run `search rebuild`")
        else:
            rebuild()
    return applied


def behind_by() -> int:
    """How many change-log rows this host's index has not applied yet."""
    ix = open_index()
    with read_session() as session:
        last = store.last_applied(ix)
        return session.execute(select(func.count()).select_from(SearchChange)
                               .where(SearchChange.id > last)).scalar() or 0


def is_behind() -> bool:
    ix = open_index()
    with read_session() as session:
        return max_change(session) > store.last_applied(ix)


def catch_up() -> int:
    """Before answering a public query: apply pending changes, for at most SEARCH_CATCHUP_SECONDS.

    Never fails the request: the answer is re-checked against the database anyway, and the
    after-commit hook or `search sync` finishes what is left.
    """
    budget = float(current_app.config.get("SEARCH_CATCHUP_SECONDS", 1.0))
    if budget <= 0:
        return 0
    try:
        if not is_behind():
            return 0
        return sync(timeout=min(0.5, budget), budget=budget)
    except Exception:
        log.exception("catch-up sync before query failed")
        return 0


def pending_keys(limit: int = 5000) -> set[tuple[str, int]]:
    """Documents that pending (unapplied) changes may alter: the index is stale for these."""
    ix = open_index()
    with read_session() as session:
        rows = session.execute(select(SearchChange.record_kind, SearchChange.record_id)
                               .where(SearchChange.id > store.last_applied(ix)).order_by(SearchChange.id)
                               .limit(limit)).all()
        out: set[tuple[str, int]] = set()
        for kind, rid in rows:
            out |= affected(session, kind, rid)
    return out


@dataclass
class Difference:
    key: str
    problem: str  # "missing" (public, not in index) / "extra" (in index, not public) / "stale" (content differs)

    def __str__(self):
        return f"{self.problem}\t{self.key}"


def verify(now: datetime | None = None) -> list[Difference]:
    """Differences between the index and what the visibility rule allows at `now`."""
    now = now or _now()
    now_ts = ts(now)
    ix = open_index()
    indexed: dict[str, str] = {}
    with ix.searcher() as s:
        for fields_ in s.all_stored_fields():
            if fields_["show_from"] <= now_ts < fields_["hide_at"]:
                indexed[fields_["key"]] = fields_.get("stamp")
    expected: dict[str, str] = {}
    with read_session() as session:
        for doc in iter_documents(session, now):
            if not doc["show_from"] <= now_ts < doc["hide_at"]:
                continue
            kind, rid = doc["kind"], doc["rid"]
            if kind != "entity":  # the window must agree with the rule itself
                record = session.get(MODELS[kind], rid)
                if not public_state(kind, record, now).is_visible:
                    continue
            expected[doc["key"]] = doc["stamp"]
    out = [Difference(k, "missing") for k in expected if k not in indexed]
    out += [Difference(k, "extra") for k in indexed if k not in expected]
    out += [Difference(k, "stale") for k in expected if k in indexed and indexed[k] != expected[k]]
    return sorted(out, key=lambda d: (d.key, d.problem))


# After-commit hook: the request (or command) that wrote applies the log.

def _after_flush(session, _ctx):
    if any(isinstance(obj, SearchChange) for obj in session.new):
        session.info["search_dirty"] = True


def _after_commit(session):
    if not session.info.pop("search_dirty", False):
        return
    if not has_app_context() or not current_app.config.get("SEARCH_SYNC_ON_COMMIT", True):
        return
    try:
        sync(timeout=float(current_app.config.get("SEARCH_LOCK_TIMEOUT", 10)))
    except Exception:  # the write succeeded; the next sync catches up from the log
        log.exception("search sync after commit failed; the next sync will catch up")


def _after_rollback(session, _transaction):
    session.info.pop("search_dirty", None)


def init_app(app) -> None:
    """Install the after-commit hooks (called by create_app; idempotent across apps)."""
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_flush", _after_flush)
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_soft_rollback", _after_rollback)
    app.extensions["portal.search"] = True

