"""RSS/Atom feeds: valid XML for standard readers, only public records, stable ids, conditional GET."""
from datetime import date, datetime, timedelta, timezone

import feedparser
import pytest

import factories as f
from portal.models import Status

NOW = "2026-01-10T02:00:00+00:00"


@pytest.fixture
def index_dir(app, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")


@pytest.fixture
def data(app, db, index_dir, set_now):
    set_now(NOW)
    dept = f.department(code="SJ01", name="民权县市场监督管理局")
    other = f.department(code="NY02", name="民权县农业农村局")
    ent = f.entity(name="民权县鑫达食品有限公司")
    t0 = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)
    plan = f.plan(dept, title="2025年度双随机抽查计划")
    plan.published_at = t0
    task = f.task(dept, plan=plan, title="食品经营者专项抽查")
    task.published_at = t0 + timedelta(days=1)
    farm = f.task(other, title="农资经营专项检查")
    farm.published_at = t0 + timedelta(days=2)
    result = f.result(task, ent, at=t0 + timedelta(days=3), remark="发现过期食品")
    pen = f.penalty(dept, ent, decision_no="民市监罚〔2025〕12号", at=t0 + timedelta(days=4))
    withdrawn = f.penalty(dept, ent, decision_no="民市监罚〔2025〕13号", at=t0 + timedelta(days=5))
    withdrawn.status, withdrawn.withdrawn_at, withdrawn.withdrawal_reason = Status.WITHDRAWN, t0 + timedelta(days=6), "错误"
    withheld = f.result(f.task(dept, title="不予公开任务", publish=False), f.entity(name="某某儿童用品店"), at=t0, withheld=True)
    expired = f.penalty(dept, ent, decision_no="民市监罚〔2024〕1号", publicity_end=date(2025, 12, 31), at=t0)
    secret = f.task(dept, title="突击检查任务", surprise=True, period=(date(2025, 12, 1), date(2026, 3, 31)))
    db.session.commit()
    return dict(dept=dept, ent=ent, plan=plan, task=task, farm=farm, result=result, pen=pen, withdrawn=withdrawn,
                withheld=withheld, expired=expired, secret=secret)


def parse(resp):
    assert resp.status_code == 200, resp.status_code
    parsed = feedparser.parse(resp.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_all_feed_lists_public_records_newest_first(client, data):
    resp = client.get("/feeds/all.atom")
    assert resp.headers["Content-Type"].startswith("application/atom+xml")
    feed = parse(resp)
    ids = [e.id for e in feed.entries]
    assert ids == [f"tag:localhost,2025:penalty/{data['pen'].id}", f"tag:localhost,2025:result/{data['result'].id}",
                   f"tag:localhost,2025:task/{data['farm'].id}", f"tag:localhost,2025:task/{data['task'].id}",
                   f"tag:localhost,2025:plan/{data['plan'].id}"]
    updated = [e.updated_parsed for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.entries[0].link == f"http://localhost/penalties/{data['pen'].id}"
    assert feed.entries[0].title == "民市监罚〔2025〕12号 民权县鑫达食品有限公司"
    text = resp.get_data(as_text=True)
    for hidden in ("13号", "某某儿童用品店", "民市监罚〔2024〕1号", "突击检查任务"):
        assert hidden not in text


@pytest.mark.parametrize("kind, expected", [("plans", 1), ("tasks", 2), ("results", 1), ("penalties", 1)])
def test_kind_feeds_in_rss(client, data, kind, expected):
    resp = client.get(f"/feeds/{kind}.rss")
    assert resp.headers["Content-Type"].startswith("application/rss+xml")
    feed = parse(resp)
    assert feed.version == "rss20" and len(feed.entries) == expected
    for e in feed.entries:
        assert e.id.startswith("tag:localhost,2025:") and e.published_parsed


def test_dept_and_q_filters(client, data):
    feed = parse(client.get("/feeds/tasks.atom?dept=NY02"))
    assert [e.title for e in feed.entries] == [f"农资经营专项检查（{data['farm'].code}）"]
    feed = parse(client.get("/feeds/all.atom?q=鑫达"))
    assert {e.id.split(":")[-1] for e in feed.entries} == {f"2025:result/{data['result'].id}".split(":")[-1],
                                                          f"penalty/{data['pen'].id}"}
    assert client.get("/feeds/all.atom?dept=NOPE").status_code == 404
    assert client.get("/feeds/draws.atom").status_code == 404
    assert client.get("/feeds/all.json").status_code == 404


def test_a_search_feed_holds_the_newest_publications_even_when_newer_entities_match(client, data, db):
    """A search's 50 newest hits may all be entities or check items (an entity directory loaded after
    the publications): the feed still holds the publications that match, and nothing else."""
    for i in range(60):
        f.entity(name=f"民权县鑫达食品第{i}分店")
    db.session.commit()
    search = client.get("/search.json?q=鑫达&sort=date&per_page=50").get_json()
    assert {item["kind"] for item in search["items"]} == {"entity"}  # the newest 50 hits are entities
    feed = parse(client.get("/feeds/all.atom?q=鑫达"))
    assert [e.id.rsplit(",2025:", 1)[1] for e in feed.entries] == [f"penalty/{data['pen'].id}",
                                                                   f"result/{data['result'].id}"]


def test_entity_feed(client, data):
    ent = data["ent"]
    feed = parse(client.get(f"/entities/{ent.uscc}/feed.atom"))
    assert [e.id.rsplit(",2025:", 1)[1] for e in feed.entries] == [f"penalty/{data['pen'].id}",
                                                                   f"result/{data['result'].id}"]
    assert client.get("/entities/91411421MA9999999X/feed.atom").status_code == 404


def test_conditional_get(client, data):
    first = client.get("/feeds/all.rss")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified
    again = client.get("/feeds/all.rss", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get("/feeds/all.rss", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    other = client.get("/feeds/all.rss?dept=SJ01", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_etag_changes_when_a_record_is_published(client, data, db):
    etag = client.get("/feeds/plans.atom").headers["ETag"]
    f.plan(data["dept"], title="新增的计划")
    db.session.commit()
    resp = client.get("/feeds/plans.atom", headers={"If-None-Match": etag})
    assert resp.status_code == 200 and "新增的计划" in resp.get_data(as_text=True)


def test_control_characters_are_removed(client, data, db):
    data["plan"].title = "含控制字符\x0b的计划\x01标题"
    db.session.commit()
    for url in ("/feeds/plans.atom", "/feeds/plans.rss"):
        feed = parse(client.get(url))
        assert feed.entries[0].title == "含控制字符的计划标题"


def test_feed_is_capped_at_fifty_entries(client, data, db):
    for i in range(55):
        f.plan(data["dept"], title=f"批量计划{i}")
    db.session.commit()
    feed = parse(client.get("/feeds/plans.atom"))
    assert len(feed.entries) == 50
