"""Clerk screens for the draw: /admin/tasks/<id>/draw and its POSTs."""
import factories as f
from conftest import extract_csrf
from sqlalchemy import func, select

from portal.models import Draw, DrawSelection, DrawSubstitution, Inspector, RiskClass, Task


def _setup(db, n_entities=20):
    dept = f.department(code="SCJG")
    for i in range(n_entities):
        f.entity(risk=[RiskClass.A, RiskClass.B, RiskClass.C, RiskClass.D][i % 4])
    for _ in range(4):
        f.inspector(dept)
    task = f.task(dept, strata=[{"stratum": "D", "ratio": "0.5"}, {"stratum": "C", "count": 2}])
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    return dept, task, clerk


def _token(client, task):
    return extract_csrf(client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True))


def test_anonymous_is_sent_to_login_and_other_departments_get_404(db, client, login):
    dept, task, clerk = _setup(db)
    response = client.get(f"/admin/tasks/{task.id}/draw")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    other = f.user("clerk")
    login(client, other)
    assert client.get(f"/admin/tasks/{task.id}/draw").status_code == 404
    token = extract_csrf(client.get("/admin/").get_data(as_text=True))
    assert client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token}).status_code == 404


def test_auditor_reads_but_cannot_lock(db, client, login):
    dept, task, clerk = _setup(db)
    auditor = f.user("auditor")
    login(client, auditor)
    page = client.get(f"/admin/tasks/{task.id}/draw")
    assert page.status_code == 200 and "锁定候选名单" in page.get_data(as_text=True)
    token = extract_csrf(page.get_data(as_text=True))
    assert client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token}).status_code == 403
    assert db.session.execute(select(func.count(Draw.id))).scalar() == 0


def test_clerk_locks_draws_publishes_and_substitutes(db, client, login):
    dept, task, clerk = _setup(db)
    login(client, clerk)
    page = client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True)
    assert "候选名单共 <strong>20</strong> 户" in page and "将抽取 <strong>5</strong> 户" in page
    token = extract_csrf(page)
    response = client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token})
    assert response.status_code == 303
    draw = db.session.execute(select(Draw)).scalar_one()
    page = client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True)
    assert draw.pool_hash in page and draw.commitment in page and draw.nonce not in page

    # missing entropy: clear error, nothing drawn
    response = client.post(f"/admin/draws/{draw.id}/perform", data={"csrf_token": token, "witness_name": ["张三"],
                                                                    "witness_org": ["纪检组"], "public_entropy": ""})
    assert response.status_code == 303
    assert "请由见证人输入公开随机数" in client.get(response.headers["Location"]).get_data(as_text=True)
    response = client.post(f"/admin/draws/{draw.id}/perform", data={
        "csrf_token": token, "witness_name": ["张三", "", ""], "witness_org": ["县纪委监委派驻纪检组", "", ""],
        "public_entropy": "福彩3D 2025150 期 4 7 1"})
    assert response.status_code == 303
    db.session.expire_all()
    draw = db.session.get(Draw, draw.id)
    assert draw.drawn_at is not None and len(draw.selections) == 5
    assert [w.name for w in draw.witnesses] == ["张三"]
    # Performed means published: no publish step, no "未公示" state, the certificate is public at once.
    assert draw.status.value == "published" and draw.published_at == draw.locked_at
    page = client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True)
    assert "已抽取并公示" in page and "publish-button" not in page and "已抽取，未公示" not in page
    assert client.post(f"/admin/draws/{draw.id}/publish", data={"csrf_token": token}).status_code == 404
    assert client.application.test_client().get(f"/draws/{draw.id}").status_code == 200  # anonymous

    sel = db.session.execute(select(DrawSelection).where(DrawSelection.draw_id == draw.id)).scalars().first()
    old = sel.assignments[0].licence_no
    current = {a.licence_no for a in sel.assignments}
    new = next(i.licence_no for i in db.session.execute(select(Inspector)).scalars() if i.licence_no not in current)
    response = client.post(f"/admin/draws/{draw.id}/substitute", data={
        "csrf_token": token, "selection_id": sel.id, "old_licence": old, "new_licence": new, "reason": ""})
    assert db.session.execute(select(func.count(DrawSubstitution.id))).scalar() == 0
    response = client.post(f"/admin/draws/{draw.id}/substitute", data={
        "csrf_token": token, "selection_id": sel.id, "old_licence": old, "new_licence": new, "reason": "回避"})
    assert response.status_code == 303
    assert db.session.execute(select(func.count(DrawSubstitution.id))).scalar() == 1

    # a redraw needs a reason; with one, a second draw exists and the first stays
    client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token})
    assert db.session.execute(select(func.count(Draw.id))).scalar() == 1
    client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token, "reason": "见证人提出异议"})
    assert db.session.execute(select(func.count(Draw.id))).scalar() == 2


def test_settings_and_htmx_preview(db, client, login):
    dept, task, clerk = _setup(db)
    login(client, clerk)
    token = _token(client, task)
    preview = client.get(f"/admin/tasks/{task.id}/draw/preview?stratum=D&mode=ratio&value=100%25&stratum=A&mode=count"
                         f"&value=1&ipt_SCJG=2&stratify_by=risk_class", headers={"HX-Request": "true"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and html.lstrip().startswith('<div id="pool-preview"')
    assert "将抽取 <strong>6</strong> 户" in html  # D: 5 of 5, A: 1
    bad = client.get(f"/admin/tasks/{task.id}/draw/preview?stratum=D&mode=ratio&value=abc&ipt_SCJG=2",
                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "不是有效的数字或百分比" in bad
    response = client.post(f"/admin/tasks/{task.id}/draw/settings", data={
        "csrf_token": token, "entity_types": ["企业"], "regions": "411400", "industries": "", "tags": "",
        "stratify_by": "risk_class", "stratum": ["D", "B", ""], "mode": ["ratio", "count", "ratio"],
        "value": ["30%", "3", ""], "ipt_SCJG": "3"})
    assert response.status_code == 303
    db.session.expire_all()
    saved = db.session.get(Task, task.id)
    assert saved.strata == [{"stratum": "D", "ratio": "0.3"}, {"stratum": "B", "count": 3}]
    assert saved.scope == {"entity_types": ["企业"], "regions": ["411400"], "statuses": ["存续"]}
    assert saved.inspectors_per_target == {"SCJG": 3}
