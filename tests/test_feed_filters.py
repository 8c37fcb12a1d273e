"""Feeds for any filter (issue 13): a list's feed takes the list's query string, parsed by the list's
parser and run through the list's query, so it holds exactly that list's newest publications; a
search's feed is the same search. Every filtered list shows the link."""
from datetime import date, datetime, timedelta, timezone

import feedparser
import pytest

import factories as f

NOW = "2026-01-10T02:00:00+00:00"
T0 = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def data(app, db, set_now, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    set_now(NOW)
    scj = f.department(code="SCJ", name="民权县市场监督管理局")
    nyj = f.department(code="NYJ", name="民权县农业农村局")
    plan = f.plan(scj, title="2025年度市场监管双随机抽查计划")
    planned = f.task(scj, plan=plan, title="食品经营专项检查")
    temporary = f.task(scj, title="临时投诉核查")
    joint = f.task(scj, plan=plan, title="部门联合检查", departments=[scj, nyj])
    moments = iter(T0 + timedelta(hours=i) for i in range(1000))
    penalties = {}
    for dept, year, n in ((scj, 2025, 4), (scj, 2024, 2), (nyj, 2025, 3)):
        penalties[(dept.code, year)] = [
            f.penalty(dept, f.entity(name=f"鑫达食品{dept.code}{year}{i}"), decided=date(year, 3 + i, 10),
                      categories=("罚款",) if i % 2 else ("警告", "罚款"), at=next(moments),
                      publicity_end=date(2027, 1, 1)) for i in range(n)]
    ended = f.penalty(scj, f.entity(name="已停止公示的当事人"), decided=date(2025, 2, 1), decision_no="民市监罚〔2025〕停示1号",
                      publicity_end=date(2025, 5, 1), at=T0)
    results = [f.result(planned, f.entity(), formed=date(2025, 5, 1 + i), at=next(moments),
                        conclusions=(("C05", "发现问题已责令改正"),) if i % 2 else (("C01", "未发现问题"),))
               for i in range(6)]
    db.session.commit()
    return dict(scj=scj, nyj=nyj, plan=plan, planned=planned, temporary=temporary, joint=joint,
                penalties=penalties, ended=ended, results=results)


def entry_ids(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [e.id.rsplit("/", 1)[1] for e in parsed.entries], parsed


def list_ids(client, url):
    return [str(item["id"]) for item in client.get(url).get_json()["items"]]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_penalty_feed_of_a_filtered_list_holds_exactly_its_entries(client, data, fmt):
    query = "dept=SCJ&year=2025"
    ids, parsed = entry_ids(client, f"/feeds/penalties.{fmt}?{query}")
    assert sorted(ids) == sorted(list_ids(client, f"/penalties.json?{query}&per_page=200"))
    assert len(ids) == 4
    assert parsed.feed.title == "“双随机、一公开”信息公示平台 · 行政处罚 · 民权县市场监督管理局 · 2025年"
    assert any(link.href.endswith(f"/penalties?{query}") for link in parsed.feed.links if link.rel == "alternate")


@pytest.mark.parametrize("query", [
    "category=警告", "dept=NYJ&category=罚款", "from=2025-04-01&to=2025-05-31", "q=鑫达食品SCJ2024", "region=411421",
])
def test_every_penalty_filter_gives_the_list(client, data, query):
    ids, _ = entry_ids(client, f"/feeds/penalties.atom?{query}")
    assert sorted(ids) == sorted(list_ids(client, f"/penalties.json?{query}&per_page=200"))
    assert ids


def test_results_plans_and_tasks_feeds_take_their_list_filters(client, data):
    ids, _ = entry_ids(client, "/feeds/results.atom?conclusion=C05&from=2025-05-01&to=2025-05-04")
    assert sorted(ids) == sorted(list_ids(client, "/results.json?conclusion=C05&from=2025-05-01&to=2025-05-04"))
    assert ids == [str(data["results"][3].id), str(data["results"][1].id)]
    ids, _ = entry_ids(client, "/feeds/plans.atom?dept=SCJ&year=2025&q=市场监管")
    assert ids == [str(data["plan"].id)] == list_ids(client, "/plans.json?dept=SCJ&year=2025&q=市场监管")
    assert entry_ids(client, "/feeds/tasks.atom?kind=temporary")[0] == [str(data["temporary"].id)]
    assert entry_ids(client, "/feeds/tasks.atom?kind=joint")[0] == [str(data["joint"].id)]
    assert sorted(entry_ids(client, "/feeds/tasks.atom?kind=plan")[0]) == \
        sorted([str(data["planned"].id), str(data["joint"].id)])
    assert entry_ids(client, "/feeds/tasks.atom?dept=NYJ")[0] == [str(data["joint"].id)]


def _results_by_department_and_year(data):
    """Results the department/year feed must tell apart: another department's, the department's of
    another year published last, and one formed before the others but published after them."""
    scj, planned = data["scj"], data["planned"]
    other = f.result(f.task(data["nyj"], title="农资检查"), f.entity(), formed=date(2025, 5, 20),
                     at=datetime(2025, 8, 1, 2, tzinfo=timezone.utc))
    previous_year = f.result(planned, f.entity(), formed=date(2024, 12, 20),
                             at=datetime(2025, 9, 1, 2, tzinfo=timezone.utc))
    formed_first = f.result(planned, f.entity(), formed=date(2025, 4, 1),
                            at=datetime(2025, 7, 1, 2, tzinfo=timezone.utc))
    assert planned.department_id == scj.id
    return other, previous_year, formed_first


def test_a_department_and_year_results_feed_is_its_list_newest_publication_first(client, data, db):
    other, previous_year, formed_first = _results_by_department_and_year(data)
    db.session.commit()
    by_publication = [str(r.id) for r in [formed_first, *reversed(data["results"])]]
    ids, _ = entry_ids(client, "/feeds/results.atom?dept=SCJ&year=2025")
    assert ids == by_publication
    assert sorted(ids) == sorted(list_ids(client, "/results.json?dept=SCJ&year=2025&per_page=200"))
    assert entry_ids(client, "/feeds/results.rss?dept=SCJ")[0] == [str(previous_year.id)] + by_publication
    assert entry_ids(client, "/feeds/results.atom?dept=NYJ&year=2025")[0] == [str(other.id)]
    assert entry_ids(client, "/feeds/results.atom?dept=NYJ&year=2024")[0] == []
    assert entry_ids(client, "/feeds/results.atom?dept=SCJ&from=2024-12-01&to=2025-04-30")[0] == \
        [str(previous_year.id), str(formed_first.id)]


def test_a_filtered_feed_adds_only_records_of_its_list_whose_objection_changed(app, data, db):
    from werkzeug.datastructures import MultiDict

    from portal import queries
    from portal.clock import now as clock_now

    other, previous_year, formed_first = _results_by_department_and_year(data)
    db.session.commit()
    filters = queries.parse_filters(MultiDict({"dept": "SCJ", "year": "2025"}), "results")
    oldest = data["results"][0]
    rows = queries.feed_candidates("result", filters, clock_now(), 1,
                                   also_ids=[oldest.id, other.id, previous_year.id])
    assert [row.id for row in rows] == [formed_first.id, oldest.id]


def test_the_all_feed_narrows_to_the_kinds_a_filter_belongs_to(client, data):
    ids, parsed = entry_ids(client, "/feeds/all.atom?conclusion=C01")
    assert {e.id.split(":")[-1].split("/")[0] for e in parsed.entries} == {"result"}
    _, parsed = entry_ids(client, "/feeds/all.atom?kind=penalty&dept=NYJ")
    assert len(parsed.entries) == 3 and all("penalty/" in e.id for e in parsed.entries)


def test_a_feed_is_capped_at_the_newest_fifty_of_the_list(client, data, db):
    dept = data["scj"]
    later = datetime(2025, 9, 1, tzinfo=timezone.utc)
    for i in range(55):
        f.penalty(dept, None, decided=date(2025, 8, 1), party_name=f"批量当事人{i}", at=later + timedelta(minutes=i),
                  publicity_end=date(2027, 1, 1))
    db.session.commit()
    ids, _ = entry_ids(client, "/feeds/penalties.atom?dept=SCJ&year=2025")
    listed = list_ids(client, "/penalties.json?dept=SCJ&year=2025&per_page=200")
    assert len(listed) == 59 and len(ids) == 50 and set(ids) <= set(listed)


@pytest.mark.parametrize("url, message", [
    ("/feeds/penalties.atom?year=abcd", "年度“abcd”不正确"),
    ("/feeds/tasks.atom?kind=weekly", "任务类型“weekly”不正确"),
    ("/feeds/results.atom?from=2025-02-30", "起始日期"),
    ("/feeds/all.atom?kind=entity", "类别“entity”不正确"),
    ("/feeds/penalties.atom?dept=%00SCJ", "空字符（NUL）"),
])
def test_bad_feed_filters_are_a_400_in_chinese(client, data, url, message):
    response = client.get(url)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_search_feed_is_the_same_search(client, data):
    search = client.get("/search.json?q=鑫达食品&sort=date&per_page=50").get_json()
    expected = [f"{hit['kind']}/{hit['id']}" for hit in search["items"] if hit["kind"] in ("penalty", "result")]
    _, parsed = entry_ids(client, "/feeds/all.atom?q=鑫达食品")
    assert sorted(e.id.rsplit(",2025:", 1)[1] for e in parsed.entries) == sorted(expected) and expected
    _, parsed = entry_ids(client, "/feeds/all.atom?q=鑫达食品&dept=NYJ")
    assert len(parsed.entries) == 3


def test_lists_and_search_show_a_feed_link_with_the_same_filters(client, data):
    page = client.get("/penalties?dept=SCJ&year=2025&page=1").get_data(as_text=True)
    assert '<a class="feed-link" href="/feeds/penalties.atom?dept=SCJ&amp;year=2025"' in page
    assert 'href="/feeds/penalties.rss?dept=SCJ&amp;year=2025"' in page
    assert '<link rel="alternate" type="application/atom+xml" title="行政处罚" href="/feeds/penalties.atom?dept=SCJ&amp;year=2025">' in page
    fragment = client.get("/results?conclusion=C05", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'href="/feeds/results.atom?conclusion=C05"' in fragment
    assert 'href="/feeds/plans.atom?year=2025"' in client.get("/plans?year=2025").get_data(as_text=True)
    search = client.get("/search?q=鑫达食品&dept=SCJ").get_data(as_text=True)
    assert 'href="/feeds/all.atom?q=%E9%91%AB%E8%BE%BE%E9%A3%9F%E5%93%81&amp;dept=SCJ"' in search


def test_penalty_list_counts_records_whose_publicity_ended(client, data):
    page = client.get("/penalties?dept=SCJ&year=2025").get_data(as_text=True)
    assert "另有 1 条符合条件的行政处罚已停止公示" in page
    assert "停示1号" not in page and "已停止公示的当事人" not in page
    assert "已停止公示" not in client.get("/penalties?dept=NYJ").get_data(as_text=True)
    # A keyword would tell whether a named party was once penalised: no count then.
    assert 'id="penalties-ended"' not in client.get("/penalties?q=已停止公示的当事人").get_data(as_text=True)
