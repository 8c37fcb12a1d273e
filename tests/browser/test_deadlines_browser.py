"""The clerk's deadline dashboard and the public /stats page in real Chromium (screenshots in tests/artifacts/)."""


def _busiest_department(page) -> str:
    rows = page.request.get("/stats.json").json()["departments"]
    assert rows, "the demo data has no public records"
    return max(rows, key=lambda r: (r["results"] + r["penalties"], r["department"]))["department"]


def test_stats_page_renders_svg_charts(page, screenshot):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/stats")
    assert page.locator("h1").inner_text() == "公示统计"
    charts = page.locator("svg[role=img]")
    assert charts.count() == 6  # two department comparisons, four monthly trends
    assert charts.first.locator("title").first.text_content() == "各部门按时公示率"
    assert charts.first.locator("rect").count() > 1
    assert page.locator("#table-work tbody tr").count() >= 1
    screenshot("stats")
    assert errors == []


def test_clerk_dashboard_shows_deadline_warnings(page, screenshot):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    code = _busiest_department(page)
    page.goto("/admin/login")
    page.fill("#username", f"clerk-{code.lower()}")
    page.fill("#password", "clerk-demo-2025")
    with page.expect_navigation():
        page.press("#password", "Enter")
    assert "/admin/login" not in page.url, "demo clerk could not sign in"
    page.goto("/admin/")
    panel = page.locator("#deadline-warnings")
    assert panel.is_visible()
    counts = {c: int(panel.locator(f"[data-count={c}]").inner_text()) for c in ("overdue", "due_soon", "missing")}
    screenshot("deadlines-dashboard")

    # htmx swaps the component in place (what the 60-second poll does) without a full reload.
    page.evaluate("window.__noFullReload = 'yes'")
    with page.expect_response(lambda r: "/admin/deadlines/warnings" in r.url):
        page.evaluate("htmx.ajax('GET', '/admin/deadlines/warnings', {target: '#deadline-warnings', swap: 'outerHTML'})")
    page.wait_for_selector("#deadline-warnings")
    assert page.evaluate("window.__noFullReload") == "yes"
    assert int(page.locator("#deadline-warnings [data-count=overdue]").inner_text()) == counts["overdue"]

    page.goto("/admin/deadlines")
    assert page.locator("h1").inner_text().startswith("公示时限")
    for anchor in ("overdue", "due-soon", "missing"):
        assert page.locator(f"#{anchor}").is_visible()
    screenshot("deadlines-page")
    assert errors == []
