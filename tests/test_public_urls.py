"""Absolute links and ids in feeds come from PUBLIC_BASE_URL / FEED_TAG_AUTHORITY, never from the
request's Host header (which any client can forge)."""
import feedparser
import pytest

import factories as f

NOW = "2026-01-10T02:00:00+00:00"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


@pytest.fixture
def published(app, db, set_now, tmp_path):
    set_now(NOW)
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    app.config["PUBLIC_BASE_URL"] = "https://gs.example.gov.cn"
    app.config["FEED_TAG_AUTHORITY"] = "gs.example.gov.cn"
    dept = f.department(code="SJ01", name="民权县市场监督管理局")
    ent = f.entity(name="民权县鑫达食品有限公司")
    task = f.task(dept, title="食品经营者专项抽查")
    result = f.result(task, ent)
    penalty = f.penalty(dept, ent, decision_no="民市监罚〔2025〕12号")
    db.session.commit()
    return dict(ent=ent, result=result, penalty=penalty)


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/all.rss", "/feeds/penalties.atom?q=鑫达",
                                  "/feeds/results.rss?dept=SJ01"])
def test_a_forged_host_never_reaches_feed_links_or_ids(client, published, path):
    response = client.get(path, headers=FORGED)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "evil.example" not in body
    feed = feedparser.parse(response.data)
    assert feed.entries, "the feed should list the published records"
    for entry in feed.entries:
        assert entry.link.startswith("https://gs.example.gov.cn/")
        assert entry.id.startswith("tag:gs.example.gov.cn,")
    assert feed.feed.link.startswith("https://gs.example.gov.cn/")


def test_entity_feed_uses_the_canonical_address(client, published):
    uscc = published["ent"].uscc
    response = client.get(f"/entities/{uscc}/feed.atom", headers=FORGED)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "evil.example" not in body
    feed = feedparser.parse(response.data)
    assert feed.feed.link == f"https://gs.example.gov.cn/entities/{uscc}"
    assert {e.link for e in feed.entries} == {f"https://gs.example.gov.cn/results/{published['result'].id}",
                                             f"https://gs.example.gov.cn/penalties/{published['penalty'].id}"}
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_links == [f"https://gs.example.gov.cn/entities/{uscc}/feed.atom"]
