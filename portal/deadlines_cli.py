"""`flask --app wsgi deadlines report [--department CODE]`: the clerk warnings, for a daily cron job.

Exits 1 when anything is overdue (an unpublished record, or an objection or credit-repair
application past its handling deadline), 0 otherwise (due-soon and missing results are
reported but do not fail the run).
"""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from . import clock, deadlines
from .extensions import db
from .models import Department

command = AppGroup("deadlines", help="公示时限 / disclosure deadlines")


@command.command("report")
@click.option("--department", "department_code", default=None, help="部门代码（默认全部部门）")
def report(department_code):
    """Print overdue, due-soon and missing-result problems; exit 1 if something is overdue."""
    department_id = None
    if department_code:
        dept = db.session.execute(select(Department).where(Department.code == department_code)).scalar()
        if dept is None:
            raise click.ClickException(f"部门代码不存在：{department_code}")
        department_id = dept.id
    now = clock.now()
    result = deadlines.warnings(department_id, now=now)
    click.echo(f"公示时限报告 {clock.today():%Y-%m-%d}" + (f" 部门 {department_code}" if department_code else " 全部部门"))
    click.echo(f"逾期未公示 {len(result.overdue)} · 3个工作日内到期 {len(result.due_soon)} · "
               f"缺少检查结果 {len(result.missing)}")
    counts = result.counts
    click.echo(f"异议和信用修复申请：逾期未办结 {counts['objections_overdue']} · "
               f"3个工作日内到期 {counts['objections_due_soon']}")
    for title, problems in (("逾期未公示", result.overdue), ("即将到期", result.due_soon),
                            ("缺少检查结果", result.missing), ("异议和信用修复申请", result.objections)):
        if not problems:
            continue
        click.echo(f"\n[{title}]")
        for p in problems:
            if p.kind == "objection":
                state = f"已逾期 {p.workdays} 个工作日" if p.category == "overdue" else (
                    "今天到期" if p.workdays == 0 else f"剩余 {p.workdays} 个工作日")
                detail = f"{p.category_label}：应于 {p.due_date:%Y-%m-%d} 办结，{state}"
            elif p.category == "overdue":
                detail = f"应于 {p.due_date:%Y-%m-%d} 公示，已逾期 {p.workdays} 个工作日"
            elif p.category == "due_soon":
                detail = f"应于 {p.due_date:%Y-%m-%d} 公示，" + ("今天到期" if p.workdays == 0 else f"剩余 {p.workdays} 个工作日")
            else:
                detail = f"任务已于 {p.due_date:%Y-%m-%d} 结束"
            if p.provisional:
                detail += "（按常规工作日预估）"
            click.echo(f"{p.department_name}\t{p.kind_label}\t{p.label}\t{detail}")
    click.get_current_context().exit(1 if result.has_overdue else 0)
