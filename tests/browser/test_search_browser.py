"""Active search: type, results update in place (no reload), click a facet, the URL follows."""
import re
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest

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
    # "Subscribe to this search": its feed holds the newest publications found (never entities).
    feed_link = page.locator("#search-feed a", has_text="Atom")
    assert feed_link.is_visible()
    feed = feedparser.parse(page.request.get(feed_link.get_attribute("href")).body())
    links = [entry.link for entry in feed.entries]
    kinds = {v["value"]: v["count"] for v in page.request.get("/search.json?q=食品").json()["facets"]["kind"]}
    publications = sum(kinds.get(kind, 0) for kind in ("plan", "task", "result", "penalty"))
    assert len(links) == min(50, publications) > 0, (len(links), kinds)
    assert all(re.search(r"/(plans|tasks|results|penalties)/", link) for link in links), links
    assert "食品" in feed.feed.title

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


def _fill_search(page, text):
    """Type a new query into the search box; wait until the results answer it."""
    box = page.locator("#search-q")
    box.fill("")
    box.press_sequentially(text, delay=40)
    page.wait_for_function("(q) => new URLSearchParams(location.search).get('q') === q", arg=text)
    page.wait_for_function("() => !document.querySelector('#search-results.htmx-request')")


@pytest.mark.parametrize("width", [1366, 390])
def test_search_finds_what_people_type(page, live_server, screenshot, js_errors, width):
    """A name piece, a 文号 fragment and a piece of a USCC each find their record on the first page; an
    answer with nothing suggests what to try; the industry facet is in Chinese. Desktop and phone."""
    page.set_viewport_size({"width": width, "height": 900})
    assert page.request.get("/search.json?q=食品", timeout=120_000).ok  # the index exists
    entity = page.request.get("/search.json?q=有限公司&kind=entity").json()["items"][0]
    name, uscc = entity["title"], entity["url"].rsplit("/", 1)[1]
    penalty = page.request.get("/search.json?q=罚&kind=penalty").json()["items"][0]
    decision = penalty["title"].split(" ", 1)[0]
    fragment = decision[decision.index("〔"):]  # e.g. 〔2025〕12号
    brand = name[3:5]  # after the county name: the firm's word (字号)

    page.goto("/search")
    _fill_search(page, brand)
    titles = page.locator("#search-results .hit-title").all_inner_texts()
    assert any(brand in t for t in titles), titles
    screenshot(f"search-name-piece-{width}")

    _fill_search(page, fragment)
    first = page.locator("#search-results .hit-title").first.inner_text()
    assert decision in first, (fragment, first)
    assert "共找到" in page.locator("#search-summary").inner_text()
    screenshot(f"search-decision-fragment-{width}")

    _fill_search(page, uscc[-8:])
    assert name in page.locator("#search-results .hit-title").first.inner_text()
    screenshot(f"search-uscc-piece-{width}")

    _fill_search(page, f"{brand}有限责任公司西区分店不存在")
    empty = page.locator("#search-empty").inner_text()
    assert "没有找到" in empty and "试试：" in empty
    suggestion = page.locator("#search-suggestions a").first
    suggested = suggestion.inner_text()
    assert suggested == brand, suggested  # the distinctive part of the name typed
    screenshot(f"search-suggestions-{width}")
    suggestion.click()
    page.wait_for_function("(q) => new URLSearchParams(location.search).get('q') === q", arg=suggested)
    page.wait_for_selector("#search-results .hit")
    assert "共找到" in page.locator("#search-summary").inner_text()

    page.goto("/search?q=有限公司&kind=entity")
    # Entities have no feed: the page says so instead of offering one that would stay empty.
    assert "检查对象和抽查事项没有订阅源" in page.locator("#search-feed").inner_text()
    assert page.locator("#search-feed a").count() == 0
    industry = page.locator("#facet-industry")
    assert industry.locator("h2").inner_text() == "行业"
    labels = [t.strip() for t in industry.locator("a").all_inner_texts()]
    assert labels and all(len(label) >= 2 for label in labels), labels  # names, not letter codes
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(f"search-industry-facet-{width}")
    assert js_errors == []
