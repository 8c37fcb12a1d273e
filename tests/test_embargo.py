"""The surprise-task embargo (SPEC §3) from outside, on every public channel, with an injected clock.

A surprise task drew 17 targets. While only some of them have a published result, each published
result is public on its own with the task's title, but nothing reveals the task, its drawn list, its
certificate or its period, and no count includes them. When the last result is published (or the
period ends, China date) everything appears at once.
"""
import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import factories as f
import pytest
from sqlalchemy import select

from portal import clock, draw_service, lifecycle, search
from portal.database import write_transaction
from portal.domain.dates import china_midnight
from portal.models import Result, Task

TITLE = "瓶装液化气经营单位突击检查"
CODE = "411421202605050017"
TARGETS = 17


def china(day: date, hour=10, minute=0) -> datetime:
    return china_midnight(day) + timedelta(hours=hour, minutes=minute)


@pytest.fixture
def world(app, db, client, set_now, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    set_now(china(date(2026, 5, 5), 9))
    dept = f.department(code="SCJG", name="民权县市场监督管理局")
    plan = f.plan(dept, year=2026, title="2026年度市场监管双随机抽查计划", approval=date(2026, 3, 2))
    f.task(dept, plan=plan, code="411421202603100001", title="食品销售者公开抽查",
           period=(date(2026, 3, 10), date(2026, 6, 30)))
    targets = [f.entity(name=f"液化气站{i:02d}号经营部", tags=["燃气"]) for i in range(TARGETS)]
    for _ in range(3):
        f.inspector(dept)
    task = f.task(dept, plan=plan, code=CODE, title=TITLE, surprise=True,
                  period=(date(2026, 5, 5), date(2026, 6, 30)), scope={"tags": ["燃气"], "statuses": ["存续"]},
                  strata=[{"stratum": "全部", "count": TARGETS}], stratify_by="none",
                  inspectors_per_target={"SCJG": 1})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    drawn = draw_service.perform(draw_service.lock(task, clerk), "2026-05-05 福彩3D 3 1 4", ["见证人"], clerk)
    assert len(drawn.selections) == TARGETS
    results = [f.result(task, e, formed=date(2026, 5, 20), publish=False) for e in targets]
    db.session.commit()
    with write_transaction():
        lifecycle.publish("result", db.session.get(Result, results[0].id), at=china(date(2026, 5, 25)))
    search.rebuild()
    return dict(plan_id=plan.id, draw_id=drawn.id, result_ids=[r.id for r in results],
                usccs=[e.uscc for e in targets], names=[e.name for e in targets], clerk=clerk)


def _count_card(html: str, label: str) -> int:
    return int(re.search(rf'<span class="num">(\d+)</span><span class="label">{label}</span>', html).group(1))


def observe(client, world) -> dict:
    """What the public can see of the surprise task right now, channel by channel."""
    first, other = world["result_ids"][0], world["result_ids"][1]
    inspected, uninspected = world["usccs"][0], world["usccs"][1]
    seen = {}
    seen["task page"] = client.get(f"/tasks/{CODE}").status_code
    seen["task json"] = client.get(f"/tasks/{CODE}.json").status_code
    seen["certificate"] = client.get(f"/draws/{world['draw_id']}").status_code
    seen["certificate json"] = client.get(f"/draws/{world['draw_id']}.json").status_code
    seen["pool.txt"] = client.get(f"/draws/{world['draw_id']}/pool.txt").status_code
    plan_page = client.get(f"/plans/{world['plan_id']}").get_data(as_text=True)
    seen["plan page lists it"] = TITLE in plan_page
    seen["plan json tasks"] = len(client.get(f"/plans/{world['plan_id']}.json").get_json()["tasks"])
    seen["plans.json task_count"] = client.get("/plans.json").get_json()["items"][0]["task_count"]
    plans_csv = list(csv.DictReader(io.StringIO(client.get("/plans.csv").get_data(as_text=True).lstrip("\ufeff"))))
    seen["plans.csv task count"] = plans_csv[0]["公开任务数"]
    home = client.get("/").get_data(as_text=True)
    seen["home task count"] = _count_card(home, "抽查任务")
    seen["home lists it"] = TITLE in home
    stats = client.get("/stats.json?year=2026").get_json()
    row = next(r for r in stats["departments"] if r["department"] == "SCJG")
    seen["stats tasks"], seen["stats draws"] = row["tasks_planned"], row["draws"]
    fairness = client.get("/transparency.json").get_json()["fairness"]
    seen["transparency draws"], seen["transparency drawn"] = fairness["draws"], fairness["entities_drawn"]
    seen["task feed"] = CODE in client.get("/feeds/tasks.atom").get_data(as_text=True)
    seen["all feed names code"] = CODE in client.get("/feeds/all.atom").get_data(as_text=True)
    seen["entity feed draw"] = "抽取名单" in client.get(f"/entities/{uninspected}/feed.atom").get_data(as_text=True)
    res = search.query(TITLE)
    seen["search task hits"] = sum(1 for h in res.hits if h.kind == "task")
    seen["search kind facet task"] = {v.value: v.count for v in res.facets.get("kind", [])}.get("task", 0)
    seen["search exact code"] = search.exact_target(CODE)
    seen["search feed names code"] = CODE in client.get(f"/feeds/all.atom?q={TITLE}").get_data(as_text=True)
    entity_page = client.get(f"/entities/{uninspected}").get_data(as_text=True)
    seen["entity page draw"] = CODE in entity_page or 'id="why-drawn"' in entity_page
    seen["entity json draws"] = len(client.get(f"/entities/{uninspected}.json").get_json()["draws"])
    seen["inspected entity json draws"] = len(client.get(f"/entities/{inspected}.json").get_json()["draws"])
    # The published result, on every channel: always public; names the task by title, links to it only
    # once the embargo lifts.
    result_page = client.get(f"/results/{first}")
    assert result_page.status_code == 200
    html = result_page.get_data(as_text=True)
    assert TITLE in html and world["names"][0] in html
    seen["result page links task"] = f"/tasks/{CODE}" in html or CODE in html
    for secret in world["names"][1:] + world["usccs"][1:]:
        assert secret not in html
    data = client.get(f"/results/{first}.json").get_json()
    assert data["task_title"] == TITLE
    seen["result json task code"] = data["task_code"]
    listing = client.get("/results.json?dept=SCJG").get_json()
    row = next(i for i in listing["items"] if i["id"] == first)
    assert row["task_title"] == TITLE
    seen["results list task code"] = row["task_code"]
    fragment = client.get("/results?dept=SCJG", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert world["names"][0] in fragment
    seen["results fragment links task"] = CODE in fragment
    rows = csv.DictReader(io.StringIO(client.get("/results.csv?dept=SCJG").get_data(as_text=True).lstrip("\ufeff")))
    seen["results csv task code"] = next(r for r in rows if r["记录编号"] == str(first))["任务编号"]
    seen["other result"] = client.get(f"/results/{other}").status_code
    return seen


HIDDEN = {"task page": 404, "task json": 404, "certificate": 404, "certificate json": 404, "pool.txt": 404,
          "plan page lists it": False, "plan json tasks": 1, "plans.json task_count": 1, "plans.csv task count": "1",
          "home task count": 1, "home lists it": False, "stats tasks": 1, "stats draws": 0,
          "transparency draws": 0, "transparency drawn": 0, "task feed": False, "all feed names code": False,
          "entity feed draw": False, "search task hits": 0, "search kind facet task": 0, "search exact code": None,
          "search feed names code": False, "entity page draw": False, "entity json draws": 0, "inspected entity json draws": 0,
          "result page links task": False, "result json task code": None, "results list task code": None,
          "results fragment links task": False, "results csv task code": "", "other result": 404}
# The plan's one ordinary task is public throughout: counts are 1 while the surprise task is hidden, 2 after.
SHOWN = dict(HIDDEN, **{"task page": 200, "task json": 200, "certificate": 200, "certificate json": 200,
                        "pool.txt": 200, "plan page lists it": True, "plan json tasks": 2,
                        "plans.json task_count": 2, "plans.csv task count": "2", "home task count": 2,
                        "home lists it": True, "stats tasks": 2, "stats draws": 1, "transparency draws": 1,
                        "transparency drawn": TARGETS, "task feed": True, "all feed names code": True,
                        "entity feed draw": True, "search task hits": 1, "search kind facet task": 1,
                        "search exact code": f"/tasks/{CODE}", "search feed names code": True, "entity page draw": True,
                        "entity json draws": 1, "inspected entity json draws": 1, "result page links task": True,
                        "result json task code": CODE, "results list task code": CODE,
                        "results fragment links task": True, "results csv task code": CODE})


def test_one_published_result_of_seventeen_keeps_everything_else_hidden_until_the_last(
        db, client, set_now, world):
    set_now(china(date(2026, 6, 1)))
    assert observe(client, world) == HIDDEN
    # The other 16 are published for 2026-06-05 10:00: scheduled, not yet public.
    with write_transaction():
        for result_id in world["result_ids"][1:]:
            lifecycle.publish("result", db.session.get(Result, result_id), at=china(date(2026, 6, 5)))
    assert db.session.execute(select(Task.results_complete_at).where(Task.code == CODE)).scalar() == \
        china(date(2026, 6, 5))
    assert observe(client, world) == dict(HIDDEN, **{"other result": 404})
    set_now(china(date(2026, 6, 5), 9, 59))
    assert observe(client, world) == HIDDEN
    set_now(china(date(2026, 6, 5)))
    assert observe(client, world) == dict(SHOWN, **{"other result": 200})
    task_page = client.get(f"/tasks/{CODE}").get_data(as_text=True)
    assert all(name in task_page for name in world["names"]) and "2026-06-30" in task_page


def test_the_end_of_the_period_lifts_the_embargo_without_the_missing_results(db, client, set_now, world):
    set_now(china(date(2026, 6, 30), 23, 59))  # the period's last minute (China time)
    assert observe(client, world) == HIDDEN
    set_now(china(date(2026, 7, 1), 0, 0))
    assert observe(client, world) == SHOWN


def test_every_write_path_keeps_the_embargo_column_derived_from_published_records(db, set_now, world):
    """Publish, correct, withdraw and withhold results; redraw; withdraw a draw: after each write the stored
    results_complete_at is what a fresh computation from the records gives (imports: test_import_files)."""
    from portal import embargo
    from portal.models import Draw

    task_id = db.session.execute(select(Task.id).where(Task.code == CODE)).scalar_one()

    def stored():
        db.session.rollback()
        value = db.session.execute(select(Task.results_complete_at).where(Task.id == task_id)).scalar()
        assert embargo.compute([task_id]) == {task_id: value}
        return value

    set_now(china(date(2026, 6, 1)))
    ids = world["result_ids"]
    assert stored() is None  # 1 of 17
    with write_transaction():
        for result_id in ids[1:-1]:
            lifecycle.publish("result", db.session.get(Result, result_id), at=china(date(2026, 5, 28)))
    assert stored() is None  # 16 of 17
    with write_transaction():
        lifecycle.publish("result", db.session.get(Result, ids[-1]), at=china(date(2026, 5, 30)))
    assert stored() == china(date(2026, 5, 30))
    with write_transaction():  # a correction changes content, not publication: no change
        lifecycle.correct("result", db.session.get(Result, ids[-1]), {"remark": "更正后的说明"}, "笔误")
    assert stored() == china(date(2026, 5, 30))
    with write_transaction():  # a withdrawn result was public: the embargo does not come back
        lifecycle.withdraw("result", db.session.get(Result, ids[-1]), "录入错误")
    assert stored() == china(date(2026, 5, 30))
    # The current draw withdrawn (say it was wrong): no draw in force, so nothing lifts the embargo early.
    with write_transaction():
        lifecycle.withdraw("draw", db.session.get(Draw, world["draw_id"]), "抽取范围设置错误")
    assert stored() is None
    with write_transaction():  # (a withheld result never counts: see the matrix in test_visibility.py)
        lifecycle.withhold("result", db.session.get(Result, ids[-2]), "商业秘密")
    assert stored() is None
    assert embargo.refresh() == 0  # nothing left to correct anywhere
