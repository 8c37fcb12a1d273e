"""On-time status of every listed record (SPEC §4): 按时公示 / 逾期 N 个工作日 / 待公示, from the one
deadline rule, on list pages, JSON lists and CSV, computed once per list (no query per row)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import event

import factories as f
from portal.models import Task
from portal import clock, deadlines
from portal.domain.dates import china_midnight
from portal.extensions import db as _db

NOW = "2025-12-01T02:00:00+00:00"


def at_china(day, hour=10):
    return china_midnight(day) + timedelta(hours=hour)


@pytest.fixture
def records(app, db, set_now):
    set_now(NOW)
    dept = f.department(code="SCJ", name="民权县市场监督管理局")
    plan = f.published(f.plan(dept, approval=date(2025, 9, 22), publish=False), at_china(date(2025, 9, 24)))
    task = f.published(f.task(dept, plan=plan, publish=False), at_china(date(2025, 9, 26)))
    task.created_at = at_china(date(2025, 9, 22))
    temporary = f.published(f.task(dept, publish=False), at_china(date(2025, 10, 30)))  # due with its list
    draw = f.draw(temporary, [f.entity()], drawn_at=at_china(date(2025, 10, 10)))
    on_time = f.result(task, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 4)))  # due 11-04
    late = f.result(task, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 6)))
    pending = f.result(task, f.entity(), formed=date(2025, 11, 20), publish=False)
    penalty = f.penalty(dept, f.entity(), decided=date(2025, 11, 3), at=at_china(date(2025, 11, 20)))
    db.session.commit()
    return dict(dept=dept, plan=plan, task=task, temporary=temporary, draw=draw, on_time=on_time, late=late,
                pending=pending, penalty=penalty)


def test_status_many_applies_the_deadline_rule(app, records):
    with app.test_request_context():
        now = clock.now()
        results = deadlines.disclosure_status_many("result", [records[k] for k in ("on_time", "late", "pending")], now)
        assert results[records["on_time"].id] == {"status": "on_time", "late_working_days": 0, "label": "按时公示",
                                                  "due": date(2025, 11, 4)}
        assert results[records["late"].id] == {"status": "late", "late_working_days": 2, "label": "逾期 2 个工作日",
                                               "due": date(2025, 11, 4)}
        assert results[records["pending"].id]["status"] == "pending"
        assert results[records["pending"].id]["label"] == "待公示"
        penalty = deadlines.disclosure_status_many("penalty", [records["penalty"]], now)[records["penalty"].id]
        assert (penalty["status"], penalty["due"], penalty["label"]) == ("late", date(2025, 11, 12), "逾期 6 个工作日")
        tasks = deadlines.disclosure_status_many("task", [records["task"], records["temporary"]], now)
        assert tasks[records["task"].id]["status"] == "on_time"
        # Drawn on Friday 2025-10-10; Saturday 10-11 is a make-up working day (调休): due 10-23.
        assert tasks[records["temporary"].id] == {"status": "late", "late_working_days": 5, "label": "逾期 5 个工作日",
                                                  "due": date(2025, 10, 23)}
        assert deadlines.disclosure_status_many("draw", [records["draw"]], now)[records["draw"].id]["status"] == "on_time"
        # The same verdict as each detail page's own deadline block.
        for kind, key in (("result", "late"), ("penalty", "penalty"), ("task", "temporary")):
            one = deadlines.disclosure(kind, records[key], now)
            many = deadlines.disclosure_status_many(kind, [records[key]], now)[records[key].id]
            assert (one.due_date, one.late_days) == (many["due"], many["late_working_days"])


def test_a_list_of_tasks_costs_a_fixed_number_of_queries(app, db, records):
    dept = records["dept"]
    tasks = [records["task"], records["temporary"]]
    for i in range(6):
        t = f.published(f.task(dept, publish=False), at_china(date(2025, 10, 20)))
        f.draw(t, [f.entity()], drawn_at=at_china(date(2025, 10, 10)))
        tasks.append(t)
    db.session.commit()
    db.session.expire_all()
    with app.test_request_context():
        loaded = db.session.query(Task).filter(Task.id.in_([t.id for t in tasks])).all()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            deadlines.disclosure_status_many("task", loaded, clock.now())
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        # rules, calendar overrides, the tasks with their plans and draws: not one query per task.
        assert len(statements) <= 5, statements


def test_lists_show_the_status_on_every_channel(client, records):
    page = client.get("/results").get_data(as_text=True)
    assert "<th scope=\"col\">公示及时性</th>" in page
    assert 'title="应公示日期 2025-11-04">逾期 2 个工作日</span>' in page
    assert 'title="应公示日期 2025-11-04">按时公示</span>' in page
    items = {i["id"]: i for i in client.get("/results.json").get_json()["items"]}
    assert items[records["late"].id]["disclosure"] == {"status": "late", "late_working_days": 2,
                                                       "label": "逾期 2 个工作日", "due": "2025-11-04"}
    assert items[records["on_time"].id]["disclosure"]["status"] == "on_time"
    lines = client.get("/results.csv").get_data(as_text=True).split("\r\n")
    header = lines[0].lstrip("\ufeff").split(",")
    column = header.index("公示及时性")
    by_id = {line.split(",")[0]: line.split(",")[column] for line in lines[1:] if line}
    assert by_id == {str(records["late"].id): "逾期 2 个工作日", str(records["on_time"].id): "按时公示"}
    penalties = client.get("/penalties.json").get_json()["items"]
    assert penalties[0]["disclosure"]["label"] == "逾期 6 个工作日"
    assert "逾期 6 个工作日" in client.get("/penalties").get_data(as_text=True)
    assert "逾期 6 个工作日" in client.get("/penalties.csv").get_data(as_text=True)
    plan = client.get(f"/plans/{records['plan'].id}.json").get_json()
    assert plan["tasks"][0]["disclosure"]["label"] == "按时公示"
    assert "按时公示" in client.get(f"/plans/{records['plan'].id}").get_data(as_text=True)
    task = client.get(f"/tasks/{records['temporary'].code}.json").get_json()
    assert task["draw"]["disclosure"]["status"] == "on_time"


def test_data_page_documents_the_column(client, records):
    page = client.get("/data").get_data(as_text=True)
    assert "<td>公示及时性</td>" in page and "late_working_days" in page
