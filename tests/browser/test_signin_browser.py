"""Journeys through sign-in throttling and rate limits, as people meet them (1366 px and 390 px).

1. A clerk mistypes the password: sees the error, then the back-off with how long to wait; once the
   wait is over the right password opens the workbench.
2. An auditor reads the sealed sign-in records in the audit log.
3. Someone searching too fast gets the Chinese "请求过于频繁" page and can go back to the site.
4. Someone who keeps guessing after the sign-in limit is spent gets the short refusal with the form.
5. An anonymous visitor browsing public pages is given no cookie, and the pages are cacheable.
"""
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from servers import flask_cli, gunicorn_server

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PASSWORD = "journey-pass-2026"


def _database(live_instance):
    return live_instance / "portal.db"


def _sql(live_instance, statement, *params):
    with sqlite3.connect(_database(live_instance)) as conn:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(statement, params)


@pytest.fixture
def clerk(live_server, live_instance):
    """A clerk of the demo's first department, made for this journey (so no other test's user is slowed)."""
    with sqlite3.connect(_database(live_instance)) as conn:
        code = conn.execute("SELECT code FROM department ORDER BY id LIMIT 1").fetchone()[0]

    def make(name):
        flask_cli(["users", "create", name, "--role", "clerk", "--department", code, "--password", PASSWORD],
                  f"sqlite:///{_database(live_instance)}", live_instance)
        return name

    return make


def _submit(page, username, password):
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action$='/admin/login'] [type=submit]")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_clerk_who_mistypes_waits_then_signs_in(page, screenshot, live_instance, clerk, js_errors, width):
    page.set_viewport_size(WIDTHS[width])
    username = clerk(f"journey-clerk-{width}")
    page.goto("/")
    page.click("footer >> text=工作人员入口")
    assert "/admin/login" in page.url
    assert page.locator("h1").inner_text() == "工作人员登录"

    for _ in range(3):
        _submit(page, username, "wrong password")
        assert page.locator(".form-error").inner_text() == "用户名或密码不正确。"
    _submit(page, username, "wrong password")
    assert page.locator(".form-error").inner_text() == "用户名或密码不正确。为保护账号，请 1 秒后再试。"
    assert page.input_value("#username") == username
    screenshot(f"signin-wrong-password-{width}")

    # The clerk kept guessing (ten failures in all): the next try waits about a minute.
    _sql(live_instance, "UPDATE signin_backoff SET failures = 10, last_failure_at = ? WHERE username = ?",
         datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" "), username)
    _submit(page, username, PASSWORD)
    message = page.locator(".form-error").inner_text()
    assert message == "该账号从您所在网络登录失败次数过多，请 2 分钟后再试。", message
    assert page.locator("#password").is_visible()
    screenshot(f"signin-backoff-{width}")

    # Two minutes later the right password opens the workbench.
    _sql(live_instance, "UPDATE signin_backoff SET last_failure_at = ? WHERE username = ?",
         (datetime.now(timezone.utc) - timedelta(minutes=3)).replace(tzinfo=None).isoformat(sep=" "), username)
    _submit(page, username, PASSWORD)
    assert page.url.rstrip("/").endswith("/admin")
    assert username in page.locator("body").inner_text()
    screenshot(f"signin-after-backoff-{width}")
    assert js_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_an_auditor_reads_the_sealed_sign_in_records(page, screenshot, live_server, live_instance, log_in, clerk,
                                                     width):
    page.set_viewport_size(WIDTHS[width])
    username = clerk(f"journey-audit-{width}")
    page.goto("/admin/login")
    _submit(page, username, "not the password")
    _submit(page, "someone-who-does-not-exist", "guess")
    # Hours later the timer seals the window (each width's attempts in a window of its own).
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1 + list(WIDTHS).index(width))).replace(tzinfo=None)
    _sql(live_instance, "UPDATE signin_event SET window_start = ?, first_at = ?, last_at = ? "
                        "WHERE sealed_event_id IS NULL AND (username = ? OR username = '')",
         hour_ago.replace(minute=0, second=0, microsecond=0).isoformat(sep=" "), hour_ago.isoformat(sep=" "),
         hour_ago.isoformat(sep=" "), username)
    sealed = flask_cli(["signins", "seal"], f"sqlite:///{_database(live_instance)}", live_instance)
    assert "已封存" in sealed.stdout

    log_in("auditor")
    page.click("text=审计日志")
    page.select_option("select[name=action]", "signin_summary")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**action=signin_summary**")
    row = page.locator("#audit-rows tbody tr", has_text="登录记录汇总").first
    row.wait_for()
    text = row.inner_text()
    assert "登录记录汇总（signin_summary）" in text and "system" in text
    assert "失败" in text and "使用了不存在的用户名" in text
    row.locator("summary", has_text="查看").click()
    assert username in row.inner_text()
    screenshot(f"signin-audit-log-{width}")


@pytest.fixture(scope="module")
def strict_server(live_server, live_instance, tmp_path_factory):
    """A second host on the demo database with the search and sign-in limits made small (2 a minute)."""
    env = {"PORTAL_FIXED_NOW": "2026-11-23T02:00:00+00:00", "SECRET_KEY": "browser-tests-secret",
           "RATELIMIT_SEARCH": "2/minute", "RATELIMIT_SIGNIN": "2/minute", "TRUSTED_PROXY_HOPS": "1"}
    with gunicorn_server(f"sqlite:///{_database(live_instance)}", tmp_path_factory.mktemp("strict"), workers=1,
                         env=env) as base_url:
        yield base_url


@pytest.mark.parametrize("width", WIDTHS)
def test_searching_too_fast_gets_the_chinese_page(page, screenshot, strict_server, width):
    page.set_viewport_size(WIDTHS[width])
    # Each run comes "from" its own address (the server trusts one proxy hop): its own budget.
    page.set_extra_http_headers({"X-Forwarded-For": f"192.0.2.{list(WIDTHS).index(width) + 10}"})
    # Three different searches (the browser may keep a page it has seen for a minute: a repeated
    # search need not reach the server at all, see "Caching of public pages" in the README).
    for q in ("粮油", "食品"):
        response = page.goto(f"{strict_server}/search?q={q}")
        assert response.status == 200
        assert page.locator("h1").inner_text() != "请求过于频繁"
    response = page.goto(f"{strict_server}/search?q=超市")
    assert response.status == 429
    assert page.locator("h1").inner_text() == "请求过于频繁"
    assert "您的请求过于频繁，请" in page.locator("main").inner_text()
    assert int(response.headers["retry-after"]) >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
    screenshot(f"rate-limit-search-{width}")
    page.click("main >> text=返回首页")
    assert page.url == f"{strict_server}/"


@pytest.mark.parametrize("width", WIDTHS)
def test_guessing_on_after_the_sign_in_limit_gets_the_short_refusal(page, screenshot, strict_server, width):
    page.set_viewport_size(WIDTHS[width])
    page.set_extra_http_headers({"X-Forwarded-For": f"192.0.2.{list(WIDTHS).index(width) + 20}"})
    page.goto(f"{strict_server}/admin/login")
    for _ in range(2):
        _submit(page, "someone-guessing", "guess")
        assert page.locator(".form-error").inner_text() == "用户名或密码不正确。"
        assert page.locator("nav.site-nav").count() == 1
    _submit(page, "someone-guessing", "guess")  # the budget is spent: the short refusal, with the form
    assert page.locator("h1").inner_text() == "登录尝试过于频繁"
    message = page.locator(".form-error").inner_text()
    assert message.startswith("登录尝试过于频繁，请") and message.endswith("后再试。"), message
    assert page.locator("nav.site-nav").count() == 0 and page.locator("#password").is_visible()
    assert page.input_value("#username") == "someone-guessing"
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
    screenshot(f"signin-limit-spent-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_an_anonymous_visitor_gets_no_cookie_and_cacheable_pages(page, screenshot, live_server, width):
    page.set_viewport_size(WIDTHS[width])
    page.context.clear_cookies()
    for path in ("/", "/results"):
        response = page.goto(path)
        assert response.status == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["etag"].startswith('W/"') and "last-modified" in response.headers
    assert "检查结果" in page.locator("h1").inner_text()
    with page.expect_navigation():
        page.click("nav.site-nav >> text=行政处罚")
    assert "行政处罚" in page.locator("h1").inner_text()
    assert page.context.cookies() == []  # nothing set anywhere on the way
    screenshot(f"anonymous-no-cookie-{width}")
