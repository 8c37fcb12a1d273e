"""/stats: each department's public record per year — counts, conclusion mix, penalties,
on-time disclosure rate and median working days to publish — as HTML (with server-side
SVG charts), JSON and CSV. Only records the public may see count (the visibility rule).
"""
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask import jsonify, render_template, request
from sqlalchemy import func, select

from .. import clock, deadlines
from ..domain.dates import china_date
from ..domain.deadlines import assess, embargoed_disclosure, workdays_to_publish
from ..domain.visibility import embargo_lift_moment
from ..exports import csv_response
from ..extensions import db
from ..models import Department, Draw, Penalty, Plan, Result, ResultConclusion, Task, VocabularyKind, VocabularyTerm
from ..visibility_sql import public_clause
from . import bp

KINDS = ("plan", "draw", "result", "penalty")
KIND_LABELS = {"plan": "抽查计划", "draw": "抽取名单", "result": "检查结果", "penalty": "行政处罚"}


@dataclass
class Row:
    """One department in one year (year None: all years)."""

    department_code: str
    department_name: str
    year: int | None
    plans: int = 0
    tasks: int = 0
    draws: int = 0
    results: int = 0
    penalties: int = 0
    fines: Decimal = Decimal("0")
    confiscations: Decimal = Decimal("0")
    conclusions: dict = field(default_factory=dict)  # code → count
    judged: int = 0  # published records with a due date
    on_time: int = 0
    workdays: list = field(default_factory=list)  # working days from start event to publication
    judged_by_kind: dict = field(default_factory=lambda: {k: 0 for k in KINDS})
    on_time_by_kind: dict = field(default_factory=lambda: {k: 0 for k in KINDS})

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.judged, 4) if self.judged else None

    @property
    def median_workdays(self) -> float | None:
        return float(statistics.median(self.workdays)) if self.workdays else None

    def add(self, other: "Row") -> None:
        for name in ("plans", "tasks", "draws", "results", "penalties", "fines", "confiscations", "judged",
                     "on_time"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, count in other.conclusions.items():
            self.conclusions[code] = self.conclusions.get(code, 0) + count
        for kind in KINDS:
            self.judged_by_kind[kind] += other.judged_by_kind[kind]
            self.on_time_by_kind[kind] += other.on_time_by_kind[kind]
        self.workdays.extend(other.workdays)

    def as_json(self, conclusion_codes) -> dict:
        return {
            "department": self.department_code, "department_name": self.department_name, "year": self.year,
            "plans": self.plans, "tasks": self.tasks, "draws": self.draws, "results": self.results,
            "conclusions": {code: self.conclusions.get(code, 0) for code in conclusion_codes},
            "penalties": self.penalties, "fines": str(self.fines), "confiscations": str(self.confiscations),
            "disclosures_judged": self.judged, "disclosures_on_time": self.on_time, "on_time_rate": self.on_time_rate,
            "on_time_by_kind": {k: {"judged": self.judged_by_kind[k], "on_time": self.on_time_by_kind[k]}
                                for k in KINDS},
            "median_workdays_to_publish": self.median_workdays,
        }


@dataclass
class Stats:
    rows: list  # per department and year, sorted by department code then year (newest first)
    departments: list  # per department over the selected years
    total: Row
    conclusions: list  # [(code, label)] in vocabulary order
    years: list  # years that have any public record
    year: int | None
    dept: str | None


def _conclusion_vocabulary(seen: set) -> list[tuple[str, str]]:
    terms = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label)
                               .where(VocabularyTerm.kind == VocabularyKind.CONCLUSION)
                               .order_by(VocabularyTerm.sort_order, VocabularyTerm.code)).all()
    known = [(code, label) for code, label in terms]
    codes = {code for code, _ in known}
    return known + sorted((code, label) for code, label in seen if code not in codes)


def build_stats(now: datetime, year: int | None = None, dept: str | None = None) -> Stats:
    """Aggregate every public record into rows per (department, year)."""
    cal, rules = deadlines.work_calendar(), deadlines.rules()
    departments = {d.id: d for d in db.session.scalars(select(Department))}
    rows: dict[tuple[int, int], Row] = {}

    def row(dept_id: int, yr: int) -> Row:
        key = (dept_id, yr)
        if key not in rows:
            d = departments[dept_id]
            rows[key] = Row(d.code, d.name, yr)
        return rows[key]

    def judge(r: Row, kind: str, start: date | None, published_at, due_override=None, published_on=None):
        published_on = published_on or china_date(published_at)
        verdict = assess(start, rules[kind], published_on, cal, due_override)
        if verdict.due_date is None or verdict.on_time is None:
            return
        r.judged += 1
        r.judged_by_kind[kind] += 1
        if verdict.on_time:
            r.on_time += 1
            r.on_time_by_kind[kind] += 1
        if start is not None:
            r.workdays.append(workdays_to_publish(start, published_on, cal))

    for dept_id, yr, approval, published_at in db.session.execute(
            select(Plan.department_id, Plan.year, Plan.approval_date, Plan.published_at)
            .where(public_clause("plan", now))):
        r = row(dept_id, yr)
        r.plans += 1
        judge(r, "plan", approval, published_at)

    for dept_id, yr, count in db.session.execute(
            select(Task.department_id, Task.year, func.count()).where(public_clause("task", now))
            .group_by(Task.department_id, Task.year)):
        row(dept_id, yr).tasks += count

    # A surprise task's list is due when the embargo lifts (the one rule: domain.deadlines.embargoed_disclosure);
    # only performed draws are drawn lists (a draw is public from its lock, SPEC §5 item 7).
    for dept_id, surprise, period_end, complete, drawn_at, published_at in db.session.execute(
            select(Task.department_id, Task.surprise, Task.period_end, Task.results_complete_at, Draw.drawn_at,
                   Draw.published_at).join(Task, Draw.task_id == Task.id)
            .where(public_clause("draw", now), Draw.drawn_at.is_not(None))):
        drawn_on = china_date(drawn_at)
        r = row(dept_id, drawn_on.year)
        r.draws += 1
        if surprise:
            lifted_on = china_date(embargo_lift_moment(period_end, complete))
            verdict = embargoed_disclosure(lifted_on, china_date(published_at), rules["draw"], cal)
            judge(r, "draw", None, None, due_override=(verdict.due_date, verdict.provisional),
                  published_on=verdict.published_on)
        else:
            judge(r, "draw", drawn_on, published_at)

    for dept_id, formed, published_at in db.session.execute(
            select(Result.department_id, Result.formed_date, Result.published_at)
            .where(public_clause("result", now))):
        r = row(dept_id, formed.year)
        r.results += 1
        judge(r, "result", formed, published_at)

    seen_conclusions = set()
    for dept_id, formed, code, label, count in db.session.execute(
            select(Result.department_id, Result.formed_date, ResultConclusion.code, ResultConclusion.label,
                   func.count()).join(Result, ResultConclusion.result_id == Result.id)
            .where(public_clause("result", now))
            .group_by(Result.department_id, Result.formed_date, ResultConclusion.code, ResultConclusion.label)):
        r = row(dept_id, formed.year)
        r.conclusions[code] = r.conclusions.get(code, 0) + count
        seen_conclusions.add((code, label))

    for dept_id, decided, published_at, fine, confiscation in db.session.execute(
            select(Penalty.department_id, Penalty.decision_date, Penalty.published_at, Penalty.fine_amount,
                   Penalty.confiscation_amount).where(public_clause("penalty", now))):
        r = row(dept_id, decided.year)
        r.penalties += 1
        r.fines += Decimal(fine or 0)
        r.confiscations += Decimal(confiscation or 0)
        judge(r, "penalty", decided, published_at)

    years = sorted({yr for _, yr in rows}, reverse=True)
    selected = [r for (dept_id, yr), r in rows.items()
                if (year is None or yr == year) and (not dept or r.department_code == dept)]
    selected.sort(key=lambda r: (r.department_code, -(r.year or 0)))
    per_department: dict[str, Row] = {}
    total = Row("", "全部部门", year)
    for r in selected:
        agg = per_department.setdefault(r.department_code, Row(r.department_code, r.department_name, year))
        agg.add(r)
        total.add(r)
    return Stats(selected, list(per_department.values()), total, _conclusion_vocabulary(seen_conclusions), years,
                 year, dept or None)


@bp.app_template_global("disclosure_of")
def disclosure_of(kind: str, record):
    """Templates: the Disclosure (due date, on time / N working days late) of a public record."""
    try:
        return deadlines.disclosure(kind, record, clock.now())
    except ValueError:
        return None


# --- charts (server-side SVG; the template draws them) -------------------------------------------

PALETTE = ["#1a7f37", "#0a58ca", "#9a6700", "#b42318", "#6f42c1", "#0e7490", "#a4262c", "#57606a",
           "#d4a72c", "#e85aad", "#bc4c00", "#1b1f24"]


def chart_data(stats: Stats) -> dict:
    """Bar lengths (0–100) for the on-time chart and stacked segments for the conclusion mix."""
    on_time = [{"name": r.department_name, "code": r.department_code, "rate": r.on_time_rate,
                "pct": round((r.on_time_rate or 0) * 100, 1), "judged": r.judged, "on_time": r.on_time}
               for r in stats.departments]
    colours = {code: PALETTE[i % len(PALETTE)] for i, (code, _) in enumerate(stats.conclusions)}
    mix = []
    for r in stats.departments:
        total = sum(r.conclusions.values())
        segments, offset = [], 0.0
        for code, label in stats.conclusions:
            count = r.conclusions.get(code, 0)
            if not count:
                continue
            width = 100.0 * count / total
            segments.append({"code": code, "label": label, "count": count, "x": round(offset, 3),
                             "width": round(width, 3), "pct": round(width, 1), "colour": colours[code]})
            offset += width
        mix.append({"name": r.department_name, "code": r.department_code, "total": total, "segments": segments})
    legend = [{"code": code, "label": label, "colour": colours[code]} for code, label in stats.conclusions
              if stats.total.conclusions.get(code)]
    return {"on_time": on_time, "mix": mix, "legend": legend}


# --- views ----------------------------------------------------------------------------------------

def _filters():
    raw_year = (request.args.get("year") or "").strip()
    year = int(raw_year) if raw_year.isdigit() and 1990 <= int(raw_year) <= 2100 else None
    dept = (request.args.get("dept") or "").strip() or None
    return year, dept


CSV_HEADER = ["部门代码", "部门", "年度", "抽查计划", "抽查任务", "抽取名单", "检查结果", "行政处罚", "罚款金额（元）",
              "没收金额（元）", "已判定公示记录", "按时公示", "按时公示率", "公示用时中位数（工作日）"]


@bp.get("/stats")
def stats():
    year, dept = _filters()
    data = build_stats(clock.now(), year, dept)
    dept_options = db.session.execute(select(Department.code, Department.name).order_by(Department.code)).all()
    return render_template("public/stats/index.html", stats=data, charts=chart_data(data), year=year, dept=dept,
                           dept_options=dept_options, args=request.args, rules=deadlines.rules())


@bp.get("/stats.json")
def stats_json():
    year, dept = _filters()
    data = build_stats(clock.now(), year, dept)
    codes = [code for code, _ in data.conclusions]
    return jsonify({
        "filters": {"year": year, "dept": dept},
        "generated_at": clock.now().isoformat(),
        "rules": deadlines.rules(),
        "conclusions": [{"code": code, "label": label} for code, label in data.conclusions],
        "rows": [r.as_json(codes) for r in data.rows],
        "departments": [r.as_json(codes) for r in data.departments],
        "total": data.total.as_json(codes),
    })


@bp.get("/stats.csv")
def stats_csv():
    year, dept = _filters()
    data = build_stats(clock.now(), year, dept)
    header = CSV_HEADER + [f"{code} {label}" for code, label in data.conclusions]

    def rows():
        for r in data.rows:
            yield [r.department_code, r.department_name, r.year, r.plans, r.tasks, r.draws, r.results, r.penalties,
                   f"{r.fines:.2f}", f"{r.confiscations:.2f}", r.judged, r.on_time,
                   "" if r.on_time_rate is None else f"{r.on_time_rate:.4f}",
                   "" if r.median_workdays is None else f"{r.median_workdays:g}"] + \
                [r.conclusions.get(code, 0) for code, _ in data.conclusions]

    return csv_response("stats.csv", header, rows())
