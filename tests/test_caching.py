"""Cacheable public pages (SPEC §11, issue 12 item 2): no cookie, public Cache-Control, ETag and
Last-Modified from the database (not from the rendered body), 304 on a matching conditional request,
a new ETag once anything public changes; the back office and signed-in visitors get no-store."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event

import factories as f

NOW = "2026-01-10T02:00:00+00:00"
PUBLIC_CC = "public, max-age=60"


@pytest.fixture
def data(app, db, set_now, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    set_now(NOW)
    dept = f.department(code="SJ01", name="民权县市场监督管理局")
    ent = f.entity(name="民权县鑫达食品有限公司")
    task = f.task(dept, title="食品经营者专项抽查")
    f.draw(task, [ent])
    result = f.result(task, ent, remark="发现过期食品")
    pen = f.penalty(dept, ent, decision_no="民市监罚〔2025〕12号")
    db.session.commit()
    return dict(dept=dept, ent=ent, task=task, result=result, pen=pen)


def public_urls(data):
    return ["/", "/results", f"/results/{data['result'].id}", f"/penalties/{data['pen'].id}",
            f"/entities/{data['ent'].uscc}", "/results.json", "/feeds/all.atom", "/feeds/results.rss",
            f"/entities/{data['ent'].uscc}/feed.atom", "/data", "/transparency"]


def anonymous(app):
    return app.test_client(use_cookies=False)


def test_anonymous_public_pages_set_no_cookie_and_answer_304(app, data):
    client = anonymous(app)
    for url in public_urls(data):
        first = client.get(url)
        assert first.status_code == 200, url
        assert "Set-Cookie" not in first.headers, url
        assert first.headers["Cache-Control"] == PUBLIC_CC, url
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag.startswith('W/"') and modified, url
        assert "HX-Request" in first.headers["Vary"], url
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == PUBLIC_CC, url
        assert "Set-Cookie" not in again.headers, url
        since = client.get(url, headers={"If-Modified-Since": modified})
        assert since.status_code == 304, url
        other = client.get(url, headers={"If-None-Match": 'W/"something-else"'})
        assert other.status_code == 200 and other.data, url


def test_etag_differs_per_url_and_per_htmx_rendering(app, data):
    client = anonymous(app)
    page = client.get("/results")
    fragment = client.get("/results", headers={"HX-Request": "true"})
    restore = client.get("/results", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert "<html" in restore.get_data(as_text=True)
    assert len({page.headers["ETag"], fragment.headers["ETag"], restore.headers["ETag"]}) == 3
    for response in (page, fragment, restore):
        assert {"HX-Request", "HX-History-Restore-Request"} <= set(response.headers["Vary"].replace(" ", "").split(","))
    # The page's ETag does not answer the fragment (a shared cache keeps them apart by Vary).
    assert client.get("/results", headers={"HX-Request": "true", "If-None-Match": page.headers["ETag"]}).status_code == 200
    assert client.get("/results?page=2", headers={"If-None-Match": page.headers["ETag"]}).status_code == 200


def test_a_publication_changes_the_etag(app, db, data, login, csrf_token):
    public = anonymous(app)
    before = {url: public.get(url).headers["ETag"] for url in ("/", "/results", "/feeds/results.atom")}
    draft = f.result(data["task"], f.entity(name="民权县新发现商贸有限公司"), publish=False, remark="新发布的结果")
    clerk = app.test_client()
    login(clerk, f.user("clerk", data["dept"]))
    # Writing a draft is not public, but any write may change a page: validators move conservatively.
    assert clerk.post(f"/admin/results/{draft.id}/publish", data={"csrf_token": csrf_token(clerk)}).status_code == 303
    for url, etag in before.items():
        response = public.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200, url
        assert response.headers["ETag"] != etag, url
        assert "民权县新发现商贸有限公司" in response.get_data(as_text=True), url


def test_failed_sign_ins_do_not_change_public_validators(app, db, data):
    public = anonymous(app)
    etag = public.get("/results").headers["ETag"]
    f.user("clerk", data["dept"], username="clerk-a")
    db.session.commit()
    attacker = app.test_client()
    from conftest import extract_csrf
    token = extract_csrf(attacker.get("/admin/login").get_data(as_text=True))
    for name in ("clerk-a", "nobody"):
        response = attacker.post("/admin/login", data={"username": name, "password": "wrong", "csrf_token": token})
        assert "用户名或密码不正确" in response.get_data(as_text=True)
    assert public.get("/results", headers={"If-None-Match": etag}).status_code == 304


def test_scheduled_publication_and_the_next_day_change_the_etag(app, db, data, set_now):
    public = anonymous(app)
    later = datetime(2026, 1, 10, 5, 0, tzinfo=timezone.utc)
    scheduled = f.result(data["task"], f.entity(name="定时公开的企业"), at=later, remark="定时公开")
    db.session.commit()
    first = public.get("/results")
    assert "定时公开的企业" not in first.get_data(as_text=True)
    # Nothing is written when the publication time comes; the validators still move.
    set_now("2026-01-10T04:59:00+00:00")
    assert public.get("/results", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    set_now("2026-01-10T05:00:00+00:00")
    now_public = public.get("/results", headers={"If-None-Match": first.headers["ETag"]})
    assert now_public.status_code == 200 and "定时公开的企业" in now_public.get_data(as_text=True)
    assert now_public.headers["Last-Modified"] == "Sat, 10 Jan 2026 05:00:00 GMT"
    assert public.get(f"/results/{scheduled.id}").status_code == 200
    # A new China day (publicity periods and deadlines are counted in days) is a new version too.
    etag = now_public.headers["ETag"]
    set_now("2026-01-10T16:00:00+00:00")  # 00:00 on 11 January in China
    next_day = public.get("/results", headers={"If-None-Match": etag})
    assert next_day.status_code == 200 and next_day.headers["Last-Modified"] == "Sat, 10 Jan 2026 16:00:00 GMT"


def test_a_feeds_304_runs_one_statement_and_builds_nothing(app, db, data):
    public = anonymous(app)
    etag = public.get("/feeds/all.atom").headers["ETag"]
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = public.get("/feeds/all.atom", headers={"If-None-Match": etag})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 304
    assert len(statements) == 1 and "public_revision" in statements[0]


def test_signed_in_visitors_and_the_back_office_are_not_cached(app, db, data, login):
    clerk = app.test_client()
    login(clerk, f.user("clerk", data["dept"]))
    etag = anonymous(app).get("/results").headers["ETag"]
    for url in ("/results", f"/results/{data['result'].id}", "/admin/", "/admin/results"):
        response = clerk.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert "ETag" not in response.headers, url
    login_page = anonymous(app).get("/admin/login")
    assert login_page.headers["Cache-Control"] == "no-store" and "Set-Cookie" in login_page.headers


def test_forms_with_a_token_are_private_and_search_has_no_validators(app, db, data):
    public = anonymous(app)
    form = public.get(f"/objections/new?record=result-{data['result'].id}")
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store" and "Set-Cookie" in form.headers
    search = public.get("/search?q=鑫达")
    assert search.status_code == 200 and "Set-Cookie" not in search.headers
    assert search.headers["Cache-Control"] == PUBLIC_CC and "ETag" not in search.headers


@pytest.mark.app_config(PUBLIC_MAX_AGE=300)
def test_max_age_is_a_setting(app, data):
    assert anonymous(app).get("/").headers["Cache-Control"] == "public, max-age=300"


def test_penalty_end_of_publicity_moves_validators_by_date(app, db, data, set_now):
    """A penalty whose publicity ends becomes a tombstone at midnight (China date) without any write."""
    public = anonymous(app)
    ending = f.penalty(data["dept"], data["ent"], decision_no="民市监罚〔2025〕99号", publicity_end=date(2026, 1, 10))
    db.session.commit()
    page = public.get(f"/penalties/{ending.id}")
    assert "民市监罚〔2025〕99号" in page.get_data(as_text=True)
    set_now(datetime(2026, 1, 10, 16, 0, tzinfo=timezone.utc) + timedelta(minutes=1))
    after = public.get(f"/penalties/{ending.id}", headers={"If-None-Match": page.headers["ETag"]})
    assert after.status_code == 200 and "停止公示" in after.get_data(as_text=True)


def test_the_page_cache_serves_a_page_again_until_its_etag_changes(app, db, data, login, csrf_token, set_now):
    app.config["PUBLIC_PAGE_CACHE"] = 10
    public = anonymous(app)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    first = public.get("/results")
    fragment = public.get("/results", headers={"HX-Request": "true"})
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        again = public.get("/results")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # The copy: same body and headers, the view not run (only the validators' statement).
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"] and again.headers["Cache-Control"] == PUBLIC_CC
    assert again.headers["Content-Type"] == first.headers["Content-Type"] and "Set-Cookie" not in again.headers
    assert len(statements) == 1
    assert public.get("/results", headers={"HX-Request": "true"}).data == fragment.data != first.data
    # A publication is a new ETag, so the page is built again.
    draft = f.result(data["task"], f.entity(name="民权县新发现商贸有限公司"), publish=False, remark="新发布的结果")
    clerk = app.test_client()
    login(clerk, f.user("clerk", data["dept"]))
    assert clerk.post(f"/admin/results/{draft.id}/publish", data={"csrf_token": csrf_token(clerk)}).status_code == 303
    assert "民权县新发现商贸有限公司" in public.get("/results").get_data(as_text=True)
    # So is a scheduled publication's moment, with nothing written.
    f.result(data["task"], f.entity(name="定时公开的企业"), at=datetime(2026, 1, 10, 5, 0, tzinfo=timezone.utc))
    db.session.commit()
    assert "定时公开的企业" not in public.get("/results").get_data(as_text=True)
    set_now("2026-01-10T05:00:00+00:00")
    assert "定时公开的企业" in public.get("/results").get_data(as_text=True)
    # A signed-in clerk never gets a public copy (nor leaves one behind).
    signed_in = clerk.get("/results")
    assert signed_in.headers["Cache-Control"] == "no-store" and "ETag" not in signed_in.headers


def test_a_search_feed_answers_304_from_the_revision_and_the_index_state(app, db, data, set_now):
    """A search's feed has an ETag known before the search runs (public revision + index state):
    304 while neither changes, a new ETag and the new record once something is published, and none
    when the index answers from another state (another generation: a rebuild)."""
    from portal import journal, search
    from portal.database import write_transaction

    public = anonymous(app)
    url = "/feeds/all.atom?q=鑫达"
    first = public.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "民市监罚〔2025〕12号" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == PUBLIC_CC and "Last-Modified" not in first.headers
    again = public.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.get_data() == b""
    assert public.get("/feeds/all.rss?q=鑫达").headers["ETag"] != etag  # another URL, another ETag
    with write_transaction():
        pen = f.penalty(data["dept"], data["ent"], decision_no="民市监罚〔2025〕13号")
        journal.record("create", "penalty", pen.id, actor="system")
    changed = public.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "民市监罚〔2025〕13号" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag
    newer = changed.headers["ETag"]
    assert public.get(url, headers={"If-None-Match": newer}).status_code == 304
    with app.app_context():
        search.rebuild()  # the same documents in a new generation: a new index state
    rebuilt = public.get(url, headers={"If-None-Match": newer})
    assert rebuilt.status_code == 200 and rebuilt.headers["ETag"] != newer
    assert "民市监罚〔2025〕13号" in rebuilt.get_data(as_text=True)
