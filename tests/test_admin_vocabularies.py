"""Administrators edit the code lists; clerks' forms follow them."""
from sqlalchemy import select

import factories as f
from portal.models import VocabularyTerm


def test_admin_adds_renames_and_deactivates_terms(app, db, client, login, csrf_token):
    login(client, f.user("admin"))
    html = client.get("/admin/vocabularies?kind=conclusion").get_data(as_text=True)
    assert "C01" in html and "未发现问题" in html  # defaults loaded on first visit
    r = client.post("/admin/vocabularies", data={"kind": "conclusion", "code": "C11", "label": "新增结论",
                                                 "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    dup = client.post("/admin/vocabularies", data={"kind": "conclusion", "code": "C11", "label": "x",
                                                   "csrf_token": csrf_token(client)})
    assert dup.status_code == 422 and "该代码已存在" in dup.get_data(as_text=True)
    term = db.session.execute(select(VocabularyTerm).where(VocabularyTerm.code == "C11")).scalar_one()
    client.post(f"/admin/vocabularies/{term.id}", data={"label": "改名后的结论", "csrf_token": csrf_token(client)})
    c02 = db.session.execute(select(VocabularyTerm).where(VocabularyTerm.code == "C02")).scalar_one()
    client.post(f"/admin/vocabularies/{c02.id}", data={"active": "0", "csrf_token": csrf_token(client)})
    db.session.expire_all()
    assert db.session.get(VocabularyTerm, term.id).label == "改名后的结论"
    assert db.session.get(VocabularyTerm, c02.id).active is False
    form = client.get("/admin/results/new").get_data(as_text=True)
    assert "改名后的结论" in form and "未按规定公示应当公示的信息" not in form


def test_dashboard_shows_own_department_drafts(app, db, client, login):
    a, b = f.department(), f.department()
    f.plan(a, title="甲部门草稿计划", publish=False)
    f.plan(b, title="乙部门草稿计划", publish=False)
    f.penalty(a, decision_no="甲草稿〔2025〕9号", publish=False)
    login(client, f.user("clerk", a))
    html = client.get("/admin/").get_data(as_text=True)
    assert "甲部门草稿计划" in html and "甲草稿〔2025〕9号" in html and "乙部门草稿计划" not in html
    assert "抽查计划：<strong>1</strong>" in html and "行政处罚：<strong>1</strong>" in html
