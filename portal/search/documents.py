"""Documents: what a public record looks like in the index.

All document text comes from one adapter, `public_fields(kind, record, now)`: the public
face of a record (title, text, codes, facet values). It is the seam where the public-shape
module (one allow-list per kind) plugs in; nothing else here reads record attributes for text.

Visibility: each document carries the window [show_from, hide_at) in which the public rule
(domain.visibility) allows it; queries exclude documents outside it at `now`, so a future
publication time arriving or a publicity period ending needs no log entry.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..domain.dates import china_midnight
from ..domain.industries import industry_section, section_label
from ..domain.visibility import embargo_lifts_at
from ..models import (CheckItem, Draw, Entity, Penalty, Plan, Result, ResultConclusion, ResultFinding, Status,
                      Task)
from ..visibility_sql import public_clause
from .analysis import exact_key, norm_code
from .store import NEVER

KINDS = ("plan", "task", "result", "penalty", "item", "entity")
SHAPED = ("plan", "task", "result", "penalty", "item", "entity")
KIND_LABELS = {"plan": "抽查计划", "task": "抽查任务", "result": "检查结果", "penalty": "行政处罚",
               "item": "抽查事项", "entity": "检查对象"}
MODELS = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty, "item": CheckItem,
          "entity": Entity, "draw": Draw}
PAGE = 1000  # records loaded per query while rebuilding (paged by key)
REF_SHIFT = 40  # a document's `ref` column: KINDS index << REF_SHIFT | record id
REF_MASK = (1 << REF_SHIFT) - 1


def ts(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _day_start(day: date) -> int:
    return int(china_midnight(day).timestamp())


def _lifecycle_window(record) -> tuple[int, int] | None:
    """[show_from, hide_at) by the lifecycle part of the rule; None when never public."""
    if record.withheld or record.published_at is None:
        return None
    status = getattr(record.status, "value", record.status)
    if status == Status.PUBLISHED.value:
        return ts(record.published_at), NEVER
    if status == Status.WITHDRAWN.value and record.withdrawn_at is not None:
        return ts(record.published_at), ts(record.withdrawn_at)
    return None


def window(kind: str, record) -> tuple[int, int] | None:
    """When the public may see the record: [show_from, hide_at), None if never."""
    if kind == "entity":
        return 0, NEVER
    win = _lifecycle_window(record)
    if win is None:
        return None
    start, end = win
    if kind == "task" and record.surprise:
        start = max(start, ts(embargo_lifts_at(record)))  # the surprise-task embargo (domain.visibility)
    if kind == "penalty":
        if record.publicity_end is None:
            return None
        end = min(end, _day_start(record.publicity_end + timedelta(days=1)))
        if record.credit_repair_date is not None:
            end = min(end, _day_start(record.credit_repair_date))
    return (start, end) if start < end else None


def _join(*parts) -> str:
    return "\n".join(str(p) for p in parts if p)


@dataclass
class PublicFields:
    """The public face of one record, as search shows and indexes it."""

    title: str
    subtitle: str
    url: str
    text: str
    date: datetime | None
    codes: list[str] = field(default_factory=list)
    dept: str = ""
    year: str = ""
    conclusion: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    industry: str = ""
    published: bool = True  # a record with publications (entities: any public result or penalty)
    title_terms: str | None = None  # what the title tier indexes (default: the title)
    shown: str = ""  # lines shown in the snippet but not indexed as text (codes have their own field)


def public_fields(kind: str, record, now: datetime, *, has_publications: bool | None = None) -> PublicFields | None:
    """The one adapter every document's text comes from: the record's public shape
    (portal.public.shape, the allow-list every channel renders through), so search indexes and
    shows exactly what the record's page shows: natural persons as surname + 某, free text masked,
    an embargoed surprise task by title only, a non-public plan unnamed."""
    if kind not in SHAPED:
        return None
    from ..public.shape import shape  # (here: portal.public's package imports the search views)
    s = shape(kind, record, now)
    label = KIND_LABELS.get(kind)
    names = lambda rows: "、".join(r["name"] for r in rows)  # noqa: E731
    if kind == "plan":
        return PublicFields(
            title=s["title"], url=s["url"], year=str(s["year"]), dept=s["department_code"],
            text=_join(s["description"], names(s["participants"])),
            subtitle=_join(label, s["department"], f"{s['year']}年"), date=record.published_at)
    if kind == "task":
        # The plan is named only while public (the shape gives its id then).
        plan_title = "临时任务" if s["temporary"] else (record.plan.title if s["plan_id"] else "")
        return PublicFields(
            title=s["title"], url=s["url"], year=str(s["year"]), dept=s["department_code"],
            codes=[s["code"]], shown=f"任务编号 {s['code']}",
            text=_join(plan_title, names(s["check_items"]), s["description"], names(s["departments"])),
            subtitle=_join(label, s["department"], s["code"]), date=record.published_at)
    if kind == "result":
        findings = [_join(f["check_item"], f["text"]) for f in s["findings"]]
        task_title = s["task_title"]
        return PublicFields(
            title=f"{s['entity_name']}（{task_title}）" if task_title else s["entity_name"],
            title_terms=s["entity_name"], url=s["url"], year=str(record.formed_date.year),
            dept=s["department_code"], conclusion=[c["code"] for c in s["conclusions"]],
            text=_join("；".join(c["label"] for c in s["conclusions"]), s["remark"], s["follow_up"], *findings,
                       task_title or "", "、".join(s["check_items"])),
            shown=_join(f"统一社会信用代码 {s['uscc']}", f"任务编号 {s['task_code']}" if s["task_code"] else ""),
            subtitle=_join(label, s["department"], s["formed_date"]), date=record.published_at)
    if kind == "penalty":
        return PublicFields(
            title=_join(s["decision_no"], s["party_name"]).replace("\n", " "), url=s["url"],
            year=str(record.decision_date.year), dept=s["department_code"], codes=[s["decision_no"]],
            category=list(s["categories"]),
            text=_join(s["violation_type"], s["facts"], s["legal_basis"], "、".join(s["categories"]),
                       s["authority"]),
            shown=f"统一社会信用代码 {s['uscc']}" if s["uscc"] else "",
            subtitle=_join(label, s["department"], s["decision_date"]), date=record.published_at)
    if kind == "item":
        return PublicFields(
            title=s["name"], url=f"/items?dept={s['department_code']}#item-{s['code']}",
            year=str(s["effective_from"])[:4], dept=s["department_code"], codes=[s["code"]],
            shown=f"事项编码 {s['code']}",
            text=_join(s["target_type"], s["content"], s["legal_basis"], s["method"], s["kind"]),
            subtitle=_join(label, s["department"], s["code"]), date=record.published_at)
    # entity: never the operator name of a 个体工商户 (not on the entity's own page: own_page=False)
    section = industry_section(s["industry"])
    return PublicFields(
        title=s["name"], url=s["url"], codes=[s["uscc"]], industry=section, text=s["entity_type"],
        shown=_join(f"统一社会信用代码 {s['uscc']}", f"行政区划 {s['region_code']}", _industry_line(s["industry"])),
        subtitle=_join(label, s["entity_type"], s["uscc"]), date=record.created_at,
        published=bool(has_publications))


def to_document(kind: str, record, now: datetime, *, has_publications: bool | None = None) -> dict | None:
    """The index document for a record, or None when the rule never lets the public see it."""
    win = window(kind, record)
    if win is None or win[1] <= ts(now) and kind != "entity":
        return None  # never public, or its public window is over (nothing to show again)
    if kind == "entity" and has_publications is None:
        has_publications = entity_has_publications(record, now)
    pf = public_fields(kind, record, now, has_publications=has_publications)
    if pf is None:
        return None
    codes = ",".join(c for c in (norm_code(c) for c in pf.codes) if c)
    shown = _join(pf.shown, pf.text) if kind != "result" else _join(pf.text, pf.shown)
    doc = {"kind": kind, "rid": record.id, "key": f"{kind}:{record.id}", "show_from": win[0], "hide_at": win[1],
           "ref": KINDS.index(kind) << REF_SHIFT | record.id,
           "title": pf.title, "subtitle": pf.subtitle, "url": pf.url, "text": shown, "date": ts(pf.date) or 0,
           "codes": codes, "cgrams": codes, "dept": pf.dept, "year": pf.year,
           "conclusion": ",".join(pf.conclusion), "category": ",".join(pf.category), "industry": pf.industry,
           "published": "1" if pf.published else "0",
           "tgrams": pf.title if pf.title_terms is None else pf.title_terms, "bgrams": pf.text,
           "exact": exact_key(pf.title)}
    doc["stamp"] = hashlib.sha256(repr(sorted(doc.items())).encode()).hexdigest()[:16]
    return doc


def _industry_line(code: str | None) -> str:
    if not code:
        return ""
    section = industry_section(code)
    return f"行业 {section_label(section)}（{code}）" if section else f"行业 {code}"


def entity_has_publications(entity, now: datetime) -> bool:
    from ..extensions import db
    return bool(_entities_with_publications(db.session, [entity.id], now))


def _entities_with_publications(session: Session, ids, now: datetime) -> set[int]:
    out: set[int] = set()
    if not ids:
        return out
    for model, kind in ((Result, "result"), (Penalty, "penalty")):
        out.update(session.execute(select(model.entity_id).where(model.entity_id.in_(ids),
                                                                  public_clause(kind, now))).scalars())
    return out


_LOAD = {
    "plan": (selectinload(Plan.department), selectinload(Plan.participants)),
    "task": (selectinload(Task.department), selectinload(Task.plan), selectinload(Task.items)
             .selectinload(CheckItem.versions), selectinload(Task.departments)),
    "result": (selectinload(Result.entity), selectinload(Result.department), selectinload(Result.inspectors),
               selectinload(Result.task).selectinload(Task.items).selectinload(CheckItem.versions),
               selectinload(Result.conclusions),
               selectinload(Result.findings).selectinload(ResultFinding.check_item)
               .selectinload(CheckItem.versions)),
    "penalty": (selectinload(Penalty.department), selectinload(Penalty.entity), selectinload(Penalty.task)),
    "item": (selectinload(CheckItem.department), selectinload(CheckItem.versions)),
    "entity": (),
}
assert ResultConclusion  # (loaded through Result.conclusions)


def load(session: Session, kind: str, ids) -> list:
    """Records of one kind with everything their document needs, in a few queries."""
    model = MODELS[kind]
    return list(session.execute(select(model).where(model.id.in_(list(ids))).options(*_LOAD.get(kind, ())))
                .scalars())


def documents_for(session: Session, kind: str, records, now: datetime):
    """(record id, document or None) for loaded records of one kind."""
    pubs = _entities_with_publications(session, [r.id for r in records], now) if kind == "entity" else set()
    for record in records:
        yield record.id, to_document(kind, record, now, has_publications=record.id in pubs)


def iter_documents(session: Session, now: datetime, kinds=KINDS):
    """Every document the index should hold at `now`, kind by kind, paged by primary key
    (WHERE id > last ORDER BY id LIMIT n: constant cost per page, unlike OFFSET)."""
    for kind in kinds:
        model = MODELS[kind]
        stmt = select(model.id).order_by(model.id)
        if kind != "entity":  # public now or later (to_document applies the whole rule)
            stmt = stmt.where(model.published_at.is_not(None), model.withheld.is_(False))
        last = 0
        while True:
            ids = session.execute(stmt.where(model.id > last).limit(PAGE)).scalars().all()
            if not ids:
                break
            last = ids[-1]
            for _rid, doc in documents_for(session, kind, load(session, kind, ids), now):
                if doc is not None:
                    yield doc
            session.expunge_all()


def affected(session: Session, kind: str, rid: int) -> set[tuple[str, int]]:
    """The index documents a change to (kind, rid) may alter."""
    if kind == "draw":
        task_id = session.execute(select(Draw.task_id).where(Draw.id == rid)).scalar()
        return {("task", task_id)} if task_id else set()
    if kind not in MODELS:
        return set()
    out = {(kind, rid)}
    if kind == "task":  # its results name it only while it is public
        out.update(("result", i) for i in session.execute(select(Result.id).where(Result.task_id == rid)).scalars())
    elif kind == "result":
        task_id, entity_id = session.execute(select(Result.task_id, Result.entity_id)
                                             .where(Result.id == rid)).first() or (None, None)
        if task_id:
            out.add(("task", task_id))  # publishing a result lifts a surprise task's embargo
        if entity_id:
            out.add(("entity", entity_id))  # whether the entity has publications
    elif kind == "penalty":
        entity_id = session.execute(select(Penalty.entity_id).where(Penalty.id == rid)).scalar()
        if entity_id:
            out.add(("entity", entity_id))
    elif kind == "entity":
        out.update(("result", i) for i in session.execute(select(Result.id).where(Result.entity_id == rid)).scalars())
        out.update(("penalty", i) for i in session.execute(
            select(Penalty.id).where(Penalty.entity_id == rid)).scalars())
    return out
