"""Editing results and penalties from the back office: validation, masking, lifecycle, department scope."""
from datetime import date, datetime, timezone

from sqlalchemy import select

import factories as f
from portal.models import AuditEvent, Penalty, RecordVersion, Result, Status


DRAWN = datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc)


def _form(client, csrf_token, **data):
    data.setdefault("csrf_token", csrf_token(client))
    return data


def test_clerk_creates_result_draft_then_publishes(app, db, client, login, csrf_token):
    dept = f.department()
    clerk = f.user("clerk", dept)
    task = f.task(dept, surprise=True)
    ent = f.entity()
    other = f.entity()
    f.draw(task, [ent], drawn_at=DRAWN)
    insp = f.inspector(dept)
    login(client, clerk)
    data = dict(task_id=task.id, entity_uscc=other.uscc, formed_date="2025年5月10日", conclusions=["C01"],
                remark="经检查未发现问题", follow_up="无需后续处置", inspector_licences=insp.licence_no)
    r = client.post("/admin/results/new", data=_form(client, csrf_token, **data))
    html = r.get_data(as_text=True)
    # The same warning as the upload preview: the entity was not drawn for this task; the clerk confirms
    # (or corrects it: here the drawn target).
    assert r.status_code == 200 and f"请核对：“{other.name}”不在该任务的抽取名单中" in html
    assert db.session.execute(select(Result)).first() is None
    r = client.post("/admin/results/new", data=_form(client, csrf_token, **{**data, "entity_uscc": ent.uscc}))
    assert r.status_code == 303, r.get_data(as_text=True)
    result = db.session.execute(select(Result)).scalar_one()
    assert result.status is Status.DRAFT and result.department_id == dept.id
    assert [c.label for c in result.conclusions] == ["未发现问题"]
    assert [i.licence_no for i in result.inspectors] == [insp.licence_no]
    r = client.post(f"/admin/results/{result.id}/publish", data=_form(client, csrf_token))
    assert r.status_code == 303
    db.session.expire_all()
    result = db.session.get(Result, result.id)
    assert result.status is Status.PUBLISHED and result.published_at is not None
    # Its only drawn target now has a published result: the surprise task's embargo lifts at that moment.
    assert result.task.results_complete_at == result.published_at
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert actions[-2:] == ["create", "publish"]


def test_result_validation_messages_keep_values(app, db, client, login, csrf_token):
    dept = f.department()
    clerk = f.user("clerk", dept)
    task = f.task(dept)
    login(client, clerk)
    r = client.post("/admin/results/new", data=_form(client, csrf_token, task_id=task.id,
                                                      entity_uscc="91411421MA0000000X", formed_date="2025-02-30",
                                                      remark="保留的说明"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "2025年没有2月30日" in html
    assert "请填写或选择至少一项检查结果" in html
    assert "保留的说明" in html
    assert db.session.execute(select(Result)).first() is None


def test_masking_shown_before_saving(app, db, client, login, csrf_token):
    dept = f.department()
    clerk = f.user("clerk", dept)
    task = f.task(dept)
    ent = f.entity()
    f.draw(task, [ent], drawn_at=DRAWN)
    login(client, clerk)
    data = dict(task_id=task.id, entity_uscc=ent.uscc, formed_date="2025-05-10", conclusions=["C05"],
                remark="负责人电话13812345678，已责令改正")
    r = client.post("/admin/results/new", data=_form(client, csrf_token, **data))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "已遮蔽" in html and "13812345678" not in html
    assert db.session.execute(select(Result)).first() is None
    import re
    masked = re.search(r'<textarea [^>]*name="remark"[^>]*>([^<]*)</textarea>', html).group(1)
    r = client.post("/admin/results/new", data=_form(client, csrf_token, **{**data, "remark": masked}))
    assert r.status_code == 303
    stored = db.session.execute(select(Result.remark)).scalar_one()
    assert "13812345678" not in stored and "已责令改正" in stored


def test_correcting_published_penalty_keeps_old_version(app, db, client, login, csrf_token, set_now):
    set_now("2025-06-02T02:00:00+00:00")
    dept = f.department()
    clerk = f.user("clerk", dept)
    pen = f.penalty(dept, decision_no="民市监罚〔2025〕1号", fine="5000.00", party_kind="organisation")
    login(client, clerk)
    data = dict(decision_no=pen.decision_no, party_name="更正后的当事人", party_kind="organisation",
                categories=["罚款"], fine_amount="6000", decision_date="2025-05-20", facts="事实")
    r = client.post(f"/admin/penalties/{pen.id}", data=_form(client, csrf_token, **data))
    assert r.status_code == 422 and "请填写更正原因" in r.get_data(as_text=True)
    r = client.post(f"/admin/penalties/{pen.id}", data=_form(client, csrf_token, correction_reason="当事人名称有误", **data))
    assert r.status_code == 303
    db.session.expire_all()
    pen = db.session.get(Penalty, pen.id)
    assert pen.party_name == "更正后的当事人" and pen.version == 2 and pen.corrected_at is not None
    assert pen.publicity_end == date(2025, 8, 19)  # small fine: 3 months
    old = db.session.execute(select(RecordVersion)).scalar_one()
    assert old.version == 1 and old.data["party_name"] != "更正后的当事人" and old.reason == "当事人名称有误"


def test_withdraw_withhold_and_credit_repair(app, db, client, login, csrf_token):
    dept = f.department()
    clerk = f.user("clerk", dept)
    p1 = f.penalty(dept)
    p2 = f.penalty(dept, publish=False)
    p3 = f.penalty(dept)
    login(client, clerk)
    assert client.post(f"/admin/penalties/{p1.id}/withdraw", data=_form(client, csrf_token, reason="决定已撤销")).status_code == 303
    r = client.post(f"/admin/penalties/{p2.id}/withhold", data=_form(client, csrf_token, reason="随便"), follow_redirects=True)
    assert "请选择不予公开的法定理由" in r.get_data(as_text=True)
    assert client.post(f"/admin/penalties/{p2.id}/withhold", data=_form(client, csrf_token, reason="个人隐私")).status_code == 303
    assert client.post(f"/admin/penalties/{p3.id}/credit-repair",
                       data=_form(client, csrf_token, date="2025-07-01", reason="已完成信用修复")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Penalty, p1.id).status is Status.WITHDRAWN
    assert db.session.get(Penalty, p1.id).withdrawal_reason == "决定已撤销"
    assert db.session.get(Penalty, p2.id).withheld and db.session.get(Penalty, p2.id).withheld_reason == "个人隐私"
    assert db.session.get(Penalty, p3.id).credit_repair_date == date(2025, 7, 1)


def test_inline_validation_fragment(app, db, client, login, csrf_token):
    clerk = f.user("clerk")
    ent = f.entity()
    login(client, clerk)
    token = csrf_token(client)
    r = client.post("/admin/results/validate?field=entity_uscc", data={"entity_uscc": "9.1e+17", "csrf_token": token},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and "科学计数法" in r.get_data(as_text=True)
    r = client.post("/admin/results/validate?field=entity_uscc", data={"entity_uscc": ent.uscc, "csrf_token": token},
                    headers={"HX-Request": "true"})
    assert r.get_data(as_text=True).strip() == '<span id="msg-entity_uscc" class="field-message" aria-live="polite"></span>'
    r = client.post("/admin/results/validate?field=remark", data={"remark": "电话13812345678", "csrf_token": token})
    assert "已遮蔽" in r.get_data(as_text=True) and "13812345678" not in r.get_data(as_text=True)


def test_item_change_creates_new_version(app, db, client, login, csrf_token):
    dept = f.department()
    item = f.check_item(dept, publish=False)
    login(client, f.user("clerk", dept))
    data = dict(code=item.code, name="改名后的事项", kind="重点", effective_from="2026-01-01", change_note="调整名称",
                csrf_token=csrf_token(client))
    assert client.post(f"/admin/items/{item.id}", data=data).status_code == 303
    db.session.expire_all()
    from portal.models import CheckItem
    item = db.session.get(CheckItem, item.id)
    assert [v.version for v in item.versions] == [1, 2] and item.name == "改名后的事项"
    assert item.versions[0].name != "改名后的事项"
    html = client.get(f"/admin/items/{item.id}").get_data(as_text=True)
    assert "第 1 版" in html and "第 2 版" in html


def test_task_and_plan_forms(app, db, client, login, csrf_token):
    dept = f.department(code="TP")
    other = f.department(code="TQ")
    login(client, f.user("clerk", dept))
    r = client.post("/admin/plans/new", data=dict(year="2026", title="2026年度抽查计划", approval_date="2026-03-02",
                                                   participants=[other.id], csrf_token=csrf_token(client)))
    assert r.status_code == 303
    from portal.models import Plan, Task
    plan = db.session.execute(select(Plan)).scalar_one()
    assert sorted(d.code for d in plan.participants) == ["TP", "TQ"] and plan.status is Status.DRAFT
    bad = client.post("/admin/tasks/new", data=dict(plan_id=plan.id, code="123", title="x", period_start="2026-04-01",
                                                     period_end="2026-03-01", csrf_token=csrf_token(client)))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "任务编号应为 18 位数字" in html and "结束日期不能早于开始日期" in html
    ok = client.post("/admin/tasks/new", data=dict(plan_id=plan.id, code="411421202604010001", title="联合抽查",
                                                    period_start="2026-04-01", period_end="2026-06-30", surprise="1",
                                                    departments=[other.id], inspectors_per_target="1",
                                                    csrf_token=csrf_token(client)))
    assert ok.status_code == 303
    task = db.session.execute(select(Task)).scalar_one()
    assert task.surprise and task.is_joint and task.inspectors_per_target == {"TP": 1, "TQ": 1} and task.year == 2026
    assert f"/admin/tasks/{task.id}/draw" in client.get(f"/admin/tasks/{task.id}").get_data(as_text=True)


def test_inspector_id_card_stays_out_of_journal(app, db, client, login, csrf_token):
    dept = f.department()
    login(client, f.user("clerk", dept))
    r = client.post("/admin/inspectors/new", data=dict(name="张三", licence_no="41142100099999",
                                                        id_card_no="11010519491231002X", active="1",
                                                        csrf_token=csrf_token(client)))
    assert r.status_code == 303
    event = db.session.execute(select(AuditEvent).where(AuditEvent.record_kind == "inspector")).scalar_one()
    assert "11010519491231002X" not in str(event.after) and event.after["id_card_no"] == "已填写"


def test_per_item_findings_on_joint_task(app, db, client, login, csrf_token):
    dept = f.department()
    i1, i2 = f.check_item(dept, name="食品经营"), f.check_item(dept, name="计量器具")
    task = f.task(dept, items=[i1, i2])
    ent = f.entity()
    f.draw(task, [ent], drawn_at=DRAWN)
    res = f.result(task, ent, publish=False)
    login(client, f.user("clerk", dept))
    data = dict(task_id=task.id, entity_uscc=ent.uscc, formed_date="2025-05-10", conclusions=["C05"],
                **{f"finding_{i1.id}": "进货查验记录不全，已责令改正", f"finding_{i2.id}": ""},
                csrf_token=csrf_token(client))
    assert client.post(f"/admin/results/{res.id}", data=data).status_code == 303
    db.session.expire_all()
    res = db.session.get(Result, res.id)
    assert [(x.check_item_id, x.text) for x in res.findings] == [(i1.id, "进货查验记录不全，已责令改正")]
    assert "分项检查情况：" in client.get(f"/admin/results/{res.id}").get_data(as_text=True)


def test_penalty_list_filters_by_lifecycle_status(app, db, client, login):
    dept = f.department()
    clerk = f.user("clerk", dept)
    f.penalty(dept, decision_no="民市监罚〔2025〕801号")
    f.penalty(dept, decision_no="民市监罚〔2025〕802号", publish=False)
    db.session.commit()
    login(client, clerk)
    drafts = client.get("/admin/penalties?status=draft").get_data(as_text=True)
    assert "802号" in drafts and "801号" not in drafts
    published = client.get("/admin/penalties?status=published").get_data(as_text=True)
    assert "801号" in published and "802号" not in published
    everything = client.get("/admin/penalties?status=bogus").get_data(as_text=True)
    assert "801号" in everything and "802号" in everything
