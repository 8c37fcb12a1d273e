"""Oversight data in Chromium (issue 13), at 1366 px and 390 px:

- an oversight officer goes from the home page to /stats, picks the third quarter of 2026, reads the
  per-department table and the trends, opens a chart's data table, downloads the XLSX (its figures
  equal the JSON), and follows a department's count to the results list that recounts it;
- the same without JavaScript;
- a journalist filters the penalty list and subscribes: the feed link carries the filters and the feed
  holds exactly the list's records; the results list shows each record's on-time status.
Screenshots go to tests/artifacts/.
"""
import io
import re
from pathlib import Path

import feedparser
import pytest
from openpyxl import load_workbook

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WIDTHS = [1366, 390]
SVG_TEXT_MIN_PX = """() => Math.min(...Array.from(document.querySelectorAll('#stats-report svg.chart-svg text'))
    .map(t => parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a))"""


def _no_sideways_scroll(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page scrolls sideways at {width} px ({scroll} px wide)"


@pytest.mark.parametrize("width", WIDTHS)
def test_quarterly_report_from_home_to_download(page, screenshot, js_errors, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/")
    # The main navigation (it wraps onto two lines on a phone) leads to the statistics.
    page.locator("nav.site-nav a[href='/stats']").click()
    page.wait_for_url(re.compile(r"/stats$"))
    assert page.locator("h1").inner_text() == "公示统计"
    assert page.locator("#report-title").inner_text() == "全部时间"
    page.evaluate("window.__sameDocument = true")

    # Choosing the year and the quarter swaps the report in place (htmx) and puts both in the URL.
    with page.expect_response(lambda r: "/stats?year=2026" in r.url):
        page.select_option("#stats-year", "2026")
    page.wait_for_function("() => document.querySelector('#report-title').innerText === '2026年度'")
    page.select_option("#stats-quarter", "3")
    page.wait_for_url(re.compile(r"/stats\?year=2026&quarter=3$"))
    page.wait_for_function("() => document.querySelector('#report-title').innerText === '2026年第三季度'")
    assert page.evaluate("window.__sameDocument") is True, "the period change reloaded the page"
    assert "2026-07-01 至 2026-09-30" in page.locator("#stats-report .summary").inner_text()

    data = page.request.get("/stats.json?year=2026&quarter=3").json()
    departments = data["departments"]
    work = page.locator("#table-work")
    assert work.locator("tbody tr").count() == len(departments) > 0
    first = departments[0]
    first_row = work.locator("tbody tr").first
    assert first_row.locator("th").inner_text() == first["department_name"]
    assert work.locator("tfoot th").inner_text() == "合计"
    cards = page.locator("#stats-totals").inner_text()
    assert f"{data['total']['results']:,}" in cards and "按时公示率" in cards
    for table in ("conclusions", "penalties", "timeliness"):
        assert page.locator(f"#table-{table}").is_visible()
    screenshot(f"stats-quarter-{width}", full_page=False)

    # Four trends over 24 months, each with a data table a screen reader (or anyone) can open.
    trends = page.locator("#trend-charts figure")
    assert trends.count() == 4
    assert page.locator("#chart-results svg title").first.text_content() == "每月检查户次"
    page.locator("#chart-on-time details summary").click()
    assert page.locator("#chart-on-time details table tbody tr").count() == 24
    assert page.locator("#chart-on-time details table tbody tr").last.locator("th").inner_text() == "2026年11月"
    page.locator("#trend-charts").scroll_into_view_if_needed()
    screenshot(f"stats-trends-{width}", full_page=False)
    assert page.evaluate(SVG_TEXT_MIN_PX) >= 12, "chart labels render below 12 px"
    _no_sideways_scroll(page, width)
    assert page.locator("#stats-report [style]").count() == 0, "inline styles break the CSP (style-src 'self')"
    screenshot(f"stats-page-{width}")

    # One click downloads the quarter as a printable workbook whose figures equal the JSON.
    with page.expect_download() as download:
        page.locator("#stats-downloads a[href^='/stats.xlsx']").click()
    assert download.value.suggested_filename == "stats-2026Q3.xlsx"
    with open(download.value.path(), "rb") as fh:  # openpyxl wants a .xlsx name or a file object
        wb = load_workbook(io.BytesIO(fh.read()))
    assert wb.sheetnames[:4] == ["抽查工作情况", "检查结果结论分布", "行政处罚", "按时公示情况"]
    rows = {r[0]: r for r in wb["抽查工作情况"].iter_rows(min_row=5, values_only=True)}
    header = [c.value for c in wb["抽查工作情况"][4]]
    assert rows["合计"][header.index("检查（户次）")] == data["total"]["results"]
    assert rows[first["department"]][header.index("检查（户次）")] == first["results"]

    # A department's count links to the list that recounts it, with the same period.
    busiest = max(departments, key=lambda d: d["results"])
    row = work.locator("tbody tr", has=page.locator(f"th:text-is('{busiest['department_name']}')"))
    row.locator("a[href^='/results?']").first.click()
    page.wait_for_url(re.compile(r"/results\?dept=.+&from=2026-07-01&to=2026-09-30"))
    assert f"共 {busiest['results']} 条" in page.locator("#results-list .summary").inner_text()
    assert js_errors == []


def test_report_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="zh-CN",
                                  viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto("/stats")
        page.select_option("#stats-year", "2026")
        page.select_option("#stats-quarter", "3")
        with page.expect_navigation():
            page.locator("#stats-filters button[type=submit]").click()
        # The form sends every field; the server drops the empty ones from the shared URL.
        assert page.url.endswith("/stats?year=2026&quarter=3")
        assert page.locator("#report-title").inner_text() == "2026年第三季度"
        page.select_option("#stats-quarter", "")
        page.fill("#stats-from", "2026-07-01")
        with page.expect_navigation():
            page.locator("#stats-filters button[type=submit]").click()
        assert page.locator("[role=alert]").inner_text().count("自定义起止日期与年度、季度只能选择一种") == 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "stats-no-js-error-390.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_filtered_penalties_feed_and_on_time_column(page, screenshot, js_errors, width):
    page.set_viewport_size({"width": width, "height": 900})
    # A department with penalties of 2025 still in their publicity period (the stats say which).
    year_2025 = page.request.get("/stats.json?year=2025").json()["departments"]
    dept = next(d["department"] for d in year_2025 if d["penalties"])
    page.goto("/penalties")
    with page.expect_response(lambda r: "dept=" in r.url):
        page.select_option("#penalties-filters-dept", dept)
    page.select_option("#penalties-filters-year", "2025")
    page.wait_for_url(re.compile(rf"/penalties\?dept={re.escape(dept)}&year=2025$"))
    feed = page.locator("#penalties-list a.feed-link[type='application/atom+xml']")
    page.wait_for_function("(d) => document.querySelector('#penalties-list a.feed-link').href.includes(d)", arg=dept)
    assert feed.get_attribute("href") == f"/feeds/penalties.atom?dept={dept}&year=2025"
    feed.scroll_into_view_if_needed()
    screenshot(f"penalties-feed-link-{width}", full_page=False)
    listed = page.request.get(f"/penalties.json?dept={dept}&year=2025&per_page=200").json()["items"]
    parsed = feedparser.parse(page.request.get(feed.get_attribute("href")).body())
    assert sorted(e.id.rsplit("/", 1)[1] for e in parsed.entries) == sorted(str(p["id"]) for p in listed)
    # Each row says whether it was published on time.
    statuses = page.locator("#penalties-list td[data-label='公示及时性']").all_inner_texts()
    assert len(statuses) == min(len(listed), 20)
    assert all(s == "按时公示" or re.fullmatch(r"逾期 \d+ 个工作日", s) for s in statuses), statuses

    page.goto("/results")
    cell = page.locator("#results-list td[data-label='公示及时性']").first
    assert re.fullmatch(r"按时公示|逾期 \d+ 个工作日", cell.inner_text())
    _no_sideways_scroll(page, width)
    screenshot(f"results-on-time-{width}", full_page=False)
    assert js_errors == []
