"""Home page → results list: filter and page in place with htmx, URLs stay shareable.

Agreed markup of /results: a GET filter form (htmx-enhanced) with selects `dept` and/or `conclusion`,
the list in `#results-list`, pager links with `hx-get` (and a plain href for no-JS).
"""
import re
from urllib.parse import parse_qs, urlsplit

NO_RELOAD = "window.__noFullReload = 'still-here'"
STILL_SAME_DOCUMENT = "() => window.__noFullReload === 'still-here'"


def _query(url):
    return parse_qs(urlsplit(url).query)


def _list_text(page):
    return page.locator("#results-list").inner_text()


def _wait_list_changed(page, before):
    page.wait_for_function("(before) => { const el = document.querySelector('#results-list');"
                           " return el && el.innerText !== before; }", arg=before)


def _filter_select(page):
    """The first filter select that has a real (non-empty) choice: department, then conclusion."""
    for name in ("dept", "conclusion"):
        select = page.locator(f"form select[name='{name}']")
        if select.count():
            values = [v for v in select.first.locator("option").evaluate_all("os => os.map(o => o.value)") if v]
            if values:
                return name, select.first, values
    raise AssertionError("no dept/conclusion filter with choices on /results")


def test_home_then_results_filter_and_page_with_htmx(page, screenshot, js_errors):

    response = page.goto("/")
    assert response.status == 200
    assert "双随机、一公开" in page.title() + page.locator("body").inner_text()
    screenshot("home")

    # The main navigation leads to the results list.
    page.locator("nav a[href='/results']").first.click()
    page.wait_for_url(re.compile(r"/results(\?.*)?$"))
    assert page.locator("#results-list").is_visible()
    page.evaluate(NO_RELOAD)

    # Page forward with htmx: URL pushed, list swapped, same document.
    next_link = page.locator("a[hx-get][href*='page=2']").first
    assert next_link.count(), "pager has no htmx link to page 2 (are there more results than one page?)"
    before = _list_text(page)
    next_link.click()
    page.wait_for_url(re.compile(r"[?&]page=2"))
    _wait_list_changed(page, before)
    assert page.evaluate(STILL_SAME_DOCUMENT), "paging reloaded the whole page instead of swapping the list"
    page_two = _list_text(page)

    # Filter with htmx: the filter lands in the URL, paging restarts, the list changes in place.
    name, select, values = _filter_select(page)
    select.select_option(values[0])
    form = page.locator("form:has(select[name='%s'])" % name).first
    if "change" not in (form.get_attribute("hx-trigger") or ""):
        form.locator("[type=submit]").first.click()  # htmx forms without a change trigger submit on click
    page.wait_for_url(re.compile(rf"[?&]{name}="))
    _wait_list_changed(page, page_two)
    assert page.evaluate(STILL_SAME_DOCUMENT), "filtering reloaded the whole page instead of swapping the list"
    query = _query(page.url)
    assert query[name] == [values[0]]
    assert query.get("page", ["1"]) == ["1"]
    filtered = _list_text(page)
    assert filtered.strip()
    screenshot("results-filtered")

    # Back restores page 2 of the unfiltered list (htmx history; a full page if it must ask the server).
    shared = page.url
    page.go_back()
    page.wait_for_url(re.compile(r"[?&]page=2"))
    page.wait_for_function("(want) => { const el = document.querySelector('#results-list');"
                           " return el && el.innerText === want; }", arg=page_two)
    assert page.locator("header.site-header").count() == 1

    # The pushed URL is shareable: loading it afresh shows the same list, as a full page.
    response = page.goto(shared)
    assert response.status == 200
    assert page.locator("header.site-header").count() == 1
    assert _list_text(page) == filtered
    assert js_errors == []


def test_results_filter_and_paging_work_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="zh-CN")
    try:
        page = context.new_page()
        assert page.goto("/results").status == 200
        first = _list_text(page)
        with page.expect_navigation():
            page.locator("a[href*='page=2']").first.click()
        assert _query(page.url)["page"] == ["2"]
        assert _list_text(page) != first

        name, select, values = _filter_select(page)
        select.select_option(values[0])
        with page.expect_navigation():
            page.locator("form:has(select[name='%s']) [type=submit]" % name).first.click()
        assert _query(page.url)[name] == [values[0]]
        assert _list_text(page).strip()
    finally:
        context.close()
