"""A clerk locks a pool (its hashes are public at once), draws (the list is public at once), then redraws
with a reason; the public sees both draws, the first marked as replaced. At 1366 px and 390 px."""
import json
import sqlite3
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ (draw_reference)
import draw_reference  # noqa: E402

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
REASON = "原候选名单未包含本月新登记的经营主体，经分管领导批准重新抽取"


def _undrawn_task(live_instance):
    """The demo's announced-but-not-drawn task and its lead department code (read from the live database)."""
    with sqlite3.connect(live_instance / "portal.db") as conn:
        row = conn.execute(
            "SELECT task.id, task.code, department.code FROM task JOIN department ON department.id = task.department_id "
            "WHERE NOT EXISTS (SELECT 1 FROM draw WHERE draw.task_id = task.id) ORDER BY task.id DESC LIMIT 1").fetchone()
    assert row, "the demo has no undrawn task"
    return row


def _both_widths(page, screenshot, name, public=False):
    """Screenshots at 1366 px and 390 px (the page is left at 1366 px); public pages must not scroll sideways."""
    page.set_viewport_size(PHONE)
    screenshot(f"{name}-390")
    if public:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: scrolls sideways at 390 px ({width} px)"
    page.set_viewport_size(DESKTOP)
    screenshot(f"{name}-1366")


def _certificate_json(url):
    with urllib.request.urlopen(url + ".json", timeout=30) as response:
        return json.loads(response.read().decode("utf-8"))


def test_clerk_locks_draws_and_redraws_with_a_reason_in_public(page, log_in, screenshot, live_server, live_instance):
    task_id, task_code, dept_code = _undrawn_task(live_instance)
    page.set_viewport_size(DESKTOP)
    log_in(f"clerk-{dept_code.lower()}")

    # Locking publishes the hashes at once, so the task must be public first (back-office task page).
    page.goto(f"/admin/tasks/{task_id}/draw")
    assert "须先发布任务再锁定" in page.locator("#task-unpublished").inner_text()
    assert page.locator("#lock-refused").count() == 1 and page.locator("#lock-button").count() == 0
    page.goto(f"/admin/tasks/{task_id}")
    with page.expect_navigation():
        page.locator("#lifecycle-actions form[action$='/publish'] button").click()

    page.goto(f"/admin/tasks/{task_id}/draw")
    assert "候选名单共" in page.locator("#pool-preview").inner_text()
    # htmx: changing a ratio refreshes the pool preview in place, without saving
    before = page.locator("#pool-preview").inner_text()
    page.fill("#s-value-1", "100%")
    page.locator("#s-value-1").dispatch_event("change")
    page.wait_for_function("(b) => document.querySelector('#pool-preview').innerText !== b", arg=before)
    screenshot("draw-1-settings-preview")
    page.goto(f"/admin/tasks/{task_id}/draw")  # discard the unsaved change

    # 1. Lock (desktop): the hashes are on the public task page at once, before any public entropy exists.
    with page.expect_navigation():
        page.click("#lock-button")
    pool_hash = page.locator("#lock-pool-hash").inner_text().strip()
    commitment = page.locator("#lock-commitment").inner_text().strip()
    assert len(pool_hash) == 64 and len(commitment) == 64
    assert "已锁定并公开哈希，待抽取" in page.locator("#draw-history").inner_text()
    _both_widths(page, screenshot, "draw-2-locked")
    page.goto(f"/tasks/{task_code}")
    locked = page.locator("#draw-locked").inner_text()
    assert pool_hash in locked and commitment in locked and "待见证人在场抽取" in locked
    _both_widths(page, screenshot, "draw-3-public-task-locked", public=True)

    # 2. Draw (desktop): published as soon as performed; there is no publish button.
    page.goto(f"/admin/tasks/{task_id}/draw")
    page.fill("#w-name-0", "周见证")
    page.fill("#w-org-0", "县纪委监委派驻第三纪检监察组")
    page.fill("#f-entropy", "2026-11-23 福彩3D 第2026318期 5 0 8")
    with page.expect_navigation():
        page.click("#perform-button")
    assert page.locator("#drawn-list tbody tr").count() >= 1
    assert "抽取名单已即时公示" in page.locator("#draw-result").inner_text()
    assert page.locator("#publish-button").count() == 0
    _both_widths(page, screenshot, "draw-4-drawn")
    with page.expect_navigation():
        page.click("#certificate-link")
    first_url = page.url
    assert first_url.split("/draws/")[1].isdigit(), first_url
    body = page.locator("main").inner_text()
    assert "抽取凭证" in body and pool_hash in body and commitment in body and "周见证" in body
    assert task_code in body and "如何自行核验" in body
    _both_widths(page, screenshot, "draw-5-public-certificate", public=True)

    # 3. Redraw with a reason (on a phone): a reason is required, the first draw stays public.
    page.set_viewport_size(PHONE)
    page.goto(f"/admin/tasks/{task_id}/draw")
    page.locator("#f-reason").scroll_into_view_if_needed()
    screenshot("draw-6-redraw-form-390")
    page.fill("#f-reason", REASON)
    with page.expect_navigation():
        page.click("#relock-button")
    second_hash = page.locator("#lock-commitment").inner_text().strip()
    assert len(second_hash) == 64 and second_hash != commitment
    assert "已被第 2 次抽取取代" in page.locator("#draw-row-1").inner_text()
    page.fill("#w-name-0", "吴见证")
    page.fill("#f-entropy", "2026-11-23 体彩排列3 第2026318期 7 2 6")
    with page.expect_navigation():
        page.click("#perform-button")
    assert "第 2 次抽取" in page.locator("#draw-result h2").inner_text()
    screenshot("draw-7-redrawn-390")
    page.set_viewport_size(DESKTOP)
    screenshot("draw-7-redrawn-1366")

    # 4. The public: both draws, the first marked as replaced by the second with the reason.
    page.goto(f"/tasks/{task_code}")
    history = page.locator("#draw-history").inner_text()
    assert f"已被第 2 次抽取取代，原因：{REASON}" in history and "现行名单" in history
    _both_widths(page, screenshot, "draw-8-public-task-redrawn", public=True)
    page.goto(first_url)
    notice = page.locator("#superseded-notice").inner_text()
    assert "已被第 2 次抽取取代" in notice and REASON in notice
    _both_widths(page, screenshot, "draw-9-first-certificate-superseded", public=True)
    with page.expect_navigation():
        page.locator("#superseded-notice a").click()
    assert "这是该任务的第 2 次抽取" in page.locator("#redraw-notice").inner_text()

    for url in (first_url, page.url):
        cert = _certificate_json(url)
        ref = draw_reference.recompute(cert)
        assert (ref["pool_hash"], ref["commitment"], ref["seed"]) == (cert["pool_hash"], cert["commitment"],
                                                                      cert["seed"])
        assert ref["selected"] == [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")}
                                   for s in cert["selected"]]
    assert _certificate_json(first_url)["superseded_reason"] == REASON


def test_transparency_page(page, screenshot):
    page.goto("/transparency")
    body = page.locator("main").inner_text()
    assert "链头哈希" in body and "draw-v1" in body and "主体被抽中次数分布" in body
    assert page.locator("#times-drawn-chart svg rect").count() >= 1
    screenshot("transparency")
