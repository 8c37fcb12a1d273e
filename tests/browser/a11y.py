"""Accessibility and phone-width helpers for the browser tests.

axe-core (the npm package pinned in tests/browser/package.json, installed into tests/browser/node_modules
by `make test-browser`) is evaluated in the page through the DevTools protocol, which the page's
Content-Security-Policy does not apply to (an injected <script> would be refused, and reported).
"""
from pathlib import Path

import pytest

AXE_PATH = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

_source = None


def axe_source() -> str:
    global _source
    if _source is None:
        if not AXE_PATH.exists():
            pytest.fail(f"axe-core is not installed at {AXE_PATH}: run `make test-browser` "
                        "(or `npm ci --prefix tests/browser`)")
        _source = AXE_PATH.read_text(encoding="utf-8")
    return _source


def axe_violations(page, impacts=BLOCKING) -> list[str]:
    """Serious and critical WCAG 2.1 AA violations on the current page, one readable line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;0")
    results = page.evaluate("""async (tags) => {
        const r = await window.axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => [n.target.join(' '), (n.failureSummary || '').split('\\n').slice(1, 2).join(' ')])}));
    }""", WCAG_21_AA)
    lines = []
    for violation in results:
        if violation["impact"] in impacts:
            for target, summary in violation["nodes"][:8]:
                lines.append(f"{violation['impact']} {violation['id']} ({violation['help']}): {target} {summary}")
    return lines


def sideways_overflow(page, limit: int = PHONE["width"]) -> str | None:
    """None when the page fits `limit` px; else the width and the widest elements that stick out."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width <= limit:
        return None
    culprits = page.evaluate("""(limit) => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > limit + 1)
        .filter(e => !e.closest('.table-scroll, pre, .facets') || e.matches('.table-scroll, pre, .facets'))
        .slice(0, 6).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
             (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
             ' right=' + Math.round(e.getBoundingClientRect().right))""", limit)
    return f"scrollWidth {width} > {limit}: {culprits}"
