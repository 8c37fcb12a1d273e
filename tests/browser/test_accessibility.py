"""Phones and accessibility on every public page type (issue 9 items 4 and 5).

- At 390 px no public page scrolls sideways (`document.documentElement.scrollWidth <= 390`): home,
  every list, every detail, entity page, plan, task, draw certificate, /stats, search with facets,
  /data, login, objection form, 404 (also in elder-friendly mode, whose type is larger).
- axe-core finds no serious or critical WCAG 2.1 AA violation on any of them, at 1366 px and 390 px
  (and at 390 px in elder-friendly mode).
- Search facets are a compact filter bar on a phone: one row per facet, its values scroll inside it.
"""
import pytest

from .a11y import DESKTOP, PHONE, axe_violations, sideways_overflow
from .test_edge_browser import _db, _public_pages


def _all_public_pages(page, live_instance):
    pages = _public_pages(page, live_instance)
    result_id = pages["result"].rsplit("/", 1)[1]
    penalty_id = _db(live_instance, "SELECT id FROM penalty WHERE status = 'published' AND withheld = 0 "
                                    "ORDER BY id DESC LIMIT 1")
    pages.update({
        "search-facets": "/search?q=有限公司", "search-nothing": "/search?q=没有这样的企业名称",
        "objection-form": f"/objections/new?record=result-{result_id}",
        "credit-repair-form": f"/credit-repair/new?record=penalty-{penalty_id}",
        "feeds-filtered-results": "/results?year=2025&conclusion=C05",
    })
    return pages


def _check_pages(page, pages, viewport, check_axe=True):
    page.set_viewport_size(viewport)
    problems = []
    for name, url in pages.items():
        response = page.goto(url)
        assert response is not None and response.status < 500, (name, url, response and response.status)
        page.wait_for_load_state("load")
        if viewport["width"] <= PHONE["width"]:
            overflow = sideways_overflow(page, viewport["width"])
            if overflow:
                problems.append(f"{name} {url}: {overflow}")
        if check_axe:
            problems += [f"{name} {url}: {line}" for line in axe_violations(page)]
    return problems


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_serious_accessibility_violation_and_no_sideways_scroll(page, live_instance, screenshot, device):
    viewport = DESKTOP if device == "desktop" else PHONE
    pages = _all_public_pages(page, live_instance)
    problems = _check_pages(page, pages, viewport)
    assert problems == [], "\n".join(problems)
    page.goto(pages["search-facets"])
    screenshot(f"a11y-search-facets-{viewport['width']}")
    page.goto(pages["draw"])
    screenshot(f"a11y-draw-certificate-{viewport['width']}")


def test_elder_mode_pages_fit_a_phone_too(page, live_instance, screenshot):
    page.goto("/display?mode=elder&next=/")
    pages = _all_public_pages(page, live_instance)
    problems = _check_pages(page, pages, PHONE)
    assert problems == [], "\n".join(problems)
    page.goto(pages["entity"])
    screenshot("elder-entity-390")


def test_the_axe_check_does_find_violations(page):
    """Guards the harness: a control without a name on a real page must be reported."""
    page.goto("/results")
    assert axe_violations(page) == []
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'nameless';
                     document.querySelector('main').append(b); }""")
    found = axe_violations(page)
    assert any("button-name" in line and "#nameless" in line for line in found), found


def test_search_facets_are_a_compact_filter_bar_on_a_phone(page, screenshot):
    assert page.request.get("/search.json?q=有限公司", timeout=120_000).ok
    page.set_viewport_size(PHONE)
    page.goto("/search?q=有限公司")
    facets = page.locator("#search-results aside.facets")
    rows = facets.locator("section.facet")
    assert rows.count() >= 3
    for i in range(rows.count()):
        row = rows.nth(i)
        values = row.locator("li")
        tops = {round(b["y"]) for b in (values.nth(j).bounding_box() for j in range(values.count()))}
        assert len(tops) == 1, f"facet {row.locator('h2').inner_text()} wraps onto {len(tops)} lines"
        heading, first = row.locator("h2").bounding_box(), values.first.bounding_box()
        assert abs((heading["y"] + heading["height"] / 2) - (first["y"] + first["height"] / 2)) < 12  # same row
    assert facets.bounding_box()["height"] <= 48 * rows.count()
    assert sideways_overflow(page) is None
    screenshot("search-facets-bar-390", full_page=False)
    # A facet value filters in place, and the bar shows it selected.
    kind = page.locator("#facet-kind li a").first
    label = kind.inner_text()
    kind.click()
    page.wait_for_url(lambda url: "kind=" in url)
    page.locator("#facet-kind li.selected").wait_for()
    assert label in page.locator("#facet-kind li.selected").inner_text()
    assert sideways_overflow(page) is None
