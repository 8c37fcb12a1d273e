"""The draw as the portal runs it: pool from the directory, lock, draw, substitute, certificate.

The arithmetic lives in `portal.domain.draw` (standard library only); this module
reads the directories, stores what happened and writes the audit journal.
Each write function runs its own `write_transaction()`: call it with no pending
changes in the session (commit first).

No draw-shopping (SPEC §5 item 7): `lock` publishes the draw record at once (its
pool_hash and commitment are public before anyone knows the public entropy; for a
surprise task they are in the audit chain and appear with the task), `perform`
fills in the drawn list of that already public record, and a redraw needs a reason
and is refused once any result of the task has been recorded.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, func, insert, or_, select
from sqlalchemy.orm import aliased

from . import clock, journal
from .database import octet_length, write_transaction
from .domain import draw as algo
from .extensions import db
from .models import (Department, Draw, DrawAssignment, DrawPoolEntry, DrawSelection, DrawStratum,
                     DrawSubstitution, DrawWitness, Entity, Inspector, InspectorConflict, RegistrationStatus,
                     Result, Status, Task, inspector_specialty)
from .visibility_sql import NOW, at, prepared, public_clause
from .validation import public_text
from .validation.draws import witnessing

DrawError = algo.DrawError
NotEnoughInspectors = algo.NotEnoughInspectors

DEFAULT_INSPECTORS_PER_TARGET = 2
# Default strata by credit-risk class (high 30%, fairly high 10%, general 2%, low 1%).
DEFAULT_STRATA = [{"stratum": "D", "ratio": "0.3"}, {"stratum": "C", "ratio": "0.1"},
                  {"stratum": "B", "ratio": "0.02"}, {"stratum": "A", "ratio": "0.01"}]
STRATIFY_LABELS = {"risk_class": "信用风险分类", "entity_type": "主体类型", "industry": "行业", "region": "区划",
                   "none": "不分层"}
ALL_STRATUM = "全部"
ACTIVE = RegistrationStatus.ACTIVE.value


# --------------------------------------------------------------------------- task settings

def normalise_ratio(text) -> str:
    """'30%', '0.3', ' 0.30 ' → exact decimal text ('0.3'); raises DrawError if not a ratio in [0, 1]."""
    raw = str(text).strip().replace("％", "%")
    try:
        value = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise DrawError(f"抽取比例“{text}”不是有效的数字或百分比") from None
    if not value.is_finite() or value < 0 or value > 1:
        raise DrawError(f"抽取比例“{text}”应在 0 与 100% 之间")
    out = format(value.normalize(), "f")
    return out if out not in ("-0",) else "0"


def stratum_rules(task) -> list[algo.StratumRule]:
    rules = []
    for spec in task.strata or DEFAULT_STRATA:
        name = str(spec.get("stratum", "")).strip()
        if not name:
            raise DrawError("分层名称不能为空")
        if spec.get("count") not in (None, ""):
            try:
                count = int(spec["count"])
            except (TypeError, ValueError):
                raise DrawError(f"分层 {name} 的抽取数量“{spec['count']}”不是整数") from None
            if count < 0:
                raise DrawError(f"分层 {name} 的抽取数量不能为负数")
            rules.append(algo.StratumRule(name, count=count))
        elif spec.get("ratio") not in (None, ""):
            rules.append(algo.StratumRule(name, ratio=normalise_ratio(spec["ratio"])))
        else:
            raise DrawError(f"分层 {name} 既没有抽取比例也没有抽取数量")
    return rules


def task_departments(task) -> list[Department]:
    depts = list(task.departments) or [task.department]
    if task.department not in depts:
        depts.insert(0, task.department)
    return sorted(depts, key=lambda d: d.code)


def inspectors_per_target(task) -> dict[str, int]:
    """Department code → inspectors per drawn target (default 2 for every department taking part)."""
    stated = task.inspectors_per_target or {}
    return {d.code: int(stated.get(d.code, DEFAULT_INSPECTORS_PER_TARGET)) for d in task_departments(task)}


def _stratify(task):
    rules = task.strata or DEFAULT_STRATA
    if task.stratify_by == "none" or (len(rules) == 1 and rules[0].get("stratum") == ALL_STRATUM):
        return lambda row: ALL_STRATUM
    by = task.stratify_by or "risk_class"
    if by == "risk_class":
        return lambda row: getattr(row.risk_class, "value", row.risk_class)
    if by == "entity_type":
        return lambda row: getattr(row.entity_type, "value", row.entity_type)
    if by == "industry":
        return lambda row: (row.industry or "")[:1] or "未分类"
    if by == "region":
        return lambda row: row.region_code
    raise DrawError(f"不支持的分层方式“{by}”")


def _region_prefix(code: str) -> str:
    """'411400' (a city) covers every county code starting '4114'."""
    code = code.strip()
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def _scope_values(scope, key):
    values = scope.get(key) or []
    if isinstance(values, str):
        values = [v for v in values.replace("，", ",").split(",")]
    return [str(v).strip() for v in values if str(v).strip()]


def settings_snapshot(task) -> dict:
    """What a draw keeps of its task's settings at lock (Draw.snapshot): scope and stratification.

    Ratios or counts per stratum are kept as DrawStratum rows, inspectors per target in
    Draw.inspectors_per_target; later edits of the task change none of them.
    """
    scope = {key: list(_scope_values(task.scope or {}, key))
             for key in ("entity_types", "regions", "industries", "tags", "statuses")
             if _scope_values(task.scope or {}, key)}
    return {"scope": scope, "stratify_by": task.stratify_by or "risk_class", "source": "lock"}


SCOPE_NOT_RECORDED = "锁定时未单独记录（本次抽取早于范围快照），以候选名单 pool.txt 为准"


def describe_scope(snapshot: dict) -> list[tuple[str, str]]:
    """A draw's scope snapshot (Draw.snapshot) in plain Chinese, for clerks and the public."""
    snapshot = snapshot or {}
    scope = snapshot.get("scope")
    if scope is None:
        out = [("抽查范围", SCOPE_NOT_RECORDED)]
    else:
        labels = [("entity_types", "主体类型"), ("regions", "行政区划"), ("industries", "行业"), ("tags", "标签")]
        out = [(label, "、".join(_scope_values(scope, key))) for key, label in labels if _scope_values(scope, key)]
        out.append(("登记状态", ACTIVE))
    by = snapshot.get("stratify_by")
    out.append(("分层方式", STRATIFY_LABELS.get(by, by) if by else "未记录"))
    return out


# --------------------------------------------------------------------------- the pool

@dataclass(frozen=True)
class PoolMember:
    entity_id: int
    uscc: str
    stratum: str


def candidate_pool(task) -> list[PoolMember]:
    """Entities matching the task's scope, registration status 存续 only, each with its stratum."""
    scope = task.scope or {}
    statuses = _scope_values(scope, "statuses")
    if statuses and ACTIVE not in statuses:
        return []  # only 存续 entities ever enter a pool
    q = select(Entity.id, Entity.uscc, Entity.entity_type, Entity.region_code, Entity.industry,
               Entity.risk_class, Entity.tags).where(Entity.registration_status == RegistrationStatus.ACTIVE)
    types = _scope_values(scope, "entity_types")
    if types:
        q = q.where(Entity.entity_type.in_(types))
    regions = [_region_prefix(r) for r in _scope_values(scope, "regions")]
    if regions:
        q = q.where(or_(*[Entity.region_code.startswith(r, autoescape=True) for r in regions]))
    industries = _scope_values(scope, "industries")
    if industries:
        q = q.where(or_(*[Entity.industry.startswith(i, autoescape=True) for i in industries]))
    tags = set(_scope_values(scope, "tags"))
    stratum_of = _stratify(task)
    members = []
    for row in db.session.execute(q.order_by(Entity.uscc)):
        if tags and not tags.intersection(row.tags or []):
            continue
        members.append(PoolMember(row.id, row.uscc, stratum_of(row)))
    return members


@dataclass(frozen=True)
class PreviewRow:
    stratum: str
    population: int
    drawn: int
    ratio: str | None
    count: int | None


@dataclass(frozen=True)
class PoolPreview:
    rows: list[PreviewRow]
    total: int
    drawn: int
    error: str | None = None


def pool_preview(task, members=None) -> PoolPreview:
    """N per stratum and the n that a draw would take now."""
    members = candidate_pool(task) if members is None else members
    counts = Counter(m.stratum for m in members)
    try:
        rules = {r.stratum: r for r in stratum_rules(task)}
    except DrawError as exc:
        return PoolPreview([PreviewRow(s, n, 0, None, None) for s, n in sorted(counts.items())],
                           len(members), 0, str(exc))
    rows = []
    for stratum in sorted(set(counts) | set(rules)):
        rule = rules.get(stratum)
        try:
            n = algo.stratum_size(counts.get(stratum, 0), rule)
        except DrawError as exc:
            return PoolPreview(rows, len(members), 0, str(exc))
        rows.append(PreviewRow(stratum, counts.get(stratum, 0), n, rule.ratio if rule else None,
                               rule.count if rule else None))
    return PoolPreview(rows, len(members), sum(r.drawn for r in rows))


# --------------------------------------------------------------------------- lock

def redraw_reason(text) -> str | None:
    """The public reason for a redraw as stored: shown beside the superseded draw, so masked (SPEC §6)."""
    return public_text((text or "").strip()) or None


def lock_refusal(task, has_draws: bool, has_results: bool) -> str | None:
    """Why this task may not be locked now (a Chinese sentence for the clerk), or None."""
    status = getattr(task.status, "value", task.status)
    if status == Status.WITHDRAWN.value:
        return "该任务已撤回，不能再抽取"
    if status == Status.DRAFT.value and not task.surprise and not task.withheld:
        return "请先发布该任务再锁定候选名单：锁定后名单哈希和承诺值立即向社会公开（突击检查任务除外）"
    if has_draws and has_results:
        return "该任务已录入检查结果（包括未发布的草稿），不能重新抽取"
    return None


def _has_results(task_id) -> bool:
    return db.session.execute(select(Result.id).where(Result.task_id == task_id).limit(1)).first() is not None


def lock(task, actor, reason=None) -> Draw:
    """Fix the pool now: store it, its hash, a secret nonce and the commitment, and publish the
    draw record at once (SPEC §5 item 7; a surprise task's stays hidden with the task).

    A second lock on the same task is a redraw: it needs a reason, is refused once any
    result of the task has been recorded, and leaves every earlier draw in place (public,
    marked as superseded).
    """
    reason = redraw_reason(reason)
    task_id = task.id
    with write_transaction():
        # Row lock (PostgreSQL): two clerks locking at once get sequences 1 and 2, not a constraint error.
        task = db.session.get(Task, task_id, with_for_update=True, populate_existing=True)
        previous = db.session.execute(select(func.max(Draw.sequence)).where(Draw.task_id == task.id)).scalar()
        refusal = lock_refusal(task, bool(previous), bool(previous) and _has_results(task.id))
        if refusal:
            raise DrawError(refusal)
        if previous and not reason:
            raise DrawError("该任务已有抽取记录，重新抽取必须填写原因（将与每次抽取一并公示）")
        if reason and len(reason) > 500:
            raise DrawError("重新抽取原因过长（不超过 500 个字符）")
        stratum_rules(task)  # validate before storing anything
        members = candidate_pool(task)
        if not members:
            raise DrawError("按该任务的抽查范围没有符合条件（存续）的检查对象，无法锁定名单")
        preview = pool_preview(task, members)
        if preview.error:
            raise DrawError(preview.error)
        nonce = algo.new_nonce()
        now = clock.now()
        draw = Draw(task_id=task.id, sequence=(previous or 0) + 1, reason=reason, algorithm=algo.ALGORITHM,
                    pool_hash=algo.pool_hash(algo.Candidate(m.uscc, m.stratum) for m in members),
                    commitment=algo.commitment(nonce), nonce=nonce,
                    inspectors_per_target=inspectors_per_target(task), snapshot=settings_snapshot(task),
                    locked_at=now, locked_by_id=getattr(actor, "id", None),
                    status=Status.PUBLISHED, published_at=now)
        db.session.add(draw)
        db.session.flush()
        db.session.execute(insert(DrawPoolEntry), [
            {"draw_id": draw.id, "entity_id": m.entity_id, "uscc": m.uscc, "stratum": m.stratum} for m in members])
        for row in preview.rows:
            db.session.add(DrawStratum(draw_id=draw.id, stratum=row.stratum, ratio=row.ratio, count=row.count,
                                       population=row.population, drawn=None))
        journal.record("draw.lock", "draw", draw.id, actor=actor, department_id=task.department_id,
                       after={"task": task.code, "sequence": draw.sequence, "pool_size": len(members),
                              "pool_hash": draw.pool_hash, "commitment": draw.commitment, "reason": reason,
                              "snapshot": draw.snapshot, "published_at": now},
                       summary=f"锁定任务 {task.code} 第 {draw.sequence} 次抽取的候选名单（{len(members)} 户），"
                               f"公开名单哈希 {draw.pool_hash[:12]}… 和承诺值 {draw.commitment[:12]}…")
    return db.session.get(Draw, draw.id)


# --------------------------------------------------------------------------- draw

def _eligibility(task, departments):
    """Per department: inspectors (active, specialties cover the task's items) and their conflicts."""
    items_by_dept = defaultdict(set)
    for item in task.items:
        items_by_dept[item.department_id].add(item.id)
    dept_ids = [d.id for d in departments]
    inspectors = db.session.execute(
        select(Inspector.id, Inspector.department_id, Inspector.licence_no, Inspector.name)
        .where(Inspector.department_id.in_(dept_ids), Inspector.active.is_(True))).all()
    specialties = defaultdict(set)
    for insp_id, item_id in db.session.execute(
            select(inspector_specialty.c.inspector_id, inspector_specialty.c.check_item_id)
            .where(inspector_specialty.c.inspector_id.in_([i.id for i in inspectors] or [-1]))):
        specialties[insp_id].add(item_id)
    conflicts = set()
    for insp_id, entity_id in db.session.execute(
            select(InspectorConflict.inspector_id, InspectorConflict.entity_id)
            .where(InspectorConflict.inspector_id.in_([i.id for i in inspectors] or [-1]))):
        conflicts.add((insp_id, entity_id))
    by_dept = defaultdict(list)
    for insp in inspectors:
        declared = specialties.get(insp.id)
        needed = items_by_dept.get(insp.department_id, set())
        if declared and not needed <= declared:
            continue  # declared specialties that do not cover this task's items
        by_dept[insp.department_id].append(insp)
    return by_dept, conflicts


def witness_entries(public_entropy, witnesses) -> tuple[str, list[tuple[str, str | None]]]:
    """The public entropy and the witnesses (name, organisation) as they will be stored and published.

    The one place where witness input is cleaned (every path that performs a draw comes here):
    masked (validation/draws.py) before the seed uses the public random number, so the certificate
    still recomputes. `witnesses` is a list of names or (name, organisation) pairs. Raises
    DrawError when incomplete.
    """
    given = witnessing(public_entropy, witnesses)
    if given.errors:
        raise DrawError(given.errors[0].message)
    return given.values["public_entropy"], given.values["witnesses"]


def perform(draw, public_entropy, witnesses, actor) -> Draw:
    """Reveal: seed from the nonce, pool hash and public entropy; select; match inspectors; store.

    The draw record is already public (since its lock): the drawn list is public the
    moment this commits. Raises DrawError (nothing stored) when the draw cannot be made
    as asked.
    """
    public_entropy, people = witness_entries(public_entropy, witnesses)
    draw_id = draw.id
    with write_transaction():
        # Row lock (PostgreSQL): a second simultaneous "draw" click waits, then sees drawn_at set.
        draw = db.session.get(Draw, draw_id, with_for_update=True, populate_existing=True)
        if draw.drawn_at is not None:
            raise DrawError("该抽取已经完成，不能重复抽取；如确需重新抽取，请使用“重新抽取”并填写原因")
        later = db.session.execute(select(func.max(Draw.sequence)).where(Draw.task_id == draw.task_id)).scalar()
        if later != draw.sequence:
            raise DrawError("该名单已被之后的重新锁定取代，不能再抽取")
        if getattr(draw.status, "value", draw.status) == Status.WITHDRAWN.value:
            raise DrawError("该抽取记录已撤回，不能再抽取")
        if draw.sequence > 1 and _has_results(draw.task_id):
            raise DrawError("该任务已录入检查结果（包括未发布的草稿），不能重新抽取")
        task = draw.task
        pool_rows = db.session.execute(select(DrawPoolEntry.entity_id, DrawPoolEntry.uscc, DrawPoolEntry.stratum)
                                       .where(DrawPoolEntry.draw_id == draw.id)).all()
        candidates = [algo.Candidate(r.uscc, r.stratum) for r in pool_rows]
        if algo.pool_hash(candidates) != draw.pool_hash:
            raise DrawError("存储的候选名单与锁定时的 pool_hash 不一致，已停止抽取")
        entity_by_uscc = {r.uscc: r.entity_id for r in pool_rows}
        rules = [algo.StratumRule(s.stratum, s.ratio, s.count) for s in draw.strata
                 if s.ratio is not None or s.count is not None]
        seed = algo.derive_seed(draw.nonce, draw.pool_hash, public_entropy)
        outcomes, selected = algo.select(candidates, rules, seed)

        departments = task_departments(task)
        per_target = dict(draw.inspectors_per_target or inspectors_per_target(task))
        dept_by_code = {d.code: d for d in departments}
        by_dept, conflicts = _eligibility(task, departments)
        inspector_by_licence = {}
        eligible = {}
        for s in selected:
            entity_id = entity_by_uscc[s.uscc]
            per = {}
            for code in sorted(per_target):
                dept = dept_by_code.get(code)
                if dept is None:
                    raise DrawError(f"执法人员配置中的部门 {code} 不属于该任务")
                ok = sorted(i.licence_no for i in by_dept.get(dept.id, []) if (i.id, entity_id) not in conflicts)
                per[code] = ok
            eligible[s.uscc] = per
        for insps in by_dept.values():
            for i in insps:
                inspector_by_licence[i.licence_no] = i
        assignments = algo.assign_inspectors(selected, eligible, per_target, seed)  # may raise: nothing stored

        now = clock.now()
        draw.public_entropy = public_entropy
        draw.seed = seed
        draw.drawn_at = now
        draw.drawn_by_id = getattr(actor, "id", None)
        outcome_by_stratum = {o.stratum: o for o in outcomes}
        for st in draw.strata:
            o = outcome_by_stratum.get(st.stratum)
            st.drawn = o.drawn if o else 0
            st.population = o.population if o else st.population
        for pos, (s, a) in enumerate(zip(selected, assignments), 1):
            sel = DrawSelection(draw_id=draw.id, position=pos, entity_id=entity_by_uscc[s.uscc], uscc=s.uscc,
                                stratum=s.stratum, key=s.key, eligible=eligible[s.uscc])
            for j, lic in enumerate(a.inspectors, 1):
                insp = inspector_by_licence[lic]
                sel.assignments.append(DrawAssignment(position=j, inspector_id=insp.id,
                                                      department_id=insp.department_id, licence_no=lic,
                                                      name=insp.name))
            db.session.add(sel)
        for name, org in people:
            db.session.add(DrawWitness(draw_id=draw.id, name=name, organisation=org, witnessed_at=now))
        journal.record("draw.perform", "draw", draw.id, actor=actor, department_id=task.department_id,
                       after={"task": task.code, "sequence": draw.sequence, "public_entropy": public_entropy,
                              "seed": seed, "selected": [s.uscc for s in selected],
                              "witnesses": [n for n, _ in people]},
                       summary=f"完成任务 {task.code} 第 {draw.sequence} 次抽取，抽中 {len(selected)} 户（即时公示）")
    return db.session.get(Draw, draw_id)


def substitute(selection, old_licence, new_licence, reason, actor) -> DrawSubstitution:
    """Replace one matched inspector (special cases only): the old assignment stays with `replaced_at`."""
    reason = public_text((reason or "").strip())  # shown on the certificate: masked
    if not reason:
        raise DrawError("更换执法人员必须填写原因")
    old_licence, new_licence = (old_licence or "").strip(), (new_licence or "").strip()
    selection_id = selection.id
    with write_transaction():
        sel = db.session.get(DrawSelection, selection_id, with_for_update=True, populate_existing=True)
        draw = db.session.get(Draw, sel.draw_id)
        current = [a for a in sel.assignments if a.replaced_at is None]
        old = next((a for a in current if a.licence_no == old_licence), None)
        if old is None:
            raise DrawError(f"执法证号 {old_licence} 不是该对象当前匹配的执法人员")
        new = db.session.execute(select(Inspector).where(Inspector.licence_no == new_licence)).scalar()
        if new is None:
            raise DrawError(f"找不到执法证号为 {new_licence} 的执法人员")
        if not new.active:
            raise DrawError(f"执法人员 {new.name}（{new_licence}）已停用")
        if any(a.licence_no == new_licence for a in current):
            raise DrawError(f"{new.name}（{new_licence}）已是该对象的检查人员")
        if new.department_id != old.department_id:
            raise DrawError("替换人员应与被替换人员属于同一部门")
        conflict = db.session.execute(select(InspectorConflict.id).where(
            InspectorConflict.inspector_id == new.id, InspectorConflict.entity_id == sel.entity_id)).first()
        if conflict:
            raise DrawError(f"{new.name}（{new_licence}）已申报与该对象存在利益冲突，不能替换")
        now = clock.now()
        old.replaced_at = now
        sel.assignments.append(DrawAssignment(position=max(a.position for a in sel.assignments) + 1,
                                              inspector_id=new.id, department_id=new.department_id,
                                              licence_no=new.licence_no, name=new.name))
        actor_name = getattr(actor, "display_name", None) or getattr(actor, "username", None) or "system"
        sub = DrawSubstitution(draw_id=draw.id, selection_id=sel.id, old_licence_no=old_licence,
                               new_licence_no=new_licence, reason=reason, actor_id=getattr(actor, "id", None),
                               actor_name=actor_name, at=now)
        db.session.add(sub)
        journal.record("draw.substitute", "draw", draw.id, actor=actor, department_id=draw.task.department_id,
                       before={"uscc": sel.uscc, "inspector": old_licence},
                       after={"uscc": sel.uscc, "inspector": new_licence, "reason": reason},
                       summary=f"更换 {sel.uscc} 的执法人员 {old_licence} → {new_licence}")
    return db.session.get(DrawSubstitution, sub.id)


# --------------------------------------------------------------------------- certificate

def _iso(value):
    return value.isoformat() if value is not None else None


def _ratio_or_count(stratum):
    out = {}
    if stratum.ratio is not None:
        out["ratio"] = stratum.ratio
    if stratum.count is not None:
        out["count"] = stratum.count
    return out


def _draws_of_task():
    return select(Draw).where(Draw.task_id == bindparam("task_id")).order_by(Draw.sequence)


def draws_of_task(task_id) -> list[Draw]:
    """Every draw of a task in sequence order, whatever its state (callers apply the publication
    rule): a task page and a certificate read them on every request (statement built once)."""
    return list(db.session.execute(prepared("draws_of_task", _draws_of_task), {"task_id": task_id}).scalars())


def sibling_draws(draw) -> list[Draw]:
    return draws_of_task(draw.task_id)


def successors(draws) -> dict[int, Draw]:
    """Draw id → the next draw of the same task among `draws` (a draw with a successor is superseded:
    it can no longer be performed or used). Pass only the draws the reader may see."""
    by_task = defaultdict(list)
    for d in draws:
        by_task[d.task_id].append(d)
    out = {}
    for group in by_task.values():
        group.sort(key=lambda d: d.sequence)
        out.update({earlier.id: later for earlier, later in zip(group, group[1:])})
    return out


# The certificate's parts as plain rows, each statement built once per process
# (visibility_sql.prepared) with the draw id as parameter: a draw selects ~130 entities with
# their inspectors, and loading them as objects cost ~10 ms per certificate.

def _pool_rows():
    return (select(DrawPoolEntry.uscc, DrawPoolEntry.stratum)
            .where(DrawPoolEntry.draw_id == bindparam("draw_id")).order_by(DrawPoolEntry.uscc))


def _selection_rows():
    return (select(DrawSelection.id, DrawSelection.uscc, DrawSelection.stratum, DrawSelection.key,
                   DrawSelection.eligible)
            .where(DrawSelection.draw_id == bindparam("draw_id")).order_by(DrawSelection.position))


def _assignment_rows():
    return (select(DrawAssignment.selection_id, DrawAssignment.position, DrawAssignment.licence_no,
                   DrawAssignment.name, DrawAssignment.replaced_at, Department.code.label("department"))
            .join(DrawSelection, DrawAssignment.selection_id == DrawSelection.id)
            .join(Department, DrawAssignment.department_id == Department.id)
            .where(DrawSelection.draw_id == bindparam("draw_id"))
            .order_by(DrawAssignment.selection_id, DrawAssignment.position))


def _stratum_rows():
    return (select(DrawStratum.stratum, DrawStratum.ratio, DrawStratum.count, DrawStratum.population,
                   DrawStratum.drawn)
            .where(DrawStratum.draw_id == bindparam("draw_id")).order_by(DrawStratum.stratum))


def _substitution_rows():
    return (select(DrawSubstitution.selection_id, DrawSubstitution.old_licence_no, DrawSubstitution.new_licence_no,
                   DrawSubstitution.reason, DrawSubstitution.actor_name, DrawSubstitution.at)
            .where(DrawSubstitution.draw_id == bindparam("draw_id")).order_by(DrawSubstitution.id))


def _witness_rows():
    return (select(DrawWitness.name, DrawWitness.organisation, DrawWitness.witnessed_at)
            .where(DrawWitness.draw_id == bindparam("draw_id")).order_by(DrawWitness.id))


def _rows_of_draw(name, build, draw_id) -> list:
    """The rows of one certificate part (`build`, prepared under `name`) for the draw `draw_id`."""
    return db.session.execute(prepared(name, build), {"draw_id": draw_id}).all()


def pool_rows(draw_id) -> list:
    """The draw's pool as (uscc, stratum) rows in USCC order: `algo.pool_text` takes them as they are."""
    return _rows_of_draw("draw_pool", _pool_rows, draw_id)


@dataclass(frozen=True)
class PoolSummary:
    entries: int
    text_bytes: int  # the size of pool.txt (algo.pool_text, UTF-8)


def _pool_summary():
    line = octet_length(DrawPoolEntry.uscc) + octet_length(DrawPoolEntry.stratum) + 2  # "uscc\tstratum\n"
    return (select(func.count(), func.coalesce(func.sum(line), 0))
            .where(DrawPoolEntry.draw_id == bindparam("draw_id")))


def pool_summary(draw_id) -> PoolSummary:
    """How many entries a draw's pool has and how many bytes its pool.txt is, counted in SQL: the
    certificate page shows both but not the lines (a county-wide pool has ~15,000 of them)."""
    entries, text_bytes = db.session.execute(prepared("draw_pool_summary", _pool_summary),
                                             {"draw_id": draw_id}).one()
    return PoolSummary(entries, text_bytes)


def certificate(draw, siblings: list[Draw] | None = None, with_pool: bool = True) -> dict:
    """The public JSON of SPEC §5 step 6 (the nonce only once drawn). Inspector name + licence only.

    Scope, stratification and ratios are the draw's own snapshot taken at lock, never the
    task's current settings. `superseded_by` names the next draw of the task (callers that
    publish it restrict it to draws the reader may see, see public.draws.public_certificate).
    `siblings`: the task's draws in sequence order (sibling_draws), when the caller has them.
    The pool, selections, assignments, strata, substitutions and witnesses are read as plain
    rows (six statements, whatever the draw's size). `with_pool=False` leaves out "pool" and
    "pool_size" (the HTML page shows the pool's size from pool_summary, not its lines).
    """
    task = draw.task
    drawn = draw.drawn_at is not None
    pool = pool_rows(draw.id) if with_pool else None
    siblings = sibling_draws(draw) if siblings is None else siblings
    later = successors(siblings).get(draw.id)
    earlier = [d for d in siblings if d.sequence < draw.sequence]
    # Rows unpacked into names: a Row's attribute access costs ~0.3 µs, and a certificate reads
    # ~3,000 of them.
    assignments = defaultdict(list)  # selection id → (position, licence_no, name, replaced, department)
    for selection_id, position, licence_no, name, replaced_at, department in _rows_of_draw(
            "draw_assignments", _assignment_rows, draw.id):
        assignments[selection_id].append((position, licence_no, name, replaced_at is not None, department))
    # Substitutes are appended after the algorithm's assignments, so positions tell them apart.
    per_entity = sum(int(v) for v in (draw.inspectors_per_target or {}).values())
    selections = _rows_of_draw("draw_selections", _selection_rows, draw.id)
    selected = []
    for selection_id, uscc, stratum, key, eligible in selections:
        as_drawn = assignments.get(selection_id, ())
        selected.append({
            "uscc": uscc, "stratum": stratum, "key": key, "eligible": eligible,
            "inspectors": [licence_no for position, licence_no, _, _, _ in as_drawn if position <= per_entity],
            "current_inspectors": [licence_no for _, licence_no, _, replaced, _ in as_drawn if not replaced],
            "assignments": [{"licence_no": licence_no, "name": name, "department": department, "replaced": replaced}
                            for _, licence_no, name, replaced, department in as_drawn],
        })
    sel_uscc = {selection_id: uscc for selection_id, uscc, _, _, _ in selections}
    strata = _rows_of_draw("draw_strata", _stratum_rows, draw.id)
    substitutions = _rows_of_draw("draw_substitutions", _substitution_rows, draw.id)
    witnesses = _rows_of_draw("draw_witnesses", _witness_rows, draw.id)
    snapshot = draw.snapshot or {}
    return {
        "algorithm": draw.algorithm,
        "draw_id": draw.id,
        "task": task.code,
        "task_title": task.title,
        "sequence": draw.sequence,
        "status": "drawn" if drawn else "locked",
        "reason": draw.reason,
        "supersedes": [d.id for d in earlier],
        "superseded_by": later.id if later else None,
        "superseded_by_sequence": later.sequence if later else None,
        "superseded_reason": later.reason if later else None,
        "scope": snapshot.get("scope"),
        "stratify_by": snapshot.get("stratify_by"),
        **({"pool": [{"uscc": u, "stratum": s} for u, s in pool], "pool_size": len(pool)} if with_pool else {}),
        "pool_hash": draw.pool_hash,
        "commitment": draw.commitment,
        "nonce": draw.nonce if drawn else None,
        "public_entropy": draw.public_entropy,
        "seed": draw.seed,
        "strata": [{"stratum": s.stratum, "N": s.population, "n": s.drawn, **_ratio_or_count(s)}
                   for s in strata],
        "inspectors_per_target": dict(sorted((draw.inspectors_per_target or {}).items())),
        "selected": selected,
        "substitutions": [{"uscc": sel_uscc.get(s.selection_id), "old": s.old_licence_no, "new": s.new_licence_no,
                           "reason": s.reason, "actor": s.actor_name, "at": _iso(s.at)} for s in substitutions],
        "witnesses": [{"name": w.name, "organisation": w.organisation, "at": _iso(w.witnessed_at)}
                      for w in witnesses],
        "locked_at": _iso(draw.locked_at),
        "drawn_at": _iso(draw.drawn_at),
        "published_at": _iso(draw.published_at),
        "notes": {
            "inspectors": "licence numbers as matched by draw-v1 (departments in code order); "
                          "current_inspectors applies the substitutions listed in `substitutions`",
            "eligible": "per department code, the licence numbers eligible for that entity "
                        "(active, specialties cover the task's items, no declared conflict), sorted",
            "scope": "scope and stratify_by as recorded when the pool was locked (null: not recorded, "
                     "draws locked before snapshots existed; the pool itself is authoritative)",
            "times": "ISO 8601, UTC",
        },
    }


def verify_draw(draw) -> list[str]:
    """Re-run a stored draw from its own certificate (empty list = match)."""
    if draw.drawn_at is None:
        return ["该抽取尚未完成（nonce 未公开），无法核对"]
    return algo.verify(certificate(draw))


# --------------------------------------------------------------------------- public helpers

@dataclass(frozen=True)
class DrawRef:
    """What an entity's page shows of a draw (plain values, no ORM object)."""
    id: int
    sequence: int
    reason: str | None
    drawn_at: datetime | None = None


@dataclass(frozen=True)
class TaskRef:
    code: str
    title: str


@dataclass(frozen=True)
class WhyDrawn:
    """One public draw that selected an entity: the entity page's two draw tables and its JSON."""
    selection_id: int
    draw: DrawRef
    task: TaskRef
    scope: list  # the draw's own scope snapshot, described (describe_scope)
    stratum: str
    ratio: str | None
    count: int | None
    population: int
    drawn: int
    rank: int  # key rank within the stratum, 1 = smallest key
    key: str
    superseded_by: DrawRef | None  # the next public draw of the task, if any
    inspectors: tuple = ()  # (name, licence_no) of the current (not replaced) assignments, in order

    @property
    def superseded(self) -> bool:
        return self.superseded_by is not None

    @property
    def scope_text(self) -> str:
        """The scope as the page writes it ("主体类型：个体工商户；…"; a Jinja loop per row costs more)."""
        return "；".join(f"{label}：{value}" for label, value in self.scope)

    @property
    def draw_id(self) -> int:
        return self.draw.id


def _public_draws_of_tasks():
    return (select(Draw.id, Draw.task_id, Draw.sequence, Draw.reason)
            .where(Draw.task_id.in_(bindparam("task_ids", expanding=True)), public_clause("draw", NOW)))


def public_successors(task_ids, now) -> dict[int, DrawRef]:
    """successors() among the public draws of these tasks only: a draw the public cannot see
    never marks another as superseded ("why was I drawn" counts only public draws)."""
    if not task_ids:
        return {}
    # public_clause is the SQL form of draw_state(...).is_visible (tests/test_visibility.py).
    public = db.session.execute(prepared("public_draws_of_tasks", _public_draws_of_tasks),
                                {**at(now), "task_ids": sorted(task_ids)}).all()
    return {earlier: DrawRef(later.id, later.sequence, later.reason)
            for earlier, later in successors(public).items()}


def _entity_draws():
    peer = aliased(DrawSelection)
    rank = (select(func.count()).select_from(peer)
            .where(peer.draw_id == DrawSelection.draw_id, peer.stratum == DrawSelection.stratum,
                   peer.key <= DrawSelection.key).scalar_subquery())
    return (select(DrawSelection.id, DrawSelection.stratum, DrawSelection.key, rank.label("rank"),
                   Draw.id.label("draw_id"), Draw.task_id, Draw.sequence, Draw.reason, Draw.drawn_at, Draw.snapshot,
                   Task.code, Task.title, DrawStratum.ratio, DrawStratum.count, DrawStratum.population,
                   DrawStratum.drawn)
            .join(Draw, DrawSelection.draw_id == Draw.id).join(Task, Draw.task_id == Task.id)
            .outerjoin(DrawStratum, (DrawStratum.draw_id == Draw.id) & (DrawStratum.stratum == DrawSelection.stratum))
            .where(DrawSelection.entity_id == bindparam("entity_id"), public_clause("draw", NOW))
            .order_by(Draw.drawn_at.desc(), Draw.id.desc()))


def _current_assignments():
    return (select(DrawAssignment.selection_id, DrawAssignment.name, DrawAssignment.licence_no)
            .where(DrawAssignment.selection_id.in_(bindparam("selection_ids", expanding=True)),
                   DrawAssignment.replaced_at.is_(None))
            .order_by(DrawAssignment.selection_id, DrawAssignment.position))


def why_drawn(entity, now=None) -> list[WhyDrawn]:
    """For each public draw that selected `entity`, latest first: task, scope and stratum as the
    draw recorded them at lock, ratio, key rank, the current inspectors and whether a later
    public draw replaced it.

    Plain rows, three statements whatever the number of draws (each built once per process:
    visibility_sql.prepared): the selections with their draw, task and stratum (the key rank
    within the stratum is a correlated subquery), the current assignments, and the public
    draws of those tasks.
    """
    now = now or clock.now()
    # Mappings: a Row's attribute access costs ~0.3 µs, a mapping's key ~0.03 µs (16 values a row).
    rows = db.session.execute(prepared("entity_draws", _entity_draws),
                              {**at(now), "entity_id": entity.id}).mappings().all()
    if not rows:
        return []
    inspectors = defaultdict(list)
    for selection_id, name, licence_no in db.session.execute(prepared("current_assignments", _current_assignments),
                                                             {"selection_ids": [r["id"] for r in rows]}):
        inspectors[selection_id].append((name, licence_no))
    later = public_successors({r["task_id"] for r in rows}, now)
    return [WhyDrawn(r["id"], DrawRef(r["draw_id"], r["sequence"], r["reason"], r["drawn_at"]),
                     TaskRef(r["code"], r["title"]), describe_scope(r["snapshot"]), r["stratum"], r["ratio"],
                     r["count"], r["population"] or 0, r["drawn"] or 0, r["rank"], r["key"], later.get(r["draw_id"]),
                     tuple(inspectors[r["id"]]))
            for r in rows]
