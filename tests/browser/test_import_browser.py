"""A clerk uploads a GBK CSV with mistakes, sees the row errors, uploads the corrected file, confirms,
and the results appear on the public task page (real Chromium, gunicorn, demo data)."""
import sqlite3
from datetime import date

import pytest

pytestmark = pytest.mark.browser

DEPT = "411421-scjg"
HEADERS = "任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,后续处置,执法人员"


def _drawn_without_result(live_instance):
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
            ORDER BY t.id DESC, s.position LIMIT 1""", (DEPT,)).fetchall()
    finally:
        con.close()
    assert rows, f"the small demo data set must have a drawn target without a result in {DEPT}"
    return rows[0]


def test_clerk_uploads_gbk_csv_fixes_errors_and_publishes(page, log_in, screenshot, js_errors, live_instance,
                                                          tmp_path, live_server):
    code, period_start, uscc, name = _drawn_without_result(live_instance)
    inspected = date.fromisoformat(str(period_start)[:10]).isoformat()
    good = f"{HEADERS}\n{code},{uscc},{name},,{inspected},C05,浏览器导入测试，联系人电话13912345678,{inspected},责令改正,\n"
    bad = good.replace(",C05,", ",C99,").replace(f",{inspected},C99", ",2026-02-30,C99")
    bad_path, good_path = tmp_path / "结果-有错.csv", tmp_path / "结果-已改正.csv"
    bad_path.write_bytes(bad.encode("gbk"))
    good_path.write_bytes(good.encode("gbk"))

    log_in(f"clerk-{DEPT}")
    page.goto("/admin/uploads")
    page.select_option("#upload-kind", "results")
    page.set_input_files("#upload-file", str(bad_path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    problems = page.locator("#preview-problems").inner_text()
    assert "“2026-02-30”不是有效日期（2026年没有2月30日）" in problems
    assert "未知的检查结果“C99”" in problems
    assert page.locator("#preview-confirm").count() == 0
    screenshot("import-preview-errors")

    page.set_input_files("#upload-file", str(good_path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    assert "新增： 1" in page.locator("#preview-counts").inner_text().replace("：", "： ").replace("：  ", "： ")
    masked = page.locator("#preview-masked").inner_text()
    assert "139****5678" in masked and "13912345678" not in masked
    page.check("input[name=publish]")
    screenshot("import-preview-ok")
    with page.expect_navigation(url="**/admin/uploads/*"):
        page.click("#preview-confirm [type=submit]")
    assert "新增 1" in page.locator("#upload-result").inner_text()
    screenshot("import-done")

    page.goto(f"/tasks/{code}")
    body = page.locator("main").inner_text()
    assert name in body and "发现问题已责令改正" in body
    assert "13912345678" not in page.content()
    screenshot("import-public-task")
    assert js_errors == []
