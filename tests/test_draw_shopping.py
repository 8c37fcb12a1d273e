"""No draw-shopping (SPEC §5 item 7): a lock is public at once, a performed draw is public as soon as
it is performed, a redraw needs a reason and is refused once any result exists, every earlier draw stays
public marked as superseded, and a draw keeps the scope, strata and ratios it was locked with."""
import json
from datetime import date, datetime, timedelta, timezone

import draw_reference
import factories as f
import pytest
from conftest import extract_csrf
from sqlalchemy import func, select

from portal import draw_service, lifecycle
from portal.database import write_transaction
from portal.models import AuditEvent, Draw, Result, RiskClass, Status, Task

NOW = "2025-06-10T02:00:00+00:00"


def _task(db, set_now, surprise=False, publish=True, period=(date(2025, 4, 1), date(2025, 6, 30))):
    set_now(NOW)
    dept = f.department(code="SCJG")
    for i in range(24):
        f.entity(risk=[RiskClass.A, RiskClass.B, RiskClass.C, RiskClass.D][i % 4],
                 entity_type=f.EntityType.ENTERPRISE if i % 3 else f.EntityType.INDIVIDUAL)
    for _ in range(4):
        f.inspector(dept)
    task = f.task(dept, surprise=surprise, publish=publish, period=period,
                  strata=[{"stratum": "D", "ratio": "0.5"}, {"stratum": "C", "count": 2}],
                  inspectors_per_target={"SCJG": 1})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    return dept, task, clerk


def _main(html: str) -> str:
    """The page's <main> (the rest carries per-session tokens)."""
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _count(db, model):
    db.session.rollback()
    return db.session.execute(select(func.count(model.id))).scalar()


def test_lock_publishes_the_hashes_at_once_and_perform_publishes_the_list(db, client, set_now):
    dept, task, clerk = _task(db, set_now)
    locked = draw_service.lock(task, clerk)
    assert (locked.status, locked.published_at) == (Status.PUBLISHED, locked.locked_at)
    html = client.get(f"/tasks/{task.code}").get_data(as_text=True)
    assert locked.pool_hash in html and locked.commitment in html and locked.nonce not in html
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "draw.lock")).scalar_one()
    assert (event.after["pool_hash"], event.after["commitment"]) == (locked.pool_hash, locked.commitment)

    drawn = draw_service.perform(locked, "2025-06-10 福彩3D 1 2 3", ["见证人"], clerk)
    assert drawn.status is Status.PUBLISHED and drawn.drawn_at is not None
    # There is no unpublished performed draw: not in the service, not in the back office.
    assert not hasattr(draw_service, "publish")
    assert db.session.execute(select(func.count(Draw.id)).where(Draw.drawn_at.is_not(None),
                                                                 Draw.status != Status.PUBLISHED)).scalar() == 0
    cert = client.get(f"/draws/{drawn.id}.json").get_json()
    assert cert["status"] == "drawn" and cert["nonce"] == drawn.nonce
    ref = draw_reference.recompute(cert)
    assert ref["selected"] == [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]


def test_an_unpublished_task_cannot_be_locked_but_a_surprise_task_can(db, client, set_now):
    dept, task, clerk = _task(db, set_now, publish=False)
    events = _count(db, AuditEvent)
    with pytest.raises(draw_service.DrawError, match="请先发布该任务"):
        draw_service.lock(task, clerk)
    assert (_count(db, Draw), _count(db, AuditEvent)) == (0, events)

    surprise = f.task(dept, surprise=True, publish=False, period=(date(2025, 6, 1), date(2025, 8, 31)),
                      strata=[{"stratum": "D", "count": 1}])
    db.session.commit()
    locked = draw_service.lock(surprise, clerk)
    # Hidden with its task, but its hashes are in the hash-chained audit trail from this moment.
    assert client.get(f"/draws/{locked.id}").status_code == 404
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "draw.lock")).scalar_one()
    assert event.after["commitment"] == locked.commitment and event.hash


@pytest.mark.parametrize("recorded", ["draft", "published"])
def test_a_redraw_is_refused_once_any_result_is_recorded(db, set_now, recorded):
    dept, task, clerk = _task(db, set_now)
    first = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    f.result(task, first.selections[0].entity, formed=date(2025, 6, 5), publish=recorded == "published")
    db.session.commit()
    draws, events = _count(db, Draw), _count(db, AuditEvent)
    with pytest.raises(draw_service.DrawError, match="已录入检查结果（包括未发布的草稿），不能重新抽取"):
        draw_service.lock(task, clerk, reason="见证人提出异议")
    assert (_count(db, Draw), _count(db, AuditEvent)) == (draws, events)


def test_a_result_recorded_after_the_relock_stops_the_redraw(db, set_now):
    dept, task, clerk = _task(db, set_now)
    first = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    second = draw_service.lock(task, clerk, reason="候选名单遗漏新登记主体")
    f.result(task, first.selections[0].entity, formed=date(2025, 6, 5), publish=False)
    db.session.commit()
    with pytest.raises(draw_service.DrawError, match="不能重新抽取"):
        draw_service.perform(second, "b", ["见证人"], clerk)
    db.session.rollback()
    assert db.session.get(Draw, second.id).drawn_at is None


def test_lock_perform_redraw_with_reason_keeps_both_draws_public(db, client, set_now):
    dept, task, clerk = _task(db, set_now)
    first = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    with pytest.raises(draw_service.DrawError, match="必须填写原因"):
        draw_service.lock(task, clerk, reason="   ")
    db.session.rollback()
    second = draw_service.lock(task, clerk, reason="候选名单遗漏新登记主体")
    # Relocked, not yet drawn: the first draw is already marked as replaced, the new hashes are public.
    html = client.get(f"/tasks/{task.code}").get_data(as_text=True)
    assert "已被第 2 次抽取取代，原因：候选名单遗漏新登记主体" in html and second.commitment in html
    second = draw_service.perform(second, "b", ["见证人"], clerk)
    for d in (first, second):
        assert client.get(f"/draws/{d.id}").status_code == 200
        assert client.get(f"/draws/{d.id}.json").get_json()["status"] == "drawn"
    old = client.get(f"/draws/{first.id}").get_data(as_text=True)
    assert "已被第 2 次抽取取代" in old and "候选名单遗漏新登记主体" in old


def test_editing_the_task_after_the_draw_leaves_its_certificate_unchanged(db, client, login, set_now):
    dept, task, clerk = _task(db, set_now)
    drawn = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    before_json = client.get(f"/draws/{drawn.id}.json").data
    before_html = _main(client.get(f"/draws/{drawn.id}").get_data(as_text=True))
    assert json.loads(before_json)["scope"] == {"statuses": ["存续"]}
    assert json.loads(before_json)["stratify_by"] == "risk_class"
    target = drawn.selections[0].entity
    why_before = [(r.scope, r.stratum, r.ratio, r.count, r.population, r.drawn, r.rank)
                  for r in draw_service.why_drawn(target, datetime.fromisoformat(NOW))]
    assert why_before and why_before[0][0] == [("登记状态", "存续"), ("分层方式", "信用风险分类")]

    login(client, clerk)
    token = extract_csrf(client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True))
    response = client.post(f"/admin/tasks/{task.id}/draw/settings", data={
        "csrf_token": token, "entity_types": ["个体工商户"], "regions": "411400", "industries": "F", "tags": "",
        "stratify_by": "entity_type", "stratum": ["个体工商户"], "mode": ["ratio"], "value": ["100%"],
        "ipt_SCJG": "2"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Task, task.id).scope["entity_types"] == ["个体工商户"]

    anonymous = client.application.test_client()
    assert anonymous.get(f"/draws/{drawn.id}.json").data == before_json
    after_html = _main(anonymous.get(f"/draws/{drawn.id}").get_data(as_text=True))
    assert after_html == before_html and "个体工商户" not in after_html.split("抽查范围")[1].split("</dd>")[0]
    why_after = [(r.scope, r.stratum, r.ratio, r.count, r.population, r.drawn, r.rank)
                 for r in draw_service.why_drawn(target, datetime.fromisoformat(NOW))]
    assert why_after == why_before
    entity_page = anonymous.get(f"/entities/{target.uscc}").get_data(as_text=True)
    assert "信用风险分类" in entity_page and "主体类型：个体工商户" not in entity_page


def test_why_was_i_drawn_counts_only_public_draws(db, client, set_now):
    dept, task, clerk = _task(db, set_now)
    first = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    target = first.selections[0].entity
    second = draw_service.lock(task, clerk, reason="设置错误")
    with write_transaction():  # the relock is withheld (不予公开): it must not mark the first as replaced
        lifecycle.withhold("draw", db.session.get(Draw, second.id), "其他法定情形")
    reasons = draw_service.why_drawn(target, datetime.fromisoformat(NOW))
    assert [(r.draw.id, r.superseded) for r in reasons] == [(first.id, False)]
    page = client.get(f"/entities/{target.uscc}").get_data(as_text=True)
    assert "抽取取代" not in page
    assert client.get(f"/draws/{first.id}.json").get_json()["superseded_by"] is None

    third = draw_service.lock(task, clerk, reason="重新核定范围")
    reasons = draw_service.why_drawn(target, datetime.fromisoformat(NOW))
    assert [(r.draw.id, r.superseded_by.id) for r in reasons] == [(first.id, third.id)]
    page = client.get(f"/entities/{target.uscc}").get_data(as_text=True)
    assert "已被第 3 次抽取取代" in page and "重新核定范围" in page


def test_admin_page_refuses_a_redraw_after_results_in_chinese(db, client, login, set_now):
    dept, task, clerk = _task(db, set_now)
    first = draw_service.perform(draw_service.lock(task, clerk), "a", ["见证人"], clerk)
    f.result(task, first.selections[0].entity, formed=date(2025, 6, 5), publish=False)
    db.session.commit()
    login(client, clerk)
    page = client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True)
    assert 'id="lock-refused"' in page and "不能重新抽取" in page and 'id="relock-button"' not in page
    token = extract_csrf(page)
    response = client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token, "reason": "想换一批"})
    assert response.status_code == 303
    assert "已录入检查结果（包括未发布的草稿），不能重新抽取" in client.get(response.headers["Location"]) \
        .get_data(as_text=True)
    assert _count(db, Draw) == 1
