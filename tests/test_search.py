"""Search: Chinese recall, exact codes, ranking, facets, the visibility rule on a stale index, views."""
import re
from datetime import date, datetime, timezone

import pytest

import factories as f
from portal import journal, lifecycle, search
from portal.database import write_transaction
from portal.models import EntityType, Penalty, Status

NOW = "2026-01-10T02:00:00+00:00"


@pytest.fixture
def index_dir(app, tmp_path):
    """A private index for this test (the suite's instance folder is shared)."""
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    return tmp_path / "search-index"


@pytest.fixture
def corpus(app, db, index_dir, set_now):
    set_now(NOW)
    dept = f.department(code="SJ01", name="民权县市场监督管理局")
    other = f.department(code="NY02", name="民权县农业农村局")
    names = ["民权县鑫达食品有限公司", "商丘市华润万家超市有限公司", "宁陵县老王烟酒店", "睢县绿源农民专业合作社"]
    ents = [f.entity(name=nm) for nm in names]
    ents[2].entity_type = EntityType.INDIVIDUAL
    ents[2].operator_name = "王建国"
    item = f.check_item(dept, code="SC-001", name="食品生产企业监督检查")
    plan = f.plan(dept, title="2025年度市场监管领域双随机抽查计划")
    task = f.task(dept, plan=plan, title="食品经营者专项抽查", items=[item])
    farm_task = f.task(other, title="农资经营专项检查", period=(date(2024, 4, 1), date(2024, 6, 30)))
    r1 = f.result(task, ents[0], conclusions=[("C05", "发现问题已责令改正")], remark="发现过期食品，已责令改正")
    r2 = f.result(task, ents[1], remark="经检查未发现问题")
    r3 = f.result(farm_task, ents[3], formed=date(2024, 5, 10), remark="农药标签规范")
    p1 = f.penalty(dept, ents[0], decision_no="民市监罚〔2025〕12号", categories=("罚款", "没收违法所得"))
    p2 = f.penalty(dept, ents[2], decision_no="民市监罚〔2025〕120号", facts="销售过期烟草制品")
    db.session.commit()
    search.rebuild()
    return dict(dept=dept, other=other, ents=ents, item=item, plan=plan, task=task, farm_task=farm_task,
                results=[r1, r2, r3], penalties=[p1, p2])


def keys(res):
    return {(h.kind, h.id) for h in res.hits}


def entity_hits(q):
    return {h.title for h in search.query(q, filters={"kind": "entity"}, per_page=50).hits}


@pytest.mark.parametrize("name, fragments", [
    ("民权县鑫达食品有限公司", ["鑫", "鑫达", "鑫达食", "达食品", "食品有限"]),
    ("商丘市华润万家超市有限公司", ["润", "华润", "万家超", "超市"]),
    ("宁陵县老王烟酒店", ["烟", "老王", "烟酒店", "宁陵"]),
    ("睢县绿源农民专业合作社", ["睢", "绿源", "合作社", "农民专业"]),
])
def test_every_fragment_finds_the_name(corpus, name, fragments):
    for fragment in fragments:
        assert name in entity_hits(fragment), fragment


def test_fragments_do_not_match_across_gaps(corpus):
    # 鑫达 and 达食 both occur, but "鑫食" does not: a phrase of bigrams, not a bag of characters.
    assert entity_hits("鑫食") == set()
    assert entity_hits("润华") == set()


def test_multi_word_queries_are_and(corpus):
    assert entity_hits("民权 食品") == {"民权县鑫达食品有限公司"}
    assert entity_hits("有限公司 商丘") == {"商丘市华润万家超市有限公司"}
    assert entity_hits("有限公司") == {"民权县鑫达食品有限公司", "商丘市华润万家超市有限公司"}
    res = search.query("过期 改正")
    assert keys(res) == {("result", corpus["results"][0].id)}
    res = search.query("过期 烟草")
    assert keys(res) == {("penalty", corpus["penalties"][1].id)}


def test_texts_of_every_kind_are_found(corpus):
    assert ("item", corpus["item"].id) in keys(search.query("生产企业"))
    assert ("plan", corpus["plan"].id) in keys(search.query("双随机"))
    assert ("task", corpus["task"].id) in keys(search.query("经营者专项"))
    assert ("result", corpus["results"][2].id) in keys(search.query("农药标签"))
    assert ("penalty", corpus["penalties"][0].id) in keys(search.query("没收违法所得"))


def test_uscc_and_decision_number_return_exactly_their_record(corpus):
    ent = corpus["ents"][0]
    res = search.query(ent.uscc)
    assert res.exact and keys(res) == {("entity", ent.id)} and res.total == 1
    res = search.query(ent.uscc.lower())
    assert keys(res) == {("entity", ent.id)}
    p1, p2 = corpus["penalties"]
    for q in ("民市监罚〔2025〕12号", "民市监罚[2025]12号", " 民市监罚〔2025〕12号 "):
        res = search.query(q)
        assert res.exact and keys(res) == {("penalty", p1.id)} and res.total == 1, q
    assert keys(search.query("民市监罚〔2025〕120号")) == {("penalty", p2.id)}
    task = corpus["task"]
    assert keys(search.query(task.code)) == {("task", task.id)}


def test_exact_name_ranks_first_then_recent(corpus):
    res = search.query("民权县鑫达食品有限公司")
    assert (res.hits[0].kind, res.hits[0].title) == ("entity", "民权县鑫达食品有限公司")
    dated = search.query("检查", sort="date", per_page=50).hits
    stamps = [h.date for h in dated]
    assert stamps == sorted(stamps, reverse=True)


def test_facets_count_and_filter(corpus):
    res = search.query("食品", per_page=50)
    facets = {name: {v.value: v.count for v in values} for name, values in res.facets.items()}
    assert facets["kind"]["entity"] == 1
    assert facets["kind"]["result"] == 2 and facets["kind"]["penalty"] == 2  # both results name the task
    assert facets["dept"] == {"SJ01": sum(1 for h in res.hits if h.kind != "entity")}
    assert facets["conclusion"] == {"C05": 1, "C01": 1}
    assert facets["category"] == {"罚款": 2, "没收违法所得": 1}
    only = search.query("食品", filters={"category": "没收违法所得"})
    assert keys(only) == {("penalty", corpus["penalties"][0].id)}
    by_year = search.query("专项", filters={"year": "2024"})
    assert keys(by_year) == {("task", corpus["farm_task"].id), ("result", corpus["results"][2].id)}
    labels = {v.value: v.label for v in res.facets["dept"]}
    assert labels == {"SJ01": "民权县市场监督管理局"}


def test_operator_name_of_individual_business_is_not_indexed(corpus):
    assert search.query("王建国").total == 0
    assert search.query("建国").total == 0


def test_snippets_are_escaped_and_highlighted(app, db, index_dir, set_now):
    set_now(NOW)
    dept = f.department()
    ent = f.entity(name="<script>alert(1)</script>鑫达商行")
    db.session.commit()
    search.rebuild()
    hit = search.query("鑫达").hits[0]
    assert str(hit.title_html) == "&lt;script&gt;alert(1)&lt;/script&gt;<mark>鑫达</mark>商行"
    assert dept and ent


def test_stale_index_never_shows_hidden_records(corpus, db, set_now, client):
    """Change the database behind the index's back (no change-log rows): queries must still obey the rule."""
    r1, r2, _ = corpus["results"]
    p1, p2 = corpus["penalties"]
    task = corpus["task"]
    r1.status, r1.withdrawn_at, r1.withdrawal_reason = Status.WITHDRAWN, datetime(2026, 1, 1, tzinfo=timezone.utc), "x"
    r2.withheld = True
    p1.publicity_end = date(2025, 12, 31)  # publicity over before NOW
    task.surprise = True  # under embargo: not every drawn target has a published result, period not over
    task.period_end = date(2026, 3, 31)
    db.session.commit()
    assert not search.is_behind()  # the index really is stale
    res = search.query("食品", per_page=50)
    shown = keys(res)
    for hidden in [("result", r1.id), ("result", r2.id), ("penalty", p1.id), ("task", task.id)]:
        assert hidden not in shown
    assert ("penalty", p2.id) in keys(search.query("烟草"))
    body = client.get("/search?q=食品").get_data(as_text=True)
    assert "过期食品" not in body and f"/results/{r1.id}" not in body and f"/tasks/{task.code}" not in body
    assert f"/penalties/{p1.id}" not in body and f"/penalties/{p2.id}" in body
    data = client.get("/search.json?q=民市监罚〔2025〕12号").get_json()
    assert data["items"] == [] and data["total"] == 0
    # …and sync/verify put the index right.
    assert {d.key for d in search.verify()} >= {f"result:{r1.id}", f"result:{r2.id}", f"penalty:{p1.id}"}
    search.rebuild()
    assert search.verify() == []


def test_a_search_feed_on_a_stale_index_shows_only_public_records(corpus, db, client):
    """The search's feed reads its hits' records itself (public_clause and public_state): a stale
    index does not bring back a withdrawn, withheld, ended or embargoed record."""
    r1, r2, _ = corpus["results"]
    p1, p2 = corpus["penalties"]
    task = corpus["task"]

    def entry_ids(url):
        return set(re.findall(r">tag:[^<]*:(\w+/\d+)<", client.get(url).get_data(as_text=True)))  # atom id, rss guid

    before = entry_ids("/feeds/all.atom?q=食品") | entry_ids("/feeds/all.atom?q=民市监罚")
    hidden = {f"result/{r1.id}", f"result/{r2.id}", f"penalty/{p1.id}", f"task/{task.id}"}
    assert before >= hidden | {f"penalty/{p2.id}"}
    r1.status, r1.withdrawn_at, r1.withdrawal_reason = Status.WITHDRAWN, datetime(2026, 1, 1, tzinfo=timezone.utc), "x"
    r2.withheld = True
    p1.publicity_end = date(2025, 12, 31)
    task.surprise, task.period_end = True, date(2026, 3, 31)
    db.session.commit()
    assert not search.is_behind()  # the index really is stale
    after = entry_ids("/feeds/all.atom?q=食品") | entry_ids("/feeds/all.rss?q=民市监罚")
    assert after.isdisjoint(hidden)
    assert f"penalty/{p2.id}" in after


def test_time_based_visibility_needs_no_log_entry(app, db, index_dir, set_now):
    set_now("2026-01-10T02:00:00+00:00")
    dept = f.department()
    ent = f.entity(name="民权县晨曦贸易有限公司")
    future = f.penalty(dept, ent, decision_no="民市监罚〔2026〕7号", at=datetime(2026, 2, 1, tzinfo=timezone.utc),
                       publicity_end=date(2026, 4, 30))
    db.session.commit()
    search.rebuild()
    q = "民市监罚〔2026〕7号"
    assert search.query(q).total == 0  # not yet published
    set_now("2026-02-01T00:00:01+00:00")
    assert [h.id for h in search.query(q).hits] == [future.id]
    set_now("2026-04-30T15:59:59+00:00")  # 23:59:59 on 04-30 in China: last public second
    assert search.query(q).total == 1
    set_now("2026-04-30T16:00:00+00:00")
    assert search.query(q).total == 0
    assert search.verify() == []
    search.sync()  # purges the expired document
    assert search.verify() == []


def test_publish_through_lifecycle_is_searchable_after_commit(app, db, index_dir, set_now):
    set_now(NOW)
    with write_transaction():
        dept = f.department()
        ent = f.entity(name="民权县启明星电子商务有限公司")
        journal.record("create", "entity", ent.id)
        task = f.task(dept, title="电子商务经营者抽查", publish=False)
        journal.record("create", "task", task.id)
    search.sync()
    assert search.query("启明星").total == 1
    assert search.query("电子商务经营者", filters={"kind": "task"}).total == 0
    with write_transaction():
        lifecycle.publish("task", task)
    # The after-commit hook applied the change: nothing is pending.
    assert not search.is_behind()
    assert [h.id for h in search.query("电子商务经营者", filters={"kind": "task"}).hits] == [task.id]
    with write_transaction():
        lifecycle.withdraw("task", task, "任务编号有误")
    assert not search.is_behind()
    assert search.query("电子商务经营者", filters={"kind": "task"}).total == 0
    assert search.verify() == []


def test_surprise_task_appears_when_its_results_are_published(app, db, index_dir, set_now):
    set_now(NOW)
    with write_transaction():
        dept = f.department()
        ent = f.entity(name="民权县惊雷化工有限公司")
        task = f.task(dept, title="危险化学品突击检查", surprise=True, period=(date(2025, 12, 1), date(2026, 3, 31)))
        f.draw(task, [ent])
        journal.record("publish", "task", task.id)
        result = f.result(task, ent, publish=False, remark="突击检查发现问题")
    assert search.query("危险化学品").total == 0
    with write_transaction():
        lifecycle.publish("result", result)
    assert {h.kind for h in search.query("突击检查").hits} == {"task", "result"}
    assert search.verify() == []


def test_cli_sync_rebuild_verify(app, db, index_dir, runner, set_now):
    set_now(NOW)
    dept = f.department()
    plan = f.plan(dept, title="命令行测试计划")
    db.session.commit()
    out = runner.invoke(args=["search", "rebuild"])
    assert out.exit_code == 0, out.output
    assert "1 document" in out.output or "2 document" in out.output
    gen = (index_dir / "CURRENT").read_text()
    assert runner.invoke(args=["search", "verify"]).exit_code == 0
    # A change committed with its log row but never applied (say the writer crashed):
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    with write_transaction():
        lifecycle.withdraw("plan", plan, "重复发布")
    out = runner.invoke(args=["search", "verify"])
    assert out.exit_code == 1 and f"extra\tplan:{plan.id}" in out.output
    out = runner.invoke(args=["search", "sync"])
    assert out.exit_code == 0 and "applied 1 change" in out.output
    assert runner.invoke(args=["search", "verify"]).exit_code == 0
    runner.invoke(args=["search", "rebuild"])
    assert (index_dir / "CURRENT").read_text() != gen
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [(index_dir / "CURRENT").read_text()]


def test_cli_rebuild_with_several_writer_processes(app, db, index_dir, runner, set_now):
    """`search rebuild --procs 2` (Whoosh's multi-process writer) builds the same searchable index."""
    set_now(NOW)
    dept = f.department()
    for i in range(30):
        f.plan(dept, title=f"多进程重建计划{i}")
    db.session.commit()
    out = runner.invoke(args=["search", "rebuild", "--procs", "2"])
    assert out.exit_code == 0, out.output
    assert "30 document(s)" in out.output and "2 writer process(es)" in out.output
    assert runner.invoke(args=["search", "verify"]).output.strip() == "index matches the database"
    assert search.query("多进程重建计划7").hits[0].title == "多进程重建计划7"
    out = runner.invoke(args=["search", "rebuild", "--procs", "0"])
    assert out.exit_code == 2 and "--procs" in out.output


def test_search_page_html_fragment_and_json(corpus, client):
    resp = client.get("/search?q=食品")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" in body
    assert "共找到" in body and "<mark>食品</mark>" in body
    assert 'hx-trigger="input changed delay:300ms, keyup changed delay:300ms, search"' in body and 'hx-push-url="true"' in body
    assert 'href="/search?q=%E9%A3%9F%E5%93%81&amp;kind=penalty"' in body  # facet link keeps q
    assert "HX-Request" in resp.headers.get("Vary", "")
    frag = client.get("/search?q=食品&kind=penalty", headers={"HX-Request": "true"})
    text = frag.get_data(as_text=True)
    assert "<html" not in text and 'id="search-filters" hx-swap-oob="true"' in text
    assert 'name="kind" value="penalty"' in text and "✕ 行政处罚" in text
    data = client.get("/search.json?q=食品&kind=penalty&sort=date").get_json()
    assert data["total"] == 2 and data["page"] == 1 and data["per_page"] == 20
    assert [i["kind"] for i in data["items"]] == ["penalty", "penalty"]
    assert {"kind", "dept", "year", "conclusion", "category"} <= set(data["facets"])
    assert data["items"][0]["url"].startswith("/penalties/")


def test_a_search_offers_its_feed_only_where_a_feed_can_hold_its_records(corpus, client):
    """Feeds hold publications: a search narrowed to entities or check items offers no feed (it
    would stay empty) and says why; any other search links its Atom and RSS feeds."""
    for kind in ("entity", "item"):
        body = client.get(f"/search?q=食品&kind={kind}").get_data(as_text=True)
        assert "检查对象和抽查事项没有订阅源" in body and "/feeds/all.atom" not in body, kind
    for url in ("/search?q=食品", "/search?q=食品&kind=penalty"):
        body = client.get(url).get_data(as_text=True)
        assert "订阅这次搜索" in body and "没有订阅源" not in body
        assert body.count('href="/feeds/all.atom?q=%E9%A3%9F%E5%93%81') == 2  # <link rel=alternate> and the link


def test_search_paging(corpus, client):
    data = client.get("/search.json?q=有限&per_page=2&page=2").get_json()
    assert data["page"] == 2 and len(data["items"]) <= 2
    first = client.get("/search.json?q=有限&per_page=2").get_json()
    assert not {i["url"] for i in first["items"]} & {i["url"] for i in data["items"]}


def test_empty_state_helps(corpus, client):
    body = client.get("/search?q=不存在的公司名称xyz").get_data(as_text=True)
    assert "没有找到" in body and "试试更短的片段" in body


def test_header_search_jumps_to_exact_codes(corpus, client):
    ent = corpus["ents"][0]
    resp = client.get(f"/search?q={ent.uscc}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/entities/{ent.uscc}")
    resp = client.get("/search?q=民市监罚〔2025〕12号")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/penalties/{corpus['penalties'][0].id}")
    resp = client.get(f"/search?q={corpus['task'].code}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/tasks/{corpus['task'].code}")
    # Active search (htmx) shows the hit instead of navigating away.
    frag = client.get(f"/search?q={ent.uscc}", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "编码精确匹配" in frag.get_data(as_text=True)


def test_hidden_penalty_number_does_not_jump(corpus, db, client):
    p1 = corpus["penalties"][0]
    p1.withheld = True
    db.session.commit()
    resp = client.get("/search?q=民市监罚〔2025〕12号")
    assert resp.status_code == 200 and "没有找到" in resp.get_data(as_text=True)


def test_result_of_a_withheld_task_does_not_name_it(app, db, index_dir, set_now, client):
    set_now(NOW)
    dept = f.department()
    task = f.task(dept, title="涉密专项行动检查")
    task.withheld = True
    ent = f.entity(name="民权县青松木业有限公司")
    result = f.result(task, ent, remark="未发现问题")
    db.session.commit()
    search.rebuild()
    hits = search.query("青松").hits
    assert ("result", result.id) in {(h.kind, h.id) for h in hits}
    assert search.query("涉密专项").total == 0
    assert search.query(task.code).total == 0
    assert "涉密专项" not in client.get("/search?q=青松").get_data(as_text=True)
    assert "涉密专项" not in client.get(f"/entities/{ent.uscc}/feed.atom").get_data(as_text=True)


def test_empty_index_answers(app, db, index_dir, client, runner):
    assert search.query("食品").total == 0
    assert client.get("/search?q=食品").status_code == 200
    assert client.get("/search.json?q=食品&kind=plan").get_json()["total"] == 0
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert runner.invoke(args=["search", "verify"]).exit_code == 0


def test_punctuation_only_finds_nothing(corpus):
    assert search.query("〔〕 ——").total == 0


def facet_counts(res):
    return {name: {v.value: v.count for v in values} for name, values in res.facets.items()}


def test_facet_counts_obey_the_rule_on_a_stale_index(corpus, db, app, index_dir):
    """Change the database behind the index's back: totals and every facet's counts only count
    what the visibility rule allows now, the same as a freshly built index says."""
    r1, r2, _ = corpus["results"]
    p1, _p2 = corpus["penalties"]
    task = corpus["task"]
    before = search.query("食品", per_page=50)
    assert facet_counts(before)["kind"] == {"entity": 1, "item": 1, "task": 1, "result": 2, "penalty": 2}
    r1.status, r1.withdrawn_at, r1.withdrawal_reason = Status.WITHDRAWN, datetime(2026, 1, 1, tzinfo=timezone.utc), "x"
    r2.withheld = True
    p1.publicity_end = date(2025, 12, 31)
    task.surprise, task.period_end = True, date(2026, 3, 31)
    db.session.commit()
    assert not search.is_behind()  # no change-log rows: the index really is stale
    stale = search.query("食品", per_page=50)
    counts = facet_counts(stale)
    assert counts["kind"] == {"entity": 1, "item": 1, "penalty": 1}  # the results, the task and p1 not counted
    assert counts["conclusion"] == {} and counts["category"] == {"罚款": 1}
    assert counts["dept"] == {"SJ01": 2} and counts["year"] == {"2025": 2}
    assert counts["industry"] == {"F": 1}
    assert stale.total == 3 == len(stale.hits)
    for name, values in stale.facets.items():  # filtering by any counted value finds that many
        for v in values:
            assert search.query("食品", filters={name: v.value}, per_page=50).total == v.count, (name, v.value)
    search.rebuild()  # a fresh index agrees
    fresh = search.query("食品", per_page=50)
    assert facet_counts(fresh) == counts and fresh.total == stale.total


def test_large_answers_recheck_what_pending_changes_touch(corpus, db, app, set_now):
    """Beyond SEARCH_RECHECK_LIMIT matches, the documents that unapplied change-log rows touch are re-checked
    (the index is behind: the writer failed, catch-up is off)."""
    app.config.update(SEARCH_RECHECK_LIMIT=1, SEARCH_SYNC_ON_COMMIT=False, SEARCH_CATCHUP_SECONDS=0)
    r1 = corpus["results"][0]
    with write_transaction():
        lifecycle.withdraw("result", db.session.get(type(r1), r1.id), "录入错误")
    assert search.is_behind()
    res = search.query("食品", per_page=50)
    assert ("result", r1.id) not in keys(res)
    assert facet_counts(res)["kind"]["result"] == 1 and facet_counts(res)["conclusion"] == {"C01": 1}
    assert res.total == 6


def test_catch_up_is_bounded(corpus, db, app, set_now):
    """A public query applies pending changes for at most SEARCH_CATCHUP_SECONDS; 0: none at all."""
    app.config.update(SEARCH_SYNC_ON_COMMIT=False, SEARCH_CATCHUP_SECONDS=0)
    plan = corpus["plan"]
    with write_transaction():
        lifecycle.withdraw("plan", db.session.get(type(plan), plan.id), "重复发布")
    assert search.query("双随机", filters={"kind": "plan"}).total == 0  # re-checked, though still in the index
    assert search.is_behind()
    app.config["SEARCH_CATCHUP_SECONDS"] = 1.0
    search.query("双随机")
    assert not search.is_behind()


def test_catch_up_stops_when_its_time_is_up(app, db, index_dir, set_now):
    """A request never does the whole backlog inline: after its budget, the rest waits for the writer or
    `search sync`; the answer is still right (re-checked against the database)."""
    set_now(NOW)
    dept = f.department()
    db.session.commit()
    search.rebuild()
    app.config.update(SEARCH_SYNC_ON_COMMIT=False, SEARCH_CATCHUP_SECONDS=0.001)
    with write_transaction():
        for i in range(450):
            plan = f.plan(dept, title=f"积压计划第{i}号")
            journal.record("create", "plan", plan.id)
    assert search.behind_by() == 450
    search.query("积压计划")
    assert 0 < search.behind_by() < 450  # one small batch, then it stopped
    search.sync()
    assert search.behind_by() == 0
    assert search.query("积压计划", filters={"kind": "plan"}).total == 450


def test_ended_windows_are_purged_once_not_on_every_sync(app, db, index_dir, set_now):
    """Syncing deletes documents whose public window ended since the last purge, and remembers how far
    it got: a sync with nothing new writes nothing (no new index generation)."""
    from portal.search import store

    set_now("2026-01-10T02:00:00+00:00")
    dept = f.department()
    ent = f.entity(name="民权县晨光贸易有限公司")
    f.penalty(dept, ent, decision_no="民市监罚〔2025〕99号", at=datetime(2025, 6, 1, tzinfo=timezone.utc),
              publicity_end=date(2026, 1, 31))
    db.session.commit()
    search.rebuild()
    ix = search.open_index()
    set_now("2026-02-01T00:00:00+00:00")  # publicity ended (08:00 China time on 02-01)
    assert search.query("民市监罚〔2025〕99号").total == 0
    search.sync()
    assert store.purged_until(ix) == int(datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp())
    generation = ix.latest_generation()
    with ix.searcher() as s:
        assert s.doc_count() == 1  # only the entity is left
    search.sync()
    set_now("2026-02-01T00:10:00+00:00")
    search.sync()
    assert ix.latest_generation() == generation  # nothing re-deleted, nothing committed
    assert search.verify() == []


def test_an_index_made_from_another_database_is_rebuilt_not_trusted(app, db, index_dir, set_now):
    """A host's index folder pointed at another database (or a database replaced under it) whose
    change log is as long: the same change ids name other changes, so applying "the changes after
    the last one applied" would skip that database's first ones. The log's row at the index's last
    id tells the databases apart, and the index is rebuilt."""
    set_now(NOW)

    def found(q):
        return sorted(item["title"] for item in client.get("/search.json?q=" + q).get_json()["items"])

    def publish(decision_no, party):
        penalty_id = f.penalty(dept, decision_no=decision_no, party_name=party, publish=False).id
        db.session.commit()
        with write_transaction():  # as a clerk publishes: the change log gets its row
            lifecycle.publish("penalty", db.session.get(Penalty, penalty_id))

    client = app.test_client()
    dept = f.department()
    db.session.commit()
    search.sync()  # the index is made, then follows the change log
    publish("甲市监罚〔2025〕1号", "第一库当事人")
    search.sync()
    assert len(found("甲市监罚")) == 1
    # Another database: the same tables, emptied; its change ids start again from 1.
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    dept = f.department()
    db.session.commit()
    for i in (1, 2, 3):
        publish(f"乙市监罚〔2025〕{i}号", f"第二库当事人{i}")
    search.sync()
    assert found("甲市监罚") == []
    assert len(found("乙市监罚")) == 3
