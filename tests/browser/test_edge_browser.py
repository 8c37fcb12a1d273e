"""The Content-Security-Policy in real Chromium, and the public pages of issue 9 item 6.

1. Every page type, public and back office, loads under the CSP with no violation reported
   (`securitypolicyviolation` events and console errors, collected by conftest's `page`), htmx
   runs (an in-place swap on a list, inline validation on a form) and its indicator stays hidden
   without the <style> htmx would inject.
2. A person finds the tasks: home → 抽查任务 in the navigation → filter to joint tasks (htmx, URL
   pushed) → a wrong region shows a Chinese message in place → opens a task's HTML page. The
   footer shows the site's 主办单位, contact and filing numbers. Desktop 1366 px and phone 390 px.
"""
import re
import sqlite3

import pytest

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1366, "phone": 390}


def _db(live_instance, sql):
    with sqlite3.connect(live_instance / "portal.db") as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None, f"the demo has no row for: {sql}"
    return row[0]


def _public_pages(page, live_instance):
    """One URL of every public page type, found from the demo's open data (or its database)."""
    first = {kind: page.request.get(f"/{kind}.json?per_page=1").json()["items"][0]
             for kind in ("plans", "tasks", "results", "penalties")}
    task = page.request.get(f"/tasks/{first['tasks']['code']}.json").json()
    draw_id = _db(live_instance, "SELECT id FROM draw WHERE published_at IS NOT NULL AND drawn_at IS NOT NULL "
                                 "ORDER BY id LIMIT 1")
    withdrawn = _db(live_instance, "SELECT id FROM penalty WHERE status = 'WITHDRAWN' OR status = 'withdrawn' "
                                   "ORDER BY id LIMIT 1")
    corrected = _db(live_instance, "SELECT record_kind || 's/' || record_id || '?version=' || version "
                                   "FROM record_version WHERE record_kind IN ('result', 'plan') ORDER BY id LIMIT 1")
    return {
        "home": "/", "items": "/items", "items-2025": "/items?year=2025", "plans": "/plans",
        "plan": f"/plans/{first['plans']['id']}", "tasks": "/tasks", "task": f"/tasks/{task['code']}",
        "results": "/results", "result": f"/results/{first['results']['id']}", "penalties": "/penalties",
        "penalty": f"/penalties/{first['penalties']['id']}", "tombstone": f"/penalties/{withdrawn}",
        "kept-version": "/" + corrected, "entity": f"/entities/{first['results']['uscc']}",
        "draw": f"/draws/{draw_id}", "search": "/search?q=粮油", "stats": "/stats", "data": "/data",
        "transparency": "/transparency", "bad-filter": "/results?region=9999", "not-found": "/plans/999999",
        "login": "/admin/login",
    }


def _admin_pages(live_instance):
    ids = {kind: _db(live_instance, f'SELECT id FROM "{kind}" ORDER BY id LIMIT 1')
           for kind in ("check_item", "plan", "task", "result", "penalty", "entity", "inspector", "user")}
    batch = _db(live_instance, "SELECT coalesce(max(id), 1) FROM import_batch")
    pages = {"dashboard": "/admin/", "audit": "/admin/audit", "uploads": "/admin/uploads",
             "upload-history": "/admin/uploads/history", "upload-batch": f"/admin/uploads/{batch}",
             "users": "/admin/users", "user-new": "/admin/users/new", "user": f"/admin/users/{ids['user']}",
             "vocabularies": "/admin/vocabularies", "deadlines": "/admin/deadlines",
             "deadline-rules": "/admin/deadlines/rules", "calendar": "/admin/deadlines/calendar",
             "publicity": "/admin/deadlines/publicity", "password": "/admin/password",
             "credit-repair": f"/admin/penalties/{ids['penalty']}/credit-repair",
             "draw": f"/admin/tasks/{ids['task']}/draw"}
    for section, table in (("items", "check_item"), ("plans", "plan"), ("tasks", "task"), ("results", "result"),
                           ("penalties", "penalty"), ("entities", "entity"), ("inspectors", "inspector")):
        pages.update({section: f"/admin/{section}", f"{section}-new": f"/admin/{section}/new",
                      f"{section}-edit": f"/admin/{section}/{ids[table]}"})
    return pages


def _visit(page, url):
    response = page.goto(url)
    assert response is not None and response.status < 500, (url, response and response.status)
    page.wait_for_load_state("load")
    assert page.evaluate("() => typeof window.htmx") == "object", f"htmx did not run on {url}"
    assert page.locator("h1").first.inner_text().strip(), url
    return response


def test_every_page_type_works_under_the_content_security_policy(page, log_in, live_instance, csp_violations,
                                                                  js_errors, screenshot):
    pages = _public_pages(page, live_instance)
    for name, url in pages.items():
        response = _visit(page, url)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert csp_violations == [], name
        if name == "tombstone":
            assert "撤回" in page.locator("main").inner_text()
        if name == "bad-filter":
            assert response.status == 400 and "筛选条件有误" in page.locator("main").inner_text()

    # htmx without its injected <style>: the indicator is hidden by portal.css, swaps still work.
    _visit(page, "/results")
    assert page.locator(".htmx-indicator").first.evaluate("e => getComputedStyle(e).opacity") == "0"
    assert page.locator("head style").count() == 0
    page.locator("#results-filters-conclusion").select_option("C05")
    page.wait_for_url(re.compile(r"conclusion=C05"))
    page.locator("#results-list").get_by_text("发现问题已责令改正").first.wait_for()
    assert csp_violations == []

    log_in("admin")
    for name, url in _admin_pages(live_instance).items():
        _visit(page, url)
        assert csp_violations == [], name
    # Inline validation (hx-post on a field) under the CSP.
    _visit(page, "/admin/penalties/new")
    page.fill("#f-entity_uscc", "9.1e+17")
    page.press("#f-entity_uscc", "Tab")
    page.locator("#msg-entity_uscc .field-error").wait_for()
    screenshot("csp-admin-inline-validation")
    assert csp_violations == [] and js_errors == []


def test_pages_cannot_be_framed(page, live_server):
    """A hostile page that frames the back office gets nothing: Chromium refuses to render it."""
    hostile = ('<iframe id="control" src="http://control.test/"></iframe>'
               f'<iframe id="portal" src="{live_server}/admin/login"></iframe>')
    page.route("http://evil.test/", lambda route: route.fulfill(content_type="text/html", body=hostile))
    # The control frame has the same login field but no anti-framing headers: it renders.
    page.route("http://control.test/", lambda route: route.fulfill(content_type="text/html",
                                                                  body='<input id="username">'))
    page.goto("http://evil.test/")
    page.frame_locator("#control").locator("#username").wait_for()
    page.wait_for_timeout(1000)
    assert page.frame_locator("#portal").locator("#username").count() == 0
    portal = [frame for frame in page.frames if frame.parent_frame and frame.name == "" and
              "control.test" not in frame.url]
    assert portal and not portal[0].url.startswith(live_server), [f.url for f in page.frames]


@pytest.mark.parametrize("device", list(WIDTHS))
def test_a_person_finds_joint_tasks_and_opens_one(page, screenshot, js_errors, site_info, device):
    page.set_viewport_size({"width": WIDTHS[device], "height": 900})
    page.goto("/")
    footer = page.locator("footer.site-footer")
    assert f"主办单位：{site_info['SITE_SPONSOR']}" in footer.inner_text()
    assert footer.get_by_role("link", name=site_info["SITE_ICP_RECORD"]).get_attribute("href") == \
        "https://beian.miit.gov.cn/"
    assert footer.get_by_role("link", name=site_info["SITE_PSB_RECORD"]).get_attribute("href").endswith(
        "code=41142100000000")

    # The main navigation has 抽查任务.
    page.locator("nav.site-nav a", has_text="抽查任务").click()
    page.wait_for_url(re.compile(r"/tasks$"))
    assert page.locator("h1").inner_text() == "抽查任务"
    total = int(page.locator("#tasks-list .summary strong").inner_text())
    assert total > 0
    screenshot(f"tasks-list-{device}")

    # Only joint tasks: htmx swaps the list and pushes the URL.
    page.evaluate("window.__sameDocument = true")
    page.locator("#tasks-filters-kind").select_option("joint")
    page.wait_for_url(re.compile(r"/tasks\?kind=joint$"))
    page.wait_for_function("(n) => { const s = document.querySelector('#tasks-list .summary strong');"
                           " return s && Number(s.innerText) < n; }", arg=total)
    assert page.evaluate("window.__sameDocument") is True
    rows = page.locator("#tasks-list tbody tr")
    assert rows.count() > 0
    for i in range(rows.count()):
        assert "联合抽查" in rows.nth(i).inner_text()
    csv_link = page.locator("#tasks-list a", has_text="CSV")
    assert csv_link.get_attribute("href") == "/tasks.csv?kind=joint"
    screenshot(f"tasks-joint-{device}")

    # A region that has nothing: a Chinese message in place, not an empty list.
    page.fill("#tasks-filters-region", "9999")
    page.locator("#tasks-filters [type=submit]").click()
    alert = page.locator("#tasks-list [role=alert]")
    alert.wait_for()
    assert "行政区划代码“9999”不正确" in alert.inner_text() or "下没有本平台的部门" in alert.inner_text()
    screenshot(f"tasks-bad-region-{device}")

    # Back to the joint tasks and open one: an HTML page, not JSON.
    page.goto("/tasks?kind=joint")
    first = page.locator("#tasks-list tbody tr").first
    title = first.locator("a").first.inner_text()
    code = first.locator("td").first.inner_text().strip()
    first.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/tasks/{code}$"))
    assert page.locator("h1").inner_text().startswith(title)
    assert "抽查事项" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[device]
    screenshot(f"task-detail-{device}")
    assert js_errors == []


def test_upload_progress_polls_while_the_confirmation_runs(page, log_in, live_instance, tmp_path, screenshot):
    """The progress poll (static/js/portal.js, no eval) asks every second while the confirmation
    runs and stops when it ends. The confirmation is held and then aborted: nothing is imported."""
    with sqlite3.connect(live_instance / "portal.db") as conn:
        code, start, uscc, name = conn.execute("""
            SELECT t.code, t.period_start, e.uscc, e.name FROM task t
            JOIN department d ON d.id = t.department_id
            JOIN draw dr ON dr.task_id = t.id AND dr.drawn_at IS NOT NULL
            JOIN draw_selection s ON s.draw_id = dr.id JOIN entity e ON e.id = s.entity_id
            WHERE lower(d.code) = '411421-scjg' AND t.surprise = 0 AND t.status = 'published'
              AND t.period_start <= '2026-11-20'
              AND NOT EXISTS (SELECT 1 FROM result r WHERE r.task_id = t.id AND r.entity_id = e.id)
            ORDER BY t.id, s.position LIMIT 1""").fetchone()
        batches = conn.execute("SELECT count(*) FROM import_batch").fetchone()[0]
    day = str(start)[:10]
    path = tmp_path / "results.csv"
    path.write_text("任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,后续处置,执法人员\n"
                    f"{code},{uscc},{name},,{day},C01,进度测试,{day},无需后续处置,\n", encoding="utf-8")
    log_in("clerk-411421-scjg")
    page.goto("/admin/uploads")
    page.select_option("#upload-kind", "results")
    page.set_input_files("#upload-file", str(path))
    with page.expect_navigation():
        page.click("#upload-form [type=submit]")
    page.locator("#preview-confirm").wait_for()
    if page.locator("input[name=accept_warnings]").count():
        page.check("input[name=accept_warnings]")

    held, polls = [], []
    page.route("**/admin/uploads/confirm", lambda route: held.append(route))
    page.on("request", lambda r: polls.append(r.url) if "/admin/uploads/progress/" in r.url else None)
    page.click("#preview-confirm [type=submit]")
    for _ in range(50):
        if len(polls) >= 3:
            break
        page.wait_for_timeout(200)
    assert len(held) == 1 and len(polls) >= 3, (len(held), polls)
    assert page.locator("#import-progress").evaluate("e => getComputedStyle(e).opacity") == "1"
    assert "请勿关闭页面" in page.locator("#import-progress").inner_text() or \
        "正在" in page.locator("#import-progress").inner_text()
    screenshot("upload-progress-polling")
    held[0].abort()
    page.wait_for_timeout(1500)
    settled = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == settled, "the poll went on after the confirmation ended"
    with sqlite3.connect(live_instance / "portal.db") as conn:
        assert conn.execute("SELECT count(*) FROM import_batch").fetchone()[0] == batches


@pytest.mark.parametrize("device", list(WIDTHS))
def test_items_of_a_year_show_the_version_then_in_force(page, screenshot, live_instance, device):
    with sqlite3.connect(live_instance / "portal.db") as conn:
        item_id, old, new = conn.execute("""
            SELECT i.id, v1.content, v2.content FROM check_item i
            JOIN check_item_version v1 ON v1.check_item_id = i.id AND v1.version = 1
            JOIN check_item_version v2 ON v2.check_item_id = i.id AND v2.version = 2
            WHERE v1.effective_from < '2026-01-01' AND v2.effective_from >= '2026-01-01'
              AND v1.content != v2.content
            ORDER BY i.id LIMIT 1""").fetchone()
    page.set_viewport_size({"width": WIDTHS[device], "height": 900})
    page.goto("/")
    page.locator("nav.site-nav a", has_text="抽查事项").click()
    page.wait_for_url(re.compile(r"/items$"))
    row = page.locator(f"#item-{item_id}")
    assert new in row.inner_text() and "历史版本（1）" in row.inner_text()
    page.locator("#items-filters-year").select_option("2025")
    page.wait_for_url(re.compile(r"/items\?year=2025$"))
    page.wait_for_function("(t) => { const r = document.querySelector('#item-%d');"
                           " return r && r.innerText.includes(t); }" % item_id, arg=old)
    text = row.inner_text()
    assert old in text and new not in text and "历史版本" not in text
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[device]
    row.scroll_into_view_if_needed()
    screenshot(f"items-2025-{device}")


def test_certificate_times_are_china_time(page, live_instance):
    with sqlite3.connect(live_instance / "portal.db") as conn:
        draw_id, witnessed = conn.execute("""
            SELECT d.id, w.witnessed_at FROM draw d JOIN draw_witness w ON w.draw_id = d.id
            WHERE d.published_at IS NOT NULL AND d.drawn_at IS NOT NULL ORDER BY d.id LIMIT 1""").fetchone()
    from datetime import datetime, timedelta
    shown = (datetime.fromisoformat(str(witnessed)[:19]) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    page.goto(f"/draws/{draw_id}")
    assert f"{shown} 见证" in page.locator("main").inner_text()
    assert "UTC" not in page.locator("main").inner_text()
