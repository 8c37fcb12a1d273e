"""Load `Lookups` from the database for the validators (a whole file, or one form)."""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select, tuple_
from sqlalchemy.orm import selectinload

from .. import clock
from ..domain import directory as ownership
from ..domain.dates import china_date
from ..extensions import db
from ..models import (CheckItem, Department, Entity, Inspector, Penalty, Result, Task, VocabularyKind,
                      VocabularyTerm)
from .lookups import EntityRef, Existing, Lookups, TaskInfo

CHUNK = 500


def _chunks(values, size=CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def vocabulary(kind: VocabularyKind, include=()) -> dict:
    """code → label of the active terms (plus `include`, codes a record already uses); SPEC defaults if none."""
    rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label, VocabularyTerm.active)
                              .where(VocabularyTerm.kind == kind)
                              .order_by(VocabularyTerm.sort_order, VocabularyTerm.code)).all()
    if not rows:  # a fresh database: the defaults of SPEC §2
        from ..demo.vocabulary import default_terms
        return {code: label for k, code, label, _o, _a in default_terms() if k == kind}
    return {code: label for code, label, active in rows if active or code in include}


def entity_policy() -> str:
    return ownership.check_policy(current_app.config.get("DIRECTORY_ENTITY_EDITORS", ownership.ADMINS))


def task_info(task: Task) -> TaskInfo:
    draw = task.current_draw
    return TaskInfo(
        id=task.id, code=task.code, title=task.title, department_id=task.department_id,
        department_ids={task.department_id, *(d.id for d in task.departments)},
        item_terms={item.code: item.name for item in task.items},
        item_ids_by_code={item.code: item.id for item in task.items}, item_ids={item.id for item in task.items},
        drawn_entity_ids={s.entity_id for s in draw.selections} if draw is not None else set(),
        drawn_on=china_date(draw.drawn_at) if draw is not None else None,
        period_start=task.period_start, period_end=task.period_end)


def load_lookups(kind: str, department: Department | None, *, usccs=(), task_codes=(), include_terms=(),
                 result_ids=()) -> Lookups:
    """What validating records of `kind` for `department` needs; `usccs`/`task_codes` limit the loading.

    `department` is None for a directory entity edited by an administrator (it belongs to no department)."""
    lk = Lookups(department_id=department.id if department else None,
                 department_name=department.name if department else "")
    session = db.session
    for chunk in _chunks({u for u in usccs if u}):
        for eid, uscc, name, etype, owner in session.execute(
                select(Entity.id, Entity.uscc, Entity.name, Entity.entity_type, Entity.registered_by_id)
                .where(Entity.uscc.in_(chunk))):
            lk.entities[uscc] = EntityRef(eid, name, getattr(etype, "value", etype), owner)
    task_codes = {c.upper() for c in task_codes if c}
    if kind == "result" and department is not None:
        for chunk in _chunks({i for i in result_ids if i}):
            for rid, code in session.execute(select(Result.id, Task.code).join(Task, Task.id == Result.task_id)
                                             .where(Result.id.in_(chunk), Result.department_id == department.id)):
                lk.result_tasks[rid] = code
                task_codes.add(code.upper())
    if kind in ("result", "penalty"):
        for chunk in _chunks(task_codes):
            for task in session.execute(select(Task).where(Task.code.in_(chunk)).options(
                    selectinload(Task.items), selectinload(Task.departments), selectinload(Task.draws))).scalars():
                lk.tasks[task.code.upper()] = task_info(task)
    if kind == "result":
        for iid, dept_id, licence in session.execute(select(Inspector.id, Inspector.department_id,
                                                            Inspector.licence_no)):
            lk.inspectors[licence.upper()] = (iid, dept_id, licence)
        lk.conclusions = vocabulary(VocabularyKind.CONCLUSION, include_terms)
        lk.follow_ups = vocabulary(VocabularyKind.FOLLOW_UP, include_terms)
    if kind == "penalty":
        lk.penalty_categories = vocabulary(VocabularyKind.PENALTY_CATEGORY, include_terms)
    if kind == "inspector" and department is not None:
        for iid, code in session.execute(select(CheckItem.id, CheckItem.code)
                                         .where(CheckItem.department_id == department.id)):
            lk.department_items[code] = iid
            lk.department_items[code.upper()] = iid
    return lk


def _status(record) -> str:
    return getattr(record.status, "value", record.status)


def result_snapshot(r: Result) -> dict:
    """A result's values in the shape `validate_result` returns them (for new/updated/unchanged)."""
    return {"task_id": r.task_id, "entity_id": r.entity_id, "inspection_date": r.inspection_date,
            "formed_date": r.formed_date, "remark": r.remark, "verification_method": r.verification_method,
            "follow_up": r.follow_up, "conclusions": sorted((c.code, c.label) for c in r.conclusions),
            "inspectors": sorted(i.licence_no for i in r.inspectors),
            "item_ids": sorted({f.check_item_id for f in r.findings if f.check_item_id}),
            "findings": {f.check_item_id: f.text for f in r.findings if f.check_item_id and f.text}}


def penalty_snapshot(p: Penalty) -> dict:
    return {"decision_no": p.decision_no, "entity_id": p.entity_id, "party_name": p.party_name,
            "party_kind": p.party_kind, "violation_type": p.violation_type, "facts": p.facts,
            "legal_basis": p.legal_basis, "categories": list(p.categories), "fine_amount": p.fine_amount,
            "confiscation_amount": p.confiscation_amount, "decision_date": p.decision_date,
            "restriction_end": p.restriction_end, "authority": p.authority, "task_id": p.task_id}


def entity_snapshot(e: Entity) -> dict:
    return {"uscc": e.uscc, "name": e.name, "entity_type": e.entity_type.value, "region_code": e.region_code,
            "industry": e.industry, "registration_status": e.registration_status.value,
            "risk_class": e.risk_class.value, "tags": sorted(e.tags or []), "address": e.address,
            "legal_representative": e.legal_representative, "operator_name": e.operator_name,
            "established_on": e.established_on}


def inspector_snapshot(i: Inspector) -> dict:
    return {"licence_no": i.licence_no, "name": i.name, "gender": i.gender, "id_card_no": i.id_card_no,
            "enforcement_field": i.enforcement_field, "post": i.post,
            "specialties": sorted(s.id for s in i.specialties), "active": i.active}


def public_record(kind: str, record, now) -> dict:
    """A record as public channels show it: its public shape (portal.public.shape)."""
    from ..public.shape import shape
    return shape(kind, record, now)


def _day(text):
    return date.fromisoformat(text) if text else None


def public_forms(kind: str, record, now) -> dict:
    """key → the value as the public CSV shows it, where that may differ from the stored value
    (an individual business under its trade name, a date or a task the public may not see yet).
    An uploaded value equal to it means "unchanged", so a department's open-data file can be
    uploaded back as it is without overwriting what the public version leaves out."""
    shown = public_record(kind, record, now)
    if kind == "penalty":
        return {"party_name": shown["party_name"], "task_id": record.task_id if shown["task_code"] else None}
    return {"inspection_date": _day(shown["inspection_date"]), "remark": shown["remark"],
            "follow_up": shown["follow_up"]}


def load_existing(kind: str, keys, lookups: Lookups, actor_role: str | None = None) -> None:
    """Fill `lookups.existing` with the records that already have these natural keys."""
    session, lk = db.session, lookups
    keys = [k for k in keys if k]
    now = clock.now()
    if kind == "result":
        for chunk in _chunks(keys):
            for r in session.execute(select(Result).where(tuple_(Result.task_id, Result.entity_id).in_(chunk))
                                     .options(selectinload(Result.conclusions), selectinload(Result.inspectors),
                                              selectinload(Result.findings), selectinload(Result.entity),
                                              selectinload(Result.department),
                                              selectinload(Result.task).selectinload(Task.items))).scalars():
                refused = "该检查对象在本任务中的结果已由其他部门录入" if r.department_id != lk.department_id else ""
                lk.existing[(r.task_id, r.entity_id)] = Existing(r.id, result_snapshot(r), _status(r), refused,
                                                                 public_forms("result", r, now))
                lk.loaded.append(r)  # keep the loaded objects (and their collections) for the commit
    elif kind == "penalty":
        for chunk in _chunks([k[0] for k in keys]):
            for p in session.execute(select(Penalty).where(Penalty.decision_no.in_(chunk))
                                     .options(selectinload(Penalty.category_rows), selectinload(Penalty.entity),
                                              selectinload(Penalty.task), selectinload(Penalty.department))
                                     ).scalars():
                refused = "该决定书文号已被其他部门使用" if p.department_id != lk.department_id else ""
                lk.existing[(p.decision_no,)] = Existing(p.id, penalty_snapshot(p), _status(p), refused,
                                                         public_forms("penalty", p, now))
                lk.loaded.append(p)
    elif kind == "entity":
        policy = entity_policy()
        for chunk in _chunks([k[0] for k in keys]):
            for e in session.execute(select(Entity).where(Entity.uscc.in_(chunk))
                                     .options(selectinload(Entity.registered_by))).scalars():
                refused = "" if ownership.may_change(actor_role, lk.department_id, e.registered_by_id, policy) \
                    else ownership.refusal(e.registered_by.name if e.registered_by else None, policy)
                lk.existing[(e.uscc,)] = Existing(e.id, entity_snapshot(e), None, refused)
                lk.loaded.append(e)
    elif kind == "inspector":
        for chunk in _chunks([k[0] for k in keys]):
            for i in session.execute(select(Inspector).where(Inspector.licence_no.in_(chunk))
                                     .options(selectinload(Inspector.specialties))).scalars():
                refused = "该执法证号属于其他部门的执法人员" if i.department_id != lk.department_id else ""
                lk.existing[(i.licence_no,)] = Existing(i.id, inspector_snapshot(i), None, refused)
                lk.loaded.append(i)
