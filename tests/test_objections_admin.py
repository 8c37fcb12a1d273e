"""Right of reply, clerk side: the department's queue, claiming, deciding (维持/更正/撤回, credit repair),
attachments, department scope by every route, audit events, and handling deadlines with an injected clock."""
from datetime import date

import pytest
from sqlalchemy import select

import factories as f
from conftest import extract_csrf
from objection_support import ATTACHMENT_NAME, PDF, PHONE, file_case, text, token_of, world
from portal.lifecycle import snapshot
from portal.models import AuditEvent, CaseStatus, Objection, Outcome, Penalty, Result, Status

NOW = "2025-11-20T02:00:00+00:00"


@pytest.fixture
def w(app, db, set_now):
    set_now(NOW)
    data = world()
    db.session.commit()
    return data


@pytest.fixture
def filed(w, client, db):
    """An objection with a PDF on department A's result, filed anonymously; returns (case, token)."""
    response = file_case(client, w["result"], files=[(ATTACHMENT_NAME, PDF)])
    token = token_of(response)
    case = db.session.execute(select(Objection)).scalar_one()
    return case, token


def _token(client):
    return extract_csrf(text(client.get("/admin/")))


def _actions(db, case_id):
    db.session.expire_all()
    return [e.action for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.record_kind == "objection", AuditEvent.record_id == case_id).order_by(AuditEvent.id)).scalars()]


def test_the_departments_clerk_sees_the_new_objection_on_the_dashboard_and_in_the_queue(w, filed, app, login):
    case, _ = filed
    client = app.test_client()
    login(client, w["clerk_a"])
    dashboard = text(client.get("/admin/"))
    assert 'id="objection-panel"' in dashboard and 'data-count="received">1<' in dashboard
    assert case.receipt_no in dashboard
    queue = client.get("/admin/objections")
    assert queue.status_code == 200 and case.receipt_no in text(queue)
    assert "检查结果：" in text(queue) and "2025-12-11" in text(queue)  # 15 working days after 2025-11-20
    fragment = client.get("/admin/objections?status=received&record_kind=result", headers={"HX-Request": "true"})
    assert text(fragment).startswith('<div id="objection-queue"') and case.receipt_no in text(fragment)
    assert case.receipt_no not in text(client.get("/admin/objections?record_kind=penalty"))
    assert case.receipt_no not in text(client.get("/admin/objections?status=decided"))
    bad = client.get("/admin/objections?status=lost")
    assert bad.status_code == 400 and "筛选条件有误：状态“lost”无效。" in text(bad)
    detail = text(client.get(f"/admin/objections/{case.id}"))
    assert PHONE in detail and "ZXQ-UNIQUE-7731" in detail and ATTACHMENT_NAME in detail


def test_the_clerk_downloads_the_attachment_safely(w, filed, app, login):
    case, _ = filed
    client = app.test_client()
    login(client, w["clerk_a"])
    attachment = case.attachments[0]
    response = client.get(f"/admin/objections/{case.id}/attachments/{attachment.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"attachment-{attachment.id}.pdf\"; "
        "filename*=UTF-8''%E6%9C%BA%E5%AF%86%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%E6%89%AB%E6%8F%8F%E4%BB%B6.pdf")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get(f"/admin/objections/{case.id}/attachments/{attachment.id + 1}").status_code == 404


def test_admins_and_auditors_read_the_case_but_only_the_departments_clerks_get_the_file(w, filed, app, login):
    case, _ = filed
    for role in ("admin", "auditor"):
        client = app.test_client()
        login(client, f.user(role))
        assert client.get(f"/admin/objections/{case.id}").status_code == 200
        refused = client.get(f"/admin/objections/{case.id}/attachments/{case.attachments[0].id}")
        assert refused.status_code == 403 and "仅限承办部门的业务人员查看" in text(refused)
    auditor = app.test_client()
    login(auditor, f.user("auditor"))
    token = _token(auditor)
    assert auditor.post(f"/admin/objections/{case.id}/decide",
                        data={"outcome": "maintained", "reason": "无误", "csrf_token": token}).status_code == 403
    assert auditor.post("/admin/objections/claim", data={"case_id": case.id, "csrf_token": token}).status_code == 403


def test_another_departments_clerk_gets_404_by_every_route(w, filed, app, db, login):
    case, token = filed
    client = app.test_client()
    login(client, w["clerk_b"])
    csrf = _token(client)
    attachment = case.attachments[0].id
    assert case.receipt_no not in text(client.get("/admin/"))
    assert case.receipt_no not in text(client.get("/admin/objections?status=all"))
    found = text(client.get(f"/admin/objections?q={case.receipt_no}", headers={"HX-Request": "true"}))
    assert "共 <strong>0</strong> 件" in found and case.receipt_no not in found
    assert case.receipt_no not in text(client.get("/admin/deadlines"))
    # By URL.
    assert client.get(f"/admin/objections/{case.id}").status_code == 404
    assert client.get(f"/admin/objections/{case.id}/attachments/{attachment}").status_code == 404
    for outcome in ("maintained", "corrected", "withdrawn", "approved"):
        response = client.post(f"/admin/objections/{case.id}/decide",
                               data={"outcome": outcome, "reason": "越权处理", "csrf_token": csrf})
        assert response.status_code == 404, outcome
    # By form field, and by hx-vals (the same field sent by htmx).
    assert client.post("/admin/objections/claim", data={"case_id": case.id, "csrf_token": csrf}).status_code == 404
    assert client.post("/admin/objections/claim", data={"case_id": str(case.id)},
                       headers={"HX-Request": "true", "X-CSRFToken": csrf}).status_code == 404
    # An id too large for its column is refused at the request edge (portal/security.py) before any query.
    assert client.post("/admin/objections/claim", data={"case_id": "9" * 30, "csrf_token": csrf}).status_code == 400
    db.session.expire_all()
    fresh = db.session.get(Objection, case.id)
    assert (fresh.status, fresh.claimed_at, fresh.outcome) == (CaseStatus.RECEIVED, None, None)
    assert db.session.get(Result, w["result"].id).status is Status.PUBLISHED
    assert _actions(db, case.id) == ["objection_received"]


def test_claim_then_maintain_with_reasons(w, filed, app, db, login):
    case, token = filed
    client = app.test_client()
    login(client, w["clerk_a"])
    csrf = _token(client)
    claimed = client.post("/admin/objections/claim", data={"case_id": str(case.id)},
                          headers={"HX-Request": "true", "X-CSRFToken": csrf})
    assert claimed.status_code == 204 and claimed.headers["HX-Redirect"] == f"/admin/objections/{case.id}"
    again = client.post("/admin/objections/claim", data={"case_id": case.id, "csrf_token": csrf},
                        follow_redirects=True)
    assert "无需重复认领" in text(again)
    # A decision needs reasons; nothing changes without them.
    missing = client.post(f"/admin/objections/{case.id}/decide",
                          data={"outcome": "maintained", "reason": " ", "csrf_token": csrf})
    assert missing.status_code == 422 and "请填写答复意见。" in text(missing)
    assert db.session.get(Objection, case.id).status is CaseStatus.IN_REVIEW
    done = client.post(f"/admin/objections/{case.id}/decide",
                       data={"outcome": "maintained", "reason": "经核查，检查记录和台账一致，维持原结论。", "csrf_token": csrf})
    assert done.status_code == 303
    db.session.expire_all()
    fresh = db.session.get(Objection, case.id)
    assert (fresh.status, fresh.outcome, fresh.decided_by_id) == (CaseStatus.DECIDED, Outcome.MAINTAINED,
                                                                  w["clerk_a"].id)
    assert _actions(db, case.id) == ["objection_received", "objection_claimed", "objection_decided"]
    status_page = text(app.test_client().get(f"/objections/case/{token}"))
    for step in ("已受理", "工作人员开始核查", "已办结：维持", "答复意见：经核查，检查记录和台账一致，维持原结论。"):
        assert step in status_page
    public = text(app.test_client().get(f"/results/{w['result'].id}"))
    assert "当事人提出的异议已核查办结：维持原公示信息（2025-11-20 办结）" in public
    assert "经核查，检查记录和台账一致" not in public  # the answer goes to the filer, not the public
    late = client.post(f"/admin/objections/{case.id}/decide",
                       data={"outcome": "withdrawn", "reason": "改主意", "csrf_token": csrf}, follow_redirects=True)
    assert "该申请已办结，不能再次处理。" in text(late)
    assert db.session.get(Result, w["result"].id).status is Status.PUBLISHED


def test_correct_opens_the_records_correction_form_and_closes_when_saved(w, filed, app, db, login, set_now):
    case, token = filed
    result = w["result"]
    client = app.test_client()
    login(client, w["clerk_a"])
    csrf = _token(client)
    response = client.post(f"/admin/objections/{case.id}/decide", data={"outcome": "corrected", "csrf_token": csrf})
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/results/{result.id}"
    form_page = text(client.get(response.headers["Location"]))
    assert "保存后，异议 " + case.receipt_no + " 自动办结为“更正”" in form_page
    assert 'name="correction_reason"' in form_page
    db.session.expire_all()
    assert db.session.get(Objection, case.id).status is CaseStatus.CORRECTING
    assert "正在核查" in text(app.test_client().get(f"/results/{result.id}"))  # still open publicly
    set_now("2025-11-21T03:00:00+00:00")
    form = dict(task_id=w["task"].id, entity_uscc=w["entity"].uscc, formed_date="2025-05-10", conclusions=["C01"],
                remark="经复核，该单位台账完整，原说明有误，予以更正。", correction_reason="根据当事人异议核查更正",
                csrf_token=csrf)
    # (the test's target was never drawn for the task: the clerk confirms that warning, as the form asks)
    assert client.post(f"/admin/results/{result.id}", data={**form, "accept_warnings": "1"}).status_code == 303
    db.session.expire_all()
    fresh = db.session.get(Objection, case.id)
    assert (fresh.status, fresh.outcome, fresh.decision_reason) == (CaseStatus.DECIDED, Outcome.CORRECTED,
                                                                    "根据当事人异议核查更正")
    assert _actions(db, case.id) == ["objection_received", "objection_correcting", "objection_decided"]
    public = text(app.test_client().get(f"/results/{result.id}"))
    assert "更正于 2025-11-21 11:00" in public and "经复核，该单位台账完整" in public
    assert "当事人提出的异议已核查办结：已更正（2025-11-21 办结）" in public
    steps = text(app.test_client().get(f"/objections/case/{token}"))
    for step in ("已受理", "决定更正，正在更正该信息", "已办结：更正", "该信息已更正"):
        assert step in steps


def test_withdraw_uses_the_lifecycle_and_needs_a_reason(w, filed, app, db, login):
    case, _ = filed
    client = app.test_client()
    login(client, w["clerk_a"])
    csrf = _token(client)
    before = snapshot("result", w["result"])
    refused = client.post(f"/admin/objections/{case.id}/decide",
                          data={"outcome": "withdrawn", "reason": "", "csrf_token": csrf})
    assert refused.status_code == 422 and "请填写撤回原因。" in text(refused)
    db.session.expire_all()
    assert snapshot("result", db.session.get(Result, w["result"].id)) == before
    assert client.post(f"/admin/objections/{case.id}/decide",
                       data={"outcome": "withdrawn", "reason": "检查对象认定错误", "csrf_token": csrf}).status_code == 303
    db.session.expire_all()
    record = db.session.get(Result, w["result"].id)
    assert record.status is Status.WITHDRAWN and record.withdrawal_reason.startswith("检查对象认定错误（异议 ")
    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions[-2:] == ["withdraw", "objection_decided"]
    assert "该信息已于 2025-11-20 撤回" in text(app.test_client().get(f"/results/{w['result'].id}"))


# --- credit repair ----------------------------------------------------------------------------------------

def test_credit_repair_application_approved_ends_publicity(w, app, db, login, set_now):
    set_now("2026-06-02T02:00:00+00:00")  # the long-period penalty (published 2025-06-01) has served 12 months
    public = app.test_client()
    penalty = w["penalty"]
    page = text(public.get(f"/penalties/{penalty.id}"))
    assert f'href="/credit-repair/new?record=penalty-{penalty.id}"' in page
    grounds = ["fulfilled", "remedied", "no_repeat", "not_listed"]
    response = file_case(public, penalty, kind="credit_repair", record_kind="penalty", points=grounds,
                         statement="已于2025年6月缴清全部罚款并完成整改，申请提前停止公示。")
    assert response.status_code == 303
    token = token_of(response)
    assert "XF20260602" in text(public.get(f"/objections/case/{token}"))
    # A second application while the first is open is refused, and nothing is written.
    again = text(public.get(f"/credit-repair/new?record=penalty-{penalty.id}"))
    assert "已有信用修复申请正在办理" in again
    case = db.session.execute(select(Objection)).scalar_one()
    assert "正在核查" not in text(public.get(f"/penalties/{penalty.id}"))  # applications carry no public badge
    clerk = app.test_client()
    login(clerk, w["clerk_a"])
    csrf = _token(clerk)
    assert clerk.post(f"/admin/objections/{case.id}/decide",
                      data={"outcome": "approved", "reason": "材料齐全，符合信用修复条件。", "csrf_token": csrf}).status_code == 303
    db.session.expire_all()
    record = db.session.get(Penalty, penalty.id)
    assert record.credit_repair_date == date(2026, 6, 2)
    assert _actions(db, case.id) == ["objection_received", "objection_decided"]
    assert db.session.execute(select(AuditEvent.action).where(AuditEvent.record_kind == "penalty")
                              .order_by(AuditEvent.id.desc())).first()[0] == "credit_repair"
    tombstone = public.get(f"/penalties/{penalty.id}.json").get_json()
    assert tombstone == {"kind": "penalty", "id": penalty.id, "status": "publicity_ended",
                         "stopped_on": "2026-06-02", "ended_by": "credit_repair"}
    body = text(public.get(f"/penalties/{penalty.id}"))
    assert "该信息已于 2026-06-02 停止公示" in body and "当事人已完成信用修复，该信息提前停止公示。" in body
    assert "民市监罚〔2025〕77号" not in body
    assert "已办结：准予信用修复" in text(public.get(f"/objections/case/{token}"))


def test_credit_repair_refused_keeps_the_penalty_public(w, app, db, login, set_now):
    set_now("2026-06-02T02:00:00+00:00")
    public = app.test_client()
    response = file_case(public, w["penalty"], kind="credit_repair", record_kind="penalty",
                         points=["fulfilled", "remedied", "no_repeat", "not_listed"])
    token = token_of(response)
    case = db.session.execute(select(Objection)).scalar_one()
    clerk = app.test_client()
    login(clerk, w["clerk_a"])
    csrf = _token(clerk)
    assert clerk.post(f"/admin/objections/{case.id}/decide",
                      data={"outcome": "refused", "reason": "罚款尚未缴清。", "csrf_token": csrf}).status_code == 303
    assert db.session.get(Penalty, w["penalty"].id).credit_repair_date is None
    assert public.get(f"/penalties/{w['penalty'].id}.json").get_json()["decision_no"] == "民市监罚〔2025〕77号"
    assert "答复意见：罚款尚未缴清。" in text(public.get(f"/objections/case/{token}"))


def test_credit_repair_before_the_minimum_period_is_refused(w, client, db):
    # 2025-11-20: published 2025-06-01, the 12 months are not served yet.
    page = text(client.get(f"/penalties/{w['penalty'].id}"))
    assert "自公示之日起满 12 个月（2026-06-01 起）方可申请信用修复。" in page
    assert "credit-repair-link" not in page
    form = client.get(f"/credit-repair/new?record=penalty-{w['penalty'].id}")
    assert form.status_code == 200 and "暂不能在线申请" in text(form) and 'id="objection-form"' not in text(form)
    before = db.session.execute(select(Objection)).all()
    # A forged POST anyway (the page has no form, hence no token: public pages carry none without
    # a form, so take this session's token from the sign-in page).
    token = extract_csrf(client.get("/admin/login").get_data(as_text=True))
    response = file_case(client, w["penalty"], kind="credit_repair", record_kind="penalty", csrf=False,
                         csrf_token=token, points=["fulfilled", "remedied", "no_repeat", "not_listed"])
    assert response.status_code == 400 and "方可申请信用修复" in text(response)
    assert db.session.execute(select(Objection)).all() == before


def test_short_period_penalties_need_no_credit_repair(w, client, db, set_now):
    set_now("2026-01-20T02:00:00+00:00")
    short = f.penalty(w["a"], f.entity(), categories=("罚款",), fine="3000.00", decided=date(2025, 12, 1),
                      publicity_end=date(2026, 2, 28), at=f.T0.replace(year=2025, month=12, day=3))
    db.session.commit()
    assert "期满后自动停止公示，无需申请信用修复" in text(client.get(f"/penalties/{short.id}"))


# --- handling deadlines ---------------------------------------------------------------------------------

def test_an_undecided_objection_becomes_due_soon_then_overdue(w, filed, app, login, runner, set_now):
    case, _ = filed  # received 2025-11-20, due 2025-12-11 (15 working days)
    client = app.test_client()
    login(client, w["clerk_a"])
    set_now("2025-12-05T02:00:00+00:00")  # 4 working days left: not yet a warning
    assert 'data-count="objections_overdue">0<' in text(client.get("/admin/"))
    assert runner.invoke(args=["deadlines", "report", "--department", "OA"]).exit_code == 0
    set_now("2025-12-09T02:00:00+00:00")  # 2 working days left
    dashboard = text(client.get("/admin/"))
    assert 'data-count="objections_due_soon">1<' in dashboard and 'data-count="objection_due_soon">1<' in dashboard
    result = runner.invoke(args=["deadlines", "report", "--department", "OA"])
    assert result.exit_code == 0, result.output
    assert "异议和信用修复申请：逾期未办结 0 · 3个工作日内到期 1" in result.output
    assert f"异议\t{case.receipt_no} 检查结果" in result.output and "应于 2025-12-11 办结，剩余 2 个工作日" in result.output
    set_now("2025-12-12T02:00:00+00:00")  # one working day late
    dashboard = text(client.get("/admin/"))
    assert 'data-count="objections_overdue">1<' in dashboard and 'data-count="objection_overdue">1<' in dashboard
    assert "逾期未办结" in dashboard and case.receipt_no in dashboard
    queue = text(client.get("/admin/objections?overdue=1"))
    assert case.receipt_no in queue and "逾期 1 个工作日" in queue
    result = runner.invoke(args=["deadlines", "report"])
    assert result.exit_code == 1, result.output
    assert "逾期未公示 0 · 3个工作日内到期 0" in result.output
    assert "异议和信用修复申请：逾期未办结 1" in result.output
    assert "逾期未办结：应于 2025-12-11 办结，已逾期 1 个工作日" in result.output
    page = text(client.get("/admin/deadlines"))
    assert 'id="objections"' in page and case.receipt_no in page
    csv = client.get("/admin/deadlines.csv").get_data().decode("utf-8-sig")
    assert f"逾期未办结,民权县市场监督管理局,异议,{case.receipt_no} 检查结果" in csv
    # Another department's clerk is not warned about it.
    other = app.test_client()
    login(other, w["clerk_b"])
    assert 'data-count="objections_overdue">0<' in text(other.get("/admin/"))
    assert runner.invoke(args=["deadlines", "report", "--department", "OB"]).exit_code == 0


def test_a_decided_objection_is_no_longer_a_warning(w, filed, app, db, login, runner, set_now):
    case, _ = filed
    client = app.test_client()
    login(client, w["clerk_a"])
    client.post(f"/admin/objections/{case.id}/decide",
                data={"outcome": "maintained", "reason": "无误", "csrf_token": _token(client)})
    set_now("2026-01-20T02:00:00+00:00")
    assert runner.invoke(args=["deadlines", "report"]).exit_code == 0
