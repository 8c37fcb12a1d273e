"""Who may change the shared inspection-target directory, and the history every change leaves.

Default (DIRECTORY_ENTITY_EDITORS = "admins"): administrators only. With "registering_department",
the clerks of the department that registered an entity too. Others get 403 by URL, form field and
hx-vals, and nothing changes; imports follow the same rule; locked draw pools are snapshots.
"""
from datetime import date

import pytest
from sqlalchemy import func, select

import factories as f
from conftest import extract_csrf
from portal import draw_service
from portal.domain import directory as ownership
from portal.importers import build_preview, commit
from portal.models import AuditEvent, DrawPoolEntry, Entity, EntityVersion, RiskClass

TODAY = date(2025, 7, 1)


def _form(entity, **changes):
    data = dict(uscc=entity.uscc, name=entity.name, entity_type=entity.entity_type.value,
                region_code=entity.region_code, registration_status=entity.registration_status.value,
                risk_class=entity.risk_class.value, tags="、".join(entity.tags or []), industry=entity.industry or "")
    data.update(changes)
    return data


def _token(client, url="/admin/entities"):
    return extract_csrf(client.get(url).get_data(as_text=True))


@pytest.fixture
def world(app, db, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    a, b = f.department(code="OWA", name="甲局"), f.department(code="OWB", name="乙局")
    legacy = f.entity(name="民权县名录商贸有限公司")
    users = dict(clerk_a=f.user("clerk", a, username="own-a"), clerk_b=f.user("clerk", b, username="own-b"),
                 admin=f.user("admin", username="own-admin"))
    db.session.commit()
    return dict(a=a, b=b, legacy=legacy, **users)


def _unchanged(db, entity, name):
    db.session.expire_all()
    assert db.session.get(Entity, entity.id).name == name
    assert db.session.execute(select(func.count(EntityVersion.id))).scalar() == 0


def test_rule():
    admins, registrar = ownership.ADMINS, ownership.REGISTERING_DEPARTMENT
    assert ownership.may_change("admin", None, 5, admins) and ownership.may_register("admin", None, admins)
    assert not ownership.may_change("clerk", 5, 5, admins) and not ownership.may_register("clerk", 5, admins)
    assert ownership.may_change("clerk", 5, 5, registrar) and ownership.may_register("clerk", 5, registrar)
    assert not ownership.may_change("clerk", 6, 5, registrar)
    assert not ownership.may_change("clerk", 5, None, registrar)  # entities from before: the administrators'
    assert not ownership.may_change("auditor", 5, 5, registrar) and not ownership.may_register("auditor", 5, registrar)
    with pytest.raises(ValueError):
        ownership.check_policy("everyone")


def test_by_default_clerks_read_the_directory_but_only_administrators_change_it(world, client, login, db):
    legacy = world["legacy"]
    login(client, world["clerk_a"])
    assert "新建检查对象" not in client.get("/admin/entities").get_data(as_text=True)
    page = client.get(f"/admin/entities/{legacy.id}").get_data(as_text=True)
    assert 'id="record-form"' not in page and "检查对象名录由管理员维护，部门用户不能新增或修改" in page
    token = _token(client)
    assert client.get("/admin/entities/new").status_code == 403
    assert client.post("/admin/entities/new", data=_form(legacy, uscc=f.make_uscc(8001), name="新主体",
                                                         csrf_token=token)).status_code == 403
    by_url = client.post(f"/admin/entities/{legacy.id}", data=_form(legacy, name="改名", change_reason="x",
                                                                     csrf_token=token))
    assert by_url.status_code == 403
    by_htmx = client.post(f"/admin/entities/{legacy.id}", headers={"HX-Request": "true"},
                          data=_form(legacy, name="改名", change_reason="x", csrf_token=token))
    assert by_htmx.status_code == 403
    _unchanged(db, legacy, "民权县名录商贸有限公司")
    assert db.session.execute(select(func.count(Entity.id))).scalar() == 1


def test_an_administrator_changes_an_entity_with_a_reason_and_every_version_is_kept(world, client, login, db):
    legacy = world["legacy"]
    login(client, world["admin"])
    token = _token(client)
    missing = client.post(f"/admin/entities/{legacy.id}", data=_form(legacy, name="新名称", csrf_token=token))
    assert missing.status_code == 422 and "请填写修改原因" in missing.get_data(as_text=True)
    assert client.post(f"/admin/entities/{legacy.id}", data=_form(
        legacy, name="民权县新名称商贸有限公司", risk_class="D", change_reason="工商变更登记",
        csrf_token=token)).status_code == 303
    assert client.post(f"/admin/entities/{legacy.id}", data=_form(
        legacy, name="民权县新名称商贸有限公司", risk_class="C", change_reason="信用风险分类调整",
        csrf_token=token)).status_code == 303
    db.session.expire_all()
    versions = db.session.execute(select(EntityVersion).order_by(EntityVersion.version)).scalars().all()
    assert [(v.version, v.actor_name, v.reason, v.changed) for v in versions] == [
        (1, "system", "启用版本记录前的状态", []),
        (2, "own-admin", "工商变更登记", ["name", "risk_class"]),
        (3, "own-admin", "信用风险分类调整", ["risk_class"]),
    ]
    assert versions[0].data["name"] == "民权县名录商贸有限公司" and versions[0].data["risk_class"] == "B"
    assert db.session.get(Entity, legacy.id).version == 3
    page = client.get(f"/admin/entities/{legacy.id}").get_data(as_text=True)
    assert "修改记录" in page and "第 3 版" in page and "信用风险分类调整" in page and "名称、信用风险分类" in page
    # A clerk reads the same history.
    login(client, world["clerk_b"])
    assert "工商变更登记" in client.get(f"/admin/entities/{legacy.id}").get_data(as_text=True)


def test_registering_department_policy(world, app, client, login, db):
    app.config["DIRECTORY_ENTITY_EDITORS"] = "registering_department"
    login(client, world["clerk_a"])
    token = _token(client)
    new = dict(uscc=f.make_uscc(8002), name="甲局登记的主体", entity_type="企业", region_code="411421",
               registration_status="存续", risk_class="B", change_reason="新设立", csrf_token=token)
    # A forged department in the form (or hx-vals) is refused before anything is written.
    assert client.post("/admin/entities/new", data={**new, "department_id": world["b"].id}).status_code == 403
    assert client.post("/admin/entities/new", data=new).status_code == 303
    mine = db.session.execute(select(Entity).where(Entity.uscc == f.make_uscc(8002))).scalar_one()
    assert mine.registered_by_id == world["a"].id
    assert client.post(f"/admin/entities/{mine.id}", data=_form(mine, name="甲局改名", change_reason="更名",
                                                                csrf_token=token)).status_code == 303
    assert client.post(f"/admin/entities/{world['legacy'].id}", data=_form(
        world["legacy"], name="x", change_reason="x", csrf_token=token)).status_code == 403  # the administrators'
    login(client, world["clerk_b"])
    token = _token(client)
    page = client.get(f"/admin/entities/{mine.id}").get_data(as_text=True)
    assert "该检查对象由甲局登记，只能由登记部门或管理员修改" in page
    for headers, extra in (({}, {}), ({"HX-Request": "true"}, {}), ({}, {"department_id": world["a"].id})):
        response = client.post(f"/admin/entities/{mine.id}", headers=headers,
                               data=_form(mine, name="乙局改名", change_reason="x", csrf_token=token, **extra))
        assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Entity, mine.id).name == "甲局改名"
    assert [v.reason for v in db.session.get(Entity, mine.id).versions] == ["新设立", "更名"]


ENTITY_HEADER = "统一社会信用代码,名称,类型,行政区划代码\r\n"


def _entities_file(*rows):
    return ("\ufeff" + ENTITY_HEADER + "".join(",".join(r) + "\r\n" for r in rows)).encode("utf-8")


def test_directory_imports_follow_the_same_rule(world, app, db):
    legacy, a, b = world["legacy"], world["a"], world["b"]
    unchanged = [legacy.uscc, legacy.name, "企业", "411421"]
    renamed = [legacy.uscc, "改名商贸", "企业", "411421"]
    added = [f.make_uscc(8003), "新登记主体", "企业", "411421"]
    ok = build_preview("entities", _entities_file(unchanged), "e.csv", a, TODAY, actor=world["clerk_a"])
    assert ok.ok and ok.counts["unchanged"] == 1
    refused = build_preview("entities", _entities_file(renamed, added), "e.csv", a, TODAY, actor=world["clerk_a"])
    assert [(p.row, p.message) for p in refused.errors] == [
        (2, "检查对象名录由管理员维护，部门用户不能新增或修改；请联系管理员"),
        (3, "检查对象名录由管理员维护，部门用户不能新增或修改；请联系管理员")]
    app.config["DIRECTORY_ENTITY_EDITORS"] = "registering_department"
    batch = commit("entities", _entities_file(added), "甲.csv", a, actor=world["clerk_a"])
    assert batch.created_count == 1
    entity = db.session.execute(select(Entity).where(Entity.uscc == f.make_uscc(8003))).scalar_one()
    assert entity.registered_by_id == a.id
    change = [f.make_uscc(8003), "乙局改的名字", "企业", "411421"]
    foreign = build_preview("entities", _entities_file(change), "e.csv", b, TODAY, actor=world["clerk_b"])
    assert [p.message for p in foreign.errors] == ["该检查对象由甲局登记，只能由登记部门或管理员修改"]
    own = commit("entities", _entities_file([f.make_uscc(8003), "甲局改的名字", "企业", "411421"]), "甲2.csv", a,
                 actor=world["clerk_a"])
    assert own.updated_count == 1
    db.session.expire_all()
    versions = db.session.get(Entity, entity.id).versions
    assert [(v.version, v.reason, v.actor_name) for v in versions] == [
        (1, "批量导入：甲.csv（第 2 行）", "own-a"), (2, "批量导入：甲2.csv（第 2 行）", "own-a")]
    # The command line is the operator's: like an administrator.
    admin_batch = commit("entities", _entities_file(renamed), "管理员.csv", b, actor=None)
    assert admin_batch.updated_count == 1


def test_locked_draw_pools_are_snapshots_unaffected_by_directory_changes(world, client, login, db):
    dept = world["a"]
    entities = [f.entity(risk=[RiskClass.A, RiskClass.B][i % 2]) for i in range(6)]
    for _ in range(2):
        f.inspector(dept)
    task = f.task(dept, strata=[{"stratum": "A", "count": 1}, {"stratum": "B", "count": 1}],
                  inspectors_per_target={dept.code: 1})
    db.session.commit()
    draw = draw_service.lock(task, world["admin"])
    entries_before = db.session.execute(select(DrawPoolEntry.entity_id, DrawPoolEntry.uscc, DrawPoolEntry.stratum)
                                        .order_by(DrawPoolEntry.id)).all()
    login(client, world["admin"])
    target = entities[0]
    response = client.post(f"/admin/entities/{target.id}", data=_form(
        target, uscc=f.make_uscc(8999), name="改名后的主体", risk_class="D", registration_status="注销",
        change_reason="登记信息更正", csrf_token=_token(client)))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.execute(select(DrawPoolEntry.entity_id, DrawPoolEntry.uscc, DrawPoolEntry.stratum)
                              .order_by(DrawPoolEntry.id)).all() == entries_before
    draw = draw_service.perform(draw, "福彩3D 2025150 期", ["张三"], world["admin"])
    assert draw_service.verify_draw(draw) == []
    selected = {s.uscc for s in draw.selections}
    assert f.make_uscc(8999) not in selected and selected <= {uscc for _e, uscc, _s in entries_before}
    # (a performed draw is public at once: SPEC §5 item 7)
    pool_text = "".join(f"{uscc}\t{stratum}\n" for _e, uscc, stratum in sorted(entries_before, key=lambda e: e[1]))
    assert client.get(f"/draws/{draw.id}/pool.txt").get_data(as_text=True) == pool_text
    assert db.session.execute(select(func.count(AuditEvent.id)).where(AuditEvent.record_kind == "entity")).scalar() == 1


def test_the_upload_page_previews_the_ownership_rule_for_the_clerk(world, client, login, db):
    from test_import_upload import page_text, upload
    login(client, world["clerk_a"])
    legacy = world["legacy"]
    data = _entities_file([legacy.uscc, "改名商贸", "企业", "411421"])
    preview = upload(client, "名录.csv", kind="entities", data=data)
    assert preview.status_code == 422
    assert "检查对象名录由管理员维护，部门用户不能新增或修改；请联系管理员" in page_text(preview)
    assert 'name="sha256"' not in preview.get_data(as_text=True)  # nothing to confirm
    _unchanged(db, legacy, "民权县名录商贸有限公司")
