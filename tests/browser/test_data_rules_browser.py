"""The back office's data rules as a clerk and an administrator meet them, in Chromium at 1366 and 390 px:

(a) a clerk records a result from the form: an inspection date before the task's draw is refused, a
    phone number in the remark is masked and shown, the record is saved as a draft;
(b) a clerk downloads the department's own /results.csv from the public list and uploads it back:
    the preview says 0 new, 0 updated, every row unchanged; confirming changes nothing;
(c) an administrator corrects a directory entity with a reason; the change is in its history, and a
    clerk sees the entity read-only with who maintains it.
"""
import sqlite3
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.browser

DEPT = "411421-scjg"
FORM_DEPT = "411421-nync"  # its drawn targets without a result are this test's (the import journey uses scjg's)
WIDTHS = [1366, 390]


def _drawn_targets(live_instance):
    """Drawn targets of FORM_DEPT without a result: (task id, code, draw time, uscc, name, period start)."""
    con = sqlite3.connect(live_instance / "portal.db")
    try:
        rows = con.execute("""
            SELECT t.id, t.code, dr.drawn_at, e.uscc, e.name, t.period_start FROM task t
            JOIN department d ON d.id = t.department_id
            JOIN draw dr ON dr.id = (SELECT max(id) FROM draw WHERE task_id = t.id AND drawn_at IS NOT NULL)
            JOIN draw_selection s ON s.draw_id = dr.id
            JOIN entity e ON e.id = s.entity_id
            WHERE lower(d.code) = ? AND t.withheld = 0 AND dr.drawn_at < '2026-11-01'
              AND NOT EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.entity_id = e.id)
            ORDER BY t.id, s.position""", (FORM_DEPT,)).fetchall()
    finally:
        con.close()
    assert rows, f"the small demo data set must have drawn targets without a result in {FORM_DEPT} (2: one per width)"
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_clerk_result_form_refuses_a_date_before_the_draw_and_shows_the_masking(page, log_in, screenshot, js_errors,
                                                                                 live_instance, width):
    page.set_viewport_size({"width": width, "height": 900})
    task_id, code, drawn_at, uscc, name, period_start = _drawn_targets(live_instance)[0]  # each run takes the next one
    drawn_on = (datetime.fromisoformat(drawn_at[:19]) + timedelta(hours=8)).date()  # stored UTC, China date
    log_in(f"clerk-{FORM_DEPT}")
    page.goto("/admin/")
    page.click("a[href='/admin/results']")
    page.click("text=新建检查结果")
    page.select_option("#f-task_id", str(task_id))
    page.fill("#f-entity_uscc", uscc)
    page.fill("#f-inspection_date", (drawn_on - timedelta(days=1)).isoformat())
    page.fill("#f-formed_date", (drawn_on + timedelta(days=3)).isoformat())
    page.check("input[name=conclusions][value=C05]")
    page.fill("#f-remark", "已责令改正，联系人电话13912345678")
    with page.expect_navigation():
        page.click("#record-form [type=submit]")
    assert "请修改下面标出的问题后再保存" in page.locator("#form-errors").inner_text()
    assert f"早于该任务的抽取日期 {drawn_on}：抽取之后才能检查" in page.locator("#msg-inspection_date").inner_text()
    assert "已遮蔽个人信息：手机号码 139****5678" in page.locator("#msg-remark").inner_text()
    assert "13912345678" not in page.locator("#f-remark").input_value()
    screenshot(f"data-rules-result-date-refused-{width}")

    inspected = drawn_on + timedelta(days=1)
    page.fill("#f-inspection_date", inspected.isoformat())
    with page.expect_navigation():
        page.click("#record-form [type=submit]")
    if inspected.isoformat() < period_start[:10]:  # drawn before the period began: a warning to confirm
        assert "请核对：检查日期" in page.locator("#msg-inspection_date").inner_text()
        assert "请核对下面标出的 1 处提示" in page.locator("#form-warnings").inner_text()
        screenshot(f"data-rules-result-warning-{width}")
        page.check("input[name=accept_warnings]")
        with page.expect_navigation():
            page.click("#record-form [type=submit]")
    assert "草稿，尚未公开" in page.locator(".flashes").inner_text()
    assert f"{code} · {name}" in page.locator("h1").inner_text()
    assert page.locator("#f-remark").input_value() == "已责令改正，联系人电话139****5678"
    screenshot(f"data-rules-result-saved-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    assert js_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_clerk_uploads_the_departments_own_csv_back_and_nothing_changes(page, log_in, screenshot, js_errors,
                                                                        tmp_path, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(f"clerk-{DEPT}")
    page.goto(f"/results?dept={DEPT.upper()}")
    with page.expect_download() as download:
        page.click("a[href*='results.csv']")
    path = tmp_path / "results.csv"
    download.value.save_as(path)
    rows = path.read_bytes().decode("utf-8-sig").count("\r\n") - 1
    assert rows > 0

    page.goto("/admin/uploads")
    page.select_option("#upload-kind", "results")
    page.set_input_files("#upload-file", str(path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    counts = page.locator("#preview-counts").inner_text()
    for label, n in (("数据行", rows), ("新增", 0), ("更新", 0), ("未变化", rows), ("有错误的行", 0), ("有警告的行", 0)):
        assert f"{label}：{n}" in counts.replace(" ", "").replace("\n", ""), (label, counts)
    assert page.locator("#preview-problems").count() == 0
    assert "导入时不读取：执法人员姓名" in page.locator("#preview-ignored").inner_text()
    screenshot(f"data-rules-round-trip-preview-{width}")
    page.click("#preview-confirm [type=submit]")
    page.wait_for_url("**/admin/uploads/*")
    assert f"新增 0，更新 0，未变化 {rows}" in page.locator("main").inner_text()
    screenshot(f"data-rules-round-trip-done-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    assert js_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_administrator_changes_an_entity_with_a_reason_and_a_clerk_reads_its_history(page, log_in, screenshot,
                                                                                      js_errors, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in("admin")
    page.goto("/admin/entities?q=民权县")
    page.locator("#admin-rows a:has-text('查看/编辑')").nth(WIDTHS.index(width)).click()
    page.wait_for_load_state()
    entity_url = page.url
    old_name = page.locator("#f-name").input_value()
    page.fill("#f-name", old_name + "（更名）")
    assert page.locator("#f-change_reason").get_attribute("required") is not None  # a change needs its reason
    page.fill("#f-change_reason", "市场主体办理了名称变更登记")
    with page.expect_navigation():
        page.click("#record-form [type=submit]")
    assert "已保存修改" in page.locator(".flashes").inner_text()
    history = page.locator("#entity-history").inner_text()
    assert "市场主体办理了名称变更登记" in history and "启用版本记录前的状态" in history and "admin" in history
    screenshot(f"data-rules-entity-history-admin-{width}")

    page.context.clear_cookies()
    log_in(f"clerk-{DEPT}")
    page.goto(entity_url)
    assert "检查对象名录由管理员维护，部门用户不能新增或修改" in page.locator("#ownership-note").inner_text()
    assert page.locator("#record-form").count() == 0
    assert "市场主体办理了名称变更登记" in page.locator("#entity-history").inner_text()
    screenshot(f"data-rules-entity-history-clerk-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    assert js_errors == []
