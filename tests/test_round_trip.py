"""A department's own open-data files, uploaded back unchanged, give 0 errors and 0 changes.

End to end, as a clerk does it: download /results.csv?dept=… and /penalties.csv?dept=…, upload each
on /admin/uploads, read the preview, confirm; then nothing in the database has changed. The data
covers what the public version shows differently from what is stored (an individual business
under its trade name, a penalty linked to a task the public may not see), vocabulary labels that
contain "、" (C03, C10), several inspectors, a joint task's items and masked remarks.
"""
import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

import factories as f
from portal.extensions import db as _db
from portal.models import AuditEvent, EntityType, Penalty, RecordVersion, Result
from portal.validation.loading import penalty_snapshot, result_snapshot
from test_import_upload import confirm_form, page_text, upload

NOW = "2025-07-01T02:00:00+00:00"
DRAWN = datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def department(app, set_now):
    set_now(NOW)
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="RT01", name="往返测试局")
    other = f.department(code="RT02", name="联合部门")
    i1, i2 = f.check_item(dept, code="RT-A", name="食品销售检查"), f.check_item(other, code="RT-B", name="计量器具检查")
    joint = f.task(dept, code="411421202504010001", items=[i1, i2], departments=[dept, other])
    plain = f.task(dept, code="411421202504010002", items=[i1])
    hidden = f.task(dept, code="411421202504010003", items=[i1])
    hidden.withheld, hidden.withheld_reason = True, "国家秘密"
    shop = f.entity(name="民权县老王副食店", entity_type=EntityType.INDIVIDUAL, operator_name="王大明")
    companies = [f.entity(name=f"民权县往返商贸有限公司{i}") for i in range(5)]
    a, b = f.inspector(dept, licence_no="4114219900001"), f.inspector(dept, licence_no="4114219900002")
    f.draw(joint, companies[:2] + [shop], [a, b], drawn_at=DRAWN)
    f.draw(plain, companies[2:4], [a], drawn_at=DRAWN)
    f.draw(hidden, companies[4:], [a], drawn_at=DRAWN)
    f.result(joint, companies[0], formed=date(2025, 5, 10), conclusions=[("C03", "公示信息隐瞒真实情况、弄虚作假"),
                                                                          ("C05", "发现问题已责令改正")],
             remark="负责人电话138****5678，已责令改正", inspectors=[a, b], verification_method="书面核查")
    f.result(joint, shop, formed=date(2025, 5, 12), conclusions=[("C10", "已注销、被吊销或被撤销")],
             follow_up="列入经营异常名录", inspectors=[b])
    f.result(plain, companies[2], formed=date(2025, 5, 15), remark="经检查未发现问题，另见“说明”, 含逗号")
    f.result(plain, companies[3], formed=date(2025, 6, 3), remark=None, follow_up=None)
    # Its task is withheld: the public file shows no task code; its 记录编号 finds the task.
    f.result(hidden, companies[4], formed=date(2025, 6, 4))
    f.penalty(dept, shop, decision_no="民市监罚〔2025〕11号", party_name="王大明", party_kind="natural_person",
              categories=("警告", "罚款"), fine="3000.00", decided=date(2025, 5, 20), task=plain)
    f.penalty(dept, None, decision_no="民市监罚〔2025〕12号", party_name="李小红", party_kind="natural_person",
              categories=("罚款", "没收违法所得"), fine="500.00", confiscation_amount=320, decided=date(2025, 5, 21),
              publicity_end=date(2025, 8, 21))
    f.penalty(dept, companies[1], decision_no="民市监罚〔2025〕13号", categories=("通报批评",), fine=None,
              decided=date(2025, 5, 22), task=hidden, violation_type="未按规定公示年度报告")
    clerk = f.user("clerk", dept, username="rt-clerk")
    _db.session.commit()
    return dict(dept=dept, clerk=clerk)


def _state():
    _db.session.expire_all()
    results = {r.id: result_snapshot(r) for r in _db.session.execute(select(Result)).scalars()}
    penalties = {p.id: (penalty_snapshot(p), p.publicity_end, p.version, p.status)
                 for p in _db.session.execute(select(Penalty)).scalars()}
    return results, penalties, _db.session.execute(select(func.count(RecordVersion.id))).scalar()


@pytest.mark.parametrize("kind, rows", [("results", 5), ("penalties", 3)])
def test_own_open_data_file_uploads_back_with_no_errors_and_no_changes(department, client, login, kind, rows):
    login(client, department["clerk"])
    data = client.get(f"/{kind}.csv?dept=RT01").get_data()
    assert data.decode("utf-8").count("\r\n") == rows + 1
    if kind == "results":  # one row's task is not public: no task code, only its 记录编号
        assert len(re.findall(r"\r\n\d+,,9", data.decode("utf-8"))) == 1
    before = _state()
    preview = upload(client, f"{kind}.csv", kind=kind, data=data)
    text = page_text(preview)
    assert preview.status_code == 200, text[-1500:]
    assert f"数据行： {rows} 新增： 0 更新： 0 未变化： {rows} 有错误的行： 0 有警告的行： 0" in text
    assert "问题清单" not in text  # no error and no warning at all
    assert "以下列是公开数据文件" in text and "公示时间" in text.split("导入时不读取：")[1]
    events = _db.session.execute(select(func.max(AuditEvent.id))).scalar() or 0  # sign-ins are not chain events
    response = client.post("/admin/uploads/confirm", data=confirm_form(preview))
    assert response.status_code == 303
    done = page_text(client.get(response.headers["Location"]))
    assert f"新增 0，更新 0，未变化 {rows}" in done
    assert _state() == before
    actions = _db.session.execute(select(AuditEvent.action).where(AuditEvent.id > events)).scalars().all()
    assert actions == ["import"]  # no update, no correction


def test_the_public_form_of_a_value_changes_nothing_but_a_real_edit_still_does(department, client, login):
    """The trade name shown for an individual business keeps the stored party name; editing it is a change."""
    login(client, department["clerk"])
    text = client.get("/penalties.csv?dept=RT01").get_data().decode("utf-8")
    assert "民权县老王副食店" in text and "王大明" not in text
    edited = text.replace("民权县老王副食店", "王大明（更正）")
    preview = upload(client, "penalties.csv", kind="penalties", data=edited.encode("utf-8"))
    assert "数据行： 3 新增： 0 更新： 1 未变化： 2" in page_text(preview)
