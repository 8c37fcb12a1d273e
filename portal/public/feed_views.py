"""/feeds/<kind>.rss|.atom and /entities/<uscc>/feed.atom (SPEC §8).

Every entry comes from a query through `public_clause` and is re-checked with
`public_state`; ETag and Last-Modified let readers poll cheaply (304).
"""
import hashlib
from datetime import datetime

from flask import abort, current_app, make_response, request, url_for
from sqlalchemy import select

from .. import clock, feeds, search
from ..domain.visibility import public_state
from ..extensions import db
from ..models import Department, Draw, DrawSelection, Entity, Penalty, Plan, Result, Task
from ..objections import queries as objections
from ..visibility_sql import public_clause
from . import bp

FEED_KINDS = {"all": "全部公开信息", "plans": "抽查计划", "tasks": "抽查任务", "results": "检查结果",
              "penalties": "行政处罚"}
KIND_OF = {"plans": "plan", "tasks": "task", "results": "result", "penalties": "penalty"}
MODELS = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty}
LIMIT = feeds.MAX_ENTRIES


def _authority() -> str:
    return current_app.config.get("FEED_TAG_AUTHORITY") or request.host.split(":")[0]


def _updated(record) -> datetime:
    moments = [m for m in (record.published_at, record.corrected_at) if m is not None]
    return max(moments)


def _party(p: Penalty) -> str:
    if p.party_kind == "natural_person":
        return p.entity.name if p.entity is not None else "当事人（自然人）"
    return p.party_name


def _entry(kind: str, record, now=None, objection=(None, None)) -> feeds.FeedEntry:
    """One entry; `objection` is (public objection status, when it changed) from objection_feed_info:
    the status is appended to the summary and a change moves the entry's `updated`."""
    base = request.url_root.rstrip("/")
    authority = _authority()
    now = now or clock.now()
    if kind == "plan":
        title = record.title
        link = f"/plans/{record.id}"
        summary = f"{record.department.name} · {record.year}年 · 批准日期 {record.approval_date.isoformat()}"
    elif kind == "task":
        title = f"{record.title}（{record.code}）"
        link = f"/tasks/{record.code}"
        summary = f"{record.department.name} · 检查期间 {record.period_start.isoformat()} 至 {record.period_end.isoformat()}"
    elif kind == "result":
        labels = "；".join(c.label for c in record.conclusions)
        title = f"{record.entity.name}：{labels}"
        link = f"/results/{record.id}"
        # A withheld or embargoed task is never named, even beside a public result.
        task = f"{record.task.title}（{record.task.code}） · " if public_state("task", record.task, now).is_visible else ""
        summary = f"{task}{record.department.name} · 结果形成日期 {record.formed_date.isoformat()}"
    elif kind == "penalty":
        title = f"{record.decision_no} {_party(record)}"
        link = f"/penalties/{record.id}"
        summary = " · ".join(x for x in (record.violation_type, "、".join(record.categories),
                                          f"罚款 {record.fine_amount} 元" if record.fine_amount else "",
                                          f"决定日期 {record.decision_date.isoformat()}") if x)
    elif kind == "draw":
        title = f"抽取名单：{record.task.title}（{record.task.code}）"
        link = f"/draws/{record.id}"
        summary = f"第 {record.sequence} 次抽取 · {record.task.department.name}"
    else:
        raise ValueError(kind)
    if record.corrected_at is not None:
        summary += f" · 更正于 {record.corrected_at.date().isoformat()}"
    status, changed_at = objection
    if status is not None:
        summary += f" · {status['text']}"
    updated = max(_updated(record), changed_at) if changed_at is not None else _updated(record)
    return feeds.FeedEntry(id=feeds.tag_uri(authority, kind, record.id), title=title, link=base + link,
                           updated=updated, published=record.published_at, summary=summary,
                           category=search.KIND_LABELS.get(kind, "抽取名单"),
                           author=record.department.name if hasattr(record, "department") and kind != "draw"
                           else None)


def _records(kind: str, now, dept_id=None, ids=None) -> list:
    model = MODELS[kind]
    stmt = select(model).where(public_clause(kind, now))
    if dept_id is not None:
        stmt = stmt.where(model.department_id == dept_id)
    if ids is not None:
        stmt = stmt.where(model.id.in_(ids))
    stmt = stmt.order_by(model.published_at.desc(), model.id.desc()).limit(LIMIT)
    return [r for r in db.session.execute(stmt).scalars() if public_state(kind, r, now).is_visible]


def _respond(fmt: str, entries: list, *, feed_key: str, title: str, subtitle: str, page_link: str):
    entries = sorted(entries, key=lambda e: (e.updated, e.id), reverse=True)[:LIMIT]
    digest = hashlib.sha256(repr((fmt, feed_key, [(e.id, e.updated.isoformat(), e.title, e.summary)
                                                  for e in entries])).encode()).hexdigest()[:32]
    response = make_response()
    response.set_etag(digest)
    if entries:
        response.last_modified = entries[0].updated
    response.headers["Cache-Control"] = "public, max-age=300"
    response.mimetype = "application/atom+xml" if fmt == "atom" else "application/rss+xml"
    response = response.make_conditional(request)
    if response.status_code == 304:
        return response
    response.set_data(feeds.render(fmt, feed_id=feeds.tag_uri(_authority(), "feed", feed_key), title=title,
                                   subtitle=subtitle, link=page_link, self_link=request.url, entries=entries))
    response.headers["Content-Type"] = feeds.CONTENT_TYPES[fmt]
    return response


@bp.get("/feeds/<kind>.<fmt>", endpoint="feed")
def feed(kind: str, fmt: str):
    if kind not in FEED_KINDS or fmt not in ("rss", "atom"):
        abort(404)
    now = clock.now()
    dept_code = request.args.get("dept", "").strip() or None
    q = request.args.get("q", "").strip()[:200]
    dept = None
    if dept_code:
        dept = db.session.execute(select(Department).where(Department.code == dept_code)).scalar()
        if dept is None:
            abort(404)
    kinds = list(KIND_OF.values()) if kind == "all" else [KIND_OF[kind]]
    entries = []
    for k in kinds:
        ids = None
        if q:
            ids = [i for _k, i in search.ids_for(q, [k], now, limit=LIMIT, dept=dept_code)]
        records = _records(k, now, dept.id if dept else None, ids)
        if k in ("result", "penalty"):
            # Records whose objection status changed lately come back as updated entries.
            seen = {r.id for r in records}
            changed = [i for i in objections.recently_changed_ids(k, now, LIMIT)
                       if i not in seen and (ids is None or i in ids)]
            records += _records(k, now, dept.id if dept else None, changed) if changed else []
        statuses = objections.objection_feed_info(k, records, now) if k in ("result", "penalty") else {}
        entries += [_entry(k, r, now, statuses.get(r.id, (None, None))) for r in records]
    title = f"{current_app.config['SITE_NAME']} · {FEED_KINDS[kind]}"
    if dept:
        title += f" · {dept.name}"
    if q:
        title += f" · “{q}”"
    page_link = request.url_root.rstrip("/") + (url_for("public.search", q=q, dept=dept_code) if q else "/")
    return _respond(fmt, entries, feed_key=f"{kind}?dept={dept_code or ''}&q={q}", title=title,
                    subtitle=f"{FEED_KINDS[kind]}的最新公示", page_link=page_link)


@bp.get("/entities/<uscc>/feed.atom", endpoint="entity_feed")
def entity_feed(uscc: str):
    entity = db.session.execute(select(Entity).where(Entity.uscc == uscc.upper())).scalar()
    if entity is None:
        abort(404)
    now = clock.now()
    entries = []
    for kind, model in (("result", Result), ("penalty", Penalty)):
        stmt = select(model).where(model.entity_id == entity.id, public_clause(kind, now))
        records = [r for r in db.session.execute(stmt).scalars() if public_state(kind, r, now).is_visible]
        statuses = objections.objection_feed_info(kind, records, now)
        entries += [_entry(kind, r, now, statuses[r.id]) for r in records]
    draws = db.session.execute(select(Draw).join(DrawSelection, DrawSelection.draw_id == Draw.id)
                               .where(DrawSelection.entity_id == entity.id, public_clause("draw", now))).scalars()
    entries += [_entry("draw", d, now) for d in draws if public_state("draw", d, now).is_visible]
    base = request.url_root.rstrip("/")
    return _respond("atom", entries, feed_key=f"entity/{entity.uscc}", title=f"{entity.name} 的公示信息",
                    subtitle=f"统一社会信用代码 {entity.uscc}：抽取、检查结果与行政处罚",
                    page_link=f"{base}/entities/{entity.uscc}")
