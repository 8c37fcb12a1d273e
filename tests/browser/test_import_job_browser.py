"""An upload that runs as a job (IMPORT_INLINE_ROWS=0 here, as for files above 2,000 rows): the clerk
confirms, follows the job page, and lands on the result; a running job's page shows its progress and
moves on by itself when the job ends (htmx polling), at desktop and phone widths.

Runs its own gunicorn on a copy of the live server's demo database and search index, so the jobs
it runs and the states it fakes never touch the shared server's data.
"""
import re
import shutil
import sqlite3
from datetime import datetime, timezone

import pytest

from servers import gunicorn_server
from .test_import_browser import HEADERS

DEPT = "411421-scjg"  # the clerk of 市场监管局 (its own server and copy of the demo)

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _drawn_target(database):
    """A drawn target of a public, non-surprise task of the clerk's department, preferably one without
    a result yet (the shared server's other journeys may have imported that one already)."""
    con = sqlite3.connect(database)
    try:
        row = con.execute("""
            SELECT t.code, t.period_start, e.uscc, e.name,
                   EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.entity_id = e.id) AS has_result
            FROM task t
            JOIN department d ON d.id = t.department_id
            JOIN draw dr ON dr.id = (SELECT max(id) FROM draw WHERE task_id = t.id AND drawn_at IS NOT NULL)
            JOIN draw_selection s ON s.draw_id = dr.id
            JOIN entity e ON e.id = s.entity_id
            WHERE lower(d.code) = ? AND t.surprise = 0 AND t.status = 'published' AND t.withheld = 0
              AND t.period_start <= '2026-11-20'
            ORDER BY has_result, t.id DESC, s.position LIMIT 1""", (DEPT,)).fetchone()
    finally:
        con.close()
    assert row, f"the small demo data set must have a drawn target in {DEPT}"
    return row


def _now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture
def job_server(live_server, live_instance, tmp_path):
    """A second server on a copy of the demo data, importing every upload as a job."""
    from .conftest import LIVE_NOW, SITE_INFO

    instance = tmp_path / "jobs-instance"
    instance.mkdir()
    source, copy = sqlite3.connect(live_instance / "portal.db"), sqlite3.connect(instance / "portal.db")
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    shutil.copytree(live_instance / "search-index", instance / "search-index")
    env = {"PORTAL_FIXED_NOW": LIVE_NOW, "SECRET_KEY": "browser-tests-secret", **SITE_INFO,
           "RATELIMIT_SIGNIN": "600/minute", "IMPORT_INLINE_ROWS": "0"}
    with gunicorn_server(f"sqlite:///{instance / 'portal.db'}", instance, workers=2, env=env) as base_url:
        yield base_url, instance


def test_clerk_follows_an_import_job_to_its_result(page, job_server, tmp_path, js_errors):
    from .conftest import save_screenshot

    base, instance = job_server
    database = instance / "portal.db"
    code, period_start, uscc, name, has_result = _drawn_target(database)
    inspected = str(period_start)[:10]
    path = tmp_path / "结果-作业.csv"
    path.write_bytes(f"{HEADERS}\n{code},{uscc},{name},,{inspected},C01,浏览器作业导入测试,{inspected},无需后续处置,\n"
                     .encode("gbk"))
    job_pages = []
    page.on("response", lambda r: job_pages.append(r.url) if "/admin/uploads/jobs/" in r.url else None)

    page.goto(base + "/admin/login")
    page.fill("#username", f"clerk-{DEPT}")
    page.fill("#password", "clerk-demo-2025")
    with page.expect_navigation():
        page.click("form[action$='/admin/login'] [type=submit]")

    for device, expected in (("desktop", "更新 1" if has_result else "新增 1"), ("phone", "未变化 1")):
        page.set_viewport_size(VIEWPORTS[device])
        page.goto(base + "/admin/uploads")
        page.select_option("#upload-kind", "results")
        page.set_input_files("#upload-file", str(path))
        with page.expect_navigation():
            page.click("#upload-form [type=submit]")
        assert "数据行：1" in page.locator("#preview-counts").inner_text().replace(" ", "").replace("\n", "")
        if page.locator("input[name=accept_warnings]").count():
            page.check("input[name=accept_warnings]")
        # Confirm: the job runs in the background; its page (followed by htmx) leads to the result.
        with page.expect_navigation(url=re.compile(r"/admin/uploads/\d+$"), timeout=30_000):
            page.click("#preview-confirm [type=submit]")
        assert any("/admin/uploads/jobs/" in url for url in job_pages), "the confirmation did not go by the job page"
        assert expected in page.locator("#upload-result").inner_text()
        batch_url = page.url
        save_screenshot(page, f"import-job-done-{device}")

        # The same job as another host would show it while still importing (its heartbeat fresh).
        with sqlite3.connect(database) as con:
            token = con.execute("SELECT token FROM upload_job ORDER BY id DESC LIMIT 1").fetchone()[0]
            con.execute("UPDATE upload_job SET state = 'running', owner = 'host-b:1:browser', done = 0, "
                        "heartbeat_at = ? WHERE token = ?", (_now_text(), token))
        con.close()
        page.goto(f"{base}/admin/uploads/jobs/{token}")
        state = page.locator("#upload-job-state")
        assert state.inner_text() == "正在校验并导入……（共 1 行）"
        assert "导入在服务器上进行，可以离开本页" in page.locator("#upload-job").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "sideways scroll"
        save_screenshot(page, f"import-job-running-{device}")
        page.goto(base + "/admin/uploads")
        assert "正在导入" in page.locator("#upload-jobs").inner_text()
        page.click(f"#upload-jobs a[href$='{token}']")
        # It ends on the other host: the polling component takes the clerk to the result by itself.
        with sqlite3.connect(database) as con:
            con.execute("UPDATE upload_job SET state = 'done', finished_at = ? WHERE token = ?", (_now_text(), token))
        con.close()
        page.wait_for_url(batch_url, timeout=10_000)
        assert expected in page.locator("#upload-result").inner_text()
    assert js_errors == []
