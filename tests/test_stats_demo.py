"""Issue 13 acceptance on the demo data: /stats agrees with the public lists and files."""
import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

NOW = "2026-11-23T02:00:00+00:00"  # the demo's "today" (and the browser tests')


@pytest.fixture
def demo(runner, db, set_now):
    set_now(NOW)
    result = runner.invoke(args=["demo", "load", "--size", "small", "--no-index"])
    assert result.exit_code == 0, result.output
    return db


def _csv(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_late_rows_of_the_csv_equal_the_stats(client, demo):
    total = client.get("/stats.json").get_json()["total"]
    results = _csv(client, "/results.csv")
    assert len(results) == total["results"] > 0
    late = [row for row in results if row["公示及时性"].startswith("逾期")]
    assert len(late) == total["timeliness"]["result"]["late"] > 0, "the demo has late results"
    assert {row["公示及时性"] for row in results} - {row["公示及时性"] for row in late} == {"按时公示"}
    penalties = _csv(client, "/penalties.csv")
    assert sum(row["公示及时性"].startswith("逾期") for row in penalties) == total["timeliness"]["penalty"]["late"]
    assert len(penalties) == total["penalties"]


def test_third_quarter_of_2026_matches_the_lists_and_every_file(client, demo):
    query = "year=2026&quarter=3"
    data = client.get(f"/stats.json?{query}").get_json()
    rows = {row["部门代码"]: row for row in _csv(client, f"/stats.csv?{query}")}
    wb = load_workbook(io.BytesIO(client.get(f"/stats.xlsx?{query}").data))
    work = {ws_row[0]: ws_row for ws_row in wb["抽查工作情况"].iter_rows(min_row=5, values_only=True)}
    penalties_sheet = {r[0]: r for r in wb["行政处罚"].iter_rows(min_row=5, values_only=True)}
    timeliness = {r[0]: r for r in wb["按时公示情况"].iter_rows(min_row=5, values_only=True)}
    header = [c.value for c in wb["抽查工作情况"][4]]
    results_col, late_col = header.index("检查（户次）"), 2 + 3 * 3 + 1  # 检查结果: 按时, 逾期, 按时率 after 3 kinds
    assert sum(d["results"] for d in data["departments"]) == data["total"]["results"] > 0
    for d in data["departments"]:
        code = d["department"]
        query_list = f"dept={code}&from=2026-07-01&to=2026-09-30"
        listed_results = client.get(f"/results.json?{query_list}").get_json()["total"]
        listed_penalties = client.get(f"/penalties.json?{query_list}").get_json()["total"]
        late = sum(r["公示及时性"].startswith("逾期") for r in _csv(client, f"/results.csv?{query_list}"))
        assert d["results"] == listed_results == int(rows[code]["检查（户次）"]) == work[code][results_col]
        assert d["penalties"] == listed_penalties == int(rows[code]["处罚件数"]) == penalties_sheet[code][2]
        assert Decimal(d["fines"]) == Decimal(rows[code]["罚款金额（元）"]) == Decimal(str(penalties_sheet[code][3]))
        assert d["timeliness"]["result"]["late"] == late == int(rows[code]["检查结果逾期公示"]) == timeliness[code][late_col]
    assert work["合计"][results_col] == data["total"]["results"]


def test_the_page_shows_the_quarter(client, demo):
    html = client.get("/stats?year=2026&quarter=3").get_data(as_text=True)
    assert "2026年第三季度" in html and "2026-07-01 至 2026-09-30" in html
    assert html.count('<svg class="chart-svg') == 6
