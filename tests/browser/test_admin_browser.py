"""Back-office forms in real Chromium: inline htmx validation and the masking preview (nothing is saved)."""
import pytest

pytestmark = pytest.mark.browser


def test_clerk_penalty_form_validates_inline_and_shows_masking(page, log_in, screenshot, js_errors):
    log_in("clerk-411421-scjg")
    page.goto("/admin/penalties/new")
    page.fill("#f-entity_uscc", "9.1e+17")
    page.press("#f-entity_uscc", "Tab")
    message = page.locator("#msg-entity_uscc .field-error")
    message.wait_for()
    assert "科学计数法" in message.inner_text()
    page.fill("#f-facts", "当事人负责人手机13812345678，身份证110105194912310021。")
    page.press("#f-facts", "Tab")
    page.locator("#msg-facts .masked-notice").wait_for()
    assert "13812345678" not in page.locator("#msg-facts").inner_text()
    screenshot("admin-penalty-inline-validation")
    # Submitting shows the masked text for confirmation and saves nothing yet.
    page.fill("#f-entity_uscc", "")
    page.fill("#f-decision_no", "浏览器测试〔2026〕1号")
    page.fill("#f-party_name", "浏览器测试当事人")
    page.check("input[name=categories][value=警告]")
    page.fill("#f-decision_date", "2026-11-20")
    with page.expect_navigation():
        page.click("#record-form [type=submit]")
    assert "请核对遮蔽后的内容" in page.locator("main").inner_text()
    assert "13812345678" not in page.locator("#f-facts").input_value()
    screenshot("admin-penalty-masking-preview")
    assert js_errors == []


def test_auditor_reads_audit_log(page, log_in, screenshot):
    log_in("auditor")
    page.goto("/admin/audit")
    assert page.locator("h1").inner_text() == "审计日志"
    assert page.locator("#audit-rows tbody tr").count() >= 1
    screenshot("admin-audit-log")
