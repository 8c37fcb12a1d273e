"""The clerk's journey (issue 9 item 2c): a clerk uploads a GBK CSV with mistakes, sees the row errors,
uploads the corrected file, confirms and publishes; then, as the public, finds the record on the task
page and its own page, in search and in the department's feed (real Chromium, gunicorn, demo data).
Desktop 1366 px (市场监管局's clerk) and phone 390 px (卫生健康委's clerk): each run publishes one
result of its own department, so the two runs never touch the same record."""
import sqlite3
from datetime import date

import feedparser
import pytest

from .a11y import DESKTOP, PHONE, sideways_overflow
from .conftest import save_screenshot

pytestmark = pytest.mark.browser

DEVICES = {"desktop": ("411421-scjg", DESKTOP), "phone": ("411421-wsjk", PHONE)}
HEADERS = "任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,后续处置,执法人员"


def _drawn_without_result(live_instance, dept):
    """A public, non-surprise task of the clerk's department with drawn entities that have no result yet."""
    con = sqlite3.connect(live_instance / "portal.db")
    try:
        rows = con.execute("""
            SELECT t.code, t.period_start, e.uscc, e.name FROM task t
            JOIN department d ON d.id = t.department_id
            JOIN draw dr ON dr.id = (SELECT max(id) FROM draw WHERE task_id = t.id AND drawn_at IS NOT NULL)
            JOIN draw_selection s ON s.draw_id = dr.id
            JOIN entity e ON e.id = s.entity_id
            WHERE lower(d.code) = ? AND t.surprise = 0 AND t.status = 'published' AND t.withheld = 0
              AND t.period_start <= '2026-11-20'
              AND NOT EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.entity_id = e.id)
            ORDER BY t.id DESC, s.position LIMIT 1""", (dept,)).fetchall()
    finally:
        con.close()
    assert rows, f"the small demo data set must have a drawn target without a result in {dept}"
    return rows[0]


def _public_step(page, name, device):
    save_screenshot(page, f"{name}-{device}")
    if device == "phone":
        overflow = sideways_overflow(page)
        assert overflow is None, f"{name}: {overflow}"


@pytest.mark.parametrize("device", list(DEVICES))
def test_clerk_uploads_gbk_csv_fixes_errors_and_publishes(page, log_in, screenshot, js_errors, live_instance,
                                                          tmp_path, live_server, device):
    dept, viewport = DEVICES[device]
    code, period_start, uscc, name = _drawn_without_result(live_instance, dept)
    inspected = date.fromisoformat(str(period_start)[:10]).isoformat()
    good = f"{HEADERS}\n{code},{uscc},{name},,{inspected},C05,浏览器导入测试，联系人电话13912345678,{inspected},责令改正,\n"
    bad = good.replace(",C05,", ",C99,").replace(f",{inspected},C99", ",2026-02-30,C99")
    bad_path, good_path = tmp_path / "结果-有错.csv", tmp_path / "结果-已改正.csv"
    bad_path.write_bytes(bad.encode("gbk"))
    good_path.write_bytes(good.encode("gbk"))
    # The public search index is built on the first query: let that happen before the upload.
    assert page.request.get("/search.json?q=有限公司", timeout=120_000).ok
    page.set_viewport_size(viewport)

    log_in(f"clerk-{dept}")
    page.goto("/admin/uploads")
    page.select_option("#upload-kind", "results")
    page.set_input_files("#upload-file", str(bad_path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    problems = page.locator("#preview-problems").inner_text()
    assert "“2026-02-30”不是有效日期（2026年没有2月30日）" in problems
    assert "未知的检查结果“C99”" in problems
    assert page.locator("#preview-confirm").count() == 0
    screenshot(f"import-preview-errors-{device}")

    page.set_input_files("#upload-file", str(good_path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    assert "新增： 1" in page.locator("#preview-counts").inner_text().replace("：", "： ").replace("：  ", "： ")
    masked = page.locator("#preview-masked").inner_text()
    assert "139****5678" in masked and "13912345678" not in masked
    page.check("input[name=publish]")
    screenshot(f"import-preview-ok-{device}")
    with page.expect_navigation(url="**/admin/uploads/*"):
        page.click("#preview-confirm [type=submit]")
    assert "新增 1" in page.locator("#upload-result").inner_text()
    screenshot(f"import-done-{device}")

    # The public task page lists the new result; its own page shows it, masked.
    public = page.context.browser.new_context(base_url=live_server, locale="zh-CN", viewport=viewport)
    try:
        visitor = public.new_page()
        visitor.goto(f"/tasks/{code}")
        row = visitor.locator("tr", has_text=name).filter(has_text="发现问题已责令改正")
        assert row.count() == 1, visitor.locator("main").inner_text()
        assert "13912345678" not in visitor.content()
        _public_step(visitor, "import-public-task", device)
        with visitor.expect_navigation():
            row.locator("a", has_text="详情").click()
        result_url = visitor.url
        assert name in visitor.locator("h1").inner_text()
        detail = visitor.locator("main").inner_text()
        assert "浏览器导入测试，联系人电话139****5678" in detail and "发现问题已责令改正" in detail
        _public_step(visitor, "import-public-result", device)
        result_path = "/" + result_url.split("/", 3)[3]

        # Search finds it: the entity name, the hit of kind 检查结果 leads to the same page.
        visitor.goto("/")
        visitor.fill("#home-q", name)
        with visitor.expect_navigation():
            visitor.press("#home-q", "Enter")
        hit = visitor.locator(f"#search-results a[href='{result_path}']")
        hit.first.wait_for()
        assert name in hit.first.inner_text()
        _public_step(visitor, "import-public-search", device)

        # The department's results list links its feed; the feed carries the new result.
        visitor.goto(f"/results?dept={dept.upper()}")
        feed_link = visitor.locator("#results-list a.feed-link", has_text="Atom")
        assert feed_link.is_visible()
        feed = feedparser.parse(visitor.request.get(feed_link.get_attribute("href")).body())
        entries = [e for e in feed.entries if e.link.endswith(result_path)]
        assert len(entries) == 1 and name in entries[0].title, [e.title for e in feed.entries[:5]]
        assert "13912345678" not in str(feed)
    finally:
        public.close()
    assert js_errors == []
