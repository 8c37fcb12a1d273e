"""Disclosure deadlines for real records: rules and calendar overrides from the database,
`disclosure(kind, record)` for every public detail page, clerk warnings, publicity policy.

Rules, overrides and thresholds are read from the database on each request (cached
for that request only), so an administrator's change applies without a restart.
"""
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import has_request_context, request
from sqlalchemy import and_, func, select

from . import clock
from .domain.dates import china_date
from .domain.deadlines import (DEFAULT_RULES, DUE_SOON_WORKDAYS, KIND_LABELS, Disclosure, assess,
                               embargoed_disclosure, task_clock_start, urgency, workdays_to_publish)
from .domain.visibility import embargo_lifts_at
from .domain.publicity import PublicityPolicy, publicity_end
from .domain.workdays import WorkCalendar
from .extensions import db
from .models import (CalendarOverride, DeadlineRule, Department, Draw, DrawSelection, Entity, Penalty, Plan, Result,
                     Setting, Status, Task)

__all__ = ["Disclosure", "disclosure", "rules", "work_calendar", "publicity_policy", "warnings", "Problem",
           "Warnings", "penalty_publicity_end", "recompute_publicity_ends", "workdays_to_publish"]

PUBLICITY_SETTING = "publicity_policy"
_CACHE_KEY = "portal.deadlines.cache"


# --- configuration read per request -------------------------------------------------------------

def _cache() -> dict:
    """A dict living as long as the current request (a fresh one outside requests)."""
    if has_request_context():
        return request.environ.setdefault(_CACHE_KEY, {})
    return {}


def rules() -> dict[str, int]:
    """Working days allowed per kind: the defaults of SPEC §4 overlaid with DeadlineRule rows."""
    cache = _cache()
    if "rules" not in cache:
        values = dict(DEFAULT_RULES)
        for kind, days in db.session.execute(select(DeadlineRule.record_kind, DeadlineRule.working_days)):
            values[kind] = int(days)
        cache["rules"] = values
    return cache["rules"]


def overrides() -> dict[date, bool]:
    cache = _cache()
    if "overrides" not in cache:
        cache["overrides"] = {day: bool(flag) for day, flag in
                              db.session.execute(select(CalendarOverride.day, CalendarOverride.is_workday))}
    return cache["overrides"]


# WorkCalendars by their overrides, shared by the requests of a process: the overrides are read
# per request (one small query), so an edited override is a new key at once, and the calendar's
# memoised per-day answers (holiday-table lookups, due dates) are not recomputed on every list
# page (bench/pages.py: ~1 ms of CPU per 20 rows).
_CALENDARS: dict[frozenset, WorkCalendar] = {}


def work_calendar() -> WorkCalendar:
    """The working-day calendar with the administrators' overrides."""
    cache = _cache()
    if "calendar" not in cache:
        current = overrides()
        key = frozenset(current.items())
        calendar = _CALENDARS.get(key)
        if calendar is None:
            if len(_CALENDARS) >= 8:
                _CALENDARS.clear()
            calendar = _CALENDARS[key] = WorkCalendar(current)
        cache["calendar"] = calendar
    return cache["calendar"]


def clear_cache() -> None:
    if has_request_context():
        request.environ.pop(_CACHE_KEY, None)


def publicity_policy() -> PublicityPolicy:
    """Publicity thresholds (总局令第45号 defaults) overlaid with the `publicity_policy` setting."""
    row = db.session.get(Setting, PUBLICITY_SETTING)
    return policy_from_dict(row.value if row is not None and isinstance(row.value, dict) else {})


def policy_from_dict(data: dict) -> PublicityPolicy:
    default = PublicityPolicy()
    kwargs = {}
    for name in ("short_months", "long_years"):
        try:
            kwargs[name] = int(data.get(name, getattr(default, name)))
        except (TypeError, ValueError):
            kwargs[name] = getattr(default, name)
    for name in ("small_fine_natural_person", "small_fine_organisation"):
        try:
            kwargs[name] = Decimal(str(data.get(name, getattr(default, name))))
        except (InvalidOperation, TypeError, ValueError):
            kwargs[name] = getattr(default, name)
    return PublicityPolicy(**kwargs)


def policy_to_dict(policy: PublicityPolicy) -> dict:
    return {"short_months": policy.short_months, "long_years": policy.long_years,
            "small_fine_natural_person": str(policy.small_fine_natural_person),
            "small_fine_organisation": str(policy.small_fine_organisation)}


def penalty_publicity_end(penalty: Penalty, policy: PublicityPolicy | None = None) -> date | None:
    """The last public day of `penalty` under the current (or given) thresholds."""
    return publicity_end(penalty.categories, penalty.fine_amount, penalty.confiscation_amount,
                         penalty.party_kind, penalty.decision_date, penalty.restriction_end,
                         policy=policy or publicity_policy())


def recompute_publicity_ends(policy: PublicityPolicy | None = None, actor=None) -> int:
    """Recompute every penalty's stored `publicity_end` (after thresholds change); returns how many changed.

    Call inside write_transaction(); each change is journaled.
    """
    from . import journal

    policy = policy or publicity_policy()
    changed = 0
    for penalty in db.session.scalars(select(Penalty).order_by(Penalty.id)):
        new_end = penalty_publicity_end(penalty, policy)
        if new_end != penalty.publicity_end:
            before = {"publicity_end": penalty.publicity_end}
            penalty.publicity_end = new_end
            journal.record("update", "penalty", penalty.id, actor=actor, before=before,
                           after={"publicity_end": new_end}, summary=f"重新计算公示期限：{penalty.decision_no}",
                           department_id=penalty.department_id)
            changed += 1
    return changed


# --- disclosure of one record -------------------------------------------------------------------

def _published_on(record, now: datetime) -> date | None:
    status = getattr(record.status, "value", record.status)
    if record.published_at is None or status == Status.DRAFT.value or record.published_at > now:
        return None
    return china_date(record.published_at)


def _embargoed(record, task: Task, now: datetime) -> Disclosure:
    """A surprise task or its list: due when the task's embargo lifts (SPEC §3, §4).

    The lift moment comes only from published results and the task's period
    (domain.visibility.embargo_lifts_at); before it has passed the record is not public, so
    it counts as unpublished (the back office still sees the expected due date).
    """
    lifts = embargo_lifts_at(task)
    own = _published_on(record, now) if lifts is not None and lifts <= now else None
    return embargoed_disclosure(china_date(lifts) if lifts else None, own, rules()["draw"], work_calendar())


def disclosure(kind: str, record, now: datetime | None = None) -> Disclosure:
    """Due date, provisional flag and on-time verdict of a plan, task, draw, result or penalty."""
    now = now or clock.now()
    cal, days = work_calendar(), rules()
    if kind == "plan":
        return assess(record.approval_date, days["plan"], _published_on(record, now), cal,
                      start_event="plan_approved")
    if kind == "task":
        if record.surprise:
            return _embargoed(record, record, now)
        if record.plan is not None:
            start, event = task_clock_start(record.plan.approval_date, china_date(record.created_at))
            return assess(start, days["plan"], _published_on(record, now), cal, start_event=event)
        # A temporary task is due with its list: the first draw performed (every performed draw is public).
        first = next((d for d in record.draws if d.drawn_at is not None and not d.withheld), None)
        start = china_date(first.drawn_at) if first is not None else None
        return assess(start, days["draw"], _published_on(record, now), cal, start_event="drawn")
    if kind == "draw":
        if record.drawn_at is None:
            return Disclosure(None)
        if record.task.surprise:
            return _embargoed(record, record.task, now)
        return assess(china_date(record.drawn_at), days["draw"], _published_on(record, now), cal,
                      start_event="drawn")
    if kind == "result":
        return assess(record.formed_date, days["result"], _published_on(record, now), cal, start_event="formed")
    if kind == "penalty":
        return assess(record.decision_date, days["penalty"], _published_on(record, now), cal,
                      start_event="decided")
    raise ValueError(f"no disclosure deadline for kind {kind!r}")


# --- clerk warnings ----------------------------------------------------------------------------

@dataclass
class Problem:
    category: str  # "overdue", "due_soon" or "missing"
    kind: str  # plan/task/draw/result/penalty
    record_id: int | None
    department_id: int
    department_name: str
    label: str  # what the clerk recognises: title, task code, decision number
    due_date: date | None
    provisional: bool
    workdays: int  # overdue: working days late; due soon: working days left; missing: days since period end
    start_date: date | None = None
    task_id: int | None = None
    task_code: str | None = None
    entity_id: int | None = None
    entity_name: str | None = None
    uscc: str | None = None

    @property
    def kind_label(self) -> str:
        return "检查结果" if self.category == "missing" else KIND_LABELS.get(self.kind, self.kind)

    @property
    def category_label(self) -> str:
        return {"overdue": "逾期未公示", "due_soon": "即将到期", "missing": "缺少检查结果"}[self.category]


@dataclass
class Warnings:
    overdue: list[Problem] = field(default_factory=list)
    due_soon: list[Problem] = field(default_factory=list)
    missing: list[Problem] = field(default_factory=list)
    # Objections and credit-repair applications past or near their handling deadline (SPEC §12),
    # overdue first (portal.objections.queries.CaseProblem).
    objections: list[Problem] = field(default_factory=list)

    @property
    def objections_overdue(self) -> list[Problem]:
        return [p for p in self.objections if p.category == "overdue"]

    @property
    def all(self) -> list[Problem]:
        return self.overdue + self.due_soon + self.missing + self.objections

    @property
    def counts(self) -> dict[str, int]:
        overdue_cases = len(self.objections_overdue)
        return {"overdue": len(self.overdue), "due_soon": len(self.due_soon), "missing": len(self.missing),
                "objections_overdue": overdue_cases, "objections_due_soon": len(self.objections) - overdue_cases}

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.due_soon) + len(self.missing) + len(self.objections)

    @property
    def has_overdue(self) -> bool:
        """Something is late: an unpublished record or an undecided objection (`deadlines report` exits 1)."""
        return bool(self.overdue or self.objections_overdue)


def _unpublished(model, department_id):
    query = select(model).where(model.status == Status.DRAFT, model.withheld.is_(False))
    if department_id is not None:
        query = query.where(model.department_id == department_id)
    return query


def warnings(department_id: int | None = None, today: date | None = None, now: datetime | None = None) -> Warnings:
    """Overdue, due-soon and missing-result problems (one department, or all), newest first."""
    now = now or clock.now()
    today = today or china_date(now)
    cal = work_calendar()
    departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    out = Warnings()

    def add(kind, record_id, dept_id, label, d: Disclosure, **extra):
        if d.due_date is None:
            return
        u = urgency(d.due_date, today, cal, DUE_SOON_WORKDAYS)
        if u.state == "ok":
            return
        problem = Problem(u.state, kind, record_id, dept_id, departments.get(dept_id, ""), label, d.due_date,
                          d.provisional, u.workdays, d.start_date, **extra)
        (out.overdue if u.state == "overdue" else out.due_soon).append(problem)

    for plan in db.session.scalars(_unpublished(Plan, department_id)):
        add("plan", plan.id, plan.department_id, plan.title, disclosure("plan", plan, now))
    for task in db.session.scalars(_unpublished(Task, department_id)):
        if task.plan is not None and task.plan.status == Status.DRAFT:
            continue  # the plan's own warning covers its tasks
        add("task", task.id, task.department_id, f"{task.code} {task.title}", disclosure("task", task, now),
            task_id=task.id, task_code=task.code)
    # Drawn lists need no warning: a draw is published when it is locked (SPEC §5 item 7).
    for result in db.session.scalars(_unpublished(Result, department_id)):
        add("result", result.id, result.department_id, f"{result.task.code} {result.entity.name}",
            disclosure("result", result, now), task_id=result.task_id, task_code=result.task.code,
            entity_id=result.entity_id, entity_name=result.entity.name, uscc=result.entity.uscc)
    # A penalty that may no longer be public (period over, credit repaired) is not worth a warning.
    live_penalties = _unpublished(Penalty, department_id).where(
        Penalty.publicity_end.is_not(None), Penalty.publicity_end >= today,
        (Penalty.credit_repair_date.is_(None)) | (Penalty.credit_repair_date > today))
    for penalty in db.session.scalars(live_penalties):
        add("penalty", penalty.id, penalty.department_id, f"{penalty.decision_no} {penalty.party_name}",
            disclosure("penalty", penalty, now), entity_id=penalty.entity_id)

    out.missing = missing_results(department_id, today, departments)
    from .objections.queries import handling_problems  # objections share the clerks' warnings (SPEC §12)
    out.objections = handling_problems(department_id, today, departments)
    out.overdue.sort(key=lambda p: (p.due_date, p.kind, p.record_id or 0), reverse=True)
    out.due_soon.sort(key=lambda p: (p.due_date, p.kind, p.record_id or 0))
    return out


def missing_results(department_id: int | None, today: date, departments: dict[int, str] | None = None) -> list[Problem]:
    """Drawn targets (the task's current draw) of tasks whose period ended before `today` with no result."""
    if departments is None:
        departments = {d.id: d.name for d in db.session.scalars(select(Department))}
    latest = (select(Draw.task_id, func.max(Draw.sequence).label("sequence"))
              .where(Draw.drawn_at.is_not(None)).group_by(Draw.task_id).subquery())
    query = (select(Task, DrawSelection.entity_id, Entity.name, Entity.uscc)
             .join(latest, latest.c.task_id == Task.id)
             .join(Draw, and_(Draw.task_id == Task.id, Draw.sequence == latest.c.sequence))
             .join(DrawSelection, DrawSelection.draw_id == Draw.id)
             .join(Entity, Entity.id == DrawSelection.entity_id)
             .outerjoin(Result, and_(Result.task_id == Task.id, Result.entity_id == DrawSelection.entity_id))
             .where(Task.period_end < today, Result.id.is_(None), Task.withheld.is_(False))
             .order_by(Task.period_end.desc(), Task.code, DrawSelection.position))
    if department_id is not None:
        query = query.where(Task.department_id == department_id)
    problems = []
    for task, entity_id, name, uscc in db.session.execute(query):
        problems.append(Problem("missing", "result", None, task.department_id, departments.get(task.department_id, ""),
                                f"{task.code} {name}", task.period_end, False, (today - task.period_end).days,
                                task.period_start, task_id=task.id, task_code=task.code, entity_id=entity_id,
                                entity_name=name, uscc=uscc))
    return problems


def overdue_count(department_id: int | None = None, now: datetime | None = None) -> int:
    return len(warnings(department_id, now=now).overdue)


def disclosure_json(kind: str, record, now: datetime | None = None) -> dict | None:
    """The public JSON form of disclosure(): for detail `.json` output."""
    try:
        d = disclosure(kind, record, now)
    except ValueError:
        return None
    if d.due_date is None:
        return None
    return {"start_date": d.start_date.isoformat() if d.start_date else None, "working_days": d.working_days,
            "due_date": d.due_date.isoformat(), "provisional": d.provisional,
            "published_on": d.published_on.isoformat() if d.published_on else None,
            "on_time": d.on_time, "late_working_days": d.late_days}


# --- on-time status of many records at once (list pages, JSON lists, CSV) ----------------------

def _preload_for_disclosure(kind: str, records: list) -> list:
    """Load in one query each what disclosure() reads beyond the row (a task's plan and draws, a
    draw's task), so a list of N records costs no query per row. Core rows need nothing.

    Returns the loaded objects: the caller keeps them referenced (the session's identity map
    holds objects weakly, and many-to-one attributes resolve from it without a query)."""
    from collections import defaultdict

    from sqlalchemy import inspect
    from sqlalchemy.orm.attributes import set_committed_value

    loaded = []
    if kind == "draw":
        # Many-to-one: once the tasks are in the session, draw.task resolves without a query.
        task_ids = {r.task_id for r in records if isinstance(r, Draw) and "task" in inspect(r).unloaded}
        if task_ids:
            loaded += db.session.scalars(select(Task).where(Task.id.in_(task_ids))).all()
    elif kind == "task":
        tasks = [r for r in records if isinstance(r, Task)]
        plan_ids = {t.plan_id for t in tasks if t.plan_id is not None and "plan" in inspect(t).unloaded}
        if plan_ids:
            loaded += db.session.scalars(select(Plan).where(Plan.id.in_(plan_ids))).all()
        without_draws = [t for t in tasks if "draws" in inspect(t).unloaded]
        if without_draws:
            by_task = defaultdict(list)
            for d in db.session.scalars(select(Draw).where(Draw.task_id.in_([t.id for t in without_draws]))
                                        .order_by(Draw.task_id, Draw.sequence)):
                by_task[d.task_id].append(d)
            for t in without_draws:
                set_committed_value(t, "draws", by_task.get(t.id, []))
    return loaded


def disclosure_status_many(kind: str, records, now: datetime | None = None) -> dict[int, dict]:
    """{record.id: {"status": "on_time"|"late"|"pending", "late_working_days": N, "label": …, "due": date}}.

    The one deadline rule (disclosure()) applied to each record; `records` are ORM objects
    or Core rows with the columns disclosure() reads (results: formed_date, published_at,
    status; penalties: decision_date, published_at, status).
    """
    from .domain.deadlines import disclosure_status

    now = now or clock.now()
    records = list(records)
    related = _preload_for_disclosure(kind, records)  # noqa: F841 (kept alive while judging)
    return {r.id: disclosure_status(disclosure(kind, r, now)) for r in records}


def disclosure_status_json(kind: str):
    """The batch function behind the public `disclosure` field of `kind` (JSON lists, CSV):
    `fn(records, now) -> {id: {"status", "late_working_days", "label", "due": "YYYY-MM-DD"}}`."""

    def batch(records, now):
        return {rid: {**value, "due": value["due"].isoformat() if value["due"] else None}
                for rid, value in disclosure_status_many(kind, records, now).items()}

    return batch
