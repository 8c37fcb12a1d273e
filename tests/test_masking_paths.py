"""Personal identifiers typed into any free text that a public channel shows are masked before the
public version is stored, whatever path wrote it (form, upload, command-line import, lifecycle
actions, the draw), and the clerk is shown what was masked (SPEC §6, issue 10 item 8)."""
import io
import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

import factories as f
from conftest import extract_csrf
from portal.models import (CheckItem, Draw, DrawSubstitution, DrawWitness, Entity, Penalty, Plan, RecordVersion,
                           Result, RiskClass, Task)
from portal.validation.public_fields import PUBLIC_TEXT

ID, MOBILE = "11010519491231002X", "13812345678"
ID_MASKED, MOBILE_MASKED = "1101**********002X", "138****5678"
SECRET = f"联系人身份证{ID}，电话{MOBILE}"
DRAWN = datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc)


def clean(text):
    """A stored value carries neither identifier, and does carry both masked forms."""
    return text is not None and ID not in text and MOBILE not in text and ID_MASKED in text and MOBILE_MASKED in text


@pytest.fixture
def world(app, db, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="MSK", name="遮蔽测试局")
    item = f.check_item(dept, code="MSK01")
    task = f.task(dept, items=[item])
    ent = f.entity()
    f.draw(task, [ent], drawn_at=DRAWN)
    clerk = f.user("clerk", dept, username="mask-clerk")
    admin = f.user("admin", username="mask-admin")
    db.session.commit()
    return dict(dept=dept, item=item, task=task, ent=ent, clerk=clerk, admin=admin)


def _post(client, url, **data):
    page = client.get(url if not url.endswith(("/publish", "/withdraw")) else "/admin/")
    data["csrf_token"] = extract_csrf(page.get_data(as_text=True))
    return client.post(url, data=data)


def _twice(client, url, **data):
    """The form shows what was masked first (200, nothing saved); the clerk saves the masked text."""
    first = _post(client, url, **data)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "已遮蔽个人信息" in html and ID not in html and MOBILE not in html, url
    assert ID_MASKED in html and MOBILE_MASKED in html
    second = _post(client, url, **{k: (v.replace(ID, ID_MASKED).replace(MOBILE, MOBILE_MASKED)
                                       if isinstance(v, str) else v) for k, v in data.items()})
    assert second.status_code == 303, second.get_data(as_text=True)[-2000:]
    return second


def test_result_form_masks_every_public_text_field(world, client, login, db):
    login(client, world["clerk"])
    _twice(client, "/admin/results/new", task_id=world["task"].id, entity_uscc=world["ent"].uscc,
           inspection_date="2025-05-08", formed_date="2025-05-10", conclusions=["C05"], remark=SECRET,
           verification_method=f"电话{MOBILE}、身份证{ID}核实")
    result = db.session.execute(select(Result)).scalar_one()
    assert clean(result.remark) and clean(result.verification_method)
    _twice(client, f"/admin/results/{result.id}", task_id=world["task"].id, entity_uscc=world["ent"].uscc,
           inspection_date="2025-05-08", formed_date="2025-05-10", conclusions=["C05"], remark="已改正",
           **{f"finding_{world['item'].id}": SECRET})
    db.session.expire_all()
    [finding] = db.session.get(Result, result.id).findings
    assert clean(finding.text)


def test_penalty_form_masks_party_violation_facts_basis_and_authority(world, client, login, db):
    login(client, world["clerk"])
    _twice(client, "/admin/penalties/new", decision_no="民市监罚〔2025〕77号", party_name=f"张某，电话{MOBILE}，身份证{ID}",
           party_kind="natural_person", violation_type=SECRET, facts=SECRET, legal_basis=SECRET, categories=["警告"],
           decision_date="2025-05-20", authority=SECRET)
    penalty = db.session.execute(select(Penalty)).scalar_one()
    for name in ("party_name", "violation_type", "facts", "legal_basis", "authority"):
        assert clean(getattr(penalty, name)), name


def test_plan_task_and_item_forms_mask_titles_and_texts(world, client, login, db):
    login(client, world["clerk"])
    _twice(client, "/admin/plans/new", year="2025", title=f"计划（电话{MOBILE}，身份证{ID}）", approval_date="2025-03-02",
           description=SECRET)
    plan = db.session.execute(select(Plan)).scalar_one()
    assert clean(plan.title) and clean(plan.description)
    _twice(client, "/admin/tasks/new", code="411421202504010099", title=f"任务（电话{MOBILE}，身份证{ID}）", period_start="2025-04-01",
           period_end="2025-06-30", description=SECRET, inspectors_per_target="1")
    task = db.session.execute(select(Task).where(Task.code == "411421202504010099")).scalar_one()
    assert clean(task.title) and clean(task.description)
    _twice(client, "/admin/items/new", code="MSK02", name=f"事项（电话{MOBILE}，身份证{ID}）", kind="一般", effective_from="2025-01-01",
           content=SECRET, legal_basis=SECRET)
    item = db.session.execute(select(CheckItem).where(CheckItem.code == "MSK02")).scalar_one()
    assert clean(item.current.name) and clean(item.current.content) and clean(item.current.legal_basis)


def test_entity_form_masks_its_public_name(world, client, login, db):
    login(client, world["admin"])
    _twice(client, "/admin/entities/new", uscc=f.make_uscc(7777), name=f"商行（电话{MOBILE}，身份证{ID}）", entity_type="个体工商户",
           region_code="411421", registration_status="存续", risk_class="B", operator_name=SECRET)
    entity = db.session.execute(select(Entity).where(Entity.uscc == f.make_uscc(7777))).scalar_one()
    assert clean(entity.name) and clean(entity.operator_name)


def _csv(rows):
    return ("\ufeff" + "\r\n".join(",".join(r) for r in rows) + "\r\n").encode("utf-8")


RESULT_HEADER = ["任务编号", "统一社会信用代码", "检查结果", "结果说明", "结果形成日期"]
PENALTY_HEADER = ["行政处罚决定书文号", "当事人名称", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚决定日期", "处罚机关"]


def test_upload_and_command_line_import_mask_and_report(world, client, login, db, runner, tmp_path):
    w = world
    data = _csv([RESULT_HEADER, [w["task"].code, w["ent"].uscc, "C05", SECRET, "2025-05-10"]])
    login(client, w["clerk"])
    page = client.get("/admin/uploads").get_data(as_text=True)
    preview = client.post("/admin/uploads", data={"csrf_token": extract_csrf(page), "kind": "results",
                                                  "file": (io.BytesIO(data), "结果.csv")},
                          content_type="multipart/form-data").get_data(as_text=True)
    masked = re.search(r'<section class="admin-panel" id="preview-masked">(.*?)</section>', preview, re.S).group(1)
    assert "身份证号码" in masked and ID_MASKED in masked and MOBILE_MASKED in masked and ID not in preview
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', preview).group(1)
    run = re.search(r'name="run" value="([0-9a-f]{32})"', preview).group(1)
    confirm = client.post("/admin/uploads/confirm", data={"csrf_token": extract_csrf(preview), "kind": "results",
                                                          "sha256": sha, "filename": "结果.csv", "run": run,
                                                          "department_id": str(w["dept"].id)})
    assert confirm.status_code == 303
    assert clean(db.session.execute(select(Result.remark)).scalar_one())
    path = tmp_path / "处罚.csv"
    path.write_bytes(_csv([PENALTY_HEADER, ["民市监罚〔2025〕78号", f"王某{MOBILE}", SECRET, SECRET, SECRET, "警告",
                                            "2025-05-21", SECRET]]))
    out = runner.invoke(args=["import", "penalties", str(path), "--department", "MSK"])
    assert out.exit_code == 0, out.output
    assert f"已遮蔽 第 2 行［违法事实］身份证号码：{ID_MASKED}" in out.output
    penalty = db.session.execute(select(Penalty)).scalar_one()
    assert MOBILE not in penalty.party_name and MOBILE_MASKED in penalty.party_name
    for name in ("violation_type", "facts", "legal_basis", "authority"):
        assert clean(getattr(penalty, name)), name


def test_correction_and_withdrawal_reasons_are_masked_and_the_clerk_told(world, client, login, db):
    res = f.result(world["task"], world["ent"], formed=date(2025, 5, 10))
    db.session.commit()
    login(client, world["clerk"])
    form = dict(task_id=world["task"].id, entity_uscc=world["ent"].uscc, formed_date="2025-05-10", conclusions=["C01"],
                remark="更正后的说明", correction_reason=f"当事人{MOBILE}来电{ID}指出笔误")
    response = _post(client, f"/admin/results/{res.id}", **form)
    assert response.status_code == 303
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"更正原因中的个人信息已遮蔽后公开：手机号码 {MOBILE_MASKED}" in flashed
    reason = db.session.execute(select(RecordVersion.reason)).scalar_one()
    assert ID not in reason and MOBILE not in reason and MOBILE_MASKED in reason
    assert MOBILE not in client.get(f"/results/{res.id}?version=1").get_data(as_text=True)
    response = _post(client, f"/admin/results/{res.id}/withdraw", reason=f"应当事人{MOBILE}要求撤回")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Result, res.id).withdrawal_reason == f"应当事人{MOBILE_MASKED}要求撤回"
    tombstone = client.get(f"/results/{res.id}").get_data(as_text=True)
    assert MOBILE_MASKED in tombstone and MOBILE not in tombstone


def test_draw_witnesses_random_number_and_reasons_are_masked_and_the_draw_still_verifies(app, db, client, login):
    from portal import draw_service
    dept = f.department(code="SCJG")
    for i in range(8):
        f.entity(risk=[RiskClass.A, RiskClass.B][i % 2])
    for _ in range(4):
        f.inspector(dept)
    task = f.task(dept, strata=[{"stratum": "A", "count": 2}, {"stratum": "B", "count": 2}],
                  inspectors_per_target={"SCJG": 1})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    login(client, clerk)
    token = extract_csrf(client.get(f"/admin/tasks/{task.id}/draw").get_data(as_text=True))
    assert client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token}).status_code == 303
    draw = db.session.execute(select(Draw)).scalar_one()
    response = client.post(f"/admin/draws/{draw.id}/perform", data={
        "csrf_token": token, "witness_name": [f"李四{MOBILE}"], "witness_org": [f"纪检组（身份证{ID}）"],
        "public_entropy": f"福彩3D 2025150 期 4 7 1 {MOBILE}"})
    assert response.status_code == 303
    told = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"见证信息中的个人信息已遮蔽后保存并公开：手机号码 {MOBILE_MASKED}" in told
    db.session.expire_all()
    draw = db.session.get(Draw, draw.id)
    witness = db.session.execute(select(DrawWitness)).scalar_one()
    assert witness.name == f"李四{MOBILE_MASKED}" and ID not in witness.organisation and ID_MASKED in witness.organisation
    assert draw.public_entropy == f"福彩3D 2025150 期 4 7 1 {MOBILE_MASKED}"
    assert draw_service.verify_draw(draw) == []  # the seed came from the stored (masked) random number
    client.post(f"/admin/draws/{draw.id}/publish", data={"csrf_token": token})
    certificate = client.get(f"/draws/{draw.id}.json").get_json()
    assert certificate["public_entropy"].endswith(MOBILE_MASKED)
    assert MOBILE not in str(certificate) and ID not in str(certificate)
    sel = draw.selections[0]
    old = sel.assignments[0].licence_no
    new = next(i.licence_no for i in draw_service.db.session.execute(select(f.Inspector)).scalars()
               if i.licence_no not in {a.licence_no for a in sel.assignments})
    client.post(f"/admin/draws/{draw.id}/substitute", data={"csrf_token": token, "selection_id": sel.id,
                                                            "old_licence": old, "new_licence": new,
                                                            "reason": f"回避，联系电话{MOBILE}"})
    assert db.session.execute(select(DrawSubstitution.reason)).scalar_one() == f"回避，联系电话{MOBILE_MASKED}"
    client.post(f"/admin/tasks/{task.id}/draw/lock", data={"csrf_token": token, "reason": f"见证人{MOBILE}提出异议"})
    reasons = db.session.execute(select(Draw.reason).where(Draw.reason.is_not(None))).scalars().all()
    assert reasons == [f"见证人{MOBILE_MASKED}提出异议"]


def test_every_public_text_field_is_listed_once():
    """The registry is what every path masks; a kind's fields must not drift apart."""
    assert set(PUBLIC_TEXT) == {"result", "penalty", "entity", "plan", "task", "item", "draw", "lifecycle"}
    for kind, names in PUBLIC_TEXT.items():
        assert len(names) == len(set(names)), kind
