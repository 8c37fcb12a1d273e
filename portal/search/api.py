"""What views call: query (with facets, re-checks and suggestions), exact_target, index_state."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select

from ..domain.industries import section_label
from ..extensions import db
from ..models import Department, Entity, Task
from ..visibility_sql import public_clause
from . import store
from .analysis import normalize, query_terms, runs
from .documents import KIND_LABELS, KINDS, MODELS
from .engine import FACETS, Bits, facet_counts, positions, search_index
from .syncing import catch_up, open_index, pending_keys

log = logging.getLogger(__name__)


def _now() -> datetime:
    from .. import clock
    return clock.now()


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
class Suggestion:
    """Something to try instead of a query that found nothing."""

    q: str
    filters: dict
    label: str


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
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def index_state() -> str:
    """What a query answers from right now, after the same catch-up a query makes: the live
    generation, Whoosh's commit generation in it, the last change-log id applied and the purge
    mark. Under one public revision (portal.caching.validators) the same query at the same index
    state gives the same hits, so a search's feed takes its ETag from both before it runs the query
    (a 304 without searching). Another host's index has its own state: another ETag."""
    catch_up()
    ix = open_index()
    return f"{Path(ix.storage.folder).name}:{ix.latest_generation()}:{store.last_applied(ix)}:{store.purged_until(ix)}"


def query(q: str = "", *, filters: dict | None = None, sort: str = "relevance", page: int = 1, per_page: int = 20,
          now: datetime | None = None, facets: bool = True, recheck: bool = True,
          suggest: bool = False, highlight: bool = True, caught_up: bool = False,
          kinds: tuple[str, ...] = ()) -> SearchResults:
    """Search public records. `filters` maps a facet name to a value (kind, dept, year, conclusion,
    category, industry). `recheck=False`, `highlight=False`: for a caller that reads only the hits'
    kind and id and checks every record itself (a search's feed): hits as the index has them, without
    snippet and highlighted title. `caught_up=True`: the caller has just caught the index up
    (`index_state`, a search's feed taking its ETag), so the query answers from that same state.
    `kinds`: only records of these kinds (a search's feed holds publications: its 50 newest hits must
    not be taken by newer entities or check items).

    A query that is exactly a USCC, 文号, task or item code returns just that record. Every hit
    shown and every facet count is re-checked against the visibility rule in the database (see
    `_recheck_matched`), so a stale index never shows or counts what the public may not see.
    """
    now = now or _now()
    filters = {k: str(v) for k, v in (filters or {}).items() if k in FACETS and v}
    terms = query_terms(q)
    page = max(1, page)
    if not caught_up:
        catch_up()
    ix = open_index()
    purged = store.purged_until(ix)
    with store.searcher(ix) as s:
        answer = search_index(s, q, filters=filters, sort=sort, page=page, per_page=per_page, now=now,
                              facets=False, purged_until=purged, kinds=kinds)
        if answer is None:
            return SearchResults(q, [], 0, page, per_page, {}, False, terms)
        total, counts = answer.total, {}
        if recheck:
            matched, dropped = _recheck_matched(answer.bits, answer.matched, now)
            if dropped:
                total = matched.bit_count()
                answer.stored = [f for f in answer.stored if f["key"] not in dropped]
        else:
            matched = answer.matched
        if facets:
            counts = facet_counts(answer.bits, matched)
    facet_out = _facets(counts, filters) if facets else {}
    hits = [_hit(f, terms if highlight else None) for f in answer.stored]
    if recheck:
        hits, gone = _recheck(hits, now)
        total -= gone
    results = SearchResults(q, hits, max(total, 0), page, per_page, facet_out, answer.exact, terms)
    if suggest and not results.total and (terms or filters):
        results.suggestions = suggestions(q, filters, now)
    return results


def _facets(counts: dict, filters: dict) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    for name, values in counts.items():
        labels = facet_labels(name, list(values))
        if name == "year":
            order = sorted(values, reverse=True)
        elif name == "kind":
            order = [k for k in KINDS if k in values]
        else:
            order = sorted(values, key=lambda k: (-values[k], k))
        out[name] = [FacetValue(v, labels.get(v, v), values[v], filters.get(name) == v) for v in order]
    return out


def _recheck_matched(b, matched: int, now: datetime) -> tuple[int, set[str]]:
    """Remove from `matched` the documents the visibility rule forbids now.

    Up to SEARCH_RECHECK_LIMIT matches, every matching document is checked in the database;
    beyond that, those that changes not yet applied may affect (the index is stale for them).
    Returns the corrected bitset and the keys dropped.
    """
    limit = int(current_app.config.get("SEARCH_RECHECK_LIMIT", 2000))
    if matched.bit_count() <= limit:
        docnums = positions(matched)
        keys = b.keys_for(docnums)
    else:
        keys = {}
        for kind, rid in pending_keys():
            bits = b.term("key", f"{kind}:{rid}") & matched
            for d in positions(bits):
                keys[d] = f"{kind}:{rid}"
    by_kind: dict[str, set[int]] = {}
    for key in keys.values():
        kind, rid = key.split(":")
        if kind != "entity":  # the public directory: always searchable
            by_kind.setdefault(kind, set()).add(int(rid))
    allowed: set[str] = set()
    for kind, ids in by_kind.items():
        model = MODELS[kind]
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            allowed.update(f"{kind}:{i}" for i in db.session.execute(
                select(model.id).where(model.id.in_(chunk), public_clause(kind, now))).scalars())
    dropped = {key for key in keys.values() if not key.startswith("entity:") and key not in allowed}
    if dropped:
        for d, key in keys.items():
            if key in dropped:
                matched &= ~(1 << d)
    return matched, dropped


def _hit(f: dict, terms: list[str] | None) -> Hit:
    """A hit of stored fields `f`; `terms=None`: no snippet or highlighted title (not shown)."""
    date_value = datetime.fromtimestamp(f["date"], timezone.utc) if f.get("date") else None
    shown = terms is not None
    return Hit(kind=f["kind"], id=int(f["rid"]), title=f["title"], subtitle=f.get("subtitle", ""), url=f["url"],
               snippet=highlight(f.get("text", "").replace("\n", " · "), terms) if shown else Markup(""),
               title_html=highlight(f["title"], terms, width=200) if shown else Markup(""), date=date_value)


def _recheck(hits: list[Hit], now: datetime) -> tuple[list[Hit], int]:
    """Drop any hit the visibility rule forbids now (the index may be stale)."""
    from ..domain.visibility import public_state

    by_kind: dict[str, list[int]] = {}
    for h in hits:
        by_kind.setdefault(h.kind, []).append(h.id)
    records = {}
    for kind, ids in by_kind.items():
        model = MODELS[kind]
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


def facet_labels(name: str, values) -> dict[str, str]:
    """Chinese labels of facet values."""
    if name == "kind":
        return dict(KIND_LABELS)
    if name == "dept":
        rows = db.session.execute(select(Department.code, Department.name).where(Department.code.in_(values)))
        return {code: label for code, label in rows}
    if name == "year":
        return {v: f"{v}年" for v in values}
    if name == "industry":
        return {v: section_label(v) for v in values}
    if name == "conclusion":
        from ..models import VocabularyKind, VocabularyTerm
        rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label)
                                  .where(VocabularyTerm.kind == VocabularyKind.CONCLUSION))
        labels = {code: label for code, label in rows}
        return {v: labels.get(v, v) for v in values}
    return {v: v for v in values}


# Words that end a business name or a part of it: what is left between them is the distinctive part.
_NAME_WORDS = re.compile("股份有限公司|有限责任公司|有限公司|分公司|公司|农民专业合作社|专业合作社|合作社|经营部|商行|分店|门市部|"
                         "店|厂|中心")
_REGION = re.compile("^.{1,3}?[省市县区]")


def _cores(run: str) -> list[str]:
    """The distinctive parts of a CJK run: split at business words, the region name in front dropped."""
    out = []
    for part in _NAME_WORDS.split(run):
        part = _REGION.sub("", part) if len(part) > 3 else part
        if len(part) >= 2:
            out.append(part)
    return out


def _candidates(q: str, filters: dict) -> list[tuple[str, dict, str]]:
    """Shorter or looser queries to try, most specific first."""
    terms = query_terms(q)
    out: list[tuple[str, dict, str]] = []
    if filters:
        out.append((q, {}, "去掉筛选条件"))
    if len(terms) > 1:
        out += [(t, filters, "只搜其中一个词") for t in terms]
    pieces: list[tuple[str, dict, str]] = []
    for term in terms:
        for is_cjk, run, _start in runs(term):
            if not is_cjk:
                if len(run) > 6:
                    out.append((run[:6].upper(), filters, "编码或名称中的一段"))
                continue
            cores = _cores(run)
            for core in cores:
                if core != run:
                    out.append((core, filters, "名称中的字号"))
            for core in cores:
                if len(core) > 2:
                    pieces += [(core[i:i + 2], filters, "名称中的两个字") for i in range(len(core) - 1)]
    out += pieces
    seen, unique = set(), []
    for cq, cf, why in out:
        key = (cq, tuple(sorted(cf.items())))
        if cq and key not in seen and (cq != q or cf != filters):
            seen.add(key)
            unique.append((cq, cf, why))
    return unique


def suggestions(q: str, filters: dict, now: datetime, limit: int = 3, tries: int = 12) -> list[Suggestion]:
    """Up to `limit` queries close to `q` that do find public records."""
    out = []
    for cq, cf, why in _candidates(q, filters)[:tries]:
        res = query(cq, filters=cf, now=now, facets=False, per_page=1)
        if res.total:
            out.append(Suggestion(cq, cf, why))
            if len(out) >= limit:
                break
    return out


def highlight(text: str, terms: list[str], width: int = 120) -> Markup:
    """An escaped excerpt of `text` around the first match, with matches in <mark>."""
    text = text or ""
    needles = sorted({normalize(t) for t in terms if t.strip()}, key=len, reverse=True)
    norm = normalize(text)
    hay = norm if len(norm) == len(text) else None
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


def exact_target(q: str, now: datetime | None = None) -> str | None:
    """The URL of the one record an exact USCC, 文号 or task code names (public records only)."""
    from .analysis import norm_code

    code = norm_code(q)
    if not code or len(query_terms(q)) != 1:
        return None
    now = now or _now()
    # USCCs are stored upper case (domain.uscc normalises them): an index lookup, never upper() over
    # every entity.
    uscc = db.session.execute(select(Entity.uscc).where(Entity.uscc == code)).scalar() if len(code) == 18 else None
    if uscc:
        return f"/entities/{uscc}"
    task_code = db.session.execute(select(Task.code).where(Task.code == code, public_clause("task", now))).scalar()
    if task_code:
        return f"/tasks/{task_code}"
    if not any(ch.isdigit() for ch in code):
        return None  # the index takes a code as exact only with a digit in it (engine.search_index)
    res = query(q, filters={"kind": "penalty"}, now=now, facets=False, per_page=2)
    if res.exact and len(res.hits) == 1:
        return res.hits[0].url
    return None


WARM_TERMS = 16  # the most common title and text grams loaded at start (at most 2 × 165 KB each at 1.3M)
_WARM_SAMPLE = 4  # segments whose lexicons are read to find them


def warm(now: datetime | None = None, progress=None) -> bool:
    """Load what a first query needs, so that no user pays it: open the live index and a searcher,
    read each segment's date and ref columns, the live and hidden-window bitsets, every facet
    value's bitset (what facet counts AND with), and the bitsets of the WARM_TERMS grams found in
    the most documents (the county name in every title, 检查…: the costliest postings to decode,
    part of most queries). Never builds an index: False when there is no current one (the first
    search builds it, as before). `progress()`, if given, is called between steps (gunicorn's
    worker heartbeat: a worker silent for its timeout is killed)."""
    progress = progress or (lambda: None)
    base = store.root()
    gen = store.current_gen(base)
    if gen is None or not store.schema_current(base, gen):
        return False
    ix = store.open_gen(base, gen)
    with store.searcher(ix) as s:
        b = Bits(s, store.purged_until(ix))
        visible = b.live & ~b.hidden(now or _now())
        b.term("published", "1")
        progress()
        facet_counts(b, visible)
        for leaf in b.leaves:
            leaf.info.refs(leaf.reader)
        progress()
        for fieldname, text in _common_terms(b):
            b.term(fieldname, text)  # (as queries ask: str, the bitset caches' key)
            progress()
    return True


def _common_terms(b: Bits) -> list[tuple[str, str]]:
    """The WARM_TERMS title/text grams in the largest share of documents, judged from a few
    segments spread over the index (reading every lexicon would cost seconds at 1.3M)."""
    leaves = b.leaves
    if not leaves:
        return []
    sample = {leaves[i * (len(leaves) - 1) // max(1, _WARM_SAMPLE - 1)].reader for i in range(_WARM_SAMPLE)}
    docs = sum(reader.doc_count_all() for reader in sample)
    found: dict[tuple[str, str], int] = {}
    for reader in sample:
        floor = reader.doc_count_all() // 20
        for fieldname in ("tgrams", "bgrams"):
            for text, info in reader.iter_field(fieldname):
                if info.doc_frequency() > floor:
                    key = (fieldname, text.decode("utf-8"))
                    found[key] = found.get(key, 0) + info.doc_frequency()
    return [key for key, n in sorted(found.items(), key=lambda kv: -kv[1])[:WARM_TERMS] if n * 20 > docs]


def warm_worker(app, progress=None) -> None:
    """gunicorn's post_worker_init hook (gunicorn.conf.py): warm the search index in the worker
    before it takes its first request, when SEARCH_WARM_ON_START is on. Never fails the worker."""
    if not getattr(app, "config", {}).get("SEARCH_WARM_ON_START", True):  # (a Flask app)
        return
    started, cpu = time.monotonic(), time.process_time()
    try:
        with app.app_context():
            warmed = warm(progress=progress)
    except Exception:
        log.exception("search index warm-up failed; the first search will load the index")
        return
    if warmed:
        log.info("search index warmed in %.2f s (%.2f s CPU)", time.monotonic() - started,
                 time.process_time() - cpu)
