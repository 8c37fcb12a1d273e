"""/stats: the period report per department (page, fragment, JSON, CSV, XLSX, command), counted
from public records only, and the monthly trends."""
import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from openpyxl import load_workbook

import factories as f
from portal.domain.dates import china_midnight
from portal.models import Entity, SearchChange, Status, Task
from portal.stats import periods
from portal.stats.periods import PeriodError, parse_period, parse_quarter_code

NOW = "2025-12-01T02:00:00+00:00"
Q4 = "year=2025&quarter=4"


def at_china(day, hour=10):
    return china_midnight(day) + timedelta(hours=hour)


# --- periods (plain Python) -----------------------------------------------------------------------

def test_periods_from_the_query_string():
    q3 = parse_period({"year": "2026", "quarter": "3"})
    assert (q3.kind, q3.start, q3.end, q3.label, q3.slug) == ("quarter", date(2026, 7, 1), date(2026, 9, 30),
                                                             "2026年第三季度", "2026Q3")
    assert parse_period({"year": "2024", "quarter": "Q1"}).end == date(2024, 3, 31)
    assert parse_period({"year": "2026", "quarter": "4"}).end == date(2026, 12, 31)
    year = parse_period({"year": "2025"})
    assert (year.start, year.end, year.label) == (date(2025, 1, 1), date(2025, 12, 31), "2025年度")
    custom = parse_period({"from": "2026/7/1", "to": "2026年9月15日"})
    assert (custom.kind, custom.start, custom.end, custom.label) == ("range", date(2026, 7, 1), date(2026, 9, 15),
                                                                     "2026-07-01 至 2026-09-15")
    assert custom.query_args() == {"from": "2026-07-01", "to": "2026-09-15"} == custom.list_args()
    assert parse_period({"from": "2026-07-01"}).end is None
    assert parse_period({}) == periods.ALL_TIME and periods.ALL_TIME.label == "全部时间"
    assert parse_quarter_code("2026Q3") == q3 == parse_quarter_code("2026-q3")


@pytest.mark.parametrize("args, message", [
    ({"quarter": "3"}, "选择季度时请同时选择年度。"),
    ({"year": "2026", "quarter": "5"}, "季度“5”不正确，应为 1、2、3 或 4。"),
    ({"year": "26"}, "年度“26”不正确，请填写四位年份，例如 2026。"),
    ({"year": "2026", "from": "2026-01-01"}, "自定义起止日期与年度、季度只能选择一种，请清除其中一种。"),
    ({"from": "2026-09-01", "to": "2026-07-01"}, "起始日期不能晚于截止日期。"),
    ({"from": "2026-02-30"}, "起始日期：“2026-02-30”不是有效日期（2026年没有2月30日）"),
])
def test_bad_periods_say_why_in_chinese(args, message):
    with pytest.raises(PeriodError) as caught:
        parse_period(args)
    assert message in caught.value.messages


def test_last_24_months_end_with_this_month():
    months = periods.last_months(date(2026, 11, 23))
    assert len(months) == 24 and months[0].key == "2024-12" and months[-1].key == "2026-11"
    assert months[-1].last_day == date(2026, 11, 30) and months[0].label == "2024年12月"


# --- the figures --------------------------------------------------------------------------------

@pytest.fixture
def world(app, db, set_now):
    """Two departments' public and non-public records around the fourth quarter of 2025."""
    set_now(NOW)
    scj = f.department(code="SCJ", name="民权县市场监督管理局")
    wjw = f.department(code="WJW", name="民权县卫生健康委员会")
    f.check_item(scj), f.check_item(scj), f.check_item(scj, publish=False), f.check_item(wjw)
    plan = f.published(f.plan(scj, approval=date(2025, 9, 22), publish=False), at_china(date(2025, 9, 24)))

    def task(dept, period, **kw):
        t = f.task(dept, plan=kw.pop("plan", plan), period=period, publish=False, **kw)
        # Created and published right after the plan's approval: on time by either task clock.
        t.created_at = at_china(date(2025, 9, 22))
        return f.published(t, at_china(date(2025, 9, 26)))

    e = [f.entity() for _ in range(9)]
    t1 = task(scj, (date(2025, 10, 1), date(2025, 11, 15)))
    f.draw(t1, e[0:3], drawn_at=at_china(date(2025, 10, 10)))
    f.result(t1, e[0], formed=date(2025, 10, 20), at=at_china(date(2025, 11, 10)))  # due 11-17: on time
    f.result(t1, e[1], formed=date(2025, 10, 20), at=at_china(date(2025, 11, 19)),  # 2 working days late
             conclusions=(("C05", "发现问题已责令改正"),))
    # e[2] has no result although t1 ended on 11-15: a missing result of the fourth quarter.
    t2 = task(scj, (date(2025, 11, 1), date(2026, 1, 31)))
    f.draw(t2, [e[3]], drawn_at=at_china(date(2025, 11, 5)))
    f.result(t2, e[3], formed=date(2025, 11, 20), at=at_china(date(2025, 11, 25)))
    f.result(t2, e[4], formed=date(2025, 11, 20), publish=False)  # draft: not counted
    f.result(t2, e[5], formed=date(2025, 11, 20), at=at_china(date(2025, 11, 21)), withheld=True)  # never public
    # A surprise task still under embargo: its result is public on its own, the task and list are not.
    t3 = task(scj, (date(2025, 10, 1), date(2025, 12, 31)), plan=None, surprise=True)
    # e[8] is still to be inspected, so the embargo holds (SPEC §3: until every drawn target has a result).
    f.draw(t3, [e[6], e[8]], drawn_at=at_china(date(2025, 10, 15)))
    f.result(t3, e[6], formed=date(2025, 10, 25), at=at_china(date(2025, 10, 28)),
             conclusions=(("C01", "未发现问题"), ("C02", "未按规定公示应当公示的信息")))
    t4 = task(wjw, (date(2025, 9, 1), date(2025, 9, 30)), plan=None)
    f.result(t4, e[7], formed=date(2025, 10, 2), at=at_china(date(2025, 10, 20)))
    f.penalty(scj, e[0], decided=date(2025, 10, 9), fine="5000.00", at=at_china(date(2025, 10, 13)))
    f.penalty(scj, e[1], decided=date(2025, 11, 3), fine="20000.00", categories=("警告", "罚款"),
              at=at_china(date(2025, 11, 20)))  # due 11-12: late
    f.penalty(scj, e[2], decided=date(2025, 5, 20), fine="3000.00", publicity_end=date(2025, 8, 19),
              at=at_china(date(2025, 5, 21)))  # publicity over: no longer public
    f.penalty(wjw, e[7], decided=date(2025, 10, 15), fine="200000.00", confiscation_amount=Decimal("1000.00"),
              at=at_china(date(2025, 10, 16)))
    db.session.commit()
    return {"scj": scj, "wjw": wjw, "entities": e}


def _by_dept(data):
    return {d["department"]: d for d in data["departments"]}


def test_quarter_figures_count_public_records_only(client, world, db):
    data = client.get(f"/stats.json?{Q4}").get_json()
    assert data["period"] == {"kind": "quarter", "label": "2025年第四季度", "year": 2025, "quarter": 4,
                              "from": "2025-10-01", "to": "2025-12-31"}
    scj, wjw = _by_dept(data)["SCJ"], _by_dept(data)["WJW"]
    directory = db.session.query(Entity).count()
    assert data["directory_size"] == directory
    assert {k: scj[k] for k in ("items_in_force", "tasks_planned", "tasks_done", "draws", "entities_drawn",
                                "results", "entities_inspected", "problems", "penalties", "fines",
                                "confiscations", "missing_results")} == {
        "items_in_force": 2, "tasks_planned": 2, "tasks_done": 1, "draws": 2, "entities_drawn": 4,
        "results": 4, "entities_inspected": 4, "problems": 2, "penalties": 2, "fines": "25000.00",
        "confiscations": "0.00", "missing_results": 1}
    assert scj["problem_rate"] == 0.5 and scj["directory_share"] == round(4 / directory, 4)
    assert {code: n for code, n in scj["conclusions"].items() if n} == {"C01": 3, "C02": 1, "C05": 1}
    assert {label: n for label, n in scj["penalty_categories"].items() if n} == {"罚款": 2, "警告": 1}
    assert scj["timeliness"]["result"] == {"judged": 4, "on_time": 3, "late": 1, "rate": 0.75}
    assert scj["timeliness"]["penalty"] == {"judged": 2, "on_time": 1, "late": 1, "rate": 0.5}
    assert scj["timeliness"]["task"] == {"judged": 2, "on_time": 2, "late": 0, "rate": 1.0}
    assert scj["timeliness"]["draw"] == {"judged": 2, "on_time": 2, "late": 0, "rate": 1.0}
    assert scj["timeliness"]["plan"]["judged"] == 0  # approved in September
    assert scj["on_time"] == {"judged": 10, "on_time": 8, "late": 2, "rate": 0.8}
    assert (wjw["items_in_force"], wjw["tasks_planned"], wjw["results"], wjw["penalties"], wjw["fines"],
            wjw["confiscations"]) == (1, 0, 1, 1, "200000.00", "1000.00")
    total = data["total"]
    assert (total["department"], total["results"], total["penalties"], total["entities_inspected"]) == (None, 5, 3, 5)
    assert total["timeliness"]["result"]["late"] == 1 and total["fines"] == "225000.00"


def test_year_and_department_filters(client, world):
    year = _by_dept(client.get("/stats.json?year=2025").get_json())
    assert year["SCJ"]["tasks_planned"] == 2 and year["WJW"]["tasks_planned"] == 1  # t4 ran in September
    assert year["SCJ"]["timeliness"]["plan"] == {"judged": 1, "on_time": 1, "late": 0, "rate": 1.0}
    one = client.get(f"/stats.json?{Q4}&dept=WJW").get_json()
    assert [d["department"] for d in one["departments"]] == ["WJW"] and one["department"] == "WJW"
    assert one["total"]["results"] == 1 and one["total"]["department_name"] == "民权县卫生健康委员会"
    empty = _by_dept(client.get("/stats.json?year=2024").get_json())
    assert empty["SCJ"]["results"] == 0 and empty["SCJ"]["on_time"]["rate"] is None


def test_trends_count_month_by_month(client, world):
    data = client.get(f"/stats.json?{Q4}").get_json()
    months = {m["month"]: m for m in data["trends"]}
    assert len(data["trends"]) == 24 and data["trends"][-1]["month"] == "2025-12"
    assert {k: months["2025-10"][k] for k in ("results", "problems", "penalties", "fines", "judged", "on_time")} == {
        "results": 4, "problems": 2, "penalties": 2, "fines": "205000.00", "judged": 6, "on_time": 5}
    assert months["2025-11"]["results"] == 1 and months["2025-11"]["penalties"] == 1
    assert months["2025-12"]["problem_rate"] is None and months["2025-12"]["on_time_rate"] is None


def test_surprise_task_counts_once_its_embargo_lifts(client, world, db, set_now):
    before = _by_dept(client.get(f"/stats.json?{Q4}").get_json())["SCJ"]
    surprise = db.session.query(Task).filter_by(surprise=True).one()
    # The last drawn target's result is published: the embargo lifts (SPEC §3).
    f.result(surprise, world["entities"][8], formed=date(2025, 11, 3), at=at_china(date(2025, 11, 5)))
    db.session.commit()
    after = _by_dept(client.get(f"/stats.json?{Q4}").get_json())["SCJ"]
    assert (after["tasks_planned"], after["draws"], after["entities_drawn"], after["results"]) == \
        (before["tasks_planned"] + 1, before["draws"] + 1, before["entities_drawn"] + 2, before["results"] + 1)


def _csv(response):
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def _number(value):
    if value in ("", None):
        return None
    return Decimal(str(value))


def test_xlsx_csv_and_json_agree(client, world):
    data = client.get(f"/stats.json?{Q4}").get_json()
    rows = {r["部门代码"]: r for r in _csv(client.get(f"/stats.csv?{Q4}"))}
    assert list(rows) == ["SCJ", "WJW", "合计"]
    response = client.get(f"/stats.xlsx?{Q4}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == "attachment; filename=stats-2025Q4.xlsx"
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.sheetnames == ["抽查工作情况", "检查结果结论分布", "行政处罚", "按时公示情况", "当事人异议和信用修复申请", "月度趋势"]
    work = wb["抽查工作情况"]
    assert work["A1"].value == "“双随机、一公开”监管季度工作统计表 · 抽查工作情况"
    assert work["A2"].value.startswith("统计期间：2025年第四季度（2025-10-01 至 2025-12-31）")
    # CSV columns follow the sheets' columns in order, after the department code and name.
    csv_columns = list(rows["SCJ"])[2:]
    offset = 0
    for sheet in wb.worksheets[:5]:  # the four core tables and the right-of-reply table
        width = sheet.max_column - 2
        data_rows = {sheet.cell(r, 1).value: [sheet.cell(r, c).value for c in range(3, sheet.max_column + 1)]
                     for r in range(5, 8)}
        for code in ("SCJ", "WJW", "合计"):
            assert [_number(v) for v in data_rows[code]] == \
                [_number(rows[code][h]) for h in csv_columns[offset:offset + width]], (sheet.title, code)
        offset += width
    assert offset == len(csv_columns)
    for code, figures in [*_by_dept(data).items(), ("合计", data["total"])]:
        row = rows[code]
        assert int(row["检查（户次）"]) == figures["results"]
        assert int(row["处罚件数"]) == figures["penalties"]
        assert row["罚款金额（元）"] == figures["fines"]
        assert int(row["检查结果逾期公示"]) == figures["timeliness"]["result"]["late"]
        assert int(row["合计按时公示"]) == figures["on_time"]["on_time"]
        assert int(row["缺少检查结果"]) == figures["missing_results"]
        assert int(row["C05 发现问题已责令改正"]) == figures["conclusions"]["C05"]
        assert int(row["处罚类别：警告"]) == figures["penalty_categories"]["警告"]
    assert rows["SCJ"]["发现问题率"] == "0.5000" and rows["WJW"]["抽查计划按时公示率"] == ""
    trend = wb["月度趋势"]
    assert trend["A4"].value == "2024年1月" and trend.max_row == 3 + 24 + 1  # title, period, header, 24 months, note


def test_figures_equal_the_lists_for_the_same_filter(client, world):
    """Each department's counts are what anyone recounts from /results.json and /penalties.json."""
    data = client.get(f"/stats.json?{Q4}").get_json()
    for code, figures in _by_dept(data).items():
        query = f"dept={code}&from=2025-10-01&to=2025-12-31"
        assert client.get(f"/results.json?{query}").get_json()["total"] == figures["results"]
        assert client.get(f"/penalties.json?{query}").get_json()["total"] == figures["penalties"]
        lines = _csv(client.get(f"/results.csv?{query}"))
        assert sum(line["公示及时性"].startswith("逾期") for line in lines) == figures["timeliness"]["result"]["late"]
        assert len({line["统一社会信用代码"] for line in lines}) == figures["entities_inspected"]
        items = client.get(f"/penalties.json?{query}&per_page=200").get_json()["items"]
        assert sum(Decimal(p["fine_amount"] or 0) for p in items) == Decimal(figures["fines"])
        assert sum(p["disclosure"]["status"] == "late" for p in items) == figures["timeliness"]["penalty"]["late"]


def test_bad_period_or_department_is_a_400_in_chinese(client, world):
    page = client.get("/stats?quarter=3")
    assert page.status_code == 400 and "选择季度时请同时选择年度。" in page.get_data(as_text=True)
    assert 'id="stats-filters"' in page.get_data(as_text=True)
    body = client.get("/stats.json?year=abcd").get_json()
    assert body["error"]["status"] == 400 and body["error"]["messages"] == ["年度“abcd”不正确，请填写四位年份，例如 2026。"]
    for url in ("/stats.csv?from=2025-13-01", "/stats.xlsx?dept=NOPE", "/stats.json?dept=%00x"):
        response = client.get(url)
        assert response.status_code == 400, url
    assert "部门代码“NOPE”不存在" in client.get("/stats.xlsx?dept=NOPE").get_data(as_text=True)


def test_empty_form_fields_redirect_to_a_clean_url(client, world):
    response = client.get("/stats?year=2025&quarter=4&from=&to=&dept=")
    assert response.status_code == 302 and response.headers["Location"] == "/stats?year=2025&quarter=4"


def test_page_shows_tables_charts_and_downloads_without_inline_styles(client, world):
    response = client.get(f"/stats?{Q4}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2 id=\"report-title\">2025年第四季度</h2>" in html
    for table in ("work", "conclusions", "penalties", "timeliness"):
        assert f'id="table-{table}"' in html
    assert html.count('<svg class="chart-svg') == 6  # 2 department charts, 4 trends
    assert html.count('<details class="chart-data">') == 4  # each trend has its data table
    assert '<title id="chart-results-title">每月检查户次</title>' in html
    assert "民权县市场监督管理局 75.0%（6/8）" not in html  # summaries use the real figures:
    assert "民权县市场监督管理局 80.0%（8/10）" in html
    assert ' style=' not in html and "<script>" not in html and "<script " not in html.split("</head>")[1]
    assert 'href="/stats.xlsx?quarter=4&amp;year=2025"' in html
    # Each department's counts link to the list that recounts them.
    assert 'href="/results?dept=SCJ&amp;from=2025-10-01&amp;to=2025-12-31"' in html


def test_htmx_gets_only_the_report(client, world):
    response = client.get(f"/stats?{Q4}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<div id="stats-report"') and "<html" not in html


def test_command_writes_the_same_report(app, client, world, runner, tmp_path):
    out = tmp_path / "q4.xlsx"
    result = runner.invoke(args=["stats", "report", "--quarter", "2025Q4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2025年第四季度（全部部门）：检查 5 户次，行政处罚 3 件" in result.output
    from_web = load_workbook(io.BytesIO(client.get(f"/stats.xlsx?{Q4}").data))
    from_cli = load_workbook(out)
    for name in from_web.sheetnames:
        assert [list(r) for r in from_web[name].iter_rows(values_only=True)] == \
            [list(r) for r in from_cli[name].iter_rows(values_only=True)], name
    csv_out = tmp_path / "wjw.csv"
    assert runner.invoke(args=["stats", "report", "--year", "2025", "--department", "WJW",
                               "--out", str(csv_out)]).exit_code == 0
    assert csv_out.read_bytes() == client.get("/stats.csv?year=2025&dept=WJW").data
    bad = runner.invoke(args=["stats", "report", "--quarter", "2025Q5", "--out", str(out)])
    assert bad.exit_code == 2 and "季度“2025Q5”格式不正确" in bad.output
    assert runner.invoke(args=["stats", "report", "--year", "2025", "--out", str(tmp_path / "x.pdf")]).exit_code == 2
    assert runner.invoke(args=["stats", "report", "--year", "2025", "--department", "NOPE",
                               "--out", str(out)]).exit_code == 1


def test_other_features_add_a_table_to_every_channel(client, world):
    from portal.stats import report as report_mod

    def example(figures, now):
        column = report_mod.Column("example", "示例件数", value=lambda f: len(f.code))
        return report_mod.Table("example", "示例表", [column],
                                [(d.code, d.name, [len(d.code)]) for d in figures.departments], [6])

    report_mod.register_table("example", example)
    try:
        assert 'id="table-example"' in client.get(f"/stats?{Q4}").get_data(as_text=True)
        assert client.get(f"/stats.json?{Q4}").get_json()["tables"]["example"]["rows"][0] == \
            {"department": "SCJ", "example": 3}
        assert [r["示例件数"] for r in _csv(client.get(f"/stats.csv?{Q4}"))] == ["3", "3", "6"]
        assert "示例表" in load_workbook(io.BytesIO(client.get(f"/stats.xlsx?{Q4}").data)).sheetnames
    finally:
        report_mod._EXTRA_TABLES.pop("example")


def test_cached_report_follows_every_journaled_write(app, client, world, db):
    app.config["PUBLIC_COUNT_TTL"] = 300
    first = client.get(f"/stats.json?{Q4}").get_json()["total"]["results"]
    task = db.session.query(Task).filter_by(surprise=False).first()
    f.result(task, f.entity(), formed=date(2025, 11, 20), at=at_china(date(2025, 11, 21)))
    db.session.commit()
    assert client.get(f"/stats.json?{Q4}").get_json()["total"]["results"] == first  # within the TTL
    db.session.add(SearchChange(record_kind="result", record_id=1, at=datetime.now(timezone.utc)))
    db.session.commit()  # what portal.journal appends with every write
    assert client.get(f"/stats.json?{Q4}").get_json()["total"]["results"] == first + 1


def test_empty_database(client, set_now):
    set_now(NOW)
    data = client.get("/stats.json").get_json()
    assert data["departments"] == [] and data["total"]["results"] == 0 and data["total"]["on_time"]["rate"] is None
    assert client.get("/stats").status_code == 200
    assert client.get("/stats.xlsx").status_code == 200
    assert _csv(client.get("/stats.csv"))[0]["部门代码"] == "合计"


def test_withdrawn_records_leave_the_counts(client, world, db):
    from portal.models import Penalty
    penalty = db.session.query(Penalty).filter_by(fine_amount=Decimal("200000.00")).one()
    penalty.status, penalty.withdrawn_at = Status.WITHDRAWN, at_china(date(2025, 11, 1))
    db.session.commit()
    assert _by_dept(client.get(f"/stats.json?{Q4}").get_json())["WJW"]["penalties"] == 0


def test_chart_geometry_fits_a_phone_and_breaks_lines_at_gaps():
    from portal.stats.charts import WIDTH, nice_ceiling, trend_chart

    assert [nice_ceiling(v) for v in (0, 3, 9, 13, 95, 101)] == [2, 4, 10, 20, 100, 200]
    months = periods.last_months(date(2026, 11, 23))
    counts = [i % 5 for i in range(24)]
    bars = trend_chart("results", "每月检查户次", months, counts, "bar", "检查（户次）")
    assert [t.label for t in bars.y_ticks] == ["0", "2", "4"] and bars.width == WIDTH == 340
    assert all(bars.left <= b.x and b.x + b.width <= bars.left + bars.plot_width for b in bars.bars)
    assert all(abs(b.y + b.height - bars.bottom) < 0.01 for b in bars.bars)
    assert [t.label for t in bars.x_ticks] == ["1月", "4月", "7月", "10月", "1月", "4月", "7月", "10月"]
    assert [t.sub for t in bars.x_ticks] == ["2025", "", "", "", "2026", "", "", ""]
    assert bars.rows[0] == ("2024年12月", "0") and len(bars.rows) == 24
    rates = [None, 0.5, 1.0] + [None] * 20 + [0.25]
    line = trend_chart("rate", "每月发现问题率", months, rates, "line", "发现问题率")
    assert line.path.count("M") == 2 and len(line.points) == 3  # the gap breaks the line
    assert line.y_ticks[-1].label == "100%" and line.rows[0] == ("2024年12月", "—")
    assert "最近一个月（2026年11月）25.0%；最高为 2025年2月 100.0%" in line.summary
