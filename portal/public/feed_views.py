"""/feeds/<kind>.rss|.atom and /entities/<uscc>/feed.atom (SPEC §8).

Every entry comes from a query through `public_clause` and is re-checked with
`public_state`; ETag and Last-Modified (portal/caching.py, checked before a feed is built)
let readers poll cheaply (304).
"""
import hashlib
import re
from datetime import datetime

from urllib.parse import urlencode

from flask import Response, abort, current_app, make_response, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import caching, clock, feeds, queries, search, urls
from ..domain.visibility import public_state
from ..extensions import db
from ..models import Department, Entity, Penalty, Plan, Result, Task
from ..objections import queries as objections
from . import bp
from .shape import public_name

FEED_KINDS = {"all": "全部公开信息", "plans": "抽查计划", "tasks": "抽查任务", "results": "检查结果",
              "penalties": "行政处罚"}
KIND_OF = {"plans": "plan", "tasks": "task", "results": "result", "penalties": "penalty"}
MODELS = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty}
LIMIT = feeds.MAX_ENTRIES


def _authority() -> str:
    return urls.tag_authority()


def _updated(record) -> datetime:
    moments = [m for m in (record.published_at, record.corrected_at) if m is not None]
    return max(moments)


def _entry_updated(record, objection=(None, None)) -> datetime:
    """An entry's `updated`: publication, correction or its objection status's last change."""
    changed_at = objection[1]
    return max(_updated(record), changed_at) if changed_at is not None else _updated(record)


def _newest(candidates) -> list:
    """The LIMIT newest of `candidates` ((kind, record, objection) triples; a record is any object with
    id, published_at and corrected_at), in the order `_respond` keeps their entries: only those are
    read in full (the all-feed ranks ~4 × LIMIT records)."""
    prefix = feeds.tag_prefix(_authority())
    ranked = sorted(candidates, key=lambda c: (_entry_updated(c[1], c[2]), f"{prefix}{c[0]}/{c[1].id}"),
                    reverse=True)
    return ranked[:LIMIT]


def _visible(kind: str, records, now) -> list:
    """The records public_state shows: the check in Python behind every query's public_clause."""
    return [r for r in records if public_state(kind, r, now).is_visible]


def _entries(chosen, now) -> list:
    """The entries of `chosen` ((kind, record, objection) triples), in order: each kind's public
    fields read by one statement (queries.feed_shapes)."""
    wanted = {}
    for kind, record, _objection in chosen:
        if kind != "draw":
            wanted.setdefault(kind, []).append(record.id)
    shown = {kind: queries.feed_shapes(kind, ids, now) for kind, ids in wanted.items()}
    base, prefix = urls.base_url(), feeds.tag_prefix(_authority())
    return [_entry(kind, record, shown[kind][record.id] if kind != "draw" else None, objection, base, prefix)
            for kind, record, objection in chosen]


def _entry(kind: str, record, shown, objection, base: str, prefix: str) -> feeds.FeedEntry:
    """One entry, written from the record's public shape (`shown`: the fields of portal.public.shape that
    queries.feed_shapes reads; None for a draw, a queries.FeedDraw); `record` gives id, published_at and
    corrected_at; `objection` is (public objection status, when it changed) from objection_feed_info_by_kind: the
    status is appended to the summary and a change moves the entry's `updated`."""
    if kind == "plan":
        title = shown["title"]
        link = shown["url"]
        summary = f"{shown['department']} · {shown['year']}年 · 批准日期 {shown['approval_date']}"
    elif kind == "task":
        title = f"{shown['title']}（{shown['code']}）"
        link = shown["url"]
        summary = f"{shown['department']} · 检查期间 {shown['period_start']} 至 {shown['period_end']}"
    elif kind == "result":
        labels = "；".join(c["label"] for c in shown["conclusions"])
        title = f"{shown['entity_name']}：{labels}"
        link = shown["url"]
        # A withheld or embargoed task is never named here, even beside a public result.
        task = f"{shown['task_title']}（{shown['task_code']}） · " if shown["task_code"] else ""
        summary = f"{task}{shown['department']} · 结果形成日期 {shown['formed_date']}"
    elif kind == "penalty":
        title = f"{shown['decision_no']} {shown['party_name']}"
        link = shown["url"]
        summary = " · ".join(x for x in (shown["violation_type"], "、".join(shown["categories"]),
                                          f"罚款 {shown['fine_amount']} 元" if shown["fine_amount"] else "",
                                          f"决定日期 {shown['decision_date']}") if x)
    elif kind == "draw":
        title = f"抽取名单：{record.task.title}（{record.task.code}）"
        link = f"/draws/{record.id}"
        summary = f"第 {record.sequence} 次抽取 · {record.department}"
    else:
        raise ValueError(kind)
    if record.corrected_at is not None:
        summary += f" · 更正于 {record.corrected_at.date().isoformat()}"
    status, _changed_at = objection
    if status is not None:
        summary += f" · {status['text']}"
    return feeds.FeedEntry(id=f"{prefix}{kind}/{record.id}", title=title, link=base + link,
                           updated=_entry_updated(record, objection), published=record.published_at, summary=summary,
                           category=search.KIND_LABELS.get(kind, "抽取名单"),
                           author=shown["department"] if shown is not None else None)


OBJECTION_KINDS = ("result", "penalty")  # the kinds the public may object to (an entry shows the status)


def _with_objections(records_by_kind: dict[str, list], now) -> list:
    """(kind, record, objection) triples: objection = (public status, when it changed), the results'
    and the penalties' read by one statement."""
    statuses = objections.objection_feed_info_by_kind(records_by_kind, now)
    return [(kind, r, statuses.get((kind, r.id), (None, None))) for kind, records in records_by_kind.items()
            for r in records]


def _search_feed_etag(now) -> str:
    """A search's feed follows this host's index as well as the database (portal.caching gives
    every other feed its validators before the view runs): its ETag is the public revision's
    (code, settings, data, scheduled moments, the China date, the URL) and the index state it
    answers from (search.index_state), known before the search runs, so a 304 costs no search.
    No Last-Modified: a change the index applies later than the database made it would not move it."""
    etag, _last_modified = caching.validators(now)
    return hashlib.sha256(f"{etag}|{search.index_state()}".encode()).hexdigest()[:32]


def _respond(fmt: str, entries: list, *, feed_key: str, title: str, subtitle: str, page_link: str,
             etag: str | None = None):
    """The feed's answer; `etag`: a search's feed's validator (_search_feed_etag)."""
    entries = sorted(entries, key=lambda e: (e.updated, e.id), reverse=True)[:LIMIT]
    response = make_response()
    response.mimetype = "application/atom+xml" if fmt == "atom" else "application/rss+xml"
    if etag is not None:
        response.set_etag(etag)
    response.set_data(feeds.render(fmt, feed_id=feeds.tag_uri(_authority(), "feed", feed_key), title=title,
                                   subtitle=subtitle, link=page_link, self_link=urls.current_absolute(),
                                   entries=entries))
    response.headers["Content-Type"] = feeds.CONTENT_TYPES[fmt]
    return response


# A feed takes the query string of the page it was subscribed from. /feeds/<list kind> takes the
# list's filters, parsed by the list's parser and applied by the list's query (portal.queries), so
# the feed of /penalties?dept=…&year=2025 holds exactly that list's records (its 50 newest
# publications). /feeds/all with `q` is the feed of a search: the same search as /search, sorted by
# date, with its facets (kind = record kind there); without `q`, the four lists' filters combined.
LIST_ENDPOINTS = {"plans": "public.plans", "tasks": None, "results": "public.results", "penalties": "public.penalties"}
SEARCH_FACETS = search.FACETS  # the same filters as /search (industry included)
DEPT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")  # as portal.queries.parse_filters accepts
IGNORED_ARGS = ("page", "per_page", "sort")


def feed_query(args) -> list[tuple[str, str]]:
    """The arguments a feed keeps from a page's query string (paging and sorting dropped)."""
    return [(k, v) for k, v in args.items(multi=True) if v != "" and k not in IGNORED_ARGS]


@bp.app_template_global("feed_url")
def feed_url(kind: str, fmt: str = "atom") -> str:
    """Templates: the feed of `kind` with the current page's filters."""
    query = urlencode(feed_query(request.args))
    return url_for("public.feed", kind=kind, fmt=fmt) + ("?" + query if query else "")


def _bad_filters(messages: list[str]):
    return Response("订阅条件有误：" + "；".join(messages) + "\n", 400, content_type="text/plain; charset=utf-8")


def _describe(filters: queries.Filters, dept, record_kind: str | None = None) -> list[str]:
    """Chinese words for the filters, for the feed's title."""
    parts = [dept.name] if dept is not None else []
    if record_kind:
        parts.append(search.KIND_LABELS.get(record_kind, record_kind))
    if filters.year:
        parts.append(f"{filters.year}年")
    if filters.date_from or filters.date_to:
        parts.append(f"{filters.date_from or ''}至{filters.date_to or ''}")
    for value in (filters.region, filters.conclusion, filters.category,
                  queries.TASK_KINDS.get(filters.kind) if filters.kind else None):
        if value:
            parts.append(value)
    if filters.q:
        parts.append(f"“{filters.q}”")
    return parts


def _search_feed(now, args):
    """(entries, description) of the search `args` describe: /search's first page sorted by date.
    Called just after `_search_feed_etag`, whose `search.index_state()` caught the index up: the
    search answers from the state the ETag names, without checking the change log again."""
    facets = {name: args.get(name, "").strip() for name in SEARCH_FACETS if args.get(name, "").strip()}
    q = args.get("q", "").strip()[:200]
    # Every hit is read again through public_clause and public_state below: the search need not
    # recheck its hits, nor highlight them.
    # Only the kinds a feed holds: the newest hits of a search are often entities or check items.
    found = search.query(q, filters=facets, sort="date", page=1, per_page=LIMIT, now=now, facets=False,
                         recheck=False, highlight=False, caught_up=True, kinds=tuple(MODELS))
    visible = {}
    for kind in MODELS:
        ids = [hit.id for hit in found.hits if hit.kind == kind]
        if ids:
            visible[kind] = _visible(kind, queries.feed_candidates_of(kind, now, ids=ids), now)
    entries = _entries(_newest(_with_objections(visible, now)), now)
    return entries, [f"搜索“{q}”"] + [f"{v}" for v in facets.values()]


@bp.get("/feeds/<kind>.<fmt>", endpoint="feed")
def feed(kind: str, fmt: str):
    if kind not in FEED_KINDS or fmt not in ("rss", "atom"):
        abort(404)
    now = clock.now()
    args = request.args
    dept_code = args.get("dept", "").strip() or None
    dept = None
    if dept_code:
        if not DEPT_CODE.match(dept_code):
            return _bad_filters([f"部门代码“{dept_code[:32]}”格式不正确，应为字母、数字组成的部门代码。"])
        dept = db.session.execute(select(Department).where(Department.code == dept_code)).scalar()
        if dept is None:
            abort(404)
    site = urls.base_url()
    etag = None
    if kind == "all" and args.get("q", "").strip():
        etag = _search_feed_etag(now)
        if request.if_none_match.contains_weak(etag):
            not_modified = make_response("", 304)
            not_modified.set_etag(etag)
            return not_modified
        entries, words = _search_feed(now, args)
        page_link = site + url_for("public.search") + "?" + urlencode(feed_query(args))
    else:
        record_kind = None
        list_args = args
        if kind == "all":
            # `kind` on the all-feed names a record kind (as the search facet does).
            record_kind = args.get("kind", "").strip() or None
            if record_kind and record_kind not in KIND_OF.values():
                return _bad_filters([f"类别“{record_kind[:20]}”不正确，应为 " + "、".join(KIND_OF.values()) + "。"])
            list_args = MultiDict([(k, v) for k, v in args.items(multi=True) if k != "kind"])
        try:
            filters = queries.parse_filters(list_args)
        except queries.FilterError as exc:
            return _bad_filters(exc.messages)
        if kind == "all":
            kinds = [record_kind] if record_kind else list(KIND_OF.values())
            # A kind-specific filter selects the kind it belongs to.
            if filters.conclusion:
                kinds = [k for k in kinds if k == "result"]
            if filters.category:
                kinds = [k for k in kinds if k == "penalty"]
            if filters.kind:
                kinds = [k for k in kinds if k == "task"]
        else:
            kinds = [KIND_OF[kind]]
        visible = {}
        for k in kinds:
            # Records of this list whose objection status changed lately come back as updated
            # entries (read with the latest, by one statement).
            changed = objections.recently_changed_ids(k, now, LIMIT) if k in OBJECTION_KINDS else ()
            visible[k] = _visible(k, queries.feed_candidates(k, filters, now, LIMIT, also_ids=changed), now)
        entries = _entries(_newest(_with_objections(visible, now)), now)
        words = _describe(filters, dept, record_kind)
        endpoint = LIST_ENDPOINTS.get(kind)
        query = urlencode(feed_query(args))
        page_link = site + (url_for(endpoint) + ("?" + query if query else "") if endpoint else "/")
    title = " · ".join([current_app.config["SITE_NAME"], FEED_KINDS[kind], *words])
    return _respond(fmt, entries, feed_key=f"{kind}?{urlencode(sorted(feed_query(args)))}", title=title,
                    subtitle=f"{FEED_KINDS[kind]}的最新公示", page_link=page_link, etag=etag)


@bp.get("/entities/<uscc>/feed.atom", endpoint="entity_feed")
def entity_feed(uscc: str):
    entity = db.session.execute(select(Entity).where(Entity.uscc == uscc.upper())).scalar()
    if entity is None:
        abort(404)
    now = clock.now()
    candidates = _with_objections({kind: _visible(kind, queries.feed_candidates_of(kind, now, entity_id=entity.id), now)
                                   for kind in OBJECTION_KINDS}, now)
    candidates += [("draw", d, (None, None)) for d in _visible("draw", queries.entity_feed_draws(entity.id, now), now)]
    entries = _entries(_newest(candidates), now)
    base = urls.base_url()
    return _respond("atom", entries, feed_key=f"entity/{entity.uscc}", title=f"{public_name(entity.name)} 的公示信息",
                    subtitle=f"统一社会信用代码 {entity.uscc}：抽取、检查结果与行政处罚",
                    page_link=f"{base}/entities/{entity.uscc}")
