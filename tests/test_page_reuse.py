"""What the public pages keep between requests stays exact (issue 12 item 3).

List pages, the entity page and the objection statuses run statements built once per process
with the moment as a parameter (portal.visibility_sql.prepared); the filter forms' code lists
are kept per worker under the public revision (portal.public.views.code_lists). The same worker
must still show a record from its publication moment on, stop on the day after its publicity
period, and show a department or code-list term as soon as it is written.
"""
import re
from datetime import date, datetime, timedelta, timezone

import factories as f
from portal.extensions import db
from portal.models import DrawAssignment, VocabularyKind, VocabularyTerm

LATER = datetime(2025, 6, 20, 2, 0, tzinfo=timezone.utc)


def _pages(client, uscc) -> dict[str, str]:
    return {url: client.get(url).get_data(as_text=True)
            for url in ("/results", "/penalties", f"/entities/{uscc}", "/", "/results?page=1&per_page=10")}


def test_a_scheduled_publication_and_an_ended_publicity_period_show_on_the_same_worker(app, client, set_now):
    set_now("2025-06-10T02:00:00+00:00")
    dept = f.department()
    ent = f.entity(name="民权县复用测试商贸有限公司")
    task = f.task(dept)
    f.result(task, ent, formed=date(2025, 6, 5), remark="定时公开的检查结果", at=LATER)  # scheduled
    f.penalty(dept, ent, decision_no="民市监罚〔2025〕9101号", publicity_end=date(2025, 6, 12))
    db.session.commit()

    before = _pages(client, ent.uscc)  # builds (or reuses) every statement at 2025-06-10
    assert all("民市监罚〔2025〕9101号" in before[url] for url in ("/penalties", f"/entities/{ent.uscc}"))
    assert "2025-06-05" not in before["/results"] and "2025-06-05" not in before[f"/entities/{ent.uscc}"]

    set_now("2025-06-12T15:59:00+00:00")  # 23:59 on the period's last day, China time
    assert "民市监罚〔2025〕9101号" in client.get("/penalties").get_data(as_text=True)
    set_now("2025-06-12T16:00:00+00:00")  # the next day in China: only a tombstone
    after_period = _pages(client, ent.uscc)
    assert all("民市监罚〔2025〕9101号" not in page for page in after_period.values())

    set_now(LATER + timedelta(minutes=1))  # the result's scheduled moment has passed
    published = _pages(client, ent.uscc)
    assert "2025-06-05" in published["/results"] and "2025-06-05" in published[f"/entities/{ent.uscc}"]
    assert ent.name in published["/"] and ent.name in published["/results?page=1&per_page=10"]

    set_now("2025-06-10T02:00:00+00:00")  # and back: the same statements answer for the earlier moment
    assert _pages(client, ent.uscc) == before


def test_filter_forms_show_a_new_department_and_code_list_term_at_once(app, client):
    dept = f.department(code="SCJ", name="民权县市场监督管理局")
    f.result(f.task(dept), f.entity())
    db.session.commit()
    page = client.get("/results").get_data(as_text=True)
    assert '<option value="SCJ">民权县市场监督管理局</option>' in page
    assert "县卫生健康委员会" not in page and "C11" not in page

    f.department(code="WJW", name="县卫生健康委员会")
    db.session.add(VocabularyTerm(kind=VocabularyKind.CONCLUSION, code="C11", label="其他结论", sort_order=1))
    db.session.commit()
    page = client.get("/results").get_data(as_text=True)
    assert '<option value="WJW">县卫生健康委员会</option>' in page
    assert 'title="C11"' not in page and "其他结论" in page  # the facet link (code list replaced the defaults)

    dept = db.session.get(type(dept), dept.id)
    dept.short_name = "民权县市监局"
    db.session.commit()
    rows = client.get("/results").get_data(as_text=True)
    assert '<td data-label="实施部门">民权县市监局</td>' in rows


def test_entity_and_task_pages_list_only_the_current_inspectors_of_a_draw(app, client, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    dept = f.department()
    first, second, spare = (f.inspector(dept, name=name) for name in ("甲检查员", "乙检查员", "丙检查员"))
    ent, other = f.entity(), f.entity(name="民权县第二测试商贸有限公司")
    task = f.task(dept)
    draw = f.draw(task, [ent, other], inspectors=(first, second))
    db.session.commit()
    assignment = db.session.query(DrawAssignment).filter_by(selection_id=draw.selections[0].id, name="乙检查员").one()
    assignment.replaced_at = datetime(2025, 6, 2, tzinfo=timezone.utc)
    db.session.add(DrawAssignment(selection_id=assignment.selection_id, position=3, inspector_id=spare.id,
                                  department_id=dept.id, licence_no=spare.licence_no, name=spare.name))
    db.session.commit()

    page = client.get(f"/entities/{ent.uscc}").get_data(as_text=True)
    assert f"甲检查员（<span class=\"mono\">{first.licence_no}</span>）、丙检查员" in page and "乙检查员" not in page
    data = client.get(f"/entities/{ent.uscc}.json").get_json()
    assert [i["name"] for i in data["draws"][0]["inspectors"]] == ["甲检查员", "丙检查员"]
    assert data["draws"][0]["draw_id"] == draw.id and data["draws"][0]["superseded"] is False

    task_page = client.get(f"/tasks/{task.code}").get_data(as_text=True)
    assert "共抽取 2 户" in task_page and f'<a href="/entities/{other.uscc}">民权县第二测试商贸有限公司</a>' in task_page
    assert task_page.count("乙检查员") == 1  # the other entity's; the replaced assignment is not shown
    selected = client.get(f"/tasks/{task.code}.json").get_json()["draw"]["selected"]
    assert [(s["uscc"], [i["name"] for i in s["inspectors"]]) for s in selected] == [
        (ent.uscc, ["甲检查员", "丙检查员"]), (other.uscc, ["甲检查员", "乙检查员"])]


def test_kept_sitemap_sizes_follow_a_publication(app, client, set_now):
    """Section sizes are kept per worker (PUBLIC_COUNT_TTL) under the public revision."""
    app.config.update(PUBLIC_COUNT_TTL=30, SITEMAP_MAX_URLS=40)  # pages: 3 files of up to 40 fixed URLs
    set_now("2025-06-10T02:00:00+00:00")
    dept = f.department()
    task = f.task(dept)
    for _ in range(40):
        f.result(task, f.entity())
    db.session.commit()
    index = client.get("/sitemap.xml").get_data(as_text=True)
    assert "/sitemaps/results-1.xml" in index and "/sitemaps/results-2.xml" not in index
    f.result(task, f.entity(), at=LATER)  # scheduled: counted once its moment has passed
    db.session.commit()
    assert "/sitemaps/results-2.xml" not in client.get("/sitemap.xml").get_data(as_text=True)
    set_now(LATER)
    assert "/sitemaps/results-2.xml" in client.get("/sitemap.xml").get_data(as_text=True)


def test_drawn_lists_escape_inspector_names(app, client, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    dept = f.department()
    odd = f.inspector(dept, name="<b>丁</b>检查员")
    ent = f.entity()
    task = f.task(dept)
    f.draw(task, [ent], inspectors=(odd,))
    db.session.commit()
    for url in (f"/tasks/{task.code}", f"/entities/{ent.uscc}"):
        page = client.get(url).get_data(as_text=True)
        assert "<b>丁</b>" not in page and "&lt;b&gt;丁&lt;/b&gt;检查员（<span class=\"mono\">" in page, url


def _feed_ids(client, uscc) -> dict[str, set[str]]:
    """The entry ids (kind/id) of every kind of feed."""
    urls = ("/feeds/all.atom", "/feeds/penalties.rss", "/feeds/results.atom", "/feeds/tasks.atom",
            f"/entities/{uscc}/feed.atom")
    return {url: set(re.findall(r">tag:[^<]*:(\w+/\d+)<", client.get(url).get_data(as_text=True))) for url in urls}


def test_feeds_follow_the_moment_on_the_same_worker(app, client, set_now):
    """Feeds read their candidates by statements built once (the moment and its China date as
    parameters): a scheduled publication, the end of a publicity period and of a surprise task's
    embargo (its draw on the entity's feed) show on the same worker at once, and back."""
    set_now("2025-06-10T02:00:00+00:00")
    dept = f.department()
    ent = f.entity(name="民权县订阅复用商贸有限公司")
    task = f.task(dept)
    result = f.result(task, ent, formed=date(2025, 6, 5), at=LATER)  # scheduled
    penalty = f.penalty(dept, ent, publicity_end=date(2025, 6, 12))
    surprise = f.task(dept, surprise=True, period=(date(2025, 5, 1), date(2025, 6, 11)))
    draw = f.draw(surprise, [ent])
    db.session.commit()
    r, p, t, d = f"result/{result.id}", f"penalty/{penalty.id}", f"task/{surprise.id}", f"draw/{draw.id}"
    entity_feed = f"/entities/{ent.uscc}/feed.atom"

    before = _feed_ids(client, ent.uscc)
    assert p in before["/feeds/all.atom"] and p in before["/feeds/penalties.rss"] and p in before[entity_feed]
    assert all(r not in ids and t not in ids and d not in ids for ids in before.values())

    set_now("2025-06-11T16:00:00+00:00")  # 2025-06-12 in China: the surprise task's period is over
    lifted = _feed_ids(client, ent.uscc)
    assert t in lifted["/feeds/tasks.atom"] and t in lifted["/feeds/all.atom"] and d in lifted[entity_feed]
    assert p in lifted["/feeds/penalties.rss"]  # its last day of publicity

    set_now("2025-06-12T16:00:00+00:00")  # 2025-06-13: the penalty's publicity has ended
    ended = _feed_ids(client, ent.uscc)
    assert all(p not in ids for ids in ended.values())

    set_now(LATER + timedelta(minutes=1))  # the result's scheduled moment has passed
    published = _feed_ids(client, ent.uscc)
    assert r in published["/feeds/results.atom"] and r in published["/feeds/all.atom"] and r in published[entity_feed]

    set_now("2025-06-10T02:00:00+00:00")  # and back: the same statements answer for the earlier moment
    assert _feed_ids(client, ent.uscc) == before
