"""Department scope: clerk A cannot read or change department B's records by URL, form field or hx-vals."""
from sqlalchemy import select

import factories as f
from portal.lifecycle import snapshot
from portal.models import Penalty, Result, Status


def _setup(db):
    a, b = f.department(code="DA"), f.department(code="DB")
    task_a, task_b = f.task(a), f.task(b)
    ent = f.entity()
    res_b = f.result(task_b, ent, publish=False, remark="B 的草稿")
    pen_b = f.penalty(b, publish=False)
    clerk_a = f.user("clerk", a)
    return a, b, task_a, task_b, ent, res_b, pen_b, clerk_a


def test_clerk_cannot_read_or_change_other_department(app, db, client, login, csrf_token):
    a, b, task_a, task_b, ent, res_b, pen_b, clerk_a = _setup(db)
    before_res, before_pen = snapshot("result", res_b), snapshot("penalty", pen_b)
    login(client, clerk_a)
    token = csrf_token(client)
    assert client.get(f"/admin/results/{res_b.id}").status_code == 404
    assert client.get(f"/admin/penalties/{pen_b.id}").status_code == 404
    assert client.get(f"/admin/tasks/{task_b.id}").status_code == 404
    assert "B 的草稿" not in client.get("/admin/results").get_data(as_text=True)
    assert pen_b.decision_no not in client.get("/admin/penalties").get_data(as_text=True)
    form = dict(task_id=task_b.id, entity_uscc=ent.uscc, formed_date="2025-05-10", conclusions=["C02"],
                remark="改掉", csrf_token=token)
    assert client.post(f"/admin/results/{res_b.id}", data=form).status_code == 404
    assert client.post(f"/admin/results/{res_b.id}/publish", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/penalties/{pen_b.id}/withhold",
                       data={"csrf_token": token, "reason": "个人隐私"}).status_code == 404
    # Forged references in a create form: another department's task, a department_id, via hx-vals too.
    assert client.post("/admin/results/new", data=form).status_code == 403
    forged = dict(form, task_id=task_a.id, department_id=b.id)
    assert client.post("/admin/results/new", data=forged).status_code == 403
    assert client.post("/admin/results/new", data=forged, headers={"HX-Request": "true"}).status_code == 403
    pen_form = dict(decision_no="伪造〔2025〕1号", party_name="x", party_kind="organisation", categories=["警告"],
                    decision_date="2025-05-01", department_id=b.id, csrf_token=token)
    assert client.post("/admin/penalties/new", data=pen_form).status_code == 403
    pen_form = dict(pen_form, department_id=a.id, task_id=task_b.id)
    assert client.post("/admin/penalties/new", data=pen_form).status_code == 403
    db.session.expire_all()
    assert snapshot("result", db.session.get(Result, res_b.id)) == before_res
    assert snapshot("penalty", db.session.get(Penalty, pen_b.id)) == before_pen
    assert db.session.get(Result, res_b.id).status is Status.DRAFT
    assert db.session.execute(select(Result).where(Result.task_id == task_a.id)).first() is None
    assert db.session.execute(select(Penalty).where(Penalty.decision_no == "伪造〔2025〕1号")).first() is None


def test_joint_task_clerk_records_own_part(app, db, client, login, csrf_token):
    a, b = f.department(code="JA"), f.department(code="JB")
    joint = f.task(a, departments=[a, b], inspectors_per_target={"JA": 1, "JB": 1})
    ent = f.entity()
    clerk_b = f.user("clerk", b)
    lead_result = f.result(joint, ent, publish=False)  # department a's part
    login(client, clerk_b)
    assert client.get(f"/admin/tasks/{joint.id}").status_code == 200  # participants read the joint task
    html = client.get(f"/admin/tasks/{joint.id}").get_data(as_text=True)
    assert 'id="record-form"' not in html  # but only the lead department edits it
    assert client.get(f"/admin/results/{lead_result.id}").status_code == 404
    ent2 = f.entity()
    db.session.commit()
    r = client.post("/admin/results/new", data=dict(task_id=joint.id, entity_uscc=ent2.uscc, formed_date="2025-05-10",
                                                     conclusions=["C01"], accept_warnings="1",  # not drawn: confirmed
                                                     csrf_token=csrf_token(client)))
    assert r.status_code == 303
    mine = db.session.execute(select(Result).where(Result.entity_id == ent2.id)).scalar_one()
    assert mine.department_id == b.id
    token = csrf_token(client)
    r = client.post(f"/admin/tasks/{joint.id}", data=dict(code=joint.code, title="改名", period_start="2025-04-01",
                                                          period_end="2025-06-30", csrf_token=token))
    assert r.status_code == 403


def test_admin_sees_all_and_auditor_writes_nothing(app, db, client, login, csrf_token):
    a, b, task_a, task_b, ent, res_b, pen_b, clerk_a = _setup(db)
    login(client, f.user("auditor"))
    assert client.get(f"/admin/results/{res_b.id}").status_code == 200
    token = csrf_token(client)
    assert client.post(f"/admin/results/{res_b.id}/publish", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/results/{res_b.id}", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Result, res_b.id).status is Status.DRAFT


def test_clerk_exports_only_own_department(app, db, client, login):
    a, b = f.department(code="EA"), f.department(code="EB")
    mine = f.penalty(a, decision_no="甲罚〔2025〕1号")
    theirs = f.penalty(b, decision_no="乙罚〔2025〕1号")
    login(client, f.user("clerk", a))
    response = client.get("/admin/penalties.csv")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv" and body.startswith("\ufeff")
    assert mine.decision_no in body and theirs.decision_no not in body
    assert body.splitlines()[0] == "\ufeff记录编号,文号,当事人,处罚类别,决定日期,公示截止,状态"
