"""Sign-in, sessions, CSRF, throttling and role checks on every back-office route."""
import re

from sqlalchemy import select
from werkzeug.routing import IntegerConverter

import factories as f
from conftest import extract_csrf, make_app
from portal.models import AuditEvent, SigninEvent, User

# POST routes an auditor may use (their own session and password).
AUDITOR_MAY_POST = {"auth.logout", "auth.change_password"}


def _admin_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and r.endpoint != "auth.login"]


def _url(rule):
    values = {}
    for name in rule.arguments:
        conv = rule._converters[name]
        values[name] = 1 if isinstance(conv, IntegerConverter) else (
            "csv" if type(conv).__name__ == "AnyConverter" else "x")
    return rule.build(values, append_unknown=False)[1]


def _cases(app):
    cases = []
    for rule in _admin_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append((rule.endpoint, method, _url(rule)))
    return cases


def _post_token(client):
    return extract_csrf(client.get("/admin/login").get_data(as_text=True))


def test_every_admin_route_sends_anonymous_users_to_login(app, client):
    problems = []
    cases = _cases(app)
    assert len(cases) > 40
    for endpoint, method, url in cases:
        data = {"csrf_token": _post_token(client)} if method == "POST" else None
        response = client.open(url, method=method, data=data)
        if endpoint == "auth.logout":
            if response.status_code != 303 or not response.headers["Location"].startswith("/admin/login"):
                problems.append((method, url, response.status_code))
            continue
        if response.status_code != 302 or not response.headers.get("Location", "").startswith("/admin/login?next="):
            problems.append((method, url, response.status_code))
        htmx = client.open(url, method=method, data=data, headers={"HX-Request": "true"})
        if htmx.status_code != 401 or not htmx.headers.get("HX-Redirect", "").startswith("/admin/login?next="):
            problems.append(("htmx " + method, url, htmx.status_code))
    assert problems == []


def test_auditor_cannot_post_anywhere(app, db, client, login):
    login(client, f.user("auditor"))
    problems = []
    for endpoint, method, url in _cases(app):
        if method != "POST" or endpoint in AUDITOR_MAY_POST or "witness" in endpoint:
            continue
        response = client.post(url, data={"csrf_token": _post_token(client)})
        if response.status_code != 403:
            problems.append((url, response.status_code))
    assert problems == []


def test_clerk_gets_403_on_admin_only_routes(app, db, client, login):
    login(client, f.user("clerk"))
    checked, problems = 0, []
    for rule in _admin_rules(app):
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if roles is None or "clerk" in roles or not roles:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            data = {"csrf_token": _post_token(client)} if method == "POST" else None
            response = client.open(_url(rule), method=method, data=data)
            if response.status_code != 403:
                problems.append((rule.rule, method, response.status_code))
            checked += 1
    assert problems == []
    assert checked >= 6  # users, vocabularies, audit log at least


def test_every_post_without_csrf_token_fails(app, db, client, login):
    login(client, f.user("admin"))
    events = db.session.execute(select(AuditEvent.id)).scalars().all()
    problems = []
    for endpoint, method, url in _cases(app):
        if method != "POST":
            continue
        response = client.post(url, data={"username": "x"})
        if response.status_code != 400 or "安全校验失败" not in response.get_data(as_text=True):
            problems.append((url, response.status_code))
        htmx = client.post(url, headers={"HX-Request": "true", "X-CSRFToken": "forged"})
        if htmx.status_code != 400:
            problems.append(("htmx", url, htmx.status_code))
    assert problems == []
    assert db.session.execute(select(AuditEvent.id)).scalars().all() == events


def test_login_post_without_csrf_fails(app, db, client):
    user = f.user("admin")
    db.session.commit()
    response = client.post("/admin/login", data={"username": user.username, "password": f.PASSWORD})
    assert response.status_code == 400


def test_login_and_logout_are_journaled_and_wrong_password_refused(app, db, client, login):
    """Sign-ins go to the sign-in journal (sealed into the chain later: test_signin.py); logout to the chain."""
    user = f.user("clerk", username="clerk-a")
    db.session.commit()
    token = _post_token(client)
    bad = client.post("/admin/login", data={"username": "clerk-a", "password": "nope", "csrf_token": token})
    assert bad.status_code == 200 and "用户名或密码不正确" in bad.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    login(client, user)
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": _post_token(client)})
    db.session.rollback()
    rows = db.session.execute(select(SigninEvent.username, SigninEvent.outcome, SigninEvent.attempts)
                              .order_by(SigninEvent.outcome)).all()
    assert [(r.username, r.outcome.value, r.attempts) for r in rows] == [("clerk-a", "failure", 1),
                                                                        ("clerk-a", "success", 1)]
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert actions == ["logout"]


def test_next_parameter_only_allows_local_paths(app, db, client):
    user = f.user("admin")
    db.session.commit()
    for target, expected in (("/admin/results?page=2", "/admin/results?page=2"), ("", "/admin/")):
        client.post("/admin/logout", data={"csrf_token": _post_token(client)})
        token = _post_token(client)
        r = client.post("/admin/login", data={"username": user.username, "password": f.PASSWORD, "next": target,
                                              "csrf_token": token})
        assert r.status_code == 303 and r.headers["Location"] == expected
    # Another site, or a path that a browser would turn into one, is refused before anything is written.
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/", "/\t/evil.example/",
                   "/admin/\r\nSet-Cookie: x=1", "javascript:alert(1)"):
        client.post("/admin/logout", data={"csrf_token": _post_token(client)})
        events = db.session.execute(select(AuditEvent.id)).scalars().all()
        r = client.post("/admin/login", data={"username": user.username, "password": f.PASSWORD, "next": target,
                                              "csrf_token": _post_token(client)})
        assert r.status_code == 400 and "只能是本站的页面地址" in r.get_data(as_text=True), target
        assert db.session.execute(select(AuditEvent.id)).scalars().all() == events, target
        assert client.get("/admin/").status_code == 302  # still signed out


def test_session_cookie_flags(app, db, client, login):
    response = login(client, f.user("admin"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _session_cookie(client):
    return client.get_cookie("session").value


def test_cookie_replayed_after_logout_is_refused(app, db, client, login):
    user = f.user("clerk")
    login(client, user)
    stolen = _session_cookie(client)
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": _post_token(client)})
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    htmx = replay.get("/admin/results", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/admin/login?next=%2Fadmin%2Fresults"


def test_cookie_replayed_after_password_change_is_refused(app, db, client, login):
    user = f.user("clerk")
    login(client, user)
    other_device = app.test_client()
    login(other_device, user)
    stolen = _session_cookie(other_device)
    r = client.post("/admin/password", data={"old_password": f.PASSWORD, "new_password": "a new passphrase 7",
                                             "confirm_password": "a new passphrase 7",
                                             "csrf_token": _post_token(client)})
    assert r.status_code == 303
    assert client.get("/admin/").status_code == 200  # this browser continues
    assert other_device.get("/admin/").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/admin/").status_code == 302
    token = _post_token(replay)
    old = replay.post("/admin/login", data={"username": user.username, "password": f.PASSWORD, "csrf_token": token})
    assert old.status_code == 200 and "用户名或密码不正确" in old.get_data(as_text=True)


def test_password_change_validation(app, db, client, login):
    user = f.user("clerk")
    login(client, user)
    r = client.post("/admin/password", data={"old_password": "wrong", "new_password": "short", "confirm_password": "x",
                                             "csrf_token": _post_token(client)})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "当前密码不正确" in html and "两次输入的新密码不一致" in html


def _attempt(client, username, password):
    token = extract_csrf(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token})


def test_backoff_holds_across_two_app_instances(app, db, database_url, tmp_path):
    """Two app instances (two workers or hosts) share only the database: the back-off still holds."""
    user = f.user("clerk", username="victim")
    db.session.commit()
    other = make_app(database_url, tmp_path)
    first, second = app.test_client(), other.test_client()
    for i in range(4):  # three free failures, the fourth starts the back-off
        assert _attempt(first if i % 2 else second, "victim", "guess").status_code == 200
    blocked = _attempt(first, "victim", f.PASSWORD)
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.get_data(as_text=True)
    assert _attempt(second, "victim", f.PASSWORD).status_code == 429
    db.session.rollback()
    assert db.session.execute(select(SigninEvent).where(SigninEvent.outcome == "success")).first() is None
    # Another account from the same address is unaffected.
    f.user("clerk", username="bystander")
    db.session.commit()
    assert _attempt(second, "bystander", f.PASSWORD).status_code == 303
    with other.app_context():
        from portal.extensions import db as _db
        _db.engine.dispose()


def test_users_create_command(app, db, runner):
    dept = f.department(code="SJ01")
    db.session.commit()
    ok = runner.invoke(args=["users", "create", "clerk-sj01", "--role", "clerk", "--department", "SJ01",
                             "--password", "clerk-demo-2025"])
    assert ok.exit_code == 0, ok.output
    user = db.session.execute(select(User).where(User.username == "clerk-sj01")).scalar_one()
    assert user.department_id == dept.id and user.password_hash.startswith("$argon2")
    no_dept = runner.invoke(args=["users", "create", "c2", "--role", "clerk", "--password", "long enough 1"])
    assert no_dept.exit_code != 0 and "必须指定" in no_dept.output
    unknown = runner.invoke(args=["users", "create", "c3", "--role", "clerk", "--department", "NOPE",
                                  "--password", "long enough 1"])
    assert unknown.exit_code != 0 and "未知部门：NOPE" in unknown.output
    prompted = runner.invoke(args=["users", "create", "aud", "--role", "auditor"], input="long enough 1\nlong enough 1\n")
    assert prompted.exit_code == 0, prompted.output
    dup = runner.invoke(args=["users", "create", "aud", "--role", "auditor", "--password", "long enough 1"])
    assert dup.exit_code != 0 and "已存在" in dup.output


def test_admin_manages_users_and_reset_ends_sessions(app, db, client, login):
    admin = f.user("admin")
    dept = f.department()
    login(client, admin)
    r = client.post("/admin/users/new", data={"username": "new-clerk", "role": "clerk", "password": "x",
                                              "csrf_token": _post_token(client)})
    assert r.status_code == 422 and "业务人员必须指定所属部门" in r.get_data(as_text=True)
    r = client.post("/admin/users/new", data={"username": "new-clerk", "role": "clerk", "department_id": dept.id,
                                              "password": "initial pass 1", "csrf_token": _post_token(client)})
    assert r.status_code == 303
    clerk = db.session.execute(select(User).where(User.username == "new-clerk")).scalar_one()
    clerk_client = app.test_client()
    token = _post_token(clerk_client)
    assert clerk_client.post("/admin/login", data={"username": "new-clerk", "password": "initial pass 1",
                                                   "csrf_token": token}).status_code == 303
    r = client.post(f"/admin/users/{clerk.id}", data={"role": "clerk", "department_id": dept.id, "active": "1",
                                                      "password": "reset pass 22", "csrf_token": _post_token(client)})
    assert r.status_code == 303
    assert clerk_client.get("/admin/").status_code == 302
    assert re.search("user_update", " ".join(db.session.execute(select(AuditEvent.action)).scalars().all()))


def test_htmx_post_with_expired_session_returns_to_current_page(app, client):
    response = client.post("/admin/results/new", headers={"HX-Request": "true",
                                                          "HX-Current-URL": "http://localhost/admin/results?q=x"},
                           data={"csrf_token": _post_token(client)})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/admin/login?next=%2Fadmin%2Fresults%3Fq%3Dx"


def test_idle_session_expires(app, db, client, login):
    login(client, f.user("clerk"))
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as sess:
        sess["_seen"] = sess["_seen"] - 5 * 3600
    response = client.get("/admin/results", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/admin/login")
    assert client.get("/admin/").status_code == 302
