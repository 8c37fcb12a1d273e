"""The period report as tables: one definition rendered as the HTML page, the XLSX workbook
(one sheet per table), the CSV (one row per department, every column) and the JSON.

A table has columns (a Chinese header, optionally under a group header) whose values are
read from each department's figures; the last row is the total. Other features add their
own per-department table with `register_table()` (the objections statistics do), and it
appears on every channel without touching this module.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable

from flask import current_app, has_app_context
from sqlalchemy import func, select

from .. import deadlines
from ..extensions import db
from ..models import Department, SearchChange
from .figures import KIND_LABELS, KINDS, DepartmentFigures, Figures, compute
from .periods import Period

INT, MONEY, RATE, TEXT = "int", "money", "rate", "text"
CORE_TABLES = ("work", "conclusions", "penalties", "timeliness")  # JSON gives these as `departments`


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the column's own header
    kind: str = INT
    group: str = ""  # a header spanning consecutive columns (merged in XLSX)
    flat: str = ""  # header in the one-table CSV (default: group + header)
    width: float = 9  # XLSX column width, in characters
    value: Callable = None  # DepartmentFigures → value

    @property
    def csv_header(self) -> str:
        return self.flat or (self.group + self.header if self.group else self.header)


@dataclass
class Table:
    key: str
    title: str
    columns: list  # Column, after the department code and name
    rows: list  # [(code, name, [values])] one per department
    total: list  # values of the total row
    note: str = ""

    @property
    def has_groups(self) -> bool:
        return any(c.group for c in self.columns)

    def header_rows(self) -> tuple[list[tuple[str, int, int]], list[str]]:
        """HTML header rows: [(text, colspan, rowspan)] on top, the grouped columns' headers below."""
        top, below, index = [], [], 0
        for group, span in self.header_groups():
            if group:
                top.append((group, span, 1))
                below += [c.header for c in self.columns[index:index + span]]
            else:
                top.append((self.columns[index].header, 1, 2 if self.has_groups else 1))
            index += span
        return top, below

    def header_groups(self) -> list[tuple[str, int]]:
        """(group header, span) over the columns, in order; "" spans ungrouped columns one by one."""
        spans: list[tuple[str, int]] = []
        for c in self.columns:
            if c.group and spans and spans[-1][0] == c.group:
                spans[-1] = (c.group, spans[-1][1] + 1)
            else:
                spans.append((c.group, 1))
        return spans


DEPARTMENT_COLUMNS = (Column("department", "部门代码", TEXT, width=14), Column("department_name", "部门", TEXT, width=24))


def _table(key, title, columns, figures: Figures, note="") -> Table:
    rows = [(f.code, f.name, [c.value(f) for c in columns]) for f in figures.departments]
    return Table(key, title, list(columns), rows, [c.value(figures.total) for c in columns], note)


def work_table(figures: Figures) -> Table:
    return _table("work", "抽查工作情况", [
        Column("items_in_force", "现行抽查事项", group="抽查事项", flat="现行抽查事项", value=lambda f: f.items_in_force),
        Column("tasks_planned", "计划任务", group="抽查任务", flat="计划抽查任务", value=lambda f: f.tasks_planned),
        Column("tasks_done", "已完成", group="抽查任务", flat="已完成抽查任务", value=lambda f: f.tasks_done),
        Column("draws", "抽取次数", group="抽取", flat="抽取次数", value=lambda f: f.draws),
        Column("entities_drawn", "抽取对象（户次）", group="抽取", flat="抽取对象（户次）", width=11,
               value=lambda f: f.entities_drawn),
        Column("results", "检查（户次）", group="检查", flat="检查（户次）", value=lambda f: f.results),
        Column("entities_inspected", "检查对象（户）", group="检查", flat="检查对象（户）", width=10,
               value=lambda f: f.entities_inspected),
        Column("directory_share", "占名录库比例", RATE, group="检查", flat="检查对象占名录库比例", width=10,
               value=lambda f: f.directory_share),
        Column("problems", "发现问题（户次）", group="检查发现", flat="发现问题（户次）", width=11, value=lambda f: f.problems),
        Column("problem_rate", "发现问题率", RATE, group="检查发现", flat="发现问题率", width=10,
               value=lambda f: f.problem_rate),
        Column("missing_results", "缺少检查结果", flat="缺少检查结果", width=10, value=lambda f: f.missing_results),
    ], figures, note=f"检查对象名录库现有存续主体 {figures.directory_size} 户。抽取对象按现行抽取名单计；"
                     "缺少检查结果指检查期间已于本期结束、仍无公开检查结果的抽取对象。")


def conclusion_table(figures: Figures) -> Table:
    columns = [Column(f"conclusion_{code}", f"{code} {label}", group="检查结论（户次）", flat=f"{code} {label}", width=11,
                      value=lambda f, code=code: f.conclusions.get(code, 0))
               for code, label in figures.conclusions]
    columns.append(Column("results", "检查结果合计", width=10, value=lambda f: f.results))
    return _table("conclusions", "检查结果结论分布", columns, figures,
                  note="一条检查结果可有多个结论，各结论户次之和可能大于检查结果合计。")


def penalty_table(figures: Figures) -> Table:
    columns = [
        Column("penalties", "处罚件数", value=lambda f: f.penalties),
        Column("fines", "罚款金额（元）", MONEY, width=15, value=lambda f: f.fines),
        Column("confiscations", "没收金额（元）", MONEY, width=15, value=lambda f: f.confiscations),
    ] + [Column(f"category_{label}", label, group="处罚类别（件）", flat=f"处罚类别：{label}", width=8,
                value=lambda f, label=label: f.categories.get(label, 0)) for label in figures.categories]
    return _table("penalties", "行政处罚", columns, figures,
                  note="仅统计公示期内的行政处罚；公示期满或信用修复后停止公示的不再计入。")


def timeliness_table(figures: Figures) -> Table:
    columns = []
    for kind in KINDS + ("all",):
        group = KIND_LABELS.get(kind, "合计")

        def timeliness(f: DepartmentFigures, kind=kind):
            return f.on_time if kind == "all" else f.timeliness[kind]
        columns += [
            Column(f"{kind}_on_time", "按时", group=group, flat=f"{group}按时公示", width=7,
                   value=lambda f, t=timeliness: t(f).on_time),
            Column(f"{kind}_late", "逾期", group=group, flat=f"{group}逾期公示", width=7,
                   value=lambda f, t=timeliness: t(f).late),
            Column(f"{kind}_rate", "按时率", RATE, group=group, flat=f"{group}按时公示率", width=8,
                   value=lambda f, t=timeliness: t(f).rate),
        ]
    rules = figures.rules
    return _table("timeliness", "按时公示情况", columns, figures,
                  note=f"公示期限（工作日）：计划及其任务 {rules['plan']}、抽取名单 {rules['draw']}、检查结果 {rules['result']}、"
                       f"行政处罚 {rules['penalty']}；自起算日次日计算，节假日和调休依国务院办公厅安排。")


TREND_COLUMNS = (
    Column("results", "检查（户次）", width=11), Column("problems", "发现问题（户次）", width=12),
    Column("problem_rate", "发现问题率", RATE, width=10), Column("penalties", "行政处罚（件）", width=11),
    Column("fines", "罚款金额（元）", MONEY, width=15), Column("judged", "可判定公示记录", width=12),
    Column("on_time", "按时公示", width=10), Column("on_time_rate", "按时公示率", RATE, width=10),
)


# Tables other features add: builder(figures, now) → Table | None, called once per report.
_EXTRA_TABLES: dict[str, Callable] = {}


def register_table(key: str, builder: Callable) -> None:
    """Add a per-department table to every channel of the report (page, XLSX, CSV, JSON).

    `builder(figures, now)` returns a Table whose rows follow `figures.departments`
    (department code and name first, as `Table.rows` holds them), or None to add nothing.
    """
    _EXTRA_TABLES[key] = builder


@dataclass
class Report:
    figures: Figures
    now: datetime
    tables: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # rendered downloads (kept with a cached report)

    @property
    def period(self) -> Period:
        return self.figures.period

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def compute_report(period: Period, now: datetime, dept: Department | None = None) -> Report:
    """The report of `period` (all departments, or one), computed now (see build() for the cached one)."""
    figures = compute(period, now, dept)
    tables = [work_table(figures), conclusion_table(figures), penalty_table(figures), timeliness_table(figures)]
    for builder in _EXTRA_TABLES.values():
        extra = builder(figures, now)
        if extra is not None:
            tables.append(extra)
    return Report(figures, now, tables)


# A report at 100,000 results costs a few hundred milliseconds of SQL; the same report is
# asked for again and again (every visitor of /stats sees this quarter). Reports are kept per
# app like the public list totals (portal.queries._count): config PUBLIC_COUNT_TTL seconds
# (default 30, 0 under TESTING), keyed by the request, the deadline rules and the newest
# change-log id, so a journaled write is visible at once; `now` is floored to the minute so
# the key repeats (publication times and the end of publicity take effect within a minute).
def build(period: Period, now: datetime, dept: Department | None = None) -> Report:
    ttl = current_app.config.get("PUBLIC_COUNT_TTL", 0 if current_app.testing else 30) if has_app_context() else 0
    if not ttl:
        return compute_report(period, now, dept)
    now = now.replace(second=0, microsecond=0)
    change = db.session.execute(select(func.max(SearchChange.id))).scalar()
    key = (period, dept.code if dept is not None else None, now, change, tuple(sorted(deadlines.rules().items())),
           tuple(sorted(deadlines.overrides().items())), tuple(_EXTRA_TABLES))
    cache = current_app.extensions.setdefault("stats_reports", {})
    hit = cache.get(key)
    moment = time.monotonic()
    if hit is not None and moment - hit[1] < ttl:
        return hit[0]
    report = compute_report(period, now, dept)
    if len(cache) > 64:
        cache.clear()
    cache[key] = (report, moment)
    return report


# --- plain values for CSV and JSON ----------------------------------------------------------------

def csv_value(column: Column, value):
    if value is None:
        return ""
    if column.kind == MONEY:
        return f"{Decimal(value):.2f}"
    if column.kind == RATE:
        return f"{value:.4f}"
    return value


def csv_header(report: Report) -> list[str]:
    return [c.header for c in DEPARTMENT_COLUMNS] + [c.csv_header for t in report.tables for c in t.columns]


def csv_rows(report: Report):
    """One row per department, then the total: every column of every table."""
    for index, (code, name, _values) in enumerate(report.tables[0].rows):
        cells = [code, name]
        for t in report.tables:
            cells += [csv_value(c, v) for c, v in zip(t.columns, t.rows[index][2])]
        yield cells
    cells = ["合计", report.figures.total.name]
    for t in report.tables:
        cells += [csv_value(c, v) for c, v in zip(t.columns, t.total)]
    yield cells


def department_json(f: DepartmentFigures, figures: Figures) -> dict:
    return {
        "department": f.code or None, "department_name": f.name,
        "items_in_force": f.items_in_force, "tasks_planned": f.tasks_planned, "tasks_done": f.tasks_done,
        "draws": f.draws, "entities_drawn": f.entities_drawn, "results": f.results,
        "entities_inspected": f.entities_inspected, "directory_share": f.directory_share,
        "problems": f.problems, "problem_rate": f.problem_rate,
        "conclusions": {code: f.conclusions.get(code, 0) for code, _ in figures.conclusions},
        "penalties": f.penalties, "fines": f"{f.fines:.2f}", "confiscations": f"{f.confiscations:.2f}",
        "penalty_categories": {label: f.categories.get(label, 0) for label in figures.categories},
        "missing_results": f.missing_results,
        "timeliness": {kind: f.timeliness[kind].as_json() for kind in KINDS},
        "on_time": f.on_time.as_json(),
    }


def trend_json(m) -> dict:
    return {"month": m.month.key, "label": m.month.label, "results": m.results, "problems": m.problems,
            "problem_rate": m.problem_rate, "penalties": m.penalties, "fines": f"{m.fines:.2f}",
            "judged": m.judged, "on_time": m.on_time, "on_time_rate": m.on_time_rate}


def report_json(report: Report) -> dict:
    figures, period = report.figures, report.period
    extra = {t.key: {"title": t.title, "columns": [{"key": c.key, "header": c.csv_header} for c in t.columns],
                     "rows": [{"department": code, **{c.key: _json_value(c, v) for c, v in zip(t.columns, values)}}
                              for code, _name, values in t.rows],
                     "total": {c.key: _json_value(c, v) for c, v in zip(t.columns, t.total)}}
             for t in report.tables if t.key not in CORE_TABLES}
    return {
        "period": {"kind": period.kind, "label": period.label, "year": period.year, "quarter": period.quarter,
                   "from": period.start.isoformat() if period.start else None,
                   "to": period.end.isoformat() if period.end else None},
        "department": figures.dept,
        "generated_at": report.now.isoformat(),
        "rules": figures.rules,
        "directory_size": figures.directory_size,
        "conclusions": [{"code": code, "label": label} for code, label in figures.conclusions],
        "penalty_categories": figures.categories,
        "departments": [department_json(f, figures) for f in figures.departments],
        "total": department_json(figures.total, figures),
        "trends": [trend_json(m) for m in figures.trends],
        "tables": extra,
    }


def _json_value(column: Column, value):
    if column.kind == MONEY and value is not None:
        return f"{Decimal(value):.2f}"
    return value


__all__ = ["Report", "Table", "Column", "build", "compute_report", "register_table", "report_json", "csv_header", "csv_rows",
           "TREND_COLUMNS", "DEPARTMENT_COLUMNS", "INT", "MONEY", "RATE", "TEXT"]
