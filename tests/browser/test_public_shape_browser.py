"""One public shape per record (issue 10 item 1) in Chromium, at 1366 px and 390 px.

A clerk corrects a published penalty of an individual business twice: first typing the operator's
own name as the party (a natural person, as on the decision), then the facts. The public penalty
page and both kept versions (`?version=1`, `?version=2`, opened from the correction notice) show the
business name, never the operator's name nor an internal field (party_kind, entity_id,
credit_repair_reason …); the operator's name is on the entity's own page only.
"""
import sqlite3

import pytest

pytestmark = pytest.mark.browser

INTERNAL = ("party_kind", "entity_id", "credit_repair_reason", "credit_repair_date", "restriction_end",
            "result_id", "department_id", "task_id", "withheld_reason", "natural_person", "organisation")


def _individual_business_penalties(live_instance):
    """Published, still public, never corrected penalties of individual businesses:
    (id, decision number, business name, operator name, uscc, department code), one per run."""
    con = sqlite3.connect(live_instance / "portal.db")
    try:
        rows = con.execute("""
            SELECT p.id, p.decision_no, e.name, e.operator_name, e.uscc, lower(d.code) FROM penalty p
            JOIN entity e ON e.id = p.entity_id JOIN department d ON d.id = p.department_id
            WHERE coalesce(e.operator_name, '') != '' AND p.published_at IS NOT NULL AND p.withdrawn_at IS NULL
              AND p.withheld = 0 AND p.version = 1 AND p.credit_repair_date IS NULL
              AND p.publicity_end >= '2026-12-31'
            ORDER BY p.id DESC""").fetchall()
    finally:
        con.close()
    assert rows, "the small demo data set must have public penalties of individual businesses"
    return rows


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def _correct(page, penalty_id, reason, **fields):
    page.goto(f"/admin/penalties/{penalty_id}")
    for name, value in fields.items():
        if name == "party_kind":
            page.select_option("#f-party_kind", value)
        else:
            page.fill(f"#f-{name}", value)
    page.fill("#f-correction_reason", reason)
    with page.expect_navigation():
        page.click("#record-form [type=submit]")
    if page.locator("input[name=confirm_warnings]").count():  # a warning to confirm (none expected here)
        page.check("input[name=confirm_warnings]")
        with page.expect_navigation():
            page.click("#record-form [type=submit]")
    assert "已更正并保留原版本" in page.locator(".flashes").inner_text(), page.locator("main").inner_text()[:500]


@pytest.mark.parametrize("width", [1366, 390])
def test_kept_versions_of_a_corrected_individual_business_penalty_show_only_public_fields(
        page, log_in, screenshot, live_instance, width):
    page.set_viewport_size({"width": width, "height": 900})
    shot = lambda name: screenshot(f"shape-{width}-{name}")  # noqa: E731
    taken = 0 if width == 1366 else 1
    penalty_id, decision_no, business, operator, uscc, dept = _individual_business_penalties(live_instance)[taken]

    # 1. The clerk corrects the party to the operator's own name, then the facts.
    log_in(f"clerk-{dept}")
    _correct(page, penalty_id, "按处罚决定书更正当事人名称", party_name=operator, party_kind="natural_person")
    _correct(page, penalty_id, "违法事实表述不完整", facts="经查，当事人销售超过保质期的食品，已当场责令改正（更正）。")
    page.context.clear_cookies()  # the public's view from here on

    # 2. The public page: the business name, the correction notice, no operator name.
    page.goto(f"/penalties/{penalty_id}")
    assert page.locator("h1").inner_text().startswith(business)
    notice = page.locator(".notice:not(.objection-notice)[role=note]").first.inner_text()
    assert "更正于 2026-11-23" in notice and "现为第 3 版" in notice
    main = page.locator("main").inner_text()
    assert operator not in main and "（更正）" in main
    _no_sideways_scroll(page, width)
    shot("1-current")

    # 3. The kept versions, opened from the notice: the same allow-list, the content they had.
    for version in (2, 1):
        page.locator(f"a[href='/penalties/{penalty_id}?version={version}']").first.click()
        page.wait_for_url(f"**/penalties/{penalty_id}?version={version}")
        assert page.locator("h1").inner_text() == f"行政处罚 更正前的第 {version} 版"
        kept = page.locator("#kept-version").inner_text()
        assert decision_no in kept and business in kept and "（更正）" not in kept
        assert operator not in page.locator("body").inner_text()
        html = page.content()
        assert operator not in html
        for name in INTERNAL:
            assert name not in html, (version, name)
        reason = "违法事实表述不完整" if version == 2 else "按处罚决定书更正当事人名称"
        assert f"更正原因：{reason}" in page.locator("main .notice").first.inner_text()
        _no_sideways_scroll(page, width)
        shot(f"{version + 1}-version-{version}")
        page.goto(f"/penalties/{penalty_id}")

    # 4. The operator's name is public on the entity's own page only.
    page.goto(f"/entities/{uscc}")
    assert operator in page.locator("dl.fields").inner_text() and decision_no in page.locator("main").inner_text()
    shot("4-entity")
