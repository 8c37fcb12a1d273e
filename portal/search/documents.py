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
from ..domain.visibility import embargo_lifts_at, public_state
from ..models import (CheckItem, Draw, Entity, Penalty, Plan, Result, ResultConclusion, ResultFinding, Status,
                      Task)
from ..visibility_sql import public_clause
from .analysis import exact_key, norm_code
from .store import NEVER

KINDS = ("plan", "task", "result", "penalty", "item", "entity")
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
    """The one adapter every document's text comes from (see the module docstring)."""
    label = KIND_LABELS.get(kind)
    if kind == "plan":
        dept = record.department
        return PublicFields(
            title=record.title, url=f"/plans/{record.id}", year=str(record.year), dept=dept.code,
            text=_join(record.description, "、".join(d.name for d in record.participants)),
            subtitle=_join(label, dept.name, f"{record.year}年"), date=record.published_at)
    if kind == "task":
        dept = record.department
        plan_title = record.plan.title if record.plan else "临时任务"
        return PublicFields(
            title=record.title, url=f"/tasks/{record.code}", year=str(record.year), dept=dept.code,
            codes=[record.code], shown=f"任务编号 {record.code}",
            text=_join(plan_title, "、".join(i.name for i in record.items),
                       record.description, "、".join(d.name for d in record.departments)),
            subtitle=_join(label, dept.name, record.code), date=record.published_at)
    if kind == "result":
        ent, task, dept = record.entity, record.task, record.department
        # A withheld or embargoed task is never named, even beside a public result.
        task_public = public_state("task", task, now).is_visible
        findings = [_join(f.check_item.name if f.check_item else "", f.text) for f in record.findings]
        return PublicFields(
            title=f"{ent.name}（{task.title}）" if task_public else ent.name, title_terms=ent.name,
            url=f"/results/{record.id}", year=str(record.formed_date.year), dept=dept.code,
            conclusion=[c.code for c in record.conclusions],
            text=_join("；".join(c.label for c in record.conclusions), record.remark, record.follow_up, *findings,
                       task.title if task_public else "", "、".join(i.name for i in task.items)),
            shown=_join(f"统一社会信用代码 {ent.uscc}", f"任务编号 {task.code}" if task_public else ""),
            subtitle=_join(label, dept.name, record.formed_date.isoformat()), date=record.published_at)
    if kind == "penalty":
        dept = record.department
        # A natural person's name is personal data: index the linked entity's name instead.
        party = record.party_name if record.party_kind != "natural_person" else \
            (record.entity.name if record.entity is not None else "")
        return PublicFields(
            title=_join(record.decision_no, party).replace("\n", " "), url=f"/penalties/{record.id}",
            year=str(record.decision_date.year), dept=dept.code, codes=[record.decision_no],
            category=list(record.categories),
            text=_join(record.violation_type, record.facts, record.legal_basis, "、".join(record.categories),
                       record.authority),
            shown=f"统一社会信用代码 {record.entity.uscc}" if record.entity else "",
            subtitle=_join(label, dept.name, record.decision_date.isoformat()), date=record.published_at)
    if kind == "item":
        v, dept = record.current, record.department
        return PublicFields(
            title=v.name, url=f"/items?dept={dept.code}#item-{record.code}", year=str(v.effective_from.year),
            dept=dept.code, codes=[record.code], shown=f"事项编码 {record.code}",
            text=_join(v.target_type, v.content, v.legal_basis, v.method, v.kind),
            subtitle=_join(label, dept.name, record.code), date=record.published_at)
    if kind == "entity":
        etype = getattr(record.entity_type, "value", record.entity_type)
        section = industry_section(record.industry)
        # Never the operator name of a 个体工商户 (personal data) nor address/legal representative.
        return PublicFields(
            title=record.name, url=f"/entities/{record.uscc}", codes=[record.uscc], industry=section,
            text=etype,
            shown=_join(f"统一社会信用代码 {record.uscc}", f"行政区划 {record.region_code}",
                        _industry_line(record.industry)),
            subtitle=_join(label, etype, record.uscc), date=record.created_at,
            published=bool(has_publications))
    return None


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
    "result": (selectinload(Result.entity), selectinload(Result.department),
               selectinload(Result.task).selectinload(Task.items).selectinload(CheckItem.versions),
               selectinload(Result.conclusions),
               selectinload(Result.findings).selectinload(ResultFinding.check_item)
               .selectinload(CheckItem.versions)),
    "penalty": (selectinload(Penalty.department), selectinload(Penalty.entity)),
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
