"""The oversight figures of one period, per department, and the month-by-month trends.

Everything counted is public: each query goes through `visibility_sql.public_clause`, so
the figures are what anyone can recount from the lists (`/results.json?dept=…&from=…&to=…`).

Cost is bounded by the database, not by Python: results and penalties (the big tables) are
counted with GROUP BY queries. Their on-time verdicts are decided in SQL too: the one
deadline rule (portal.deadlines: N working days after the start event) is evaluated in
Python once per calendar day, and a small day → deadline table joins the rows, so a
record is on time when `published_at` falls before the end of its due day (China time).
Plans, tasks and drawn lists, which number in the hundreds, go through
`deadlines.disclosure_status_many` (the same rule, record by record).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Date, and_, case, column, distinct, func, select, values
from sqlalchemy.orm import defer

from .. import deadlines
from ..database import UTCDateTime
from ..domain.dates import china_date, china_midnight
from ..domain.deadlines import LATE, ON_TIME
from ..extensions import db
from ..models import (CheckItem, CheckItemVersion, Department, Draw, DrawSelection, Entity, Penalty, PenaltyCategory,
                      Plan, RegistrationStatus, Result, ResultConclusion, Task, VocabularyKind, VocabularyTerm)
from ..queries import DEFAULT_CONCLUSIONS, DEFAULT_PENALTY_CATEGORIES
from ..visibility_sql import _no_index, public_clause
from .periods import Month, Period, last_months

KINDS = ("plan", "task", "draw", "result", "penalty")
KIND_LABELS = {"plan": "抽查计划", "task": "抽查任务", "draw": "抽取名单", "result": "检查结果", "penalty": "行政处罚"}
TREND_MONTHS = 24
# Conclusions that mean "a problem was found" (SPEC §2 default vocabulary). Not problems: C01
# nothing found, C07 no such business activity, C09/C10 closed or deregistered. An administrator
# may mark a term otherwise with the vocabulary attribute {"problem": true|false}.
PROBLEM_CONCLUSIONS = frozenset({"C02", "C03", "C04", "C05", "C06", "C08"})


@dataclass
class Timeliness:
    """On-time verdicts of the published records of one kind (records with a due date)."""

    judged: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.on_time / self.judged, 4) if self.judged else None

    def add(self, other: "Timeliness") -> None:
        self.judged += other.judged
        self.on_time += other.on_time
        self.late += other.late

    def as_json(self) -> dict:
        return {"judged": self.judged, "on_time": self.on_time, "late": self.late, "rate": self.rate}


@dataclass
class DepartmentFigures:
    """One department's work in the period (or the total over departments)."""

    code: str
    name: str
    items_in_force: int = 0  # public check items in force at the period's end
    tasks_planned: int = 0  # public tasks whose inspection period overlaps the period
    tasks_done: int = 0  # … whose every drawn target has a public result
    draws: int = 0  # public drawn lists drawn in the period (redraws included)
    entities_drawn: int = 0  # targets on the current drawn lists drawn in the period (户次)
    results: int = 0  # public results formed in the period (检查户次)
    entities_inspected: int = 0  # distinct entities among them (户)
    problems: int = 0  # results with at least one problem conclusion
    conclusions: dict = field(default_factory=dict)  # code → results with that conclusion
    penalties: int = 0  # public penalties decided in the period
    fines: Decimal = Decimal("0")
    confiscations: Decimal = Decimal("0")
    categories: dict = field(default_factory=dict)  # category label → penalties
    missing_results: int = 0  # drawn targets of tasks ended in the period with no public result
    timeliness: dict = field(default_factory=lambda: {kind: Timeliness() for kind in KINDS})
    directory_size: int = 0

    @property
    def problem_rate(self) -> float | None:
        return round(self.problems / self.results, 4) if self.results else None

    @property
    def directory_share(self) -> float | None:
        return round(self.entities_inspected / self.directory_size, 4) if self.directory_size else None

    @property
    def on_time(self) -> Timeliness:
        total = Timeliness()
        for kind in KINDS:
            total.add(self.timeliness[kind])
        return total

    def add(self, other: "DepartmentFigures") -> None:
        """Sum another department into a total (distinct entities are recounted by the caller)."""
        for name in ("items_in_force", "tasks_planned", "tasks_done", "draws", "entities_drawn", "results",
                     "entities_inspected", "problems", "penalties", "fines", "confiscations", "missing_results"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for target, source in ((self.conclusions, other.conclusions), (self.categories, other.categories)):
            for key, count in source.items():
                target[key] = target.get(key, 0) + count
        for kind in KINDS:
            self.timeliness[kind].add(other.timeliness[kind])


@dataclass
class TrendMonth:
    month: Month
    results: int = 0
    problems: int = 0
    penalties: int = 0
    fines: Decimal = Decimal("0")
    judged: int = 0  # results and penalties with an on-time verdict
    on_time: int = 0

    @property
    def problem_rate(self) -> float | None:
        return round(self.problems / self.results, 4) if self.results else None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.judged, 4) if self.judged else None


@dataclass
class Figures:
    period: Period
    dept: str | None  # department code filter
    departments: list  # DepartmentFigures, by department code
    total: DepartmentFigures
    conclusions: list  # [(code, label)] vocabulary order, then any other code seen
    categories: list  # [label] vocabulary order, then any other category seen
    trends: list  # TrendMonth × 24, oldest first
    rules: dict  # working days allowed per kind
    directory_size: int
    problem_codes: list  # conclusion codes that count as "problem found"


# --- helpers ------------------------------------------------------------------------------------

def _date_between(col, start: date | None, end: date | None) -> list:
    conds = []
    if start is not None:
        conds.append(col >= start)
    if end is not None:
        conds.append(col <= end)
    return conds


def _moment_between(col, start: date | None, end: date | None) -> list:
    """A UTC timestamp column whose China date lies in [start, end]."""
    conds = []
    if start is not None:
        conds.append(col >= china_midnight(start))
    if end is not None:
        conds.append(col < china_midnight(end + timedelta(days=1)))
    return conds


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def problem_codes() -> frozenset:
    marked = {code: bool(attrs.get("problem")) for code, attrs in db.session.execute(
        select(VocabularyTerm.code, VocabularyTerm.attributes)
        .where(VocabularyTerm.kind == VocabularyKind.CONCLUSION)) if isinstance(attrs, dict) and "problem" in attrs}
    return frozenset({code for code in PROBLEM_CONCLUSIONS if marked.get(code, True)} |
                     {code for code, problem in marked.items() if problem})


def _vocabulary(kind: VocabularyKind, defaults) -> list[tuple[str, str]]:
    rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label).where(VocabularyTerm.kind == kind)
                              .order_by(VocabularyTerm.sort_order, VocabularyTerm.code)).all()
    return [(code, label) for code, label in rows] or list(defaults)


# Deadlines per calendar day are the same for every request until the rules or the calendar
# overrides change; computing them costs ~20 µs a day, so keep the last few tables.
_DEADLINE_CACHE: dict = {}


def _deadline_rows(kind: str, first: date, last: date) -> list[tuple]:
    """(day, deadline) for each day from `first` to `last`: the instant the due day of a `kind`
    record whose clock starts that day ends in China. Published before it = on time, exactly as
    portal.deadlines.disclosure() judges (published_on <= due date)."""
    days, overrides = deadlines.rules()[kind], deadlines.overrides()
    key = (kind, first, last, days, tuple(sorted(overrides.items())))
    cached = _DEADLINE_CACHE.get(key)
    if cached is None:
        cal = deadlines.work_calendar()
        cached = [(day, china_midnight(cal.add_workdays(day, days)[0] + timedelta(days=1)))
                  for day in _days(first, last)]
        if len(_DEADLINE_CACHE) > 16:
            _DEADLINE_CACHE.clear()
        _DEADLINE_CACHE[key] = cached
    return cached


def _deadline_table(rows):
    return values(column("day", Date), column("deadline", UTCDateTime), name="deadline_day").data(rows) \
        .cte("deadline_day")


def _day_span(date_col, period: Period, months: list[Month]) -> tuple[date, date] | None:
    """The days worth counting: the period and the trend window, within the data."""
    lowest, highest = db.session.execute(select(func.min(date_col), func.max(date_col))).one()
    if lowest is None:
        return None
    first = min(period.start or lowest, months[0].first_day)
    last = max(period.end or highest, months[-1].last_day)
    first, last = max(first, lowest), min(last, highest)
    return (first, last) if first <= last else None


def _by_day(model, date_col, kind: str, period: Period, months: list[Month], conds: list, *sums):
    """Rows (department_id, day, count, on time, *sums) of the public `model` records whose clock
    started in the period or the trend window, one per department and day.

    Grouping by the department and the start day follows the (department, date) index, so the
    database needs no sort; the deadline of each day joins from a small table."""
    span = _day_span(date_col, period, months)
    if span is None:
        return []
    # `_no_index` (+column on SQLite): walk the (department, date) index and look each day up in
    # the small deadline table, not the other way round (bench: 2× faster, no sort).
    cal = _deadline_table(_deadline_rows(kind, *span))
    stmt = (select(model.department_id, date_col, func.count(model.id),
                   func.sum(case((model.published_at < cal.c.deadline, 1), else_=0)), *sums)
            .select_from(model).join(cal, cal.c.day == _no_index(date_col))
            .where(*conds, *_date_between(date_col, *span))
            .group_by(model.department_id, date_col))
    return db.session.execute(stmt).all()


def _month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


# --- the figures --------------------------------------------------------------------------------

def compute(period: Period, now: datetime, dept: Department | None = None) -> Figures:
    """Every figure of the report for `period` (all departments, or one), plus the trends."""
    today = china_date(now)
    months = last_months(today, TREND_MONTHS)
    query = select(Department).order_by(Department.code)
    if dept is not None:
        query = query.where(Department.id == dept.id)
    departments = list(db.session.scalars(query))
    directory_size = db.session.execute(select(func.count(Entity.id)).where(
        Entity.registration_status == RegistrationStatus.ACTIVE)).scalar_one()
    rows = {d.id: DepartmentFigures(d.code, d.name, directory_size=directory_size) for d in departments}
    trends = {m.key: TrendMonth(m) for m in months}
    dept_id = dept.id if dept is not None else None

    def mine(model_dept_col):
        return [model_dept_col == dept_id] if dept_id is not None else []

    def row(department_id):
        return rows.get(department_id)

    # Check items in force at the end of the period.
    item_conds = [public_clause("item", now), *mine(CheckItem.department_id)]
    if period.end is not None:
        item_conds.append(CheckItem.id.in_(select(CheckItemVersion.check_item_id)
                                           .where(CheckItemVersion.effective_from <= period.end)))
    for department_id, count in db.session.execute(
            select(CheckItem.department_id, func.count(CheckItem.id)).where(*item_conds)
            .group_by(CheckItem.department_id)):
        if row(department_id):
            row(department_id).items_in_force = count

    problems = problem_codes()
    _results(period, now, months, mine(Result.department_id), problems, row, trends)
    _penalties(period, now, months, mine(Penalty.department_id), row, trends)
    _plans(period, now, mine(Plan.department_id), row)
    _tasks(period, now, today, mine(Task.department_id), row)
    _draws(period, now, mine(Task.department_id), row)

    total = DepartmentFigures("", "全部部门" if dept is None else dept.name, directory_size=directory_size)
    for figures in rows.values():
        total.add(figures)
    # An entity inspected by two departments is one entity of the directory.
    total.entities_inspected = db.session.execute(
        select(func.count(distinct(Result.entity_id))).where(
            public_clause("result", now), *_date_between(Result.formed_date, period.start, period.end),
            *mine(Result.department_id))).scalar_one()

    conclusions = _vocabulary(VocabularyKind.CONCLUSION, DEFAULT_CONCLUSIONS)
    known = {code for code, _ in conclusions}
    seen = sorted({code for f in rows.values() for code in f.conclusions} - known)
    labels = dict(db.session.execute(select(ResultConclusion.code, func.min(ResultConclusion.label))
                                     .where(ResultConclusion.code.in_(seen)).group_by(ResultConclusion.code)).all()) \
        if seen else {}
    conclusions += [(code, labels.get(code, code)) for code in seen]
    categories = [label for _code, label in _vocabulary(VocabularyKind.PENALTY_CATEGORY,
                                                        [(c, c) for c in DEFAULT_PENALTY_CATEGORIES])]
    categories += sorted({c for f in rows.values() for c in f.categories} - set(categories))
    return Figures(period, dept.code if dept is not None else None, list(rows.values()), total, conclusions,
                   categories, list(trends.values()), dict(deadlines.rules()), directory_size, sorted(problems))


def _results(period, now, months, dept_conds, problems, row, trends) -> None:
    public = [public_clause("result", now), *dept_conds]
    for department_id, day, count, on_time, in _by_day(Result, Result.formed_date, "result", period, months,
                                                       public):
        on_time = int(on_time or 0)
        f = row(department_id) if period.contains(day) else None
        if f is not None:
            f.results += count
            t = f.timeliness["result"]
            t.judged, t.on_time, t.late = t.judged + count, t.on_time + on_time, t.late + count - on_time
        m = trends.get(_month_key(day))
        if m is not None:
            m.results += count
            m.judged += count
            m.on_time += on_time
    # Results with a problem found: start from the (fewer) problem conclusions; a result with two
    # of them counts once.
    span = _day_span(Result.formed_date, period, months)
    if span is None:
        return
    for department_id, day, problem in db.session.execute(
            select(Result.department_id, Result.formed_date, func.count(distinct(Result.id)))
            .select_from(ResultConclusion).join(Result, ResultConclusion.result_id == Result.id)
            .where(ResultConclusion.code.in_(problems), *public, *_date_between(Result.formed_date, *span))
            .group_by(Result.department_id, Result.formed_date)):
        if period.contains(day) and row(department_id):
            row(department_id).problems += problem
        if _month_key(day) in trends:
            trends[_month_key(day)].problems += problem
    in_period = [*public, *_date_between(Result.formed_date, period.start, period.end)]
    for department_id, count in db.session.execute(
            select(Result.department_id, func.count(distinct(Result.entity_id))).where(*in_period)
            .group_by(Result.department_id)):
        if row(department_id):
            row(department_id).entities_inspected = count
    for department_id, code, count in db.session.execute(
            select(Result.department_id, ResultConclusion.code, func.count(ResultConclusion.id))
            .join(Result, ResultConclusion.result_id == Result.id).where(*in_period)
            .group_by(Result.department_id, ResultConclusion.code)):
        if row(department_id):
            row(department_id).conclusions[code] = count


def _penalties(period, now, months, dept_conds, row, trends) -> None:
    public = [public_clause("penalty", now), *dept_conds]
    for department_id, day, count, on_time, fines, confiscations in _by_day(
            Penalty, Penalty.decision_date, "penalty", period, months, public,
            func.sum(Penalty.fine_amount), func.sum(Penalty.confiscation_amount)):
        on_time = int(on_time or 0)
        fines, confiscations = Decimal(fines or 0), Decimal(confiscations or 0)
        f = row(department_id) if period.contains(day) else None
        if f is not None:
            f.penalties += count
            f.fines += fines
            f.confiscations += confiscations
            t = f.timeliness["penalty"]
            t.judged, t.on_time, t.late = t.judged + count, t.on_time + on_time, t.late + count - on_time
        m = trends.get(_month_key(day))
        if m is not None:
            m.penalties += count
            m.fines += fines
            m.judged += count
            m.on_time += on_time
    for department_id, category, count in db.session.execute(
            select(Penalty.department_id, PenaltyCategory.category, func.count(PenaltyCategory.id))
            .join(Penalty, PenaltyCategory.penalty_id == Penalty.id)
            .where(*public, *_date_between(Penalty.decision_date, period.start, period.end))
            .group_by(Penalty.department_id, PenaltyCategory.category)):
        if row(department_id):
            row(department_id).categories[category] = count


def _judge(kind: str, records: list, now: datetime, department_of, row) -> None:
    """On-time counts of a few hundred plans, tasks or drawn lists, record by record."""
    for record_id, status in deadlines.disclosure_status_many(kind, records, now).items():
        if status["status"] not in (ON_TIME, LATE) or status["due"] is None:
            continue
        f = row(department_of[record_id])
        if f is None:
            continue
        t = f.timeliness[kind]
        t.judged += 1
        if status["status"] == ON_TIME:
            t.on_time += 1
        else:
            t.late += 1


def _plans(period, now, dept_conds, row) -> None:
    plans = list(db.session.scalars(select(Plan).where(
        public_clause("plan", now), *dept_conds, *_date_between(Plan.approval_date, period.start, period.end))))
    _judge("plan", plans, now, {p.id: p.department_id for p in plans}, row)


def _tasks(period, now, today, dept_conds, row) -> None:
    conds = [public_clause("task", now), *dept_conds]
    if period.end is not None:
        conds.append(Task.period_start <= period.end)
    if period.start is not None:
        conds.append(Task.period_end >= period.start)
    # The report reads dates and flags only: leave the scope, strata and quotas (JSON) unloaded.
    tasks = list(db.session.scalars(select(Task).where(*conds).options(
        defer(Task.scope), defer(Task.strata), defer(Task.inspectors_per_target), defer(Task.description))))
    if not tasks:
        return
    for task in tasks:
        if row(task.department_id):
            row(task.department_id).tasks_planned += 1
    _judge("task", tasks, now, {t.id: t.department_id for t in tasks}, row)
    # Drawn targets of each task's current public list, and how many have a public result.
    latest = (select(Draw.task_id.label("task_id"), func.max(Draw.sequence).label("sequence"))
              .where(public_clause("draw", now), Draw.drawn_at.is_not(None))  # a locked redraw is no list yet
              .group_by(Draw.task_id).subquery())
    public_result = and_(Result.task_id == Draw.task_id, Result.entity_id == DrawSelection.entity_id,
                         public_clause("result", now))
    coverage = db.session.execute(
        select(Draw.task_id, func.count(DrawSelection.id), func.count(Result.id))
        .select_from(Draw).join(latest, and_(latest.c.task_id == Draw.task_id, latest.c.sequence == Draw.sequence))
        .join(DrawSelection, DrawSelection.draw_id == Draw.id).outerjoin(Result, public_result)
        .where(Draw.task_id.in_([t.id for t in tasks])).group_by(Draw.task_id)).all()
    by_id = {t.id: t for t in tasks}
    for task_id, drawn, inspected in coverage:
        task = by_id[task_id]
        f = row(task.department_id)
        if f is None:
            continue
        if drawn and inspected == drawn:
            f.tasks_done += 1
        # A result is missing once the inspection period is over (SPEC §4); it belongs to the
        # period in which the task ended.
        if task.period_end < today and period.contains(task.period_end):
            f.missing_results += drawn - inspected


def _draws(period, now, dept_conds, row) -> None:
    found = db.session.execute(
        select(Draw, Task.department_id).join(Task, Draw.task_id == Task.id)
        .where(public_clause("draw", now), *dept_conds, *_moment_between(Draw.drawn_at, period.start, period.end))).all()
    if not found:
        return
    draws = [d for d, _ in found]
    department_of = {d.id: department_id for d, department_id in found}
    for department_id in department_of.values():
        if row(department_id):
            row(department_id).draws += 1
    _judge("draw", draws, now, department_of, row)
    # Targets count once per task: a redraw replaces its predecessor's list.
    current = dict(db.session.execute(
        select(Draw.task_id, func.max(Draw.sequence)).where(public_clause("draw", now), Draw.drawn_at.is_not(None),
                                                            Draw.task_id.in_({d.task_id for d in draws}))
        .group_by(Draw.task_id)).all())
    current_ids = [d.id for d in draws if current.get(d.task_id) == d.sequence]
    for draw_id, count in db.session.execute(
            select(DrawSelection.draw_id, func.count(DrawSelection.id))
            .where(DrawSelection.draw_id.in_(current_ids)).group_by(DrawSelection.draw_id)):
        f = row(department_of[draw_id])
        if f is not None:
            f.entities_drawn += count


__all__ = ["compute", "Figures", "DepartmentFigures", "Timeliness", "TrendMonth", "KINDS", "KIND_LABELS",
           "PROBLEM_CONCLUSIONS", "problem_codes"]
