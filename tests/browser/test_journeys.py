"""The public journeys of issue 9 item 2, in Chromium at 1366 px and 390 px, asserting what the person
sees at each step (screenshots: tests/artifacts/journey-*.png). The clerk's journey (upload, confirm,
publish, then find the record on the public page, in search and in the feed) extends
tests/browser/test_import_browser.py.

(a) An enterprise types its name in the search box, opens its entity page, reads how long each record
    stays public and "why was I drawn", opens its result, its penalty and the draw certificate, and
    downloads the certificate's verify script.
(b) A journalist lists one department's 2025 penalties (filters applied in place), downloads exactly
    those rows as CSV and follows the list's visible feed link: the feed has exactly those entries.
"""
import csv
import io
import re
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest

from .a11y import DESKTOP, PHONE, sideways_overflow

DEVICES = {"desktop": DESKTOP, "phone": PHONE}


def _seen(page, screenshot, name, device):
    """A screenshot of this step; on a phone the page must not scroll sideways."""
    screenshot(f"journey-{name}-{device}")
    if device == "phone":
        overflow = sideways_overflow(page)
        assert overflow is None, f"{name}: {overflow}"


def _main(page):
    return page.locator("main").inner_text()


def _enterprise(live_instance):
    """A company with a public result of a public (non-surprise) task that drew it, and a penalty still in
    its publicity period."""
    with sqlite3.connect(live_instance / "portal.db") as conn:
        row = conn.execute("""
            SELECT e.name, e.uscc, r.id, p.id, p.decision_no, p.publicity_end, d.id, t.title
            FROM entity e
            JOIN penalty p ON p.entity_id = e.id AND p.status = 'published' AND p.withheld = 0
                          AND p.publicity_end > '2026-11-23' AND p.credit_repair_date IS NULL
            JOIN result r ON r.entity_id = e.id AND r.status = 'published' AND r.withheld = 0
            JOIN task t ON t.id = r.task_id AND t.surprise = 0 AND t.status = 'published' AND t.withheld = 0
            JOIN draw d ON d.task_id = t.id AND d.drawn_at IS NOT NULL AND d.published_at IS NOT NULL
            JOIN draw_selection s ON s.draw_id = d.id AND s.entity_id = e.id
            WHERE e.entity_type = '企业'
            ORDER BY p.publicity_end DESC, r.id LIMIT 1""").fetchone()
    assert row, "the small demo must have a company with a public result, its draw and a penalty in publicity"
    return dict(zip(("name", "uscc", "result", "penalty", "decision_no", "publicity_end", "draw", "task"), row))


@pytest.mark.parametrize("device", list(DEVICES))
def test_enterprise_finds_its_record_and_why_it_was_drawn(page, screenshot, live_instance, js_errors, device):
    company = _enterprise(live_instance)
    # The first query builds the server's search index from the demo database: let that happen first.
    assert page.request.get("/search.json?q=有限公司", timeout=120_000).ok
    page.set_viewport_size(DEVICES[device])

    # 1. Home: type the company's name in the search box.
    page.goto("/")
    page.locator("#home-q").fill(company["name"])
    with page.expect_navigation():
        page.locator("#home-q").press("Enter")
    assert parse_qs(urlsplit(page.url).query)["q"] == [company["name"]]
    hit = page.locator(f"#search-results a[href='/entities/{company['uscc']}']").first
    hit.wait_for()
    assert company["name"] in hit.inner_text()
    _seen(page, screenshot, "a1-search", device)

    # 2. Its entity page: identity, how long each record stays public, why it was drawn.
    with page.expect_navigation():
        hit.click()
    assert page.url.endswith(f"/entities/{company['uscc']}")
    assert page.locator("h1").inner_text() == company["name"]
    text = _main(page)
    assert company["uscc"] in text
    assert "公示期限：抽取名单和检查结果长期公示；行政处罚公示至下表中各自的“公示截止”日期" in text
    assert "为什么抽中了我？" in text
    why = page.locator("#why-drawn tbody tr", has_text=company["task"]).first
    assert re.search(r"第 \d+ / \d+ 名", why.inner_text()), why.inner_text()
    penalty_row = page.locator("tr", has_text=company["decision_no"]).first
    assert company["publicity_end"] in penalty_row.inner_text()  # 公示截止
    result_row = page.locator("tr", has=page.locator(f"a[href='/results/{company['result']}']")).first
    assert "长期公示" in result_row.inner_text()
    _seen(page, screenshot, "a2-entity", device)

    # 3. The result.
    with page.expect_navigation():
        result_row.locator(f"a[href='/results/{company['result']}']").click()
    assert page.url.endswith(f"/results/{company['result']}")
    assert company["name"] in page.locator("h1").inner_text() and "检查结果" in page.locator("h1").inner_text()
    assert page.locator("#publicity-period").inner_text().startswith("长期公示")
    assert company["task"] in _main(page)
    _seen(page, screenshot, "a3-result", device)
    page.go_back()

    # 4. The penalty: decision number and the date its publicity ends.
    with page.expect_navigation():
        page.locator(f"a[href='/penalties/{company['penalty']}']").first.click()
    assert company["decision_no"] in _main(page)
    assert page.locator("#publicity-period").inner_text().startswith(company["publicity_end"])
    _seen(page, screenshot, "a4-penalty", device)
    page.go_back()

    # 5. The draw certificate from "why was I drawn": the company is in the drawn list.
    with page.expect_navigation():
        why.locator("a[href^='/draws/']").click()
    assert re.search(r"/draws/\d+$", page.url)
    assert page.locator("h1").inner_text().startswith("抽取凭证")
    assert company["task"] in _main(page)
    drawn = page.locator("#draw-selected tbody tr", has_text=company["uscc"])
    assert drawn.count() == 1 and company["name"] in drawn.inner_text()
    assert "如何自行核验" in _main(page)
    _seen(page, screenshot, "a5-certificate", device)

    # 6. The verify script downloads as a file, the same program the page shows.
    with page.expect_download() as info:
        page.locator("#verify-download").click()
    download = info.value
    assert download.suggested_filename == "verify_draw.py"
    script = Path(download.path()).read_text(encoding="utf-8")
    assert script.strip() == page.locator("#verify-script").inner_text().strip()
    assert "hashlib" in script
    assert js_errors == []


def _busiest_department_2025(page) -> tuple[str, int]:
    options = page.locator("#penalties-filters-dept option").evaluate_all("os => os.map(o => o.value)")
    totals = {code: page.request.get(f"/penalties.json?year=2025&dept={code}").json()["total"]
              for code in options if code}
    code = max(totals, key=lambda c: (totals[c], c))
    assert totals[code] >= 1, totals
    return code, totals[code]


@pytest.mark.parametrize("device", list(DEVICES))
def test_journalist_lists_downloads_and_subscribes_to_one_filter(page, screenshot, js_errors, live_server, device):
    page.set_viewport_size(DEVICES[device])
    page.goto("/")
    with page.expect_navigation():
        page.locator("nav a[href='/penalties']").first.click()
    assert page.locator("h1").inner_text() == "行政处罚"
    dept, total = _busiest_department_2025(page)

    # Filter in place: year, then department (htmx pushes each into the URL).
    page.locator("#penalties-filters-year").select_option("2025")
    page.wait_for_url(re.compile(r"year=2025"))
    page.locator("#penalties-filters-dept").select_option(dept)
    page.wait_for_url(re.compile(rf"dept={re.escape(dept)}"))
    page.locator("#penalties-list .summary", has_text=f"共 {total} 条").wait_for()
    dept_name = page.locator(f"#penalties-filters-dept option[value='{dept}']").inner_text()
    rows = page.locator("#penalties-list tbody tr")
    assert rows.count() == total
    shown = []
    for i in range(total):
        row = rows.nth(i)
        decision_no = row.locator("td").first.locator("a").inner_text()
        assert row.locator("td[data-label='决定日期']").inner_text().startswith("2025-")
        assert row.locator("td[data-label='处罚机关']").inner_text()
        shown.append(decision_no)
    _seen(page, screenshot, "b1-penalties-filtered", device)

    # Download exactly those rows as CSV.
    csv_link = page.locator("#penalties-list .downloads a", has_text="CSV")
    assert csv_link.is_visible()
    with page.expect_download() as info:
        csv_link.click()
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["行政处罚决定书文号"] for r in table] == shown
    assert {r["部门代码"] for r in table} == {dept}
    assert all(r["处罚决定日期"].startswith("2025-") for r in table)
    assert {r["实施部门"] for r in table} == {dept_name}

    # The visible feed link of exactly this filter.
    feed_link = page.locator("#penalties-list a.feed-link", has_text="Atom")
    assert feed_link.is_visible()
    assert "订阅当前筛选条件下的行政处罚" in page.locator("#penalties-list .feed-note").inner_text()
    href = feed_link.get_attribute("href")
    query = parse_qs(urlsplit(href).query)
    assert query["dept"] == [dept] and query["year"] == ["2025"]
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert dept_name in feed.feed.title and "2025年" in feed.feed.title
    entries = sorted(e.title.split(" ")[0] for e in feed.entries)
    assert entries == sorted(shown)
    assert js_errors == []
