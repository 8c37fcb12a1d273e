"""Full-text search over public records (the only module that imports Whoosh).

The database is the source of truth; the index is a rebuildable cache fed from
the `search_change` log (appended by portal.journal in the writing transaction).

Layout of SEARCH_INDEX_DIR:
    CURRENT          name of the live generation (replaced atomically by rebuild)
    gen-<stamp>/     a Whoosh index, plus LAST_CHANGE: the last change-log id applied to it
                     (written after each commit while the sync lock is held)
    sync.lock        one syncing process at a time (fcntl)
    rebuild.lock     serialises rebuilds and first-time creation (fcntl)

Chinese analysis: CJK text is indexed as every 1-, 2- and 3-character gram (a brand
fragment of one or two characters is a single term; a longer fragment is the AND of
its overlapping trigrams), Latin letters and digits as words; titles and other text in
separate fields so a match in the title ranks first. Exact codes (USCC, 文号, task and
item codes) are looked up in their own field and, when one matches, are the answer.

Visibility: each document carries the window [show_from, hide_at) in which the
public rule (domain.visibility) allows it; queries exclude documents outside it at `now`
(so a future publication time arriving or a publicity period ending needs no log
entry), and every hit shown is re-checked against the database through
`public_state` before it is rendered, so even a stale index never leaks.
"""
from __future__ import annotations

import fcntl
import hashlib
import heapq
import logging
import os
import random
import re
import shutil
import sys
import threading
import time
import unicodedata
from array import array
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from flask import current_app, has_app_context
from markupsafe import Markup, escape
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from whoosh import fields
from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.filedb.filestore import FileStorage
from whoosh.index import LockError
from whoosh.reading import TermNotFound

from .database import _immediate
from .domain.dates import china_midnight
from .domain.visibility import embargo_lifts_at, public_state
from .extensions import db
from .models import CheckItem, Department, Draw, Entity, Penalty, Plan, Result, SearchChange, Status, Task
from .visibility_sql import public_clause

log = logging.getLogger(__name__)

KINDS = ("plan", "task", "result", "penalty", "item", "entity")
KIND_LABELS = {"plan": "抽查计划", "task": "抽查任务", "result": "检查结果", "penalty": "行政处罚",
               "item": "抽查事项", "entity": "检查对象"}
FACETS = ("kind", "dept", "year", "conclusion", "category")
NEVER = 2 ** 62  # hide_at of a document that never stops being public
BATCH = 2000  # change-log rows applied per Whoosh commit

# ---------------------------------------------------------------------------
# Analysis

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"([{_CJK}]+)|([0-9a-z]+)")
_CODE_JUNK = re.compile(r"[\s\u3000]+")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case: what both documents and queries go through."""
    return unicodedata.normalize("NFKC", text or "").lower()


def runs(text: str):
    """(is_cjk, run, start) for each CJK run or Latin/digit word of normalised text."""
    for m in _RUN.finditer(normalize(text)):
        yield (m.group(1) is not None), m.group(0), m.start()


class CJKTokenizer(Tokenizer):
    """CJK runs → every 1-, 2- and 3-character gram; Latin letters and digits → lower-case words.

    No positions: a fragment of up to three characters is a single term, a longer one
    an AND of its overlapping trigrams (so "鑫达食品" needs 鑫达食 and 达食品).
    """

    def __eq__(self, other):
        return type(self) is type(other)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for is_cjk, run, start in runs(value):
            if is_cjk:
                pieces = [(run[i:i + n], start + i, start + i + n)
                          for n in (1, 2, 3) for i in range(len(run) - n + 1)]
            else:
                pieces = [(run, start, start + len(run))]
            for text, s, e in pieces:
                t.text = text
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = text
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char + s, start_char + e
                pos += 1
                yield t


def grams(run: str) -> list[str]:
    """The index terms a query run must all match (see CJKTokenizer)."""
    if len(run) <= 3:
        return [run]
    return [run[i:i + 3] for i in range(len(run) - 2)]


def _schema() -> fields.Schema:
    grams_analyzer = CJKTokenizer()
    return fields.Schema(
        key=fields.ID(unique=True, stored=True),
        kind=fields.ID(stored=True),
        rid=fields.STORED,
        title=fields.STORED, subtitle=fields.STORED, url=fields.STORED, text=fields.STORED,
        stamp=fields.STORED, last_change=fields.STORED,
        tgrams=fields.TEXT(analyzer=grams_analyzer, phrase=False, field_boost=3.0),
        bgrams=fields.TEXT(analyzer=grams_analyzer, phrase=False),
        codes=fields.KEYWORD(commas=True, lowercase=False),
        exact=fields.ID,
        dept=fields.ID(stored=True), year=fields.ID(stored=True),
        conclusion=fields.KEYWORD(commas=True, stored=True), category=fields.KEYWORD(commas=True, stored=True),
        date=fields.NUMERIC(int, bits=64, shift_step=16, sortable=True, stored=True),
        show_from=fields.NUMERIC(int, bits=64, shift_step=16, stored=True),
        hide_at=fields.NUMERIC(int, bits=64, shift_step=16, stored=True),
    )


def norm_code(text: str) -> str:
    """How codes (USCC, 文号, task and item codes) are compared: NFKC, no spaces, upper case,
    with the usual bracket variants of 文号 unified to 〔〕."""
    value = _CODE_JUNK.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    return value.translate(str.maketrans({"[": "〔", "]": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕",
                                          "［": "〔", "］": "〕"}))


def _exact(text: str) -> str:
    return "".join(normalize(text).split())


# ---------------------------------------------------------------------------
# Index storage: generations, pointer file, locks


def _root() -> Path:
    return Path(current_app.config["SEARCH_INDEX_DIR"])


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _current_gen(root: Path) -> str | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    return name if name and (root / name).is_dir() else None


_ix_cache: dict[str, windex.Index] = {}
_local = threading.local()


def _storage(path: str) -> FileStorage:
    # Without mmap: Whoosh copies a memory-mapped segment file into a BytesIO on every open,
    # which made opening a 100 MB index cost seconds.
    return FileStorage(path, supports_mmap=False)


def _open(root: Path, gen: str) -> windex.Index:
    path = str(root / gen)
    ix = _ix_cache.get(path)
    if ix is None:
        ix = _storage(path).open_index()
        _ix_cache[path] = ix
    return ix


def open_index(create: bool = True) -> windex.Index | None:
    """The live index; built from the database first if there is none yet."""
    root = _root()
    gen = _current_gen(root)
    if gen is None:
        if not create:
            return None
        with _file_lock(root / "rebuild.lock"):
            gen = _current_gen(root)
            if gen is None:
                gen = _build(root)
    return _open(root, gen)


@contextmanager
def _searcher():
    """A per-thread searcher, reopened when the index changed (old one closed: no leaked files)."""
    ix = open_index()
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


def last_applied(ix) -> int:
    """The last change-log id applied to this index generation.

    Kept in a small file written (atomically) right after each successful Whoosh commit:
    if a process dies in between, those changes are simply applied again (idempotent).
    """
    try:
        return int((Path(ix.storage.folder) / "LAST_CHANGE").read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def _write_last(folder, last: int) -> None:
    path = Path(folder) / "LAST_CHANGE"
    tmp = path.with_name(f"LAST_CHANGE.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(str(last))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Documents: what a record looks like in the index


def _ts(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _day_start(day: date) -> int:
    return int(china_midnight(day).timestamp())


def _lifecycle_window(record) -> tuple[int, int] | None:
    """[show_from, hide_at) by the lifecycle part of the rule; None when never public."""
    if record.withheld or record.published_at is None:
        return None
    status = getattr(record.status, "value", record.status)
    if status == Status.PUBLISHED.value:
        return _ts(record.published_at), NEVER
    if status == Status.WITHDRAWN.value and record.withdrawn_at is not None:
        return _ts(record.published_at), _ts(record.withdrawn_at)
    return None


def _window(kind: str, record) -> tuple[int, int] | None:
    if kind == "entity":
        return 0, NEVER
    win = _lifecycle_window(record)
    if win is None:
        return None
    start, end = win
    if kind == "task" and record.surprise:
        start = max(start, _ts(embargo_lifts_at(record)))  # the surprise-task embargo (domain.visibility)
    if kind == "penalty":
        if record.publicity_end is None:
            return None
        end = min(end, _day_start(record.publicity_end + timedelta(days=1)))
        if record.credit_repair_date is not None:
            end = min(end, _day_start(record.credit_repair_date))
    return (start, end) if start < end else None


def _dept_label(dept: Department | None) -> str:
    return (dept.short_name or dept.name) if dept else ""


def _join(*parts) -> str:
    return "\n".join(str(p) for p in parts if p)


def _doc(kind: str, record) -> dict | None:
    """The index document for a record, or None when the rule never lets the public see it."""
    win = _window(kind, record)
    if win is None:
        return None
    show_from, hide_at = win
    doc: dict = {"kind": kind, "rid": record.id, "key": f"{kind}:{record.id}", "show_from": show_from,
                 "hide_at": hide_at, "codes": "", "conclusion": "", "category": "", "year": "", "dept": ""}
    when = getattr(record, "published_at", None)
    if kind == "plan":
        title, dept = record.title, record.department
        doc.update(url=f"/plans/{record.id}", year=str(record.year),
                   text=_join(record.description, "、".join(d.name for d in record.participants)),
                   subtitle=_join(KIND_LABELS[kind], dept.name, f"{record.year}年"))
    elif kind == "task":
        title, dept = record.title, record.department
        plan_title = record.plan.title if record.plan else "临时任务"
        items = "、".join(i.name for i in record.items)
        doc.update(url=f"/tasks/{record.code}", year=str(record.year), codes=norm_code(record.code),
                   text=_join(f"任务编号 {record.code}", plan_title, items, record.description,
                              "、".join(d.name for d in record.departments)),
                   subtitle=_join(KIND_LABELS[kind], dept.name, record.code))
    elif kind == "result":
        ent, task, dept = record.entity, record.task, record.department
        # A withheld or embargoed task is never named, even beside a public result.
        task_public = public_state("task", task, _now()).is_visible
        title = f"{ent.name}（{task.title}）" if task_public else ent.name
        labels = [c.label for c in record.conclusions]
        findings = [_join(f.check_item.name if f.check_item else "", f.text) for f in record.findings]
        doc.update(url=f"/results/{record.id}", year=str(record.formed_date.year),
                   conclusion=",".join(c.code for c in record.conclusions),
                   text=_join("；".join(labels), record.remark, record.follow_up, *findings,
                              f"统一社会信用代码 {ent.uscc}", f"任务编号 {task.code}" if task_public else "",
                              "、".join(i.name for i in task.items)),
                   subtitle=_join(KIND_LABELS[kind], dept.name, record.formed_date.isoformat()))
    elif kind == "penalty":
        dept = record.department
        # A natural person's name is personal data: index the linked entity's name instead.
        party = record.party_name if record.party_kind != "natural_person" else \
            (record.entity.name if record.entity is not None else "")
        title = _join(record.decision_no, party).replace("\n", " ")
        doc.update(url=f"/penalties/{record.id}", year=str(record.decision_date.year),
                   codes=norm_code(record.decision_no), category=",".join(record.categories),
                   text=_join(record.violation_type, record.facts, record.legal_basis,
                              "、".join(record.categories), record.authority,
                              f"统一社会信用代码 {record.entity.uscc}" if record.entity else ""),
                   subtitle=_join(KIND_LABELS[kind], dept.name, record.decision_date.isoformat()))
    elif kind == "item":
        v, dept = record.current, record.department
        title = v.name
        doc.update(url=f"/items?dept={dept.code}#item-{record.code}", year=str(v.effective_from.year),
                   codes=norm_code(record.code),
                   text=_join(f"事项编码 {record.code}", v.target_type, v.content, v.legal_basis, v.method, v.kind),
                   subtitle=_join(KIND_LABELS[kind], dept.name, record.code))
    elif kind == "entity":
        title, dept = record.name, None
        etype = getattr(record.entity_type, "value", record.entity_type)
        # Never the operator name of a 个体工商户 (personal data) nor address/legal representative.
        doc.update(url=f"/entities/{record.uscc}", codes=norm_code(record.uscc),
                   text=_join(f"统一社会信用代码 {record.uscc}", etype, f"行政区划 {record.region_code}",
                              f"行业 {record.industry}" if record.industry else ""),
                   subtitle=_join(KIND_LABELS[kind], etype, record.uscc))
        when = record.created_at
    else:
        return None
    doc["dept"] = dept.code if dept else ""
    doc["title"] = title
    doc["date"] = _ts(when) or 0
    doc["tgrams"] = title
    doc["bgrams"] = doc["text"]
    doc["exact"] = _exact(title)
    doc["stamp"] = hashlib.sha256(repr(sorted((k, v) for k, v in doc.items() if k != "stamp")).encode())\
        .hexdigest()[:16]
    return doc


_MODELS = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty, "item": CheckItem,
           "entity": Entity, "draw": Draw}


def _affected(session: Session, kind: str, rid: int) -> set[tuple[str, int]]:
    """The index documents a change to (kind, rid) may alter."""
    out = set()
    if kind == "draw":
        task_id = session.execute(select(Draw.task_id).where(Draw.id == rid)).scalar()
        return {("task", task_id)} if task_id else set()
    if kind not in _MODELS:
        return out
    out.add((kind, rid))
    if kind == "task":  # its results name it only while it is public
        out.update(("result", i) for i in session.execute(select(Result.id).where(Result.task_id == rid)).scalars())
    if kind == "result":
        task_id = session.execute(select(Result.task_id).where(Result.id == rid)).scalar()
        if task_id:
            out.add(("task", task_id))  # publishing a result lifts a surprise task's embargo
    elif kind == "entity":
        out.update(("result", i) for i in session.execute(select(Result.id).where(Result.entity_id == rid)).scalars())
        out.update(("penalty", i) for i in session.execute(
            select(Penalty.id).where(Penalty.entity_id == rid)).scalars())
    return out


def _apply(writer, session: Session, keys) -> None:
    for kind, rid in sorted(keys):
        record = session.get(_MODELS[kind], rid)
        doc = _doc(kind, record) if record is not None else None
        if doc is None:
            writer.delete_by_term("key", f"{kind}:{rid}")
        else:
            writer.update_document(**doc)


def _all_docs(session: Session):
    for kind in KINDS:
        model = _MODELS[kind]
        for start in range(0, 10 ** 9, 1000):
            rows = session.execute(select(model).order_by(model.id).offset(start).limit(1000)).scalars().all()
            if not rows:
                break
            for record in rows:
                doc = _doc(kind, record)
                if doc is not None:
                    yield doc
            session.expunge_all()


@contextmanager
def _read_session():
    """A separate, read-only session: never BEGIN IMMEDIATE, even when called from inside a
    write_transaction()'s commit (the after-commit hook), so syncing never holds the write lock."""
    token = _immediate.set(False)
    try:
        with Session(db.engine) as session:
            yield session
    finally:
        _immediate.reset(token)


def _max_change(session: Session) -> int:
    return session.execute(select(func.max(SearchChange.id))).scalar() or 0


def _build(root: Path) -> str:
    """Build a complete index generation from the database; returns its name (not yet live)."""
    gen = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{random.randrange(16 ** 6):06x}"
    path = root / gen
    path.mkdir(parents=True)
    ix = _storage(str(path)).create_index(_schema())
    with _read_session() as session:
        last = _max_change(session)  # read first: later changes get re-applied by sync (idempotent)
        writer = ix.writer(limitmb=128)
        try:
            for doc in _all_docs(session):
                writer.add_document(**doc)
            writer.commit()
            _write_last(path, last)
        except BaseException:
            writer.cancel()
            shutil.rmtree(path, ignore_errors=True)
            raise
    _switch(root, gen)
    return gen


def _switch(root: Path, gen: str) -> None:
    tmp = root / f"CURRENT.{os.getpid()}.tmp"
    tmp.write_text(gen)
    os.replace(tmp, root / "CURRENT")


def rebuild() -> dict:
    """Build a new generation beside the live one, switch atomically, drop the old ones."""
    root = _root()
    started = time.monotonic()
    with _file_lock(root / "rebuild.lock"):
        old = _current_gen(root)
        gen = _build(root)
        for child in root.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != gen:
                _ix_cache.pop(str(child), None)
                shutil.rmtree(child, ignore_errors=True)
    applied = sync()
    ix = open_index()
    with ix.searcher() as s:
        count = s.doc_count()
    return {"generation": gen, "replaced": old, "documents": count, "seconds": round(time.monotonic() - started, 2),
            "synced": applied}


# ---------------------------------------------------------------------------
# Change-log consistency


class InjectedFailure(RuntimeError):
    """Raised by the test-only SEARCH_FAIL_RATE setting to simulate a failed index write."""


def _ended_window_terms(ix, now: datetime) -> list[bytes]:
    """hide_at terms (full precision) at or before `now`: documents to purge."""
    out = []
    ts = _ts(now)
    with ix.reader() as reader:
        for leaf, _offset in _leaf_readers(reader):
            field = leaf.schema["hide_at"]
            limit = field.to_bytes(ts)
            for fname, tbytes in leaf._terms.terms_from("hide_at", field.sortable_to_bytes(0)):
                if fname != "hide_at" or tbytes[:1] != b"\x00" or tbytes > limit:
                    break
                out.append(tbytes)
    return sorted(set(out))


def _leaf_readers(reader):
    leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
    return [(leaf, offset) for leaf, offset in leaves if hasattr(leaf, "_terms")]


@contextmanager
def _sync_lock(root: Path, timeout: float):
    """One syncing process per host at a time (held across the Whoosh commit and the
    LAST_CHANGE update, so the two can never interleave with another sync). Yields False
    if the lock could not be had within `timeout` seconds."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "sync.lock", "a+") as fh:
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


def sync(timeout: float | None = None, now: datetime | None = None) -> int:
    """Apply the change log to the index in order; returns how many changes were applied.

    One writer at a time (a host-wide lock, waited for up to `timeout` seconds). If it is
    busy the work is left to the next sync: nothing is lost, the log is in the database.
    Each change re-reads its record and applies the visibility rule (index if public,
    delete otherwise); documents whose public window has ended are purged on the way.
    """
    if timeout is None:
        timeout = float(current_app.config.get("SEARCH_LOCK_TIMEOUT", 10))
    ix = open_index()
    applied = 0
    needs_rebuild = False
    with _sync_lock(_root(), timeout) as got:
        if not got:
            log.info("search index busy; leaving the change log to the next sync")
            return 0
        with _read_session() as session:  # a snapshot taken under the lock
            if _max_change(session) < last_applied(ix):
                needs_rebuild = True  # the log is younger than the index: another database
            while not needs_rebuild:
                last = last_applied(ix)
                changes = session.execute(select(SearchChange.id, SearchChange.record_kind, SearchChange.record_id)
                                          .where(SearchChange.id > last).order_by(SearchChange.id)
                                          .limit(BATCH)).all()
                try:
                    writer = ix.writer(timeout=timeout)
                except LockError:
                    log.info("search index writer busy; leaving changes after %s to the next sync", last)
                    break
                try:
                    keys = set()
                    for _id, kind, rid in changes:
                        keys |= _affected(session, kind, rid)
                    _apply(writer, session, keys)
                    for tbytes in _ended_window_terms(ix, now or _now()):
                        writer.delete_by_term("hide_at", tbytes)  # public windows that have ended
                    rate = float(current_app.config.get("SEARCH_FAIL_RATE", 0) or 0)
                    if rate and random.random() < rate:
                        raise InjectedFailure("injected index write failure")
                    writer.commit()
                except BaseException:
                    writer.cancel()
                    raise
                if changes:
                    _write_last(ix.storage.folder, changes[-1][0])
                applied += len(changes)
                session.expunge_all()
                if len(changes) < BATCH:
                    break
    if needs_rebuild:
        rebuild()
    return applied


def _now() -> datetime:
    from . import clock
    return clock.now()


def is_behind() -> bool:
    ix = open_index()
    with _read_session() as session:
        return _max_change(session) > last_applied(ix)


@dataclass
class Difference:
    key: str
    problem: str  # "missing" (public, not in index) / "extra" (in index, not public) / "stale" (content differs)

    def __str__(self):
        return f"{self.problem}\t{self.key}"


def verify(now: datetime | None = None) -> list[Difference]:
    """Differences between the index and what the visibility rule allows at `now`."""
    now = now or _now()
    ts = _ts(now)
    ix = open_index()
    indexed: dict[str, str] = {}
    with ix.searcher() as s:
        for fields_ in s.all_stored_fields():
            if fields_["show_from"] <= ts < fields_["hide_at"]:
                indexed[fields_["key"]] = fields_.get("stamp")
    expected: dict[str, str] = {}
    with _read_session() as session:
        for kind in KINDS:
            model = _MODELS[kind]
            stmt = select(model).order_by(model.id)
            if kind != "entity":  # entities (the public directory) are always searchable
                stmt = stmt.where(public_clause(kind, now))
            for record in session.execute(stmt).scalars():
                if kind != "entity" and not public_state(kind, record, now).is_visible:
                    continue
                doc = _doc(kind, record)
                if doc is not None:
                    expected[doc["key"]] = doc["stamp"]
            session.expunge_all()
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


def _after_rollback(session):
    session.info.pop("search_dirty", None)


_hooks_installed = False


def install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    event.listen(db.session, "after_flush", _after_flush)
    event.listen(db.session, "after_commit", _after_commit)
    event.listen(db.session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
    _hooks_installed = True


install_hooks()


# ---------------------------------------------------------------------------
# Queries


@dataclass
class Hit:
    kind: str
    id: int
    title: str
    subtitle: str
    url: str
    snippet: Markup
    title_html: Markup
    date: datetime | None
    record: object = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    def as_json(self) -> dict:
        return {"kind": self.kind, "id": self.id, "title": self.title, "subtitle": self.subtitle,
                "url": self.url, "snippet": str(self.snippet),
                "date": self.date.isoformat() if self.date else None}


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchResults:
    q: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    exact: bool = False  # the query was an exact code (USCC, 文号, task or item code)
    terms: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def query_terms(q: str) -> list[str]:
    return [t for t in re.split(r"[\s\u3000]+", (q or "").strip()) if t][:10]


def _token_query(token: str):
    parts = []
    for _is_cjk, run, _start in runs(token):
        terms = grams(run)
        per_field = [wq.And([wq.Term(fn, g) for g in terms]) if len(terms) > 1 else wq.Term(fn, terms[0])
                     for fn in ("tgrams", "bgrams")]
        parts.append(wq.Or(per_field))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def build_query(q: str):
    """AND of the whitespace-separated terms; an exact title or code ranks first."""
    tokens = query_terms(q)
    subs = [s for s in (_token_query(t) for t in tokens) if s is not None]
    if not subs:
        return None
    main = subs[0] if len(subs) == 1 else wq.And(subs)
    return wq.Or([main, wq.Term("exact", _exact(q), boost=50.0)])


def _facet_labels(name: str, values) -> dict[str, str]:
    if name == "kind":
        return dict(KIND_LABELS)
    if name == "dept":
        rows = db.session.execute(select(Department.code, Department.name).where(Department.code.in_(values)))
        return {code: label for code, label in rows}
    if name == "year":
        return {v: f"{v}年" for v in values}
    if name == "conclusion":
        from .models import VocabularyKind, VocabularyTerm
        rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label)
                                  .where(VocabularyTerm.kind == VocabularyKind.CONCLUSION))
        labels = {code: label for code, label in rows}
        return {v: labels.get(v, v) for v in values}
    return {v: v for v in values}


def highlight(text: str, terms: list[str], width: int = 120) -> Markup:
    """An escaped excerpt of `text` around the first match, with matches in <mark>."""
    text = text or ""
    needles = sorted({normalize(t) for t in terms if t.strip()}, key=len, reverse=True)
    hay = normalize(text) if len(normalize(text)) == len(text) else None
    if not needles or hay is None:
        excerpt = text[:width]
        return escape(excerpt + ("…" if len(text) > width else ""))
    spans = []
    for needle in needles:
        for m in re.finditer(re.escape(needle), hay):
            if not any(s < m.end() and m.start() < e for s, e in spans):
                spans.append((m.start(), m.end()))
    spans.sort()
    begin = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(text), begin + width)
    out = Markup("…") if begin else Markup("")
    cursor = begin
    for s, e in spans:
        if s < cursor or e > end:
            continue
        out += escape(text[cursor:s]) + Markup("<mark>") + escape(text[s:e]) + Markup("</mark>")
        cursor = e
    out += escape(text[cursor:end])
    if end < len(text):
        out += Markup("…")
    return out


@dataclass
class IndexAnswer:
    """What the index alone says about a query (before the database re-check)."""

    total: int
    stored: list[dict]
    counts: dict[str, dict[str, int]]
    exact: bool


# The query engine. Whoosh's own collectors score, sort and facet one document at a time in
# Python, far too slow for "有限公司" over a million records. Segments are immutable, so each
# term's postings become a bitset (a Python int) once per segment and stay cached; a query is
# then a few big-int ANDs/ORs, totals and facet counts are popcounts, and only the page of
# hits shown is ordered document by document.

_BITS: OrderedDict = OrderedDict()  # (segment, field, term) → bitset of the segment's postings
_BITS_MAX = 1024  # at 1M documents a bitset is at most 125 KB: ≤ 128 MB per process
_SEG_DATA: dict[tuple, tuple[list, list]] = {}  # segment → (dates, docnums newest first)
_cache_lock = threading.Lock()


def _seg_key(reader) -> tuple:
    # Segment ids are random per segment (and per index generation): a stable cache key.
    return (reader.segment().segment_id(),)


def _date_column(reader) -> list:
    """The segment's `date` column as sortable integers (same order as the dates), read in bulk."""
    n = reader.doc_count_all()
    try:
        col = reader.column_reader("date", translate=False)
        raw = col._dbfile.get(col._basepos, col._fixedlen * col._count)
        values = array(col._typecode, raw)
        if sys.byteorder == "little":
            values.byteswap()  # whoosh writes columns big-endian
        out = values.tolist()
        return out + [col._default] * (n - len(out))
    except Exception:  # another column layout: the slow, general way
        return list(reader.column_reader("date"))


def _ids_to_bits(ids) -> int:
    buf = bytearray()
    for d in ids:
        i = d >> 3
        if i >= len(buf):
            buf.extend(b"\0" * (i - len(buf) + 1 + (len(buf) >> 1)))
        buf[i] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


def _leaf_term_bits(reader, fieldname: str, text: str) -> int:
    key = _seg_key(reader) + (fieldname, text)
    with _cache_lock:
        bits = _BITS.get(key)
        if bits is not None:
            _BITS.move_to_end(key)
            return bits
    try:
        tbytes = reader._text_to_bytes(fieldname, text)
        # Raw postings, deletions included: deletions change, the segment's postings never do.
        matcher = reader._terms.matcher(fieldname, tbytes, reader.schema[fieldname].format, scorer=None)
        bits = _ids_to_bits(matcher.all_ids())
    except (KeyError, TermNotFound):
        bits = 0
    with _cache_lock:
        _BITS[key] = bits
        while len(_BITS) > _BITS_MAX:
            _BITS.popitem(last=False)
    return bits


class _Bits:
    """Bitset algebra over the segments of one searcher (global docnum = offset + local)."""

    def __init__(self, searcher):
        self.searcher = searcher
        # Only real segments (an empty index has an EmptyReader with nothing to search).
        self.leaves = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()
                       if hasattr(sub.reader(), "_terms")]
        live = 0
        for reader, offset in self.leaves:
            n = reader.doc_count_all()
            seg = (1 << n) - 1
            if reader.has_deletions():
                seg &= ~_ids_to_bits(reader._perdoc.deleted_docs())
            live |= seg << offset
        self.live = live

    def term(self, fieldname: str, text: str) -> int:
        out = 0
        for reader, offset in self.leaves:
            bits = _leaf_term_bits(reader, fieldname, text)
            if bits:
                out |= bits << offset
        return out & self.live

    def all_of(self, fieldname: str, texts: list[str]) -> int:
        out = None
        for text in texts:
            bits = self.term(fieldname, text)
            out = bits if out is None else out & bits
            if not out:
                return 0
        return out or 0

    def hidden(self, now: datetime) -> int:
        """Documents outside their public window at `now`: show_from > now or hide_at <= now.

        Walks the full-precision numeric terms from the boundary: both sets are small (sync
        purges ended windows, few records are published ahead of time), so this is cheap.
        """
        ts = _ts(now)
        out = 0
        for reader, offset in self.leaves:
            seg = 0
            show = reader.schema["show_from"]
            for fname, tbytes in reader._terms.terms_from("show_from", show.to_bytes(ts + 1)):
                if fname != "show_from" or tbytes[:1] != b"\x00":
                    break
                seg |= _leaf_term_bits(reader, "show_from", tbytes)
            hide = reader.schema["hide_at"]
            limit = hide.to_bytes(ts)
            for fname, tbytes in reader._terms.terms_from("hide_at", hide.sortable_to_bytes(0)):
                if fname != "hide_at" or tbytes[:1] != b"\x00" or tbytes > limit:
                    break
                seg |= _leaf_term_bits(reader, "hide_at", tbytes)
            if seg:
                out |= seg << offset
        return out

    def docs(self, query) -> int:
        return _ids_to_bits(self.searcher.docs_for_query(query))

    def values(self, fieldname: str) -> list[str]:
        """Every term of a facet field (cached per immutable segment)."""
        out = set()
        for reader, _offset in self.leaves:
            key = _seg_key(reader) + ("__values__", fieldname)
            vals = _SEG_DATA.get(key)
            if vals is None:
                vals = _SEG_DATA[key] = [v.decode() if isinstance(v, bytes) else str(v)
                                         for v in reader.lexicon(fieldname)]
            out.update(vals)
        return sorted(out)

    def dates_for(self, docnums: list[int]) -> dict[int, int]:
        """Date of each docnum (ascending input), read from the per-segment columns."""
        out = {}
        bounds = [(offset, self._seg_data(reader)[0]) for reader, offset in self.leaves]
        i = 0
        for d in docnums:
            while i + 1 < len(bounds) and d >= bounds[i + 1][0]:
                i += 1
            offset, dates = bounds[i]
            out[d] = dates[d - offset]
        return out

    def _seg_data(self, reader):
        key = _seg_key(reader)
        data = _SEG_DATA.get(key)
        if data is None:
            dates = _date_column(reader)
            order = sorted(range(len(dates)), key=dates.__getitem__, reverse=True)
            data = _SEG_DATA[key] = (dates, order)
            if len(_SEG_DATA) > 1024:
                _SEG_DATA.pop(next(iter(_SEG_DATA)))
        return data

    def newest(self, bits: int, count: int, skip: int = 0) -> list[int]:
        """Up to `count` docnums of `bits`, newest first, after skipping `skip`."""
        want = skip + count
        if want <= 0 or not bits:
            return []
        if bits.bit_count() <= 4000:
            dates = self.dates_for(_positions(bits))
            docs = sorted(dates, key=lambda d: (-dates[d], d))
            return docs[skip:want]
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        def stream(dates, order, offset):
            return ((-dates[d], offset + d) for d in order)

        streams = [stream(*self._seg_data(reader), offset) for reader, offset in self.leaves]
        out = []
        for _neg, d in heapq.merge(*streams):
            if d >> 3 < len(data) and data[d >> 3] >> (d & 7) & 1:
                out.append(d)
                if len(out) >= want:
                    break
        return out[skip:]


def _positions(bits: int) -> list[int]:
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    out = []
    for m in _NONZERO.finditer(data):
        i = m.start()
        byte = data[i]
        while byte:
            low = byte & -byte
            out.append(i * 8 + low.bit_length() - 1)
            byte ^= low
    return out


_NONZERO = re.compile(rb"[^\x00]")
SCORE_LIMIT = 300  # tiers this small are ordered by BM25 score (then date), larger ones by date


def search_index(searcher, q: str, *, filters: dict, sort: str, page: int, per_page: int, now: datetime,
                 facets: bool = True) -> IndexAnswer | None:
    """Run a query against an open Whoosh searcher (no Flask, no database: the benchmark uses it too).

    Ranking: exact title, then every term in the title, then elsewhere; within a tier BM25
    (small tiers) and recency. sort="date": newest first.
    """
    terms = query_terms(q)
    if not terms and not filters:
        return None
    b = _Bits(searcher)
    visible = b.live & ~b.hidden(now)
    for name, value in filters.items():
        visible &= b.term(name, str(value))
    code = norm_code(q) if len(terms) == 1 else None
    exact = False
    title_bits = None
    if code and any(ch.isdigit() for ch in code):
        code_bits = b.term("codes", code) & visible
        if code_bits:
            matched, exact = code_bits, True
    if not exact:
        if terms:
            if not any(True for token in terms for _ in runs(token)):
                return None  # punctuation only: nothing to look for
            matched, title_bits = visible, visible
            for token in terms:
                for _is_cjk, run, _start in runs(token):
                    g = grams(run)
                    in_title = b.all_of("tgrams", g)
                    title_bits &= in_title
                    matched &= in_title | b.all_of("bgrams", g)
                    if not matched:
                        break
        else:
            matched = visible
    total = matched.bit_count()
    skip, want = (page - 1) * per_page, per_page
    if sort == "date" or not terms or exact:
        docnums = b.newest(matched, want, skip)
    else:
        exact_bits = b.term("exact", _exact(q)) & matched
        tiers = [exact_bits, (title_bits or 0) & matched & ~exact_bits, matched & ~(title_bits or 0) & ~exact_bits]
        docnums = []
        wquery = build_query(q)
        for tier in tiers:
            size = tier.bit_count()
            if skip >= size:
                skip -= size
                continue
            if size <= SCORE_LIMIT and size > 1:
                docs = _positions(tier)
                scored = searcher.search(wquery, filter=set(docs), limit=None)
                score = {hit.docnum: hit.score for hit in scored}
                dates = b.dates_for(docs)
                ordered = sorted(docs, key=lambda d: (-round(score.get(d, 0.0), 6), -dates[d], d))
                part = ordered[skip:skip + want]
            else:
                part = b.newest(tier, want, skip)
            docnums += part
            want -= len(part)
            skip = 0
            if want <= 0:
                break
    stored = [searcher.stored_fields(d) for d in docnums]
    counts: dict[str, dict[str, int]] = {}
    if facets and total:
        for name in FACETS:
            counts[name] = {}
            for value in b.values(name):
                if value:
                    c = (matched & b.term(name, value)).bit_count()
                    if c:
                        counts[name][value] = c
    elif facets:
        counts = {name: {} for name in FACETS}
    return IndexAnswer(total, stored, counts, exact)


def query(q: str = "", *, filters: dict | None = None, sort: str = "relevance", page: int = 1, per_page: int = 20,
          now: datetime | None = None, facets: bool = True, recheck: bool = True) -> SearchResults:
    """Search public records. `filters` maps a facet name to a value (kind, dept, year, conclusion, category).

    A query that is exactly a USCC, 文号, task or item code returns just that record.
    Every hit is re-checked against the visibility rule in the database before it is returned.
    """
    now = now or _now()
    filters = {k: str(v) for k, v in (filters or {}).items() if k in FACETS and v}
    terms = query_terms(q)
    page = max(1, page)
    if is_behind():
        try:
            sync(timeout=0.5)
        except Exception:
            log.exception("catch-up sync before query failed")
    with _searcher() as s:
        answer = search_index(s, q, filters=filters, sort=sort, page=page, per_page=per_page, now=now,
                              facets=facets)
    if answer is None:
        return SearchResults(q, [], 0, page, per_page, {}, False, terms)
    facet_out: dict[str, list[FacetValue]] = {}
    for name, counts in answer.counts.items():
        labels = _facet_labels(name, list(counts))
        if name == "year":
            order = sorted(counts, reverse=True)
        elif name == "kind":
            order = [k for k in KINDS if k in counts]
        else:
            order = sorted(counts, key=lambda k: (-counts[k], k))
        facet_out[name] = [FacetValue(v, labels.get(v, v), counts[v], filters.get(name) == v) for v in order]
    hits = [_hit(f, terms) for f in answer.stored]
    total = answer.total
    if recheck:
        hits, dropped = _recheck(hits, now)
        total -= dropped
    return SearchResults(q, hits, max(total, 0), page, per_page, facet_out, answer.exact, terms)


def _hit(f: dict, terms: list[str]) -> Hit:
    date_value = datetime.fromtimestamp(f["date"], timezone.utc) if f.get("date") else None
    return Hit(kind=f["kind"], id=int(f["rid"]), title=f["title"], subtitle=f.get("subtitle", ""), url=f["url"],
               snippet=highlight(f.get("text", "").replace("\n", " · "), terms), title_html=highlight(f["title"], terms, width=200),
               date=date_value)


def _recheck(hits: list[Hit], now: datetime) -> tuple[list[Hit], int]:
    """Drop any hit the visibility rule forbids now (the index may be stale)."""
    by_kind: dict[str, list[int]] = {}
    for h in hits:
        by_kind.setdefault(h.kind, []).append(h.id)
    records = {}
    for kind, ids in by_kind.items():
        model = _MODELS[kind]
        for record in db.session.execute(select(model).where(model.id.in_(ids))).scalars():
            records[(kind, record.id)] = record
    kept = []
    for h in hits:
        record = records.get((h.kind, h.id))
        if record is None:
            continue
        if h.kind != "entity" and not public_state(h.kind, record, now).is_visible:
            continue
        h.record = record
        kept.append(h)
    return kept, len(hits) - len(kept)


def exact_target(q: str, now: datetime | None = None) -> str | None:
    """The URL of the one record an exact USCC, 文号 or task code names (public records only)."""
    code = norm_code(q)
    if not code or len(query_terms(q)) != 1:
        return None
    now = now or _now()
    uscc = db.session.execute(select(Entity.uscc).where(func.upper(Entity.uscc) == code)).scalar()
    if uscc:
        return f"/entities/{uscc}"
    task_code = db.session.execute(select(Task.code).where(Task.code == code, public_clause("task", now))).scalar()
    if task_code:
        return f"/tasks/{task_code}"
    res = query(q, filters={"kind": "penalty"}, now=now, facets=False, per_page=2)
    if res.exact and len(res.hits) == 1:
        return res.hits[0].url
    return None


def ids_for(q: str, kinds: list[str], now: datetime, limit: int = 50, dept: str | None = None) -> list[tuple[str, int]]:
    """(kind, id) of public records matching `q`, newest first (feeds use this for ?q=)."""
    out = []
    for kind in kinds:
        filters = {"kind": kind}
        if dept:
            filters["dept"] = dept
        res = query(q, filters=filters, sort="date", per_page=limit, now=now, facets=False, recheck=False)
        out += [(h.kind, h.id) for h in res.hits]
    return out


__all__ = ["sync", "rebuild", "verify", "query", "exact_target", "highlight", "install_hooks", "ids_for",
           "SearchResults", "Hit", "KIND_LABELS", "FACETS"]
