"""/stats: the oversight report of a period — per-department figures, monthly trends — as a page
(htmx swaps only the report when the period changes), JSON, CSV and a printable XLSX.

The figures come from portal.stats (counted in the database through the visibility rule);
these views parse the query string, pick the representation and render.
"""
import re
from urllib.parse import urlencode

from flask import Response, jsonify, redirect, request
from sqlalchemy import select

from .. import clock, deadlines
from ..exports import csv_response
from ..extensions import db
from ..models import Department
from ..stats import ALL_TIME, PeriodError, build, parse_period, report_json
from ..stats.charts import conclusion_chart, on_time_chart, trend_charts
from ..stats.report import RATE, csv_header, csv_rows
from ..stats.workbook import MEDIA_TYPE, workbook_bytes
from ..web import render_page
from . import bp

_DEPT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@bp.app_template_global("disclosure_of")
def disclosure_of(kind: str, record):
    """Templates: the Disclosure (due date, on time / N working days late) of a public record."""
    try:
        return deadlines.disclosure(kind, record, clock.now())
    except ValueError:
        return None


def _selection():
    """(period, department or None, Chinese error messages) from the query string."""
    errors = []
    try:
        period = parse_period(request.args)
    except PeriodError as exc:
        period, errors = ALL_TIME, list(exc.messages)
    dept = None
    code = (request.args.get("dept") or "").strip()
    if code:
        if _DEPT_CODE.match(code):
            dept = db.session.execute(select(Department).where(Department.code == code)).scalar()
        if dept is None:
            errors.append(f"部门代码“{code[:32]}”不存在，请从部门列表中选择。")
    return period, dept, errors


def _bad_request(fmt: str, errors: list[str]):
    message = "；".join(errors)
    if fmt == "json":
        return jsonify({"error": {"status": 400, "title": "统计条件有误", "message": message, "messages": errors}}), 400
    return Response(f"统计条件有误：{message}\n", 400, content_type="text/plain; charset=utf-8")


@bp.get("/stats")
def stats():
    if any(value == "" for _, value in request.args.items(multi=True)):
        # The period form sends every field; share the URL without the empty ones.
        clean = [(k, v) for k, v in request.args.items(multi=True) if v != ""]
        return redirect(request.path + ("?" + urlencode(clean) if clean else ""))
    period, dept, errors = _selection()
    this_year = clock.today().year
    context = dict(period=period, dept=dept, errors=errors, args=request.args, RATE=RATE,
                   dept_options=db.session.execute(select(Department.code, Department.name)
                                                   .order_by(Department.code)).all(),
                   year_options=list(range(this_year, this_year - 6, -1)), report=None)
    if not errors:
        report = build(period, clock.now(), dept)
        context.update(report=report, figures=report.figures, trends=trend_charts(report.figures),
                       department_charts=[on_time_chart(report.figures), conclusion_chart(report.figures)],
                       query=urlencode(sorted({**period.query_args(), **({"dept": dept.code} if dept else {})}.items())),
                       list_args=period.list_args())
    return render_page("public/stats/index.html", "public/stats/_report.html", **context), (400 if errors else 200)


@bp.get("/stats.json")
def stats_json():
    period, dept, errors = _selection()
    if errors:
        return _bad_request("json", errors)
    return jsonify(report_json(build(period, clock.now(), dept)))


@bp.get("/stats.csv")
def stats_csv():
    period, dept, errors = _selection()
    if errors:
        return _bad_request("csv", errors)
    report = build(period, clock.now(), dept)
    return csv_response(f"stats-{period.slug}.csv", csv_header(report), csv_rows(report))


@bp.get("/stats.xlsx")
def stats_xlsx():
    period, dept, errors = _selection()
    if errors:
        return _bad_request("xlsx", errors)
    report = build(period, clock.now(), dept)
    body = report.files.get("xlsx") or report.files.setdefault("xlsx", workbook_bytes(report))
    name = f"stats-{period.slug}" + (f"-{dept.code}" if dept else "") + ".xlsx"
    return Response(body, mimetype=MEDIA_TYPE, headers={"Content-Disposition": f"attachment; filename={name}"})
