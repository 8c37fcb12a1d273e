"""Back-office CSV exports: every section downloads its complete, exact rows.

The requests go through a second app whose requests push (and tear down) their own app
context, as under gunicorn: a streamed body then outlives the request's database session,
which is what broke these exports (DetachedInstanceError after the BOM).
"""
from datetime import date

import pytest

import factories as f
from conftest import make_app
from portal.extensions import db as _db

NOW = "2026-03-02T02:00:00+00:00"


@pytest.fixture
def served(app, database_url, instance_dir):
    """A client of an app with no outer app context (like a real worker), clock fixed at NOW."""
    worker = make_app(database_url, instance_dir, FIXED_NOW=NOW)
    yield worker.test_client()
    with worker.app_context():
        _db.engine.dispose()


@pytest.fixture
def records(app, db):
    dept = f.department(code="EXA", name="出口测试局")
    item = f.check_item(dept, code="EXI01", name="食品经营检查")
    plan = f.plan(dept, year=2026, title="2026年度出口测试计划", approval=date(2026, 1, 5))
    task = f.task(dept, plan, code="411421202601060001", title="食品经营专项", items=[item],
                  period=(date(2026, 1, 6), date(2026, 2, 27)))
    ent = f.entity(name="民权县出口商贸有限公司", uscc=f.make_uscc(9101))
    insp = f.inspector(dept, name="王检查", licence_no="41142199001")
    f.draw(task, [ent], [insp], drawn_at=f.T0.replace(year=2026, month=1, day=6))
    res = f.result(task, ent, formed=date(2026, 1, 20), conclusions=[("C03", "公示信息隐瞒真实情况、弄虚作假")],
                   publish=False)
    pen = f.penalty(dept, ent, decision_no="民市监罚〔2026〕1号", categories=("警告", "罚款"), fine="3000.00",
                    decided=date(2026, 1, 22), publicity_end=date(2026, 4, 22))
    admin = f.user("admin", username="export-admin")
    db.session.commit()
    return dict(dept=dept, item=item, plan=plan, task=task, ent=ent, insp=insp, res=res, pen=pen, admin=admin)


def _csv(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    return body[1:].split("\r\n")


def test_every_section_exports_its_exact_rows(records, served, login):
    r = records
    login(served, r["admin"])
    expected = {
        "results": ["记录编号,任务,检查对象,结论,结果形成日期,状态",
                    f"{r['res'].id},411421202601060001,民权县出口商贸有限公司,公示信息隐瞒真实情况、弄虚作假,2026-01-20,草稿"],
        "penalties": ["记录编号,文号,当事人,处罚类别,决定日期,公示截止,状态",
                      f"{r['pen'].id},民市监罚〔2026〕1号,民权县出口商贸有限公司,警告、罚款,2026-01-22,2026-04-22,已发布"],
        "plans": ["记录编号,年度,名称,牵头部门,批准日期,状态",
                  f"{r['plan'].id},2026,2026年度出口测试计划,出口测试局,2026-01-05,已发布"],
        "tasks": ["记录编号,编号,名称,牵头部门,检查期间,类型,状态",
                  f"{r['task'].id},411421202601060001,食品经营专项,出口测试局,2026-01-06 至 2026-02-27,—,已发布"],
        "items": ["记录编号,编码,名称,部门,版本,状态", f"{r['item'].id},EXI01,食品经营检查,出口测试局,1,已发布"],
        "inspectors": ["记录编号,姓名,执法证号,部门,在岗", f"{r['insp'].id},王检查,41142199001,出口测试局,是"],
        "entities": ["记录编号,统一社会信用代码,名称,类型,状态,风险分类",
                     f"{r['ent'].id},{r['ent'].uscc},民权县出口商贸有限公司,企业,存续,B"],
    }
    for url, lines in expected.items():
        assert _csv(served, f"/admin/{url}.csv") == lines + [""], url


def test_deadlines_export_lists_the_overdue_draft_result(records, served, login):
    login(served, records["admin"])
    lines = _csv(served, "/admin/deadlines.csv")
    assert lines[0] == "类别,部门,记录类型,记录,检查对象,统一社会信用代码,起算日期,应公示日期,是否预估,工作日,处理链接"
    assert lines[1:] == [
        f"逾期未公示,出口测试局,检查结果,411421202601060001 民权县出口商贸有限公司,民权县出口商贸有限公司,"
        f"{records['ent'].uscc},2026-01-20,2026-02-24,否,5,http://localhost/admin/results/{records['res'].id}",
        "",
    ]


def test_export_keeps_the_list_filters_and_the_clerk_scope(records, served, login, db):
    other = f.department(code="EXB", name="其他局")
    f.penalty(other, decision_no="乙罚〔2026〕9号")
    clerk = f.user("clerk", records["dept"], username="export-clerk")
    db.session.commit()
    login(served, clerk)
    lines = _csv(served, "/admin/penalties.csv")
    assert [line.split(",")[1] for line in lines[1:-1]] == ["民市监罚〔2026〕1号"]
    assert _csv(served, "/admin/penalties.csv?status=draft") == ["记录编号,文号,当事人,处罚类别,决定日期,公示截止,状态", ""]
