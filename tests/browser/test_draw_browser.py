"""A clerk locks a pool, enters witnesses and public entropy, draws, publishes; then the public certificate."""
import json
import sqlite3
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ (draw_reference)
import draw_reference  # noqa: E402


def _undrawn_task(live_instance):
    """The demo's announced-but-not-drawn task and its lead department code (read from the live database)."""
    with sqlite3.connect(live_instance / "portal.db") as conn:
        row = conn.execute(
            "SELECT task.id, task.code, department.code FROM task JOIN department ON department.id = task.department_id "
            "WHERE NOT EXISTS (SELECT 1 FROM draw WHERE draw.task_id = task.id) ORDER BY task.id DESC LIMIT 1").fetchone()
    assert row, "the demo has no undrawn task"
    return row


def test_clerk_draws_and_public_certificate(page, log_in, screenshot, live_server, live_instance):
    task_id, task_code, dept_code = _undrawn_task(live_instance)
    log_in(f"clerk-{dept_code.lower()}")

    # The task must be public for its certificate to be: publish it first (back-office task page).
    page.goto(f"/admin/tasks/{task_id}")
    publish = page.locator("#lifecycle-actions form[action$='/publish'] button")
    if publish.count():
        with page.expect_navigation():
            publish.click()

    page.goto(f"/admin/tasks/{task_id}/draw")
    assert "候选名单共" in page.locator("#pool-preview").inner_text()
    # htmx: changing a ratio refreshes the pool preview in place, without saving
    before = page.locator("#pool-preview").inner_text()
    page.fill("#s-value-1", "100%")
    page.locator("#s-value-1").dispatch_event("change")
    page.wait_for_function("(b) => document.querySelector('#pool-preview').innerText !== b", arg=before)
    screenshot("draw-1-settings-preview")
    page.goto(f"/admin/tasks/{task_id}/draw")  # discard the unsaved change

    with page.expect_navigation():
        page.click("#lock-button")
    pool_hash = page.locator("#lock-pool-hash").inner_text().strip()
    commitment = page.locator("#lock-commitment").inner_text().strip()
    assert len(pool_hash) == 64 and len(commitment) == 64
    screenshot("draw-2-locked")

    page.fill("#w-name-0", "周见证")
    page.fill("#w-org-0", "县纪委监委派驻第三纪检监察组")
    page.fill("#f-entropy", "2026-11-23 福彩3D 第2026318期 5 0 8")
    with page.expect_navigation():
        page.click("#perform-button")
    assert page.locator("#drawn-list tbody tr").count() >= 1
    screenshot("draw-3-drawn")

    with page.expect_navigation():
        page.click("#publish-button")
    with page.expect_navigation():
        page.click("#certificate-link")
    assert page.url.split("/draws/")[1].isdigit(), page.url
    body = page.locator("main").inner_text()
    assert "抽取凭证" in body and pool_hash in body and commitment in body and "周见证" in body
    assert task_code in body and "如何自行核验" in body
    screenshot("draw-4-public-certificate")

    with urllib.request.urlopen(page.url + ".json", timeout=30) as response:
        cert = json.loads(response.read().decode("utf-8"))
    ref = draw_reference.recompute(cert)
    assert (ref["pool_hash"], ref["commitment"], ref["seed"]) == (pool_hash, commitment, cert["seed"])
    assert ref["selected"] == [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]


def test_transparency_page(page, screenshot):
    page.goto("/transparency")
    body = page.locator("main").inner_text()
    assert "链头哈希" in body and "draw-v1" in body and "主体被抽中次数分布" in body
    assert page.locator("#times-drawn-chart svg rect").count() >= 1
    screenshot("transparency")
