"""The right-of-reply table of the /stats report (issue 13: "objections, once they exist").

Registered with portal.stats.report.register_table, so it appears on the page and in the XLSX,
CSV and JSON downloads of every period, one row per department of the report.
"""
import statistics

from ..stats.report import RATE, TEXT, Column, Table
from .queries import DepartmentFigures, department_stats


def _total(rows: list[DepartmentFigures]) -> DepartmentFigures:
    total = DepartmentFigures("", "合计")
    for r in rows:
        total.objections += r.objections
        total.decided += r.decided
        total.upheld += r.upheld
        total.handling_days += r.handling_days
        total.credit_repair_applications += r.credit_repair_applications
        total.credit_repairs_approved += r.credit_repairs_approved
    return total


def _median(r: DepartmentFigures):
    return f"{statistics.median(r.handling_days):g}" if r.handling_days else None


COLUMNS = (
    Column("objections", "受理异议", group="当事人异议", flat="受理异议（件）", value=lambda r: r.objections),
    Column("objections_decided", "已办结", group="当事人异议", flat="异议已办结（件）", value=lambda r: r.decided),
    Column("objections_upheld", "成立", group="当事人异议", flat="异议成立（件）", value=lambda r: r.upheld),
    Column("objections_share_upheld", "成立率", RATE, group="当事人异议", flat="异议成立率", width=8,
           value=lambda r: r.share_upheld),
    Column("objections_median_workdays", "办理用时中位数（工作日）", TEXT, group="当事人异议",
           flat="异议办理用时中位数（工作日）", width=12, value=_median),
    Column("credit_repair_applications", "申请", group="信用修复", flat="信用修复申请（件）",
           value=lambda r: r.credit_repair_applications),
    Column("credit_repairs_approved", "准予修复", group="信用修复", flat="准予信用修复（件）",
           value=lambda r: r.credit_repairs_approved),
)


def objection_table(figures, now) -> Table:
    """Cases received in the report's period, per department of the report (counts only)."""
    period = figures.period
    found = {r.department_code: r for r in department_stats(period.start, period.end, now, figures.dept)}
    rows, kept = [], []
    for f in figures.departments:
        r = found.get(f.code) or DepartmentFigures(f.code, f.name)
        kept.append(r)
        rows.append((f.code, f.name, [c.value(r) for c in COLUMNS]))
    total = _total(kept)
    return Table("objections", "当事人异议和信用修复申请", list(COLUMNS), rows, [c.value(total) for c in COLUMNS],
                 note="按受理日期统计。异议成立 = 办结结果为“更正”或“撤回”（“维持”为不成立）；办理用时为受理日至办结日的"
                      "工作日数。申请人的身份、联系方式、说明和附件均不公开。")
