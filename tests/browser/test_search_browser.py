"""Active search: type, results update in place (no reload), click a facet, the URL follows."""
from urllib.parse import parse_qs, urlsplit

NO_RELOAD = "window.__noFullReload = 'still-here'"
STILL_SAME_DOCUMENT = "() => window.__noFullReload === 'still-here'"


def _query(url):
    return parse_qs(urlsplit(url).query)


def test_type_see_results_click_facet(page, live_server, screenshot):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The first query builds the server's index from the demo database: let that happen first.
    assert page.request.get("/search.json?q=食品", timeout=120_000).ok
    page.goto("/search")
    page.evaluate(NO_RELOAD)
    page.locator("#search-q").press_sequentially("食品", delay=80)
    page.wait_for_selector("#search-results .hit")
    assert page.evaluate(STILL_SAME_DOCUMENT), "typing reloaded the page"
    page.wait_for_function("() => location.search.includes('q=')")
    assert _query(page.url)["q"] == ["食品"]
    summary = page.locator("#search-summary").inner_text()
    assert "共找到" in summary
    assert page.locator("#search-results mark").first.inner_text() in ("食品", "食", "品")

    facet = page.locator("#facet-kind a").first
    label = facet.inner_text()
    facet.click()
    page.wait_for_function("() => new URLSearchParams(location.search).has('kind')")
    assert page.evaluate(STILL_SAME_DOCUMENT), "the facet reloaded the page"
    query = _query(page.url)
    assert query["q"] == ["食品"] and query["kind"][0]
    page.wait_for_selector("#search-results .facet li.selected")
    assert label in page.locator("#facet-kind li.selected").inner_text()
    kinds = set(page.locator("#search-results .hit .badge").all_inner_texts())
    assert kinds == {label}
    # Typing more keeps the facet (the hidden filter inputs follow the results).
    page.locator("#search-q").click()
    page.locator("#search-q").press("End")
    page.locator("#search-q").press_sequentially(" 民权", delay=80)
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === '食品 民权'")
    assert _query(page.url)["kind"] == query["kind"]
    screenshot("search-facet")
    assert errors == []


def test_header_search_jumps_to_an_entity(page, live_server):
    page.goto("/search.json?q=有限公司&kind=entity")
    data = page.evaluate("() => JSON.parse(document.body.innerText)")
    uscc = data["items"][0]["url"].rsplit("/", 1)[1]
    page.goto("/")
    page.fill("#site-q", uscc)
    with page.expect_navigation():
        page.press("#site-q", "Enter")
    assert page.url.endswith(f"/entities/{uscc}")
