"""Right of reply, public side: filing, the private status link, refusals, and the pending/decided
status of a record on every public channel — and nothing private on any of them."""
import hashlib
from datetime import datetime, timezone

import feedparser
import pytest
from sqlalchemy import select

import factories as f
from objection_support import (ATTACHMENT_NAME, CONTACT, EXE, PDF, PHONE, STATEMENT, counts, file_case, text,
                               token_of, world)
from portal import search
from portal.database import write_transaction
from portal.models import AuditEvent, Objection, Outcome, Status
from portal.objections import objection_status_many, service

NOW = "2025-11-20T02:00:00+00:00"  # Thursday 10:00 in China


@pytest.fixture
def w(app, db, set_now):
    set_now(NOW)
    data = world()
    db.session.commit()
    return data


def test_filing_with_a_pdf_gives_a_receipt_and_a_private_status_link(w, client, db):
    response = file_case(client, w["result"], files=[(ATTACHMENT_NAME, PDF)])
    assert response.status_code == 303
    token = token_of(response)
    case = db.session.execute(select(Objection)).scalar_one()
    assert case.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(case, c.key) for c in Objection.__table__.columns])  # only the hash is kept
    assert (case.department_id, case.record_kind, case.record_id) == (w["a"].id, "result", w["result"].id)
    assert (case.contact_mobile, [a.filename for a in case.attachments]) == (PHONE, [ATTACHMENT_NAME])
    assert case.attachments[0].data == PDF and case.attachments[0].content_type == "application/pdf"

    page = client.get(response.headers["Location"])
    body = text(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert f"已受理您的异议，受理编号 YY20251120{case.id:06d}" in body
    assert f'<dd class="mono" id="receipt-no">YY20251120{case.id:06d}</dd>' in body
    assert "已受理，待核查" in body and "2025-12-11 前" in body  # 15 working days after 2025-11-20
    assert "139****4321" in body and PHONE not in body  # even the private page masks the number
    assert ATTACHMENT_NAME in body and "SECRET-ATTACHMENT-BYTES" not in body

    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "objection_received")).scalar_one()
    assert (event.actor_name, event.record_kind, event.record_id, event.department_id) == \
        ("public", "objection", case.id, w["a"].id)
    assert PHONE not in repr((event.summary, event.after)) and CONTACT not in repr((event.summary, event.after))


def test_the_form_is_a_plain_multipart_form_reached_from_the_record_page(w, client):
    record_page = text(client.get(f"/results/{w['result'].id}"))
    assert f'href="/objections/new?record=result-{w["result"].id}"' in record_page
    form = text(client.get(f"/objections/new?record=result-{w['result'].id}"))
    assert (f'method="post" enctype="multipart/form-data" action="/objections/new?record=result-{w["result"].id}"'
            in form)
    assert 'name="csrf_token"' in form and 'type="file" multiple' in form
    assert "民权县异议测试商贸有限公司" in form and "15 个工作日内核查并答复" in form
    for label in ("本单位", "委托代理人", "检查结论", "结果说明", "执法检查人员"):
        assert label in form
    penalty_form = text(client.get(f"/objections/new?record=penalty-{w['penalty'].id}"))
    assert "民市监罚〔2025〕77号" in penalty_form and "处罚类别或金额" in penalty_form


def test_htmx_posts_in_place_and_is_redirected(w, client):
    bad = file_case(client, w["result"], headers={"HX-Request": "true"}, contact_mobile="123")
    assert bad.status_code == 400
    assert text(bad).startswith('<form id="objection-form"') and "请填写 11 位手机号码" in text(bad)
    good = file_case(client, w["result"], headers={"HX-Request": "true"})
    assert good.status_code == 204 and good.headers["HX-Redirect"].startswith("/objections/case/")


# --- bad input changes nothing and says why ------------------------------------------------------------

def test_an_oversized_attachment_is_refused(w, client, db, app):
    app.config["OBJECTION_ATTACHMENT_MAX_BYTES"] = 10_000
    before = counts(db)
    response = file_case(client, w["result"], files=[("大扫描件.pdf", PDF + b"0" * 20_000)])
    assert response.status_code == 400
    assert "附件“大扫描件.pdf”超过大小限制（每个文件最大 9 KB）" in text(response)
    assert "附件需要重新选择" in text(response) and f'value="{CONTACT}"' in text(response)  # typed values kept
    assert counts(db) == before


def test_an_executable_renamed_pdf_is_refused(w, client, db):
    before = counts(db)
    response = file_case(client, w["result"], files=[("证明.pdf", PDF), ("营业执照.pdf", EXE)])
    assert response.status_code == 400
    assert "附件“营业执照.pdf”的内容不是 PDF、JPEG 或 PNG 文件（识别为 application/x-msdownload）" in text(response)
    assert counts(db) == before


def test_more_than_three_attachments_are_refused(w, client, db):
    before = counts(db)
    response = file_case(client, w["result"], files=[(f"{n}.pdf", PDF) for n in range(4)])
    assert response.status_code == 400 and "最多上传 3 个附件（本次选择了 4 个）" in text(response)
    assert counts(db) == before


def test_missing_fields_are_explained(w, client, db):
    before = counts(db)
    response = file_case(client, w["result"], relation=None, contact_name="", points=[], statement="太短",
                         affirmed=None)
    body = text(response)
    assert response.status_code == 400
    for message in ("请选择您与当事人的关系", "请填写联系人姓名", "请至少勾选一项", "至少 10 个字", "请确认所填信息真实"):
        assert message in body
    assert counts(db) == before


def test_a_missing_csrf_token_is_refused(w, client, db):
    before = counts(db)
    response = file_case(client, w["result"], csrf=False)
    assert response.status_code == 400
    assert "页面已过期或缺少安全校验（CSRF），请刷新页面后重试。" in text(response)
    assert counts(db) == before


@pytest.mark.app_config(RATELIMIT_ENABLED=True)
def test_thirty_submissions_in_a_minute_from_one_address(w, client, db):
    record = w["result"]
    answers = [file_case(client, record, environ={"REMOTE_ADDR": "203.0.113.9"}) for _ in range(30)]
    assert [r.status_code for r in answers] == [303] * 5 + [429] * 25
    refused = answers[-1]
    assert "同一网络地址提交过于频繁（每分钟最多 5 次、每天最多 20 次），本次提交未被受理。" in text(refused)
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # the window's end, rounded up to whole seconds
    assert len(db.session.execute(select(Objection)).scalars().all()) == 5
    # Another address is not affected.
    assert file_case(client, record, environ={"REMOTE_ADDR": "203.0.113.10"}).status_code == 303


@pytest.mark.app_config(RATELIMIT_ENABLED=True)
def test_one_record_accepts_ten_filings_an_hour_whatever_the_address(w, client, db):
    codes = [file_case(client, w["penalty"], record_kind="penalty", points=["facts"],
                       environ={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code for n in range(11)]
    assert codes == [303] * 10 + [429]
    refused = file_case(client, w["penalty"], record_kind="penalty", points=["facts"],
                        environ={"REMOTE_ADDR": "198.51.100.99"})
    assert "该条信息近期收到的申请过多（每小时最多 10 次）" in text(refused)
    assert file_case(client, w["result"], environ={"REMOTE_ADDR": "198.51.100.99"}).status_code == 303
    assert len(db.session.execute(select(Objection)).scalars().all()) == 11


@pytest.mark.app_config(RATELIMIT_ENABLED=True)
def test_a_refusal_under_htmx_replaces_the_form_with_the_message(w, client):
    for _ in range(5):
        file_case(client, w["result"])
    refused = file_case(client, w["result"], headers={"HX-Request": "true"})
    assert refused.status_code == 429
    assert text(refused).startswith('<div id="objection-form" class="notice bad refused" role="alert">')


@pytest.mark.parametrize("token", ["x" * 43, "no", "a" * 200, "bad%20token!!!!!!!!!!!!!!!!!!"])
def test_a_case_token_that_does_not_exist(w, client, token):
    file_case(client, w["result"])
    response = client.get(f"/objections/case/{token}")
    assert response.status_code == 404
    assert "查询链接无效：没有与该链接对应的申请" in text(response)


def test_only_published_results_and_penalties_take_objections(w, client, db):
    draft = f.result(w["task"], f.entity(), publish=False)
    withdrawn = f.penalty(w["a"], f.entity(), decision_no="民市监罚〔2025〕78号")
    withdrawn.status, withdrawn.withdrawn_at = Status.WITHDRAWN, datetime(2025, 7, 1, tzinfo=timezone.utc)
    db.session.commit()
    before = counts(db)
    for url in (f"/objections/new?record=result-{draft.id}", f"/objections/new?record=penalty-{withdrawn.id}",
                "/objections/new?record=result-999999", "/objections/new?record=task-1", "/objections/new",
                "/objections/new?record=result-99999999999999999999", f"/credit-repair/new?record=result-{w['result'].id}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "错误代码 404" in text(response)
    assert "该信息不存在或已不在公示中" in text(client.get(f"/objections/new?record=result-{draft.id}"))
    assert client.post(f"/objections/new?record=result-{draft.id}", data={}).status_code in (400, 404)
    assert counts(db) == before


# --- the public status on every channel ---------------------------------------------------------------

def _case(db, record_kind, record):
    return db.session.execute(select(Objection).where(Objection.record_kind == record_kind,
                                                      Objection.record_id == record.id)).scalar_one()


def _decide(db, case, outcome, at):
    with write_transaction():
        fresh = db.session.get(Objection, case.id)
        service.decide(fresh, outcome, "经核查，原公示信息无误。", f.user("admin"), at)


@pytest.mark.parametrize("record_kind", ["result", "penalty"])
def test_pending_then_decided_status_on_every_channel(w, client, db, set_now, record_kind):
    record = w[record_kind]
    uscc = w["entity"].uscc
    path = "results" if record_kind == "result" else "penalties"
    feed_kind = path
    assert client.get(f"/{path}/{record.id}.json").get_json()["objection"] is None
    assert file_case(client, record, record_kind=record_kind,
                     points=["conclusion"] if record_kind == "result" else ["facts"]).status_code == 303
    pending = "当事人已提出异议，正在核查（2025-11-20 受理）"
    expected = {"status": "pending", "received": "2025-11-20", "decided": None, "outcome": None, "text": pending}

    def channels():
        detail_json = client.get(f"/{path}/{record.id}.json").get_json()["objection"]
        list_json = [i["objection"] for i in client.get(f"/{path}.json").get_json()["items"] if i["id"] == record.id]
        entity_json = [i["objection"] for i in client.get(f"/entities/{uscc}.json").get_json()[path]
                       if i["id"] == record.id]
        csv_lines = client.get(f"/{path}.csv").get_data().decode("utf-8-sig").split("\r\n")
        return detail_json, list_json, entity_json, csv_lines

    detail_json, list_json, entity_json, csv_lines = channels()
    assert detail_json == expected and list_json == [expected] and entity_json == [expected]
    assert csv_lines[0].endswith(",异议状态") and csv_lines[1].startswith(f"{record.id},")
    assert csv_lines[1].endswith("," + pending)
    assert pending in text(client.get(f"/{path}/{record.id}"))
    assert "异议核查中（2025-11-20 受理）" in text(client.get(f"/{path}"))
    fragment = client.get(f"/{path}", headers={"HX-Request": "true"})
    assert "<html" not in text(fragment) and "异议核查中（2025-11-20 受理）" in text(fragment)
    assert "异议核查中（2025-11-20 受理）" in text(client.get(f"/entities/{uscc}"))
    for feed in (f"/feeds/{feed_kind}.atom", "/feeds/all.rss", f"/entities/{uscc}/feed.atom"):
        assert pending in text(client.get(feed)), feed

    # Decided: the outcome and its date stay on every channel.
    set_now("2025-11-25T02:00:00+00:00")
    _decide(db, _case(db, record_kind, record), "maintained", datetime(2025, 11, 25, 2, tzinfo=timezone.utc))
    decided = "当事人提出的异议已核查办结：维持原公示信息（2025-11-25 办结）"
    expected = {"status": "decided", "received": "2025-11-20", "decided": "2025-11-25", "outcome": "maintained",
                "text": decided}
    detail_json, list_json, entity_json, csv_lines = channels()
    assert detail_json == expected and list_json == [expected] and entity_json == [expected]
    assert csv_lines[1].endswith("," + decided)
    assert decided in text(client.get(f"/{path}/{record.id}"))
    assert "异议已办结：维持" in text(client.get(f"/{path}"))
    assert decided in text(client.get(f"/feeds/{feed_kind}.atom"))


def test_a_status_change_moves_the_feed_entry(w, client, db, set_now):
    record = w["result"]

    def entry():
        parsed = feedparser.parse(client.get("/feeds/results.atom").data)
        return next(e for e in parsed.entries if e.link.endswith(f"/results/{record.id}"))

    assert entry().updated.startswith("2025-06-01T02:00:00")  # published_at
    file_case(client, record)
    first = entry()
    assert first.updated.startswith("2025-11-20T02:00:00") and "正在核查" in first.summary
    set_now("2025-11-27T02:00:00+00:00")
    _decide(db, _case(db, "result", record), "maintained", datetime(2025, 11, 27, 2, tzinfo=timezone.utc))
    assert entry().updated.startswith("2025-11-27T02:00:00") and "维持原公示信息" in entry().summary


def test_an_old_record_whose_status_changed_comes_back_into_the_feed(w, client, db):
    # Fifty newer results push the objected one out of the feed; its objection brings it back.
    task = f.task(w["a"])
    for n in range(50):
        f.result(task, f.entity(), at=datetime(2025, 10, 1, 2, tzinfo=timezone.utc))
    db.session.commit()
    link = f"/results/{w['result'].id}"
    assert link + '"' not in text(client.get("/feeds/results.atom"))
    file_case(client, w["result"])
    parsed = feedparser.parse(client.get("/feeds/results.atom").data)
    assert parsed.entries[0].link.endswith(link) and "正在核查" in parsed.entries[0].summary


def test_a_result_and_a_penalty_with_the_same_id_keep_their_own_status(w, client, db):
    """Feeds read both kinds' statuses by one statement: an objection to result N says nothing of
    penalty N, on the feeds as on the lists."""
    result = f.result(f.task(w["a"]), w["entity"], id=900001)
    penalty = f.penalty(w["a"], w["entity"], id=900001, decision_no="民市监罚〔2025〕901号")
    db.session.commit()
    assert file_case(client, result).status_code == 303
    for feed in ("/feeds/all.atom", f"/entities/{w['entity'].uscc}/feed.atom"):
        entries = {e.link.split("/")[-2]: e.summary for e in feedparser.parse(client.get(feed).data).entries
                   if e.link.endswith("/900001")}
        assert set(entries) == {"results", "penalties"}, feed
        assert "正在核查" in entries["results"] and "异议" not in entries["penalties"], (feed, entries)
    assert client.get(f"/penalties/{penalty.id}.json").get_json()["objection"] is None
    assert client.get(f"/results/{result.id}.json").get_json()["objection"]["status"] == "pending"


def test_the_batched_status_is_one_query_for_a_page(w, db, app):
    from sqlalchemy import event

    results = [f.result(w["task"], f.entity()) for _ in range(20)]
    db.session.commit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        statuses = objection_status_many("result", results, datetime(2025, 11, 20, tzinfo=timezone.utc))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert statuses == {r.id: None for r in results}
    assert len([s for s in statements if "objection" in s]) == 1


def test_the_entity_page_offers_the_objection_form_for_its_records(w, client):
    body = text(client.get(f"/entities/{w['entity'].uscc}"))
    assert 'action="/objections/new"' in body and 'method="get"' in body
    assert f'<option value="result-{w["result"].id}">' in body
    assert f'<option value="penalty-{w["penalty"].id}">行政处罚：民市监罚〔2025〕77号</option>' in body


# --- nothing private on any public channel -----------------------------------------------------------------

def test_contact_details_and_attachments_never_reach_a_public_channel(w, client, db, app, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    for record_kind in ("result", "penalty"):
        assert file_case(client, w[record_kind], record_kind=record_kind, files=[(ATTACHMENT_NAME, PDF)],
                         points=["other"]).status_code == 303
    search.rebuild()
    uscc, name = w["entity"].uscc, w["entity"].name
    urls = ["/", "/results", "/penalties", "/results.json", "/penalties.json", "/results.csv", "/penalties.csv",
            f"/results/{w['result'].id}", f"/results/{w['result'].id}.json", f"/penalties/{w['penalty'].id}",
            f"/penalties/{w['penalty'].id}.json", f"/entities/{uscc}", f"/entities/{uscc}.json",
            f"/entities/{uscc}/feed.atom", "/feeds/all.atom", "/feeds/all.rss", "/feeds/results.atom",
            "/feeds/penalties.rss", f"/search?q={name}", f"/search.json?q={name}", "/stats", "/stats.json", "/data",
            "/transparency", "/transparency.json"]
    fragments = ["/results", "/penalties", f"/search?q={name}"]
    secret_bytes = "SECRET-ATTACHMENT-BYTES"
    private = (PHONE, "139****4321", CONTACT, STATEMENT, "ZXQ-UNIQUE-7731", ATTACHMENT_NAME, "营业执照扫描件",
               secret_bytes)
    seen_pending = 0
    for url in urls:
        for headers in ({}, {"HX-Request": "true"}) if url in fragments else ({},):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            body = response.get_data().decode("utf-8", "replace")
            for value in private:
                assert value not in body, f"{value} leaked on {url} {headers}"
            seen_pending += "正在核查" in body or "异议核查中" in body
    assert seen_pending >= 15  # the badge itself is on the channels
    hits = client.get(f"/search.json?q={name}").get_json()
    assert hits["total"] >= 2  # the records are searchable, the objection's content is not
    for query in (PHONE, CONTACT, "ZXQ-UNIQUE-7731", "营业执照扫描件"):
        assert client.get(f"/search.json?q={query}").get_json()["total"] == 0, query


def test_a_withdrawal_decided_on_an_objection_keeps_the_outcome_on_the_tombstone(w, client, db, set_now):
    file_case(client, w["result"])
    case = _case(db, "result", w["result"])
    set_now("2025-11-24T02:00:00+00:00")
    with write_transaction():
        service.decide(db.session.get(Objection, case.id), "withdrawn", "检查对象认定错误",
                       f.user("admin"), datetime(2025, 11, 24, 2, tzinfo=timezone.utc))
    data = client.get(f"/results/{w['result'].id}.json").get_json()
    assert data["status"] == "withdrawn" and data["reason"].startswith("检查对象认定错误（异议 YY20251120")
    assert data["objection"]["outcome"] == "withdrawn" and data["objection"]["decided"] == "2025-11-24"
    page = text(client.get(f"/results/{w['result'].id}"))
    assert "该信息已于 2025-11-24 撤回" in page and "已撤回该信息（2025-11-24 办结）" in page
    assert db.session.get(Objection, case.id).outcome is Outcome.WITHDRAWN


def test_the_limit_holds_across_hosts_with_redis(app, db, set_now, instance_dir, database_url):
    """Two app instances (two hosts) on one Redis share the counters (SPEC §11)."""
    import uuid

    import redis

    from conftest import make_app

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    set_now(NOW)
    data = world()
    db.session.commit()
    prefix = f"objections-test-{uuid.uuid4().hex}"
    hosts = [make_app(database_url, instance_dir, REDIS_URL=url, RATELIMIT_ENABLED=True, RATELIMIT_KEY_PREFIX=prefix,
                      FIXED_NOW=NOW) for _ in range(2)]
    codes = []
    try:
        for n in range(6):
            codes.append(file_case(hosts[n % 2].test_client(), data["result"],
                                   environ={"REMOTE_ADDR": "192.0.2.77"}).status_code)
    finally:
        for host in hosts:  # each app has its own engine: close its connections
            with host.app_context():
                db.session.remove()
                db.engine.dispose()
    assert codes == [303] * 5 + [429]
    keys = redis.Redis.from_url(url).keys(f"*{prefix}*")
    assert keys  # the counters are in Redis, not in either host's memory
    redis.Redis.from_url(url).delete(*keys)
