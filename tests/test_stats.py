"""/stats: per-department public record, on-time rates, SVG charts, JSON and CSV."""
from datetime import date, timedelta

import factories as f
from portal.domain.dates import china_midnight

NOW = "2025-12-01T02:00:00+00:00"


def at_china(day, hour=10):
    return china_midnight(day) + timedelta(hours=hour)


def build(db):
    scj = f.department(code="SCJ", name="民权县市场监督管理局")
    wjw = f.department(code="WJW", name="民权县卫生健康委员会")
    t = f.task(scj)
    # Results formed 2025-09-30 are due 2025-11-04 (20 working days).
    f.result(t, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 4)))  # on time, 20 days
    f.result(t, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 6)),  # 2 days late
             conclusions=(("C05", "发现问题已责令改正"),))
    f.result(t, f.entity(), formed=date(2025, 9, 30), publish=False)  # draft: not counted
    withheld = f.result(t, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 10, 9)))
    withheld.withheld = True  # never public: not counted
    # Penalties: one visible (on time), one whose publicity ended (not counted), one on another department.
    f.penalty(scj, f.entity(), decided=date(2025, 9, 30), fine="5000.00", publicity_end=date(2025, 12, 29),
              at=at_china(date(2025, 10, 9)))
    f.penalty(scj, f.entity(), decided=date(2025, 5, 20), fine="3000.00", publicity_end=date(2025, 8, 19),
              at=at_china(date(2025, 5, 21)))
    f.penalty(wjw, f.entity(), decided=date(2024, 3, 1), fine="200000.00", publicity_end=date(2027, 2, 28),
              at=at_china(date(2024, 3, 20)))  # published 13 working days after 03-01: late
    f.published(f.plan(scj, year=2025, approval=date(2025, 3, 3)), at_china(date(2025, 3, 10)))
    db.session.commit()
    return scj, wjw


def test_stats_json_counts_only_public_records(app, db, client, set_now):
    set_now(NOW)
    build(db)
    data = client.get("/stats.json").get_json()
    rows = {(r["department"], r["year"]): r for r in data["rows"]}
    assert set(rows) == {("SCJ", 2025), ("WJW", 2024)}
    scj = rows[("SCJ", 2025)]
    assert (scj["plans"], scj["results"], scj["penalties"], scj["fines"]) == (1, 2, 1, "5000.00")
    assert scj["conclusions"]["C01"] == 1 and scj["conclusions"]["C05"] == 1
    # plan on time, result on time, result late, penalty on time.
    assert (scj["disclosures_judged"], scj["disclosures_on_time"], scj["on_time_rate"]) == (4, 3, 0.75)
    assert scj["on_time_by_kind"]["result"] == {"judged": 2, "on_time": 1}
    # Working days to publish: plan 5, results 20 and 22, penalty 1 → median 12.5.
    assert scj["median_workdays_to_publish"] == 12.5
    wjw = rows[("WJW", 2024)]
    assert (wjw["penalties"], wjw["fines"], wjw["on_time_rate"], wjw["median_workdays_to_publish"]) == \
        (1, "200000.00", 0.0, 13.0)
    assert data["total"]["penalties"] == 2 and data["rules"]["result"] == 20


def test_stats_filters_by_year_and_department(app, db, client, set_now):
    set_now(NOW)
    build(db)
    data = client.get("/stats.json?year=2024").get_json()
    assert [(r["department"], r["year"]) for r in data["rows"]] == [("WJW", 2024)]
    data = client.get("/stats.json?dept=SCJ").get_json()
    assert [(r["department"], r["year"]) for r in data["rows"]] == [("SCJ", 2025)]
    assert data["filters"] == {"year": None, "dept": "SCJ"}


def test_stats_csv_has_a_row_per_department_and_year(app, db, client, set_now):
    set_now(NOW)
    build(db)
    response = client.get("/stats.csv")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines[0].startswith("\ufeff部门代码,部门,年度,抽查计划,抽查任务,抽取名单,检查结果,行政处罚,罚款金额（元）")
    assert lines[1].startswith("SCJ,民权县市场监督管理局,2025,1,1,0,2,1,5000.00,0.00,4,3,0.7500,12.5,")
    assert lines[2].startswith("WJW,民权县卫生健康委员会,2024,0,0,0,0,1,200000.00,0.00,1,0,0.0000,13,")


def test_stats_page_has_accessible_svg_charts_and_tables(app, db, client, set_now):
    set_now(NOW)
    build(db)
    response = client.get("/stats")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.count("<svg role=\"img\"") == 2
    assert '<title id="ontime-title">各部门按时公示率</title>' in text
    assert "民权县市场监督管理局：75.0%（3/4）" in text
    assert 'id="stats-table"' in text and 'id="conclusion-table"' in text
    assert "<script" not in text.split("</head>")[1]  # no chart library
    assert "cdn" not in text.lower()


def test_empty_stats(app, client, set_now):
    set_now(NOW)
    assert client.get("/stats").status_code == 200
    data = client.get("/stats.json").get_json()
    assert data["rows"] == [] and data["total"]["on_time_rate"] is None
