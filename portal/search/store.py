"""Index storage: schema, generations, the pointer file, locks, searchers.

Layout of SEARCH_INDEX_DIR:
    CURRENT          name of the live generation (replaced atomically by rebuild)
    gen-<stamp>/     a Whoosh index, plus SCHEMA: the schema version it was made with,
                     LAST_CHANGE: the last change-log id applied to it,
                     LAST_CHANGE_KEY: what that change-log row holds (kind, record, time), so
                     that a log of another database with the same ids is told apart, and
                     PURGED_UNTIL: the time up to which ended public windows were purged
                     (both written after each commit while the sync lock is held)
    sync.lock        one writing process at a time (fcntl)
    rebuild.lock     serialises rebuilds and first-time creation (fcntl)
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from whoosh import fields
from whoosh import index as windex
from whoosh.filedb.filestore import FileStorage

from .analysis import GramField, code_field, title_field

NEVER = 2 ** 62  # hide_at of a document that never stops being public


SCHEMA_VERSION = "3"  # bump when the schema or the analysis changes: older generations are rebuilt


def _scored(field):
    """Give a field a per-document length column: Whoosh's writer looks lengths up for every
    posting, and for a field without the column each lookup is a file-system stat."""
    field.scorable = True
    return field


def _moment(**kwargs):
    # Full precision terms only (shift_step=0): one posting per document, not four.
    return _scored(fields.NUMERIC(int, bits=64, shift_step=0, **kwargs))


def schema() -> fields.Schema:
    return fields.Schema(
        key=_scored(fields.ID(unique=True, stored=True)),
        kind=_scored(fields.ID(stored=True)),
        rid=fields.STORED,
        title=fields.STORED, subtitle=fields.STORED, url=fields.STORED, text=fields.STORED,
        stamp=fields.STORED,
        tgrams=title_field(),
        bgrams=GramField(),
        cgrams=code_field(),
        codes=_scored(fields.KEYWORD(commas=True, lowercase=False)),
        exact=_scored(fields.ID),
        dept=_scored(fields.ID(stored=True)), year=_scored(fields.ID(stored=True)),
        conclusion=_scored(fields.KEYWORD(commas=True, stored=True)),
        category=_scored(fields.KEYWORD(commas=True, stored=True)),
        industry=_scored(fields.ID(stored=True)), published=_scored(fields.ID),
        date=_moment(sortable=True, stored=True),
        ref=_moment(sortable=True, signed=False),  # kind and record id as one number (documents.REF_SHIFT)
        show_from=_moment(stored=True),
        hide_at=_moment(stored=True),
    )


def root() -> Path:
    return Path(current_app.config["SEARCH_INDEX_DIR"])


@contextmanager
def file_lock(path: Path, timeout: float | None = None):
    """An exclusive fcntl lock on `path`; yields False if not had within `timeout` seconds
    (None: wait as long as it takes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        if timeout is None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.02)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_gen(base: Path) -> str | None:
    try:
        name = (base / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name if name and (base / name).is_dir() else None


def switch(base: Path, gen: str) -> None:
    tmp = base / f"CURRENT.{os.getpid()}.tmp"
    tmp.write_text(gen)
    os.replace(tmp, base / "CURRENT")


_ix_cache: dict[str, windex.Index] = {}
_local = threading.local()


def storage(path: str) -> FileStorage:
    # Without mmap: Whoosh copies a memory-mapped segment file into a BytesIO on every open,
    # which made opening a 100 MB index cost seconds.
    return FileStorage(path, supports_mmap=False)


def create(path: Path) -> windex.Index:
    ix = storage(str(path)).create_index(schema())
    (Path(path) / "SCHEMA").write_text(SCHEMA_VERSION)
    return ix


def schema_current(base: Path, gen: str) -> bool:
    try:
        return (base / gen / "SCHEMA").read_text().strip() == SCHEMA_VERSION
    except FileNotFoundError:
        return False


def forget(path: Path) -> None:
    _ix_cache.pop(str(path), None)


def open_gen(base: Path, gen: str) -> windex.Index:
    path = str(base / gen)
    ix = _ix_cache.get(path)
    if ix is None:
        ix = storage(path).open_index()
        _ix_cache[path] = ix
    return ix


def open_live(build) -> windex.Index:
    """The live index; `build(base)` makes a generation when there is none yet or the live one was
    made with another schema version (after an upgrade)."""
    base = root()
    gen = current_gen(base)
    if gen is None or not schema_current(base, gen):
        with file_lock(base / "rebuild.lock"):
            gen = current_gen(base)
            if gen is None or not schema_current(base, gen):  # none yet, or made by an older version
                gen = build(base)
    return open_gen(base, gen)


@contextmanager
def searcher(ix):
    """A per-thread searcher of `ix`, reopened when the index changed (old one closed: no leaked files)."""
    cache = getattr(_local, "searchers", None)
    if cache is None:
        cache = _local.searchers = {}
    s = cache.get(id(ix))
    if s is not None and (s.ix_ref is not ix or ix.latest_generation() != s.reader().generation()):
        s = None
    if s is None:
        for other in cache.values():
            try:
                other.close()
            except Exception:  # already closed
                pass
        cache.clear()
        s = ix.searcher()
        s.ix_ref = ix
        cache[id(ix)] = s
    yield s


def _read_int(folder, name: str) -> int:
    try:
        return int((Path(folder) / name).read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def _write_int(folder, name: str, value: int) -> None:
    path = Path(folder) / name
    tmp = path.with_name(f"{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(str(value))
    os.replace(tmp, path)


def last_applied(ix) -> int:
    """The last change-log id applied to this index generation.

    Kept in a small file written (atomically) right after each successful Whoosh commit:
    if a process dies in between, those changes are simply applied again (idempotent).
    """
    return _read_int(ix.storage.folder, "LAST_CHANGE")


def last_key(ix) -> str | None:
    """LAST_CHANGE_KEY (None in a generation written before it existed)."""
    try:
        return (Path(ix.storage.folder) / "LAST_CHANGE_KEY").read_text()
    except FileNotFoundError:
        return None


def write_last(folder, last: int, key: str) -> None:
    """Record the last change applied and its key (the key first: a crash in between leaves a
    mismatch, which costs a rebuild, never a skipped change)."""
    path = Path(folder) / "LAST_CHANGE_KEY"
    tmp = path.with_name(f"LAST_CHANGE_KEY.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(key)
    os.replace(tmp, path)
    _write_int(folder, "LAST_CHANGE", last)


def purged_until(ix) -> int:
    """Unix time up to which documents whose public window ended have been deleted."""
    return _read_int(ix.storage.folder, "PURGED_UNTIL")


def write_purged(folder, ts: int) -> None:
    _write_int(folder, "PURGED_UNTIL", ts)
