"""Disclosure deadlines: due dates, on-time verdicts, clerk warnings, the cron report."""
from datetime import date, datetime, timedelta, timezone

import pytest

import factories as f
from portal import deadlines
from portal.database import write_transaction
from portal.domain.dates import china_midnight
from portal.models import CalendarOverride, DeadlineRule, Status


def at_china(day: date, hour=10) -> datetime:
    """An aware UTC instant on `day` (China date) at `hour` o'clock China time."""
    return china_midnight(day) + timedelta(hours=hour)


def china_now(day: date, hour=10) -> str:
    return at_china(day, hour).isoformat()


# --- disclosure() -----------------------------------------------------------------------------

def test_result_published_on_its_due_date_is_on_time(app, db, set_now):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    t = f.task(dept)
    r = f.result(t, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 4), 18))
    d = deadlines.disclosure("result", r)
    assert (d.due_date, d.provisional, d.published_on, d.on_time, d.late_days) == \
        (date(2025, 11, 4), False, date(2025, 11, 4), True, 0)


def test_result_published_late_counts_working_days(app, db, set_now):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    r = f.result(f.task(dept), f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 10)))
    d = deadlines.disclosure("result", r)
    assert (d.due_date, d.on_time, d.late_days) == (date(2025, 11, 4), False, 4)  # 11-05, 06, 07, 10


def test_publication_time_is_a_china_date(app, db, set_now):
    set_now(china_now(date(2025, 12, 1)))
    # 2025-11-04 16:30 UTC is 2025-11-05 00:30 in China: one working day late.
    r = f.result(f.task(f.department()), f.entity(), formed=date(2025, 9, 30),
                 at=datetime(2025, 11, 4, 16, 30, tzinfo=timezone.utc))
    d = deadlines.disclosure("result", r)
    assert (d.published_on, d.on_time, d.late_days) == (date(2025, 11, 5), False, 1)


def test_unpublished_record_has_a_due_date_and_no_verdict(app, db, set_now):
    set_now(china_now(date(2025, 10, 2)))
    p = f.penalty(f.department(), decided=date(2025, 9, 30), publish=False)
    d = deadlines.disclosure("penalty", p)
    assert (d.due_date, d.published_on, d.on_time, d.late_days) == (date(2025, 10, 16), None, None, None)  # 10-11 is a make-up day


def test_each_kind_starts_its_clock_on_its_own_event(app, db, set_now):
    set_now(china_now(date(2026, 1, 5)))
    dept = f.department()
    p = f.plan(dept, approval=date(2025, 9, 30), publish=False)
    t = f.task(dept, plan=p, publish=False, created_at=at_china(date(2025, 9, 1)))  # drafted before approval
    dr = f.draw(t, [f.entity()], drawn_at=at_china(date(2025, 10, 4)), publish=False)
    assert deadlines.disclosure("plan", p).due_date == date(2025, 10, 21)  # 10 working days
    assert deadlines.disclosure("task", t).due_date == date(2025, 10, 21)  # with its plan
    assert deadlines.disclosure("draw", dr).due_date == date(2025, 10, 21)
    temp = f.task(dept, plan=None, publish=False)
    assert deadlines.disclosure("task", temp).due_date is None  # no list yet
    f.draw(temp, [f.entity()], drawn_at=at_china(date(2025, 10, 1)))
    db.session.expire(temp)
    assert deadlines.disclosure("task", temp).due_date == date(2025, 10, 21)  # with its list


@pytest.mark.parametrize("created, start, event, due", [
    (at_china(date(2025, 9, 1)), date(2025, 9, 30), "plan_approved", date(2025, 10, 21)),  # drafted with the plan
    (at_china(date(2025, 9, 30)), date(2025, 9, 30), "plan_approved", date(2025, 10, 21)),
    (at_china(date(2025, 10, 20)), date(2025, 10, 20), "task_created", date(2025, 11, 3)),  # added later
    # 16:30 UTC on 10-20 is 00:30 on 10-21 in China: the creation date is a China date.
    (datetime(2025, 10, 20, 16, 30, tzinfo=timezone.utc), date(2025, 10, 21), "task_created", date(2025, 11, 4)),
])
def test_a_task_added_to_a_plan_later_starts_its_clock_at_its_creation(app, db, set_now, created, start, event, due):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    p = f.plan(dept, approval=date(2025, 9, 30))
    t = f.task(dept, plan=p, created_at=created, publish=False)
    f.published(t, at_china(date(2025, 10, 30)))
    d = deadlines.disclosure("task", t)
    assert (d.start_date, d.start_event, d.due_date) == (start, event, due)
    assert d.on_time is (date(2025, 10, 30) <= due)


def test_a_late_added_task_page_says_when_its_clock_started(app, db, client, set_now):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    p = f.plan(dept, approval=date(2025, 9, 30))
    t = f.task(dept, plan=p, created_at=at_china(date(2025, 10, 20)), publish=False)
    f.published(t, at_china(date(2025, 10, 30)))
    db.session.commit()
    html = client.get(f"/tasks/{t.code}").get_data(as_text=True)
    assert "自任务加入计划（创建）日期 2025-10-20 起 10 个工作日内公示，应公示日期 2025-11-03" in html
    assert client.get(f"/tasks/{t.code}.json").get_json()["disclosure"] == {
        "start_date": "2025-10-20", "working_days": 10, "due_date": "2025-11-03", "provisional": False,
        "published_on": "2025-10-30", "on_time": True, "late_working_days": 0}


def test_surprise_task_and_list_are_due_when_the_embargo_lifts_never_from_unpublished_results(
        app, db, client, set_now):
    from portal import lifecycle
    from portal.models import Result

    set_now(china_now(date(2025, 11, 5)))
    dept = f.department()
    t = f.task(dept, surprise=True, period=(date(2025, 9, 1), date(2025, 12, 31)), publish=False)
    f.published(t, at_china(date(2025, 9, 1)))
    first, second = f.entity(), f.entity()
    dr = f.draw(t, [first, second], drawn_at=at_china(date(2025, 9, 1)))
    draft = f.result(t, first, formed=date(2025, 9, 30), publish=False)
    db.session.commit()
    # Only an unpublished result exists: nothing is derived from it. Until the embargo lifts the task
    # and its list are not public; the back office sees the latest they can lift (the period's end).
    for kind, record in (("task", t), ("draw", dr)):
        d = deadlines.disclosure(kind, record)
        assert (d.due_date, d.start_event, d.published_on, d.on_time) == (date(2026, 1, 1), "embargo_lifted",
                                                                          None, None), kind
    assert client.get(f"/tasks/{t.code}.json").status_code == 404
    assert client.get(f"/draws/{dr.id}.json").status_code == 404

    later = f.result(t, second, formed=date(2025, 10, 9), publish=False)
    db.session.commit()
    with write_transaction():
        lifecycle.publish("result", db.session.get(Result, draft.id), at=at_china(date(2025, 11, 3)))
    with write_transaction():
        lifecycle.publish("result", db.session.get(Result, later.id), at=at_china(date(2025, 11, 10)))
    set_now(china_now(date(2025, 11, 7)))  # one of two published: still under embargo
    assert deadlines.disclosure("draw", dr).published_on is None
    assert client.get(f"/draws/{dr.id}.json").status_code == 404
    # The published result is public on its own, with its own clock (formed 09-30 → due 11-04).
    own = client.get(f"/results/{draft.id}.json").get_json()["disclosure"]
    assert (own["due_date"], own["on_time"]) == ("2025-11-04", True)

    set_now(china_now(date(2025, 11, 12)))  # the last result became public on 11-10: the embargo lifted then
    for kind, record in (("task", db.session.get(type(t), t.id)), ("draw", db.session.get(type(dr), dr.id))):
        d = deadlines.disclosure(kind, record)
        assert (d.due_date, d.published_on, d.on_time, d.late_days) == (date(2025, 11, 10), date(2025, 11, 10),
                                                                         True, 0), kind
    assert client.get(f"/tasks/{t.code}.json").get_json()["disclosure"]["due_date"] == "2025-11-10"


def test_beyond_holiday_data_the_due_date_is_provisional(app, db, set_now):
    set_now(china_now(date(2026, 12, 16)))
    r = f.result(f.task(f.department()), f.entity(), formed=date(2026, 12, 15), publish=False)
    d = deadlines.disclosure("result", r)
    assert (d.due_date, d.provisional) == (date(2027, 1, 12), True)


def test_override_row_changes_due_date_without_restart(app, db, set_now, client, login):
    set_now(china_now(date(2026, 12, 16)))
    dept = f.department()
    admin = f.user("admin")
    r = f.result(f.task(dept), f.entity(), formed=date(2026, 12, 15), publish=False)
    db.session.commit()
    assert deadlines.disclosure("result", r).due_date == date(2027, 1, 12)
    login(client, admin)
    page = client.get("/admin/deadlines/calendar")
    assert page.status_code == 200
    from conftest import extract_csrf
    token = extract_csrf(page.get_data(as_text=True))
    response = client.post("/admin/deadlines/calendar", data={"day": "2027-01-01", "is_workday": "0",
                                                              "note": "元旦", "csrf_token": token})
    assert response.status_code == 303
    row = db.session.query(CalendarOverride).one()
    assert (row.day, row.is_workday, row.note) == (date(2027, 1, 1), False, "元旦")
    assert deadlines.disclosure("result", r).due_date == date(2027, 1, 13)
    text = client.get("/admin/deadlines/calendar").get_data(as_text=True)
    assert "2027-01-01" in text and "休息日" in text and "元旦" in text


def test_deadline_rule_row_changes_due_date(app, db, set_now, client, login):
    set_now(china_now(date(2025, 10, 2)))
    admin = f.user("admin")
    r = f.result(f.task(f.department()), f.entity(), formed=date(2025, 9, 30), publish=False)
    db.session.commit()
    assert deadlines.disclosure("result", r).due_date == date(2025, 11, 4)
    login(client, admin)
    from conftest import extract_csrf
    token = extract_csrf(client.get("/admin/deadlines/rules").get_data(as_text=True))
    bad = client.post("/admin/deadlines/rules", data={"plan": "10", "draw": "10", "result": "abc", "penalty": "7",
                                                      "csrf_token": token})
    assert bad.status_code == 422 and "请填写 1 至 250 之间的整数" in bad.get_data(as_text=True)
    ok = client.post("/admin/deadlines/rules", data={"plan": "10", "draw": "10", "result": "10", "penalty": "7",
                                                     "csrf_token": token})
    assert ok.status_code == 303
    assert {r.record_kind: r.working_days for r in db.session.query(DeadlineRule)}["result"] == 10
    assert deadlines.disclosure("result", r).due_date == date(2025, 10, 21)


def test_clerks_cannot_change_rules_or_calendar(app, db, client, login):
    clerk = f.user("clerk")
    login(client, clerk)
    from conftest import extract_csrf
    token = extract_csrf(client.get("/admin/deadlines/rules").get_data(as_text=True))
    assert client.post("/admin/deadlines/rules", data={"result": "10", "csrf_token": token}).status_code == 403
    assert client.post("/admin/deadlines/calendar", data={"day": "2027-01-01", "is_workday": "0",
                                                          "csrf_token": token}).status_code == 403


@pytest.mark.parametrize("url", ["/admin/deadlines", "/admin/deadlines/warnings", "/admin/deadlines.csv",
                                 "/admin/deadlines/rules", "/admin/deadlines/calendar", "/admin/deadlines/publicity"])
def test_anonymous_users_are_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# --- warnings ------------------------------------------------------------------------------------

@pytest.fixture
def unpublished_result(app, db):
    dept = f.department(code="SCJ", name="民权县市场监督管理局")
    other = f.department(code="WJW", name="民权县卫生健康委员会")
    t = f.task(dept, code="411421202510010001")
    r = f.result(t, f.entity(name="民权县甲商贸有限公司"), formed=date(2025, 9, 30), publish=False)
    f.result(f.task(other), f.entity(name="民权县乙药房"), formed=date(2025, 9, 30), publish=False)
    clerk = f.user("clerk", department=dept, username="clerk-scj")
    db.session.commit()
    return r, clerk


@pytest.mark.parametrize("day, category, workdays", [
    (date(2025, 10, 29), None, None),  # 4 working days left
    (date(2025, 10, 30), "due_soon", 3),
    (date(2025, 11, 3), "due_soon", 1),
    (date(2025, 11, 4), "due_soon", 0),  # due today
    (date(2025, 11, 5), "overdue", 1),
    (date(2025, 11, 10), "overdue", 4),
])
def test_unpublished_result_becomes_due_soon_then_overdue(unpublished_result, set_now, day, category, workdays):
    r, clerk = unpublished_result
    set_now(china_now(day))
    w = deadlines.warnings(r.department_id)
    found = [(p.category, p.workdays) for p in w.overdue + w.due_soon if p.kind == "result"]
    assert found == ([] if category is None else [(category, workdays)])


def test_dashboard_page_shows_own_department_only(unpublished_result, set_now, client, login):
    r, clerk = unpublished_result
    set_now(china_now(date(2025, 11, 5)))
    login(client, clerk)
    page = client.get("/admin/deadlines")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "民权县甲商贸有限公司" in text and "1 个工作日" in text
    assert "民权县乙药房" not in text  # another department's problem
    assert 'data-count="overdue">1<' in text
    fragment = client.get("/admin/deadlines/warnings", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert 'hx-trigger="every 60s"' in body and 'data-count="overdue">1<' in body
    assert "已逾期 1 个工作日" in body


def test_dashboard_includes_the_warnings(unpublished_result, set_now, client, login):
    r, clerk = unpublished_result
    set_now(china_now(date(2025, 10, 31)))
    login(client, clerk)
    text = client.get("/admin/").get_data(as_text=True)
    assert 'id="deadline-warnings"' in text
    assert 'data-count="due_soon">1<' in text and "剩余 2 个工作日" in text


def test_warnings_csv_export(unpublished_result, set_now, client, login):
    r, clerk = unpublished_result
    set_now(china_now(date(2025, 11, 5)))
    login(client, clerk)
    response = client.get("/admin/deadlines.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines[0] == "\ufeff类别,部门,记录类型,记录,检查对象,统一社会信用代码,起算日期,应公示日期,是否预估,工作日,处理链接"
    cells = lines[1].split(",")
    assert cells[:4] == ["逾期未公示", "民权县市场监督管理局", "检查结果", "411421202510010001 民权县甲商贸有限公司"]
    assert cells[6:10] == ["2025-09-30", "2025-11-04", "否", "1"]
    assert len(lines) == 3 and lines[2] == ""


def test_admin_sees_every_department_and_can_filter(unpublished_result, set_now, client, login, db):
    set_now(china_now(date(2025, 11, 5)))
    admin = f.user("admin")
    login(client, admin)
    text = client.get("/admin/deadlines").get_data(as_text=True)
    assert "民权县甲商贸有限公司" in text and "民权县乙药房" in text
    text = client.get("/admin/deadlines?dept=WJW").get_data(as_text=True)
    assert "民权县甲商贸有限公司" not in text and "民权县乙药房" in text


def test_published_and_withheld_records_are_not_warned(app, db, set_now):
    set_now(china_now(date(2025, 11, 5)))
    dept = f.department()
    f.result(f.task(dept), f.entity(), formed=date(2025, 9, 30))  # published
    withheld = f.result(f.task(dept), f.entity(), formed=date(2025, 9, 30), publish=False)
    withheld.withheld = True
    f.penalty(dept, f.entity(), decided=date(2025, 9, 30), categories=("警告",), publicity_end=None, publish=False)
    # Publicity already over, or credit repaired: publishing it now would show nothing.
    f.penalty(dept, f.entity(), decided=date(2025, 7, 1), publicity_end=date(2025, 9, 30), publish=False)
    f.penalty(dept, f.entity(), decided=date(2025, 9, 30), publish=False, credit_repair_date=date(2025, 11, 1))
    w = deadlines.warnings(dept.id)
    assert w.total == 0


def test_newest_overdue_problems_first(app, db, set_now):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    old = f.result(f.task(dept), f.entity(), formed=date(2025, 9, 1), publish=False)
    new = f.result(f.task(dept), f.entity(), formed=date(2025, 10, 9), publish=False)
    p = f.penalty(dept, f.entity(), decided=date(2025, 11, 3), publish=False)
    w = deadlines.warnings(dept.id)
    assert [(x.kind, x.record_id) for x in w.overdue] == [("penalty", p.id), ("result", new.id), ("result", old.id)]


def test_drawn_target_without_result_after_task_ends_is_missing(app, db, set_now):
    dept = f.department()
    t = f.task(dept, period=(date(2025, 4, 1), date(2025, 6, 30)))
    a, b, c = f.entity(name="甲公司"), f.entity(name="乙公司"), f.entity(name="丙公司")
    f.draw(t, [a, b], drawn_at=at_china(date(2025, 4, 2)))
    f.result(t, a, formed=date(2025, 6, 1))
    # A redraw replaces the list: only the current draw's selections count.
    f.draw(t, [a, c], drawn_at=at_china(date(2025, 4, 3)), sequence=2)
    db.session.expire(t)
    set_now(china_now(date(2025, 6, 30)))
    assert deadlines.warnings(dept.id).missing == []
    set_now(china_now(date(2025, 7, 1)))
    missing = deadlines.warnings(dept.id).missing
    assert [(p.task_code, p.entity_name, p.due_date, p.workdays) for p in missing] == \
        [(t.code, "丙公司", date(2025, 6, 30), 1)]
    f.result(t, c, formed=date(2025, 7, 1), publish=False)
    assert deadlines.warnings(dept.id).missing == []


def test_report_command_prints_and_exits_nonzero_when_overdue(unpublished_result, runner, set_now):
    set_now(china_now(date(2025, 11, 5)))
    result = runner.invoke(args=["deadlines", "report", "--department", "SCJ"])
    assert result.exit_code == 1, result.output
    assert "逾期未公示 1 · 3个工作日内到期 0 · 缺少检查结果 0" in result.output
    assert "民权县甲商贸有限公司\t应于 2025-11-04 公示，已逾期 1 个工作日" in result.output


def test_report_command_exits_zero_when_nothing_is_overdue(unpublished_result, runner, set_now):
    set_now(china_now(date(2025, 11, 4)))
    result = runner.invoke(args=["deadlines", "report"])
    assert result.exit_code == 0, result.output
    assert "逾期未公示 0 · 3个工作日内到期 2" in result.output
    assert "今天到期" in result.output


def test_report_command_rejects_unknown_department(app, runner):
    result = runner.invoke(args=["deadlines", "report", "--department", "NOPE"])
    assert result.exit_code != 0 and "部门代码不存在" in result.output


def test_missing_result_links_to_a_prefilled_result_form(app, db, set_now, client, login):
    import re
    dept = f.department()
    t = f.task(dept, period=(date(2025, 4, 1), date(2025, 6, 30)))
    e = f.entity(name="丁公司")
    f.draw(t, [e], drawn_at=at_china(date(2025, 4, 2)))
    clerk = f.user("clerk", department=dept)
    set_now(china_now(date(2025, 7, 2)))
    login(client, clerk)
    text = client.get("/admin/deadlines").get_data(as_text=True)
    assert 'data-count="missing">1<' in text
    link = re.search(r'<a href="([^"]+)">补录结果</a>', text).group(1).replace("&amp;", "&")
    assert link == f"/admin/results/new?task_id={t.id}&entity_uscc={e.uscc}"
    form = client.get(link).get_data(as_text=True)
    assert f'value="{e.uscc}"' in form


def test_overdue_links_to_the_record_edit_page(unpublished_result, set_now, client, login):
    r, clerk = unpublished_result
    set_now(china_now(date(2025, 11, 5)))
    login(client, clerk)
    text = client.get("/admin/deadlines").get_data(as_text=True)
    assert f'<a href="/admin/results/{r.id}">去处理</a>' in text


def test_deadlines_page_serves_its_fragment_to_htmx(unpublished_result, set_now, client, login):
    r, clerk = unpublished_result
    set_now(china_now(date(2025, 11, 5)))
    login(client, clerk)
    response = client.get("/admin/deadlines", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith('<div id="deadline-problems"') and "<html" not in body
    assert "民权县甲商贸有限公司" in body


def test_public_detail_pages_show_due_date_and_verdict(app, db, client, set_now):
    set_now(china_now(date(2025, 12, 1)))
    dept = f.department()
    p = f.published(f.plan(dept, approval=date(2025, 9, 30)), at_china(date(2025, 10, 21)))  # day 10: on time
    t = f.published(f.task(dept, plan=p, created_at=at_china(date(2025, 9, 1))),  # drafted with the plan
                    at_china(date(2025, 10, 23)))  # 2 working days late
    f.draw(t, [f.entity()], drawn_at=at_china(date(2025, 10, 9)), )  # factories publish at drawn_at: on time
    r = f.result(t, f.entity(), formed=date(2025, 9, 30), at=at_china(date(2025, 11, 6)))  # 2 days late
    pen = f.penalty(dept, f.entity(), decided=date(2025, 9, 30), at=at_china(date(2025, 10, 16)),
                    publicity_end=date(2028, 9, 29))  # day 7: on time
    db.session.commit()

    plan_page = client.get(f"/plans/{p.id}").get_data(as_text=True)
    assert "应公示日期 2025-10-21" in plan_page and "按时公示" in plan_page
    task_page = client.get(f"/tasks/{t.code}").get_data(as_text=True)
    assert "任务公示时限" in task_page and "逾期 2 个工作日" in task_page
    assert "抽取名单公示时限" in task_page and "自抽取日期 2025-10-09 起 10 个工作日内公示，应公示日期 2025-10-22" in task_page
    result_page = client.get(f"/results/{r.id}").get_data(as_text=True)
    assert "自检查结果形成日期 2025-09-30 起 20 个工作日内公示" in result_page
    assert "应公示日期 2025-11-04" in result_page and "逾期 2 个工作日" in result_page
    penalty_page = client.get(f"/penalties/{pen.id}").get_data(as_text=True)
    assert "应公示日期 2025-10-16" in penalty_page and "按时公示" in penalty_page

    assert client.get(f"/results/{r.id}.json").get_json()["disclosure"] == {
        "start_date": "2025-09-30", "working_days": 20, "due_date": "2025-11-04", "provisional": False,
        "published_on": "2025-11-06", "on_time": False, "late_working_days": 2}
    assert client.get(f"/penalties/{pen.id}.json").get_json()["disclosure"]["on_time"] is True
