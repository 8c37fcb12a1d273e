"""The sitemap (sitemaps.org protocol) of the public site: what search engines may index.

Only what the one visibility rule shows in full appears: published plans, tasks, draws,
results and penalties (`visibility_sql.public_clause`: never drafts, withheld records,
embargoed surprise tasks, withdrawn records or penalties whose publicity has ended) and
the pages of entities that have at least one of those. `lastmod` is the latest
publication or correction. One file holds at most SITEMAP_MAX_URLS addresses; beyond
that /sitemap.xml is an index of numbered files, one section at a time.
"""
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator
from urllib.parse import quote
from xml.sax.saxutils import escape

from sqlalchemy import func, select, union, union_all

from .database import UTCDateTime
from .domain.dates import CHINA
from .extensions import db
from .models import Draw, DrawSelection, Entity, Penalty, Plan, Result, Task
from .queries import cached_count
from .visibility_sql import public_clause

XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"

# The public lists and pages that exist whatever the data (SPEC §8).
FIXED_PAGES = ("/", "/items", "/plans", "/tasks", "/results", "/penalties", "/stats", "/data", "/transparency")


def _changed(model):
    """When a record last changed in public: its correction, else its publication."""
    return func.coalesce(model.corrected_at, model.published_at)


def _public_keys(model, key, kind: str):
    """now -> SELECT (key, lastmod) of the rows of `kind` the public sees in full, in id order."""
    return lambda now: select(key, _changed(model)).where(public_clause(kind, now)).order_by(model.id)


def _public_count(model, kind: str):
    return lambda now: select(func.count(model.id)).where(public_clause(kind, now))


def _entity_publications(now: datetime):
    """(entity_id, changed) of every public result, penalty and drawn-list entry."""
    return (
        select(Result.entity_id.label("entity_id"), _changed(Result).label("at")).where(public_clause("result", now)),
        select(Penalty.entity_id, _changed(Penalty)).where(public_clause("penalty", now),
                                                           Penalty.entity_id.is_not(None)),
        select(DrawSelection.entity_id, _changed(Draw)).join(Draw, DrawSelection.draw_id == Draw.id)
        .where(public_clause("draw", now)),
    )


def _entities(now: datetime):
    """Entities with something public, with its latest change (grouped before the join: 2x faster)."""
    public = union_all(*_entity_publications(now)).subquery()
    latest = (select(public.c.entity_id, func.max(public.c.at, type_=UTCDateTime()).label("at"))
              .group_by(public.c.entity_id).subquery())
    return select(Entity.uscc, latest.c.at).join(latest, latest.c.entity_id == Entity.id).order_by(Entity.id)


def _entities_count(now: datetime):
    """How many entities have something public: the distinct entity ids of their publications."""
    ids = union(*(stmt.with_only_columns(stmt.selected_columns[0]) for stmt in _entity_publications(now))).subquery()
    return select(func.count()).select_from(ids)


@dataclass(frozen=True)
class Section:
    name: str
    statement: Callable | None  # now -> SELECT (key, lastmod) ordered by id; None: FIXED_PAGES
    count: Callable | None = None  # now -> SELECT count(*) of the same rows
    prefix: str = ""


SECTIONS = (
    Section("pages", None),
    Section("plans", _public_keys(Plan, Plan.id, "plan"), _public_count(Plan, "plan"), "/plans/"),
    Section("tasks", _public_keys(Task, Task.code, "task"), _public_count(Task, "task"), "/tasks/"),
    Section("draws", _public_keys(Draw, Draw.id, "draw"), _public_count(Draw, "draw"), "/draws/"),
    Section("results", _public_keys(Result, Result.id, "result"), _public_count(Result, "result"), "/results/"),
    Section("penalties", _public_keys(Penalty, Penalty.id, "penalty"), _public_count(Penalty, "penalty"),
            "/penalties/"),
    Section("entities", _entities, _entities_count, "/entities/"),
)
SECTION_NAMES = {s.name: s for s in SECTIONS}


def section_size(section: Section, now: datetime) -> int:
    """How many URLs the section has (cached briefly like the lists' totals)."""
    if section.statement is None:
        return len(FIXED_PAGES)
    return cached_count(section.count, now, ("sitemap", section.name))  # named: built only on a miss


def section_urls(section: Section, now: datetime, offset: int = 0, limit: int | None = None) \
        -> Iterator[tuple[str, datetime | None]]:
    """(path, lastmod) of one section, in id order, streamed."""
    if section.statement is None:
        yield from ((path, None) for path in FIXED_PAGES[offset:None if limit is None else offset + limit])
        return
    stmt = section.statement(now).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    for key, changed in db.session.execute(stmt.execution_options(yield_per=1000)):
        yield section.prefix + quote(str(key), safe=""), changed


@dataclass(frozen=True)
class Part:
    """One numbered sitemap file of a section (only when the whole would exceed the limit)."""
    section: str
    number: int  # 1-based


def plan_parts(now: datetime, max_urls: int) -> list[Part] | None:
    """None when every URL fits in one file; else the files of the sitemap index."""
    sizes = {s.name: section_size(s, now) for s in SECTIONS}
    if sum(sizes.values()) <= max_urls:
        return None
    return [Part(name, n) for name, size in sizes.items() for n in range(1, math.ceil(size / max_urls) + 1)]


def _lastmod(moment: datetime | None) -> str:
    return f"<lastmod>{moment.astimezone(CHINA).isoformat(timespec='seconds')}</lastmod>" if moment else ""


def urlset_xml(base_url: str, urls: Iterator[tuple[str, datetime | None]]) -> Iterator[str]:
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{XMLNS}">\n'
    for path, changed in urls:
        yield f"<url><loc>{escape(base_url + path)}</loc>{_lastmod(changed)}</url>\n"
    yield "</urlset>\n"


def index_xml(part_urls: list[str]) -> Iterator[str]:
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{XMLNS}">\n'
    for url in part_urls:
        yield f"<sitemap><loc>{escape(url)}</loc></sitemap>\n"
    yield "</sitemapindex>\n"
