"""Every back-office page renders for the roles allowed to see it."""
import pytest

import factories as f


def _fill(db):
    dept = f.department(code="SCJG")
    item = f.check_item(dept)
    plan = f.plan(dept)
    task = f.task(dept, plan=plan, items=[item])
    ent = f.entity()
    insp = f.inspector(dept, specialties=[item])
    res = f.result(task, ent)
    pen = f.penalty(dept, ent)
    return dict(dept=dept, item=item, plan=plan, task=task, ent=ent, insp=insp, res=res, pen=pen)


PAGES = ["/admin/", "/admin/results", "/admin/results/new", "/admin/results/{res.id}", "/admin/penalties",
         "/admin/penalties/new", "/admin/penalties/{pen.id}", "/admin/plans", "/admin/plans/new", "/admin/plans/{plan.id}",
         "/admin/tasks", "/admin/tasks/new", "/admin/tasks/{task.id}", "/admin/items", "/admin/items/new",
         "/admin/items/{item.id}", "/admin/entities", "/admin/entities/new", "/admin/entities/{ent.id}",
         "/admin/inspectors", "/admin/inspectors/new", "/admin/inspectors/{insp.id}", "/admin/password"]
ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/vocabularies", "/admin/audit"]


@pytest.mark.parametrize("role", ["admin", "clerk"])
def test_pages_render(app, db, client, login, role):
    rows = _fill(db)
    user = f.user(role, rows["dept"] if role == "clerk" else None)
    login(client, user)
    for path in PAGES + (ADMIN_PAGES if role == "admin" else []):
        url = path.format(**rows)
        response = client.get(url)
        # The shared directory is the administrators' by default (DIRECTORY_ENTITY_EDITORS).
        expected = 403 if (role, path) == ("clerk", "/admin/entities/new") else 200
        assert response.status_code == expected, (url, response.status_code)
        if expected == 200:
            assert "退出登录" in response.get_data(as_text=True)


def test_auditor_reads_but_gets_no_forms(app, db, client, login):
    rows = _fill(db)
    login(client, f.user("auditor"))
    for path in ["/admin/", "/admin/results", "/admin/results/{res.id}", "/admin/penalties/{pen.id}", "/admin/audit"]:
        response = client.get(path.format(**rows))
        assert response.status_code == 200, path
    html = client.get(f"/admin/results/{rows['res'].id}").get_data(as_text=True)
    assert 'id="record-form"' not in html and "公开操作" not in html
    assert client.get("/admin/results/new").status_code == 403
    assert client.get("/admin/users").status_code == 403
