"""Browser tests: the real app under gunicorn, driven by Chromium through Playwright.

Fixtures
    live_server   (session) base URL, e.g. "http://127.0.0.1:41234": gunicorn with 2 workers on a free
                  port, a temp instance folder and SQLite file, `flask db upgrade`, `flask demo load
                  --size small`, clock fixed at LIVE_NOW (PORTAL_FIXED_NOW).
    browser       (session) one Chromium (/usr/bin/chromium, or CHROMIUM_PATH).
    page          (function) a fresh context + page; relative URLs work: page.goto("/results").
                  On failure a screenshot is saved to tests/artifacts/<test>-failed.png.
    screenshot    (function) screenshot("home") saves tests/artifacts/home.png and returns the path.
    live_instance (session) the server's instance folder (holds portal.db and gunicorn.log).
    js_errors     (function) the page's uncaught JavaScript errors so far (a list).
    site_info     (function) the footer settings (SITE_*) the live server runs with.
    csp_violations (function) Content-Security-Policy violations the page reported so far (a list);
                  every test fails at teardown if there is any (static/ only: no inline code, no eval).
    log_in        (function) log_in("admin") / log_in("clerk-<deptcode>") signs `page` in as a demo user.

One live server (one database) serves the whole session: a test that changes data must not break
the expectations of the others (change records no other test looks at; never assert global counts).

Every test under tests/browser is marked `browser` automatically: `make test-browser` runs them,
`make test` (-m "not browser") skips them.
"""
import os
import re
from pathlib import Path

import pytest

from servers import ROOT, gunicorn_server, prepare_demo_database

HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "tests" / "artifacts"
LIVE_NOW = "2026-11-23T02:00:00+00:00"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The footer's site information (portal/config.py SITE_*), as a deployment would set it.
SITE_INFO = {"SITE_SPONSOR": "民权县市场监督管理局（测试）", "SITE_CONTACT": "电话 0370-0000000（测试）",
             "SITE_ICP_RECORD": "豫ICP备00000000号-1", "SITE_PSB_RECORD": "豫公网安备41142100000000号"}
# Reports every CSP violation of every document to the test (the binding survives navigations).
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => window.__reportCsp(
  [e.effectiveDirective, e.blockedURI || "inline", (e.sourceFile || location.href) + ":" + e.lineNumber,
   (e.sample || "").slice(0, 80), ((e.target && e.target.outerHTML) || "").slice(0, 160)].join(" ")));"""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def save_screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save tests/artifacts/<name>.png (name may contain letters, digits, - and _)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    # caret="initial": hiding the caret makes Playwright put style="" on inputs, which the CSP reports.
    page.screenshot(path=str(path), full_page=full_page, caret="initial")
    return path


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory):
    return tmp_path_factory.mktemp("live-instance")


@pytest.fixture(scope="session")
def live_server(live_instance):
    # Every browser test comes from 127.0.0.1: per-address rate limits sized for one person would
    # throttle the whole suite (tests/browser/test_signin_journey.py checks the limits themselves).
    env = {"PORTAL_FIXED_NOW": LIVE_NOW, "SECRET_KEY": "browser-tests-secret", **SITE_INFO,
           "RATELIMIT_SIGNIN": "600/minute", "RATELIMIT_SEARCH": "600/minute", "RATELIMIT_EXPORT": "600/minute"}
    database_url = prepare_demo_database(live_instance, env=env, size="small", log=lambda m: print("\n" + m))
    with gunicorn_server(database_url, live_instance, workers=2, env=env) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(request, browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    request.node.csp_violations = []
    context.expose_binding("__reportCsp", lambda source, text: request.node.csp_violations.append(
        f"{source['frame'].url}: {text}"))
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()
    request.node.js_errors = []
    pg.on("pageerror", lambda exc: request.node.js_errors.append(str(exc)))
    pg.on("console", lambda msg: request.node.csp_violations.append(f"{pg.url}: {msg.text}")
          if msg.type == "error" and "Content Security Policy" in msg.text else None)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        try:
            save_screenshot(pg, f"{request.node.name}-failed")
        except Exception as exc:  # the page may already be gone
            print(f"could not save failure screenshot: {exc}")
    context.close()
    if request.node.csp_violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(request.node.csp_violations))


@pytest.fixture
def site_info():
    """The footer settings the live server runs with (SITE_SPONSOR, SITE_CONTACT, …)."""
    return dict(SITE_INFO)


@pytest.fixture
def csp_violations(request, page):
    """CSP violations `page` reported so far (a live list): `assert csp_violations == []`."""
    return request.node.csp_violations


@pytest.fixture
def js_errors(request, page):
    """Uncaught JavaScript errors of `page` so far (a live list): `assert js_errors == []`."""
    return request.node.js_errors


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves the current page to tests/artifacts/name.png and returns the path."""
    return lambda name, full_page=True: save_screenshot(page, name, full_page=full_page)


DEMO_PASSWORDS = {"admin": "admin-demo-2025", "auditor": "auditor-demo-2025"}


@pytest.fixture
def log_in(page):
    """log_in("admin") / log_in("clerk-<code>") signs the page in as a demo user (README, demo logins)."""

    def _log_in(username="admin", password=None):
        password = password or DEMO_PASSWORDS.get(username) or "clerk-demo-2025"
        page.goto("/admin/login")
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("form[action$='/admin/login'] [type=submit]")
        if "/admin/login" in page.url:
            raise AssertionError(f"login as {username} failed: {page.locator('main').inner_text()[:300]}")
        return page

    return _log_in
