"""The one publication rule (SPEC §3): clause by clause, pure rule == SQL clause on a
matrix of records, and hidden records unreachable through every public channel."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import factories as f
from portal import embargo
from portal import lifecycle as lifecycle_actions
from portal.database import write_transaction
from portal.domain.dates import china_midnight
from portal.domain.visibility import TombstoneReason, Visibility, embargo_lifts_at, public_state
from portal.models import Draw, Penalty, Plan, Result, Status, Task
from portal.search import documents as search_documents
from portal.visibility_sql import public_clause

NOW = datetime(2025, 7, 1, 2, 0, tzinfo=timezone.utc)  # 2025-07-01 10:00 in China
PAST, FUTURE = NOW - timedelta(days=1), NOW + timedelta(hours=1)


def lifecycle(record, variant):
    """Put a record in one lifecycle state; returns it."""
    if variant == "draft":
        record.status, record.published_at = Status.DRAFT, None
    elif variant == "draft_with_date":
        record.status, record.published_at = Status.DRAFT, PAST
    elif variant == "published":
        record.status, record.published_at = Status.PUBLISHED, PAST
    elif variant == "published_at_now":
        record.status, record.published_at = Status.PUBLISHED, NOW
    elif variant == "future":
        record.status, record.published_at = Status.PUBLISHED, FUTURE
    elif variant == "withheld":
        record.status, record.published_at, record.withheld = Status.PUBLISHED, PAST, True
    elif variant == "withdrawn":
        record.status, record.published_at, record.withdrawn_at = Status.WITHDRAWN, PAST - timedelta(days=9), PAST
        record.withdrawal_reason = "录入错误"
    elif variant == "withdrawal_scheduled":
        record.status, record.published_at, record.withdrawn_at = Status.WITHDRAWN, PAST, FUTURE
    elif variant == "corrected":
        record.status, record.published_at, record.corrected_at, record.version = Status.PUBLISHED, PAST, PAST, 2
    return record


VARIANTS = ["draft", "draft_with_date", "published", "published_at_now", "future", "withheld", "withdrawn",
            "withdrawal_scheduled", "corrected"]
EXPECTED = {"draft": Visibility.HIDDEN, "draft_with_date": Visibility.HIDDEN, "published": Visibility.VISIBLE,
            "published_at_now": Visibility.VISIBLE, "future": Visibility.HIDDEN, "withheld": Visibility.HIDDEN,
            "withdrawn": Visibility.TOMBSTONE, "withdrawal_scheduled": Visibility.VISIBLE,
            "corrected": Visibility.VISIBLE}


def sql_visible(db, kind, model):
    return set(db.session.execute(select(model.id).where(public_clause(kind, NOW))).scalars())


def in_index_window(kind, record, moment) -> bool:
    """Whether the search index's time window for the record ([show_from, hide_at)) contains `moment`."""
    win = search_documents.window(kind, record)
    return win is not None and win[0] <= int(moment.timestamp()) < win[1]


def assert_agree(db, kind, model, records):
    in_sql = sql_visible(db, kind, model)
    for label, record in records.items():
        pure = public_state(kind, record, NOW).is_visible
        assert pure == (record.id in in_sql), f"{kind} {label}: pure={pure} sql={record.id in in_sql}"
        if kind in search_documents.KINDS:  # the search index's window says the same
            assert pure == in_index_window(kind, record, NOW), f"{kind} {label}: pure={pure} index window disagrees"


@pytest.mark.parametrize("variant", VARIANTS)
def test_lifecycle_clause_by_clause(app, db, variant):
    dept = f.department()
    plan = lifecycle(f.plan(dept, publish=False), variant)
    db.session.commit()
    state = public_state("plan", plan, NOW)
    assert state.visibility is EXPECTED[variant]
    if variant == "withdrawn":
        assert state.reason is TombstoneReason.WITHDRAWN and state.note == "录入错误"
        assert state.stopped_on == date(2025, 6, 30)
    assert (plan.id in sql_visible(db, "plan", Plan)) is (EXPECTED[variant] is Visibility.VISIBLE)


def _surprise(dept, label, *, period_end=date(2025, 7, 31), targets=2, results=(), publish=True):
    """A surprise task with one performed draw of `targets` entities; `results` gives, per target in
    order, None (no result) or a lifecycle variant for that target's result."""
    task = f.task(dept, surprise=True, title=f"突击{label}", publish=publish,
                  period=(date(2025, 4, 1), period_end))
    ents = [f.entity() for _ in range(targets)]
    f.draw(task, ents)
    for ent, variant in zip(ents, results):
        if variant is not None:
            lifecycle(f.result(task, ent, publish=False), variant)
    return task


# label → (how to build, visible at NOW?) — NOW is 2025-07-01 10:00 China time.
SURPRISE_CASES = {
    "no_draw": (lambda d: f.task(d, surprise=True, period=(date(2025, 4, 1), date(2025, 7, 31))), False),
    "one_of_two_published": (lambda d: _surprise(d, "1/2", results=("published", None)), False),
    "all_published": (lambda d: _surprise(d, "2/2", results=("published", "published")), True),
    "all_published_at_now": (lambda d: _surprise(d, "now", results=("published", "published_at_now")), True),
    "last_scheduled_later": (lambda d: _surprise(d, "later", results=("published", "future")), False),
    "one_draft": (lambda d: _surprise(d, "draft", results=("published", "draft_with_date")), False),
    "one_withheld": (lambda d: _surprise(d, "withheld", results=("published", "withheld")), False),
    "one_withdrawn_after_publication": (lambda d: _surprise(d, "withdrawn", results=("published", "withdrawn")),
                                        True),
    "period_ended_yesterday": (lambda d: _surprise(d, "ended", period_end=date(2025, 6, 30)), True),
    "period_ends_today": (lambda d: _surprise(d, "today", period_end=date(2025, 7, 1)), False),
    "empty_draw": (lambda d: _surprise(d, "empty", targets=0), False),
    "draft_task_all_published": (lambda d: _surprise(d, "draft task", targets=1, results=("published",), publish=False), False),
}


def _redrawn_surprise(dept, withdraw_second):
    """Draw 1's target has a published result; draw 2 (a redraw) drew someone else."""
    task = f.task(dept, surprise=True, title="突击重抽", period=(date(2025, 4, 1), date(2025, 7, 31)))
    first, second = f.entity(), f.entity()
    f.draw(task, [first], sequence=1)
    d2 = f.draw(task, [second], sequence=2)
    f.result(task, first, at=PAST)
    if withdraw_second:
        lifecycle(d2, "withdrawn")
    return task


def test_pure_rule_and_sql_agree_on_a_matrix(app, db):
    dept = f.department()
    ent = f.entity()
    records = {"plan": {}, "task": {}, "result": {}, "penalty": {}, "item": {}, "draw": {}}
    base_task = f.task(dept)
    for seq, variant in enumerate(VARIANTS, 1):
        records["plan"][variant] = lifecycle(f.plan(dept, publish=False), variant)
        records["task"][variant] = lifecycle(f.task(dept, publish=False), variant)
        records["result"][variant] = lifecycle(f.result(base_task, f.entity(), publish=False), variant)
        records["penalty"][variant] = lifecycle(f.penalty(dept, ent, publish=False), variant)
        records["item"][variant] = lifecycle(f.check_item(dept, publish=False), variant)
        records["draw"][variant] = lifecycle(f.draw(base_task, [f.entity()], publish=False, sequence=seq), variant)
    # Surprise tasks: hidden until every drawn target has a published result or the period is over.
    for label, (build, _visible) in SURPRISE_CASES.items():
        records["task"][f"surprise_{label}"] = build(dept)
    records["task"]["surprise_redrawn_new_target_pending"] = _redrawn_surprise(dept, withdraw_second=False)
    records["task"]["surprise_redraw_withdrawn"] = _redrawn_surprise(dept, withdraw_second=True)
    embargoed = records["task"]["surprise_one_of_two_published"]
    lifted = records["task"]["surprise_all_published"]
    records["draw"]["of_surprise_task"] = embargoed.draws[0]
    records["draw"]["of_lifted_surprise"] = lifted.draws[0]
    records["draw"]["of_draft_task"] = f.draw(records["task"]["draft"], [f.entity()])
    records["draw"]["of_withdrawn_task"] = f.draw(records["task"]["withdrawn"], [f.entity()])
    records["draw"]["locked_not_drawn"] = f.draw(base_task, [f.entity()], sequence=99)
    records["draw"]["locked_not_drawn"].drawn_at = None
    # Penalties: publicity end before/on/after today, never public, credit repair.
    today = date(2025, 7, 1)
    for label, kw in {"ends_yesterday": {"publicity_end": today - timedelta(days=1)},
                      "ends_today": {"publicity_end": today},
                      "ends_tomorrow": {"publicity_end": today + timedelta(days=1)},
                      "warning_only": {"publicity_end": None, "categories": ("警告",)},
                      "repaired_yesterday": {"credit_repair_date": today - timedelta(days=1)},
                      "repaired_today": {"credit_repair_date": today},
                      "repair_tomorrow": {"credit_repair_date": today + timedelta(days=1)}}.items():
        records["penalty"][label] = f.penalty(dept, ent, at=PAST, **kw)
    db.session.commit()  # portal.embargo computes every task's results_complete_at here
    models = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty, "draw": Draw,
              "item": __import__("portal.models", fromlist=["CheckItem"]).CheckItem}
    for kind, recs in records.items():
        assert_agree(db, kind, models[kind], recs)

    for label, (_build, visible) in SURPRISE_CASES.items():
        task = records["task"][f"surprise_{label}"]
        assert public_state("task", task, NOW).is_visible is visible, label
    assert not public_state("task", records["task"]["surprise_redrawn_new_target_pending"], NOW).is_visible
    assert public_state("task", records["task"]["surprise_redraw_withdrawn"], NOW).is_visible
    assert not public_state("draw", records["draw"]["of_surprise_task"], NOW).is_visible
    assert public_state("draw", records["draw"]["of_lifted_surprise"], NOW).is_visible
    assert public_state("draw", records["draw"]["locked_not_drawn"], NOW).is_visible  # public from its lock
    pens = records["penalty"]
    assert public_state("penalty", pens["ends_today"], NOW).is_visible
    ended = public_state("penalty", pens["ends_yesterday"], NOW)
    assert ended.is_tombstone and ended.stopped_on == today and ended.reason is TombstoneReason.PUBLICITY_ENDED
    assert public_state("penalty", pens["warning_only"], NOW).visibility is Visibility.HIDDEN
    repaired = public_state("penalty", pens["repaired_today"], NOW)
    assert repaired.is_tombstone and repaired.reason is TombstoneReason.CREDIT_REPAIRED
    assert public_state("penalty", pens["repair_tomorrow"], NOW).is_visible
    # The stored embargo column is what a fresh computation from the records gives, for every task.
    stored = dict(db.session.execute(select(Task.id, Task.results_complete_at)).all())
    assert embargo.compute() == stored


def test_the_embargo_lifts_at_the_latest_publication_and_at_the_end_of_the_period(app, db):
    dept = f.department()
    task = _surprise(dept, "时刻", results=("published", "future"))  # PAST and FUTURE
    db.session.commit()
    assert task.results_complete_at == FUTURE
    assert embargo_lifts_at(task) == FUTURE
    for moment, visible in ((FUTURE - timedelta(seconds=1), False), (FUTURE, True)):
        assert public_state("task", task, moment).is_visible is visible
        assert (task.id in set(db.session.execute(select(Task.id).where(public_clause("task", moment))).scalars())) \
            is visible
    waiting = _surprise(dept, "期满", period_end=date(2025, 7, 31), results=("published", None))
    db.session.commit()
    assert waiting.results_complete_at is None
    last_minute = datetime(2025, 7, 31, 15, 59, tzinfo=timezone.utc)  # 23:59 on 07-31 in China
    for moment, visible in ((last_minute, False), (last_minute + timedelta(minutes=1), True)):
        assert public_state("task", waiting, moment).is_visible is visible
        assert (waiting.id in set(db.session.execute(select(Task.id).where(public_clause("task", moment)))
                                  .scalars())) is visible


def test_the_search_index_windows_agree_with_the_rule_at_every_boundary(app, db):
    """The index stores [show_from, hide_at) per document and filters by it at query time: at each
    moment where the rule changes its answer (publication, embargo lift, end of publicity, credit
    repair, scheduled withdrawal), the window must say the same as the rule, a second before and at."""
    dept = f.department()
    ent = f.entity()
    lifting = _surprise(dept, "窗口", results=("published", "future"))  # lifts at FUTURE
    waiting = _surprise(dept, "期满窗口", period_end=date(2025, 7, 31), results=("published", None))
    future_plan = lifecycle(f.plan(dept, publish=False), "future")
    scheduled = lifecycle(f.plan(dept, publish=False), "withdrawal_scheduled")
    ends = f.penalty(dept, ent, at=PAST, publicity_end=date(2025, 7, 1))
    repaired = f.penalty(dept, ent, at=PAST, publicity_end=date(2025, 12, 31), credit_repair_date=date(2025, 7, 2))
    db.session.commit()
    cases = [("task", lifting, FUTURE), ("task", waiting, china_midnight(date(2025, 8, 1))),
             ("plan", future_plan, FUTURE), ("plan", scheduled, FUTURE),
             ("penalty", ends, china_midnight(date(2025, 7, 2))), ("penalty", repaired, china_midnight(date(2025, 7, 2)))]
    for kind, record, boundary in cases:
        for moment in (boundary - timedelta(seconds=1), boundary, boundary + timedelta(days=1), NOW):
            pure = public_state(kind, record, moment).is_visible
            assert in_index_window(kind, record, moment) == pure, (kind, record.id, moment.isoformat(), pure)
        before = public_state(kind, record, boundary - timedelta(seconds=1)).is_visible
        assert before != public_state(kind, record, boundary).is_visible, (kind, "the boundary is where it changes")


# ---------------------------------------------------------------- every channel

@pytest.fixture
def hidden_world(app, db, set_now):
    """Visible records next to hidden ones of every kind; returns what must never leak."""
    set_now(NOW.isoformat())
    dept = f.department(code="SCJ")
    item = f.check_item(dept, name="公开的检查事项")
    lifecycle(f.check_item(dept, name="草稿事项XYZ", publish=False), "draft")
    plan = f.plan(dept, title="公开计划")
    secret_plan = lifecycle(f.plan(dept, title="不予公开计划XYZ", publish=False), "withheld")
    visible_task = f.task(dept, plan=plan, code="411421202504010001", items=[item])
    surprise = f.task(dept, plan=plan, code="411421202505010002", title="突击检查任务XYZ", surprise=True,
                      period=(date(2025, 5, 1), date(2025, 7, 31)))
    future_task = lifecycle(f.task(dept, plan=plan, code="411421202506010003", title="未来任务XYZ",
                                   publish=False), "future")
    inspector = f.inspector(dept, name="赵执法", licence_no="41142100777", id_card_no="411421198001011234")
    shown = f.entity(name="公开企业有限公司")
    drawn_secretly = f.entity(name="突击对象XYZ有限公司")
    f.draw(visible_task, [shown], inspectors=[inspector])
    f.draw(surprise, [drawn_secretly], inspectors=[inspector])
    f.result(visible_task, shown)
    draft_result = f.result(visible_task, f.entity(name="草稿结果XYZ公司"), publish=False)
    withheld_result = lifecycle(f.result(visible_task, f.entity(name="不公开结果XYZ公司"), publish=False), "withheld")
    surprise_result_draft = f.result(surprise, drawn_secretly, publish=False)
    f.penalty(dept, shown, decision_no="民市监罚〔2025〕1号")
    future_pen = lifecycle(f.penalty(dept, shown, decision_no="未来处罚XYZ〔2025〕2号", publish=False), "future")
    warning = f.penalty(dept, shown, decision_no="警告XYZ〔2025〕3号", categories=("警告",), publicity_end=None)
    db.session.commit()
    return dict(hidden_ids={"result": [draft_result.id, withheld_result.id, surprise_result_draft.id],
                            "penalty": [future_pen.id, warning.id], "plan": [secret_plan.id],
                            "task": [surprise.code, future_task.code]},
                shown=shown, drawn_secretly=drawn_secretly)


PUBLIC_URLS = ["/", "/items", "/items.json", "/items.csv", "/plans", "/plans.json", "/plans.csv", "/results",
               "/results.json", "/results.csv", "/penalties", "/penalties.json", "/penalties.csv", "/data",
               "/tasks/411421202504010001", "/tasks/411421202504010001.json", "/plans/{plan}", "/plans/{plan}.json"]


def test_hidden_records_never_reach_lists_exports_or_pages(client, db, hidden_world):
    plan_id = db.session.execute(select(Plan.id).where(Plan.title == "公开计划")).scalar_one()
    uscc = hidden_world["shown"].uscc
    for url in PUBLIC_URLS + [f"/entities/{uscc}", f"/entities/{uscc}.json"]:
        response = client.get(url.format(plan=plan_id))
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert "XYZ" not in body, url
        for secret in ("411421198001011234", "1980010112"):
            assert secret not in body, url


def test_hidden_records_404_on_every_channel(client, hidden_world):
    ids = hidden_world["hidden_ids"]
    urls = [f"/results/{i}{suffix}" for i in ids["result"] for suffix in ("", ".json")]
    urls += [f"/penalties/{i}{suffix}" for i in ids["penalty"] for suffix in ("", ".json")]
    urls += [f"/plans/{i}{suffix}" for i in ids["plan"] for suffix in ("", ".json")]
    urls += [f"/tasks/{code}{suffix}" for code in ids["task"] for suffix in ("", ".json")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "XYZ" not in response.get_data(as_text=True)
    for fragment_url in ["/results?q=XYZ", "/penalties?q=XYZ"]:
        body = client.get(fragment_url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "共 <strong>0</strong> 条" in body


def test_surprise_draw_hidden_from_entity_page_until_results_published(client, db, hidden_world, set_now):
    secret = hidden_world["drawn_secretly"]
    body = client.get(f"/entities/{secret.uscc}").get_data(as_text=True)
    assert "411421202505010002" not in body and "赵执法" not in body
    assert client.get(f"/entities/{secret.uscc}.json").get_json()["draws"] == []
    # Publishing the (only) drawn target's result lifts the embargo: task, list and result all appear.
    task = db.session.execute(select(Task).where(Task.code == "411421202505010002")).scalar_one()
    result = db.session.execute(select(Result).where(Result.task_id == task.id)).scalar_one()
    with write_transaction():
        lifecycle_actions.publish("result", db.session.get(Result, result.id), at=PAST)
    body = client.get(f"/entities/{secret.uscc}").get_data(as_text=True)
    assert "411421202505010002" in body and "赵执法" in body
    assert client.get("/tasks/411421202505010002").status_code == 200
    assert "411421198001011234" not in client.get("/tasks/411421202505010002.json").get_data(as_text=True)


def test_publication_time_is_respected(client, db, hidden_world, set_now):
    set_now((FUTURE + timedelta(minutes=1)).isoformat())
    assert client.get("/tasks/411421202506010003").status_code == 200
    assert "未来处罚XYZ" in client.get("/penalties.csv").get_data(as_text=True)
