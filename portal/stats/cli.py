"""`flask --app wsgi stats report`: the /stats report of a period written to a file.

    flask --app wsgi stats report --quarter 2026Q3 --out 2026Q3.xlsx
    flask --app wsgi stats report --year 2026 --department 411421-SCJG --out scjg-2026.csv
    flask --app wsgi stats report --from 2026-01-01 --to 2026-03-15 --out q1.json

The file is the one /stats.xlsx (/stats.csv, /stats.json) serves for the same period and
department; the format follows the --out suffix.
"""
import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import clock
from ..exports import safe_cell
from ..extensions import db
from ..models import Department
from .periods import PeriodError, parse_period, parse_quarter_code
from .report import compute_report, csv_header, csv_rows, report_json
from .workbook import workbook_bytes

command = AppGroup("stats", help="公示统计 / oversight statistics")


def _csv_bytes(report) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(report))
    for row in csv_rows(report):
        writer.writerow([safe_cell(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


@command.command("report")
@click.option("--quarter", default=None, help="季度，如 2026Q3")
@click.option("--year", default=None, help="年度，如 2026")
@click.option("--from", "date_from", default=None, help="自定义起始日期，如 2026-01-01")
@click.option("--to", "date_to", default=None, help="自定义截止日期，如 2026-03-15")
@click.option("--department", "department_code", default=None, help="部门代码（默认全部部门）")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件：.xlsx、.csv 或 .json")
def report(quarter, year, date_from, date_to, department_code, out):
    """Write the period report (XLSX, CSV or JSON by the --out suffix)."""
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".json"):
        raise click.UsageError("--out 的扩展名应为 .xlsx、.csv 或 .json")
    try:
        if quarter:
            if year or date_from or date_to:
                raise PeriodError(["--quarter 已含年份，不能再同时指定 --year、--from 或 --to。"])
            period = parse_quarter_code(quarter)
        else:
            period = parse_period({"year": year or "", "from": date_from or "", "to": date_to or ""})
    except PeriodError as exc:
        raise click.UsageError("；".join(exc.messages)) from None
    dept = None
    if department_code:
        dept = db.session.execute(select(Department).where(Department.code == department_code)).scalar()
        if dept is None:
            raise click.ClickException(f"部门代码不存在：{department_code}")
    built = compute_report(period, clock.now(), dept)
    if suffix == ".xlsx":
        body = workbook_bytes(built)
    elif suffix == ".csv":
        body = _csv_bytes(built)
    else:
        body = json.dumps(report_json(built), ensure_ascii=False, indent=2).encode("utf-8")
    out.write_bytes(body)
    total = built.figures.total
    click.echo(f"{period.label}（{dept.name if dept else '全部部门'}）：检查 {total.results} 户次，"
               f"行政处罚 {total.penalties} 件，按时公示率 "
               f"{'—' if total.on_time.rate is None else f'{total.on_time.rate * 100:.1f}%'}；已写入 {out}")
