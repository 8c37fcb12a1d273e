"""Keyboard, live announcements, charts on a phone and the elder-friendly mode (issue 9 items 4 and 5).

- A keyboard user tabs through /results: the skip link comes first, every focused control shows a
  visible focus ring, a filter (a facet link) is activated with Enter and the update is announced
  in the page's live region, then a record is opened with Enter.
- /stats charts keep their labels at 12 px or more on a 390 px phone.
- 长者模式: the header toggle (a plain link, no JavaScript needed) makes the type larger and the text
  darker, the choice persists across pages, and the toggle turns it back off.
"""
import re

from .a11y import DESKTOP, PHONE, sideways_overflow

FOCUSED = """() => { const e = document.activeElement; if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), text: (e.innerText || e.value || '').trim().slice(0, 40),
          href: e.getAttribute('href'), id: e.id, inList: !!e.closest('#results-list'),
          ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none'}; }"""


def _tab_to(page, predicate, limit=120):
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        assert focused["ring"], f"no visible focus indicator on {focused}"
        seen.append(focused)
        if predicate(focused):
            return focused
    raise AssertionError(f"never reached the control by keyboard; focused: {[f['text'] for f in seen]}")


def test_keyboard_user_filters_a_list_and_opens_a_record(page, screenshot, js_errors):
    page.set_viewport_size(DESKTOP)
    page.goto("/results")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED)
    assert first["text"] == "跳到正文" and first["ring"], first
    screenshot("keyboard-skip-link", full_page=False)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    # From the content on: the filter form, then the conclusion facet link "发现问题已责令改正".
    facet = _tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "发现问题已责令改正")
    assert "conclusion=C05" in facet["href"]
    screenshot("keyboard-facet-focused", full_page=False)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"conclusion=C05"))
    live = page.locator("#live-status")
    summary = page.locator("#results-list .summary")
    summary.wait_for()
    for _ in range(50):
        if live.inner_text().strip():
            break
        page.wait_for_timeout(100)
    assert live.inner_text().strip() == " ".join(summary.inner_text().split())
    assert live.inner_text().startswith("共 ")
    # Focus stays in the updated list, so the next Tab continues there, not at the top of the page.
    assert page.evaluate("() => document.activeElement.id") == "results-list"
    assert all("发现问题已责令改正" in t for t in page.locator("#results-list tbody tr td:nth-child(2)").all_inner_texts())

    detail = _tab_to(page, lambda f: f["tag"] == "a" and f["inList"] and (f["href"] or "").startswith("/results/"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(detail["href"])
    assert "发现问题已责令改正" in page.locator("main").inner_text()
    screenshot("keyboard-opened-result", full_page=False)
    assert js_errors == []


def test_stats_chart_labels_are_at_least_12px_on_a_phone(page, screenshot):
    page.set_viewport_size(PHONE)
    page.goto("/stats")
    sizes = page.locator("svg.chart-svg text").evaluate_all(
        "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)")
    assert len(sizes) > 10
    assert min(sizes) >= 12, sorted(sizes)[:5]
    assert sideways_overflow(page) is None
    screenshot("stats-charts-390")


def _body_font_px(page):
    return page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")


def test_elder_mode_toggle_grows_the_type_persists_and_toggles_back(page, screenshot, js_errors):
    page.set_viewport_size(DESKTOP)
    page.goto("/penalties")
    toggle = page.locator("#display-toggle")
    assert toggle.inner_text() == "长者模式"
    standard_px = _body_font_px(page)
    standard_ink = page.evaluate("() => getComputedStyle(document.body).color")
    # Filter in place first (htmx pushes the URL): the toggle comes back to the filtered list.
    page.locator("#penalties-filters-year").select_option("2025")
    page.wait_for_url(re.compile(r"year=2025"))
    filtered = page.url
    with page.expect_navigation():
        toggle.click()
    assert page.url == filtered
    assert page.locator("#penalties-filters-year").input_value() == "2025"
    assert toggle.inner_text() == "退出长者模式"
    elder_px = _body_font_px(page)
    assert elder_px >= standard_px * 1.2, (standard_px, elder_px)
    assert page.evaluate("() => getComputedStyle(document.body).color") == "rgb(0, 0, 0)" != standard_ink
    assert "行政处罚" in page.locator("h1").inner_text()
    screenshot("elder-penalties-1366", full_page=False)

    # It persists: another page, and a phone, in the same mode.
    page.locator("nav a[href='/results']").first.click()
    page.wait_for_url(re.compile(r"/results$"))
    assert _body_font_px(page) == elder_px
    assert page.locator("#display-toggle").inner_text() == "退出长者模式"
    page.set_viewport_size(PHONE)
    page.goto("/stats")
    assert _body_font_px(page) >= 18
    assert sideways_overflow(page) is None
    screenshot("elder-stats-390", full_page=False)

    # And toggles back.
    with page.expect_navigation():
        page.locator("#display-toggle").click()
    assert page.url.endswith("/stats")
    assert page.locator("#display-toggle").inner_text() == "长者模式"
    page.set_viewport_size(DESKTOP)
    assert _body_font_px(page) == standard_px
    assert js_errors == []


def test_elder_mode_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False, locale="zh-CN",
                                  viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto("/plans")
        standard_px = _body_font_px(page)
        with page.expect_navigation():
            page.locator("#display-toggle").click()
        assert page.url.endswith("/plans")
        assert page.locator("#display-toggle").inner_text() == "退出长者模式"
        assert _body_font_px(page) > standard_px
    finally:
        context.close()
