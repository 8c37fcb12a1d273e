"""Rate limits (portal/limits.py): which requests, keyed by client address, 429 in Chinese with
Retry-After, shared through Redis when REDIS_URL is set."""
import time

import pytest
from flask import jsonify

import factories as f
from conftest import extract_csrf, make_app
from portal import limits
from portal.extensions import db as _db

A = {"REMOTE_ADDR": "203.0.113.7"}
B = {"REMOTE_ADDR": "198.51.100.20"}


@pytest.fixture
def limited_app(database_url, instance_dir, _schema):
    """make_limited_app(**settings): the app with rate limits on (TestConfig turns them off)."""
    apps = []

    def make(**settings):
        settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_SEARCH": "3/minute", "RATELIMIT_EXPORT": "2/minute",
                    "RATELIMIT_SIGNIN": "2/minute", **settings}
        app = make_app(database_url, instance_dir, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            _db.engine.dispose()


def _get(client, path, environ=A):
    return client.get(path, environ_base=environ)


def test_search_limit_is_per_address_with_chinese_page_and_retry_after(limited_app):
    client = limited_app().test_client()
    assert [_get(client, "/search?q=粮油").status_code for _ in range(3)] == [200, 200, 200]
    refused = _get(client, "/search?q=粮油")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 61  # a 1-minute window; whole seconds, rounded up
    assert "<h1>请求过于频繁</h1>" in html and f"您的请求过于频繁，请 {limits.wait_text(retry)}后再试。" in html
    assert refused.mimetype == "text/html" and '<html lang="zh' in html
    assert refused.headers["Cache-Control"] == "no-store"
    # Another address has its own budget.
    assert _get(client, "/search?q=粮油", B).status_code == 200


def test_search_json_shares_the_budget_and_answers_in_chinese_json(limited_app):
    client = limited_app().test_client()
    for _ in range(3):
        assert _get(client, "/search?q=x").status_code == 200
    refused = _get(client, "/search.json?q=x")
    assert refused.status_code == 429 and refused.mimetype == "application/json"
    body = refused.get_json()
    retry = int(refused.headers["Retry-After"])
    assert body == {"error": {"status": 429, "title": "请求过于频繁",
                              "message": f"您的请求过于频繁，请 {limits.wait_text(retry)}后再试。",
                              "retry_after": retry}}


def test_csv_exports_share_one_budget_and_pages_do_not_spend_it(limited_app):
    client = limited_app().test_client()
    for _ in range(5):  # HTML and JSON of the same lists are not exports
        assert _get(client, "/results").status_code == 200
        assert _get(client, "/penalties.json").status_code == 200
    assert _get(client, "/results.csv").status_code == 200
    assert _get(client, "/penalties.csv").status_code == 200
    refused = _get(client, "/items.csv")
    assert refused.status_code == 429 and "请求过于频繁" in refused.get_data(as_text=True)
    assert _get(client, "/stats.csv", B).status_code == 200
    assert _get(client, "/results").status_code == 200


def test_every_csv_url_is_limited(limited_app):
    """Every rule that can answer .csv is wrapped (public lists, /stats.csv, back-office exports)."""
    app = limited_app()
    rules = [r for r in app.url_map.iter_rules() if limits._CSV_RULE.search(r.rule)]
    found = {r.rule for r in rules}
    assert {"/stats.csv", "/admin/results.csv"} <= found and any(r.startswith("/results.<any(") for r in found)
    unwrapped = [r.rule for r in rules
                 if not getattr(app.view_functions[r.endpoint], "__wrapper-limiter-instance", None)]
    assert unwrapped == [] and len(rules) >= 10


def test_limits_off_in_the_test_config(app, client):
    assert "portal_limiter" not in app.extensions
    assert [client.get("/search?q=x").status_code for _ in range(100)] == [200] * 100


def test_marked_view_gets_the_objection_limit(limited_app):
    """Other features mark their views; here a stand-in for the objection form."""
    app = limited_app(RATELIMIT_OBJECTION="2/minute")

    @limits.limited(limits.OBJECTION)
    def objection_form():
        return jsonify(ok=True)

    app.add_url_rule("/test-objection", view_func=objection_form, methods=["GET", "POST"])
    limits.attach(app)
    client = app.test_client()
    token = {"csrf_token": extract_csrf(client.get("/admin/login").get_data(as_text=True))}
    statuses = [client.post("/test-objection", data=token, environ_base=A).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/test-objection", environ_base=A).status_code == 200  # only POSTs count
    assert client.post("/test-objection", data=token, environ_base=B).status_code == 200


def test_signin_posts_are_limited_per_address_with_the_form(limited_app, db):
    app = limited_app()
    f.user("clerk", username="real-clerk")
    db.session.commit()
    client = app.test_client()

    def attempt(username, password, environ):
        token = extract_csrf(client.get("/admin/login", environ_base=environ).get_data(as_text=True))
        return client.post("/admin/login", environ_base=environ,
                           data={"username": username, "password": password, "csrf_token": token})

    assert attempt("nobody-1", "x", A).status_code == 200
    assert attempt("nobody-2", "x", A).status_code == 200
    refused = attempt("nobody-3", "x", A)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "登录尝试过于频繁" in html and 'name="password"' in html and 'value="nobody-3"' in html
    # Once the budget is spent, further attempts are answered before the CSRF check, the edge
    # checks and Flask-Limiter's hooks (a flood costs little): the form and the reason, no site navigation.
    again = client.post("/admin/login", environ_base=A, data={"username": "nobody-4", "password": "x"})
    html = again.get_data(as_text=True)
    assert again.status_code == 429 and 1 <= int(again.headers["Retry-After"]) <= 60
    assert "登录尝试过于频繁，请" in html and "后再试。" in html and 'name="password"' in html
    assert 'value="nobody-4"' in html and "主导航" not in html
    assert again.headers["Cache-Control"] == "no-store"
    # GETs of the form are not counted, and another address signs in.
    assert client.get("/admin/login", environ_base=A).status_code == 200
    assert attempt("real-clerk", f.PASSWORD, B).status_code == 303


def test_trusted_proxy_hops_decide_which_address_counts(limited_app):
    spoofed = {"REMOTE_ADDR": "127.0.0.1"}
    direct = limited_app(TRUSTED_PROXY_HOPS=0).test_client()
    for i in range(3):  # a client's own X-Forwarded-For is ignored: all three count for 127.0.0.1
        direct.get("/search?q=x", environ_base=spoofed, headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert direct.get("/search?q=x", environ_base=spoofed,
                      headers={"X-Forwarded-For": "10.0.0.99"}).status_code == 429

    proxied = limited_app(TRUSTED_PROXY_HOPS=1).test_client()
    for i in range(3):  # behind one trusted proxy, the address it appended counts
        headers = {"X-Forwarded-For": f"1.2.3.4, 10.0.1.{i}"}
        assert proxied.get("/search?q=x", environ_base=spoofed, headers=headers).status_code == 200
    for first in ("9.9.9.9, ", "8.8.8.8, "):  # what the client itself wrote is not the address
        assert proxied.get("/search?q=x", environ_base=spoofed,
                           headers={"X-Forwarded-For": first + "10.0.1.0"}).status_code == 200
    assert proxied.get("/search?q=x", environ_base=spoofed,
                       headers={"X-Forwarded-For": "10.0.1.0"}).status_code == 429


@pytest.mark.parametrize("raw, key", [("203.0.113.7", "203.0.113.7"), ("::ffff:203.0.113.7", "203.0.113.7"),
                                      ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
                                      ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")])
def test_client_address_groups_ipv6_by_64(app, raw, key):
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": raw}):
        assert limits.client_address() == key


def test_redis_storage_is_shared_by_every_app(limited_app, redis_url):
    """Two apps (two hosts) on one Redis: one budget. The counters really are in Redis."""
    import redis

    url, prefix = redis_url
    host_a = limited_app(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix).test_client()
    host_b = limited_app(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix).test_client()
    assert [_get(c, "/search?q=x").status_code for c in (host_a, host_b, host_a)] == [200, 200, 200]
    refused = _get(host_b, "/search.json?q=x")
    assert refused.status_code == 429 and refused.get_json()["error"]["title"] == "请求过于频繁"
    assert int(refused.headers["Retry-After"]) >= 1
    client = redis.Redis.from_url(url)
    keys = client.keys(f"*{prefix}*")
    client.close()
    assert keys and any(b"search" in k for k in keys)


def test_unreachable_redis_falls_back_to_memory_instead_of_failing(limited_app, caplog):
    app = limited_app(REDIS_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    started = time.monotonic()
    statuses = [_get(client, "/search?q=x").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert time.monotonic() - started < 20
