"""One public shape per record kind (SPEC §6, issue 10 item 1).

Walks every record kind × every public channel (detail page, list page and its htmx fragment,
detail and list JSON, CSV, kept versions in HTML and JSON, feeds, the entity page and its JSON,
the draw certificate) and checks that each shows the same public field values, names a
natural-person party as surname + 某 everywhere alike, and never shows an internal field.
"""
import csv
import io
import json
import re
from datetime import date

import factories as f
import feedparser
import pytest

from portal import clock, lifecycle
from portal.database import write_transaction
from portal.exports import safe_cell
from portal.models import Entity, EntityType, Penalty, Plan, Result, Task
from portal.public.datasets import ITEMS, PENALTIES, PLANS, RESULTS, TASKS
from portal.public.shape import COMPUTED, FIELDS, INTERNAL, party_display, shape, surname_mask

NOW = "2025-07-01T02:00:00+00:00"
PERSON = "张三丰"  # a natural person, party to a penalty: public as 张某
OPERATOR = "王大明"  # an individual business's operator: only on the entity's own page
SHOP = "民权县老王副食店"


@pytest.fixture
def world(app, db, set_now):
    set_now(NOW)
    dept = f.department(code="SHP01", name="民权县市场监督管理局")
    item = f.check_item(dept, code="SH-A", name="食品销售形状检查")
    plan = f.plan(dept, title="2025年度形状抽查计划", description="计划说明原文")
    task = f.task(dept, plan=plan, code="411421202504010077", title="食品经营者形状抽查", items=[item],
                  description="任务说明原文")
    inspector = f.inspector(dept, name="赵执法", licence_no="41142100077", id_card_no="41142119800101123X")
    company = f.entity(name="民权县形状商贸有限公司")
    shop = f.entity(name=SHOP, entity_type=EntityType.INDIVIDUAL, operator_name=OPERATOR)
    draw = f.draw(task, [company, shop], inspectors=[inspector])
    result = f.result(task, shop, formed=date(2025, 5, 12), remark="结果说明原文", follow_up="责令改正",
                      conclusions=(("C05", "发现问题已责令改正"),), verification_method="实地核查")
    result.inspectors = [inspector]
    shop_penalty = f.penalty(dept, shop, decision_no="民市监罚〔2025〕71号", party_name=OPERATOR,
                             party_kind="natural_person", fine="3000.00", task=task, facts="违法事实原文")
    person_penalty = f.penalty(dept, None, decision_no="民市监罚〔2025〕72号", party_name=PERSON,
                               party_kind="natural_person", fine="500.00", violation_type="违法行为类型原文")
    company_penalty = f.penalty(dept, company, decision_no="民市监罚〔2025〕73号", fine="20000.00")
    db.session.commit()
    with write_transaction():  # every kind with a kept version
        lifecycle.correct("penalty", shop_penalty, {"facts": "违法事实更正"}, "事实表述有误")
        lifecycle.correct("penalty", person_penalty, {"violation_type": "违法行为类型更正"}, "类型有误")
        lifecycle.correct("result", result, {"remark": "结果说明更正"}, "笔误")
        lifecycle.correct("plan", plan, {"description": "计划说明更正"}, "说明有误")
        lifecycle.correct("task", task, {"description": "任务说明更正"}, "说明有误")
    return dict(dept=dept, item=item, plan=plan, task=task, company=company, shop=shop, draw=draw, result=result,
                shop_penalty=shop_penalty, person_penalty=person_penalty, company_penalty=company_penalty)


def text(response) -> str:
    assert response.status_code == 200, response.request.path
    return response.get_data(as_text=True)


def visible_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(response)))


def _readable(response) -> str:
    """The body as text, JSON with its Chinese unescaped (Flask writes \\uXXXX)."""
    body = text(response)
    if response.mimetype == "application/json":
        return json.dumps(json.loads(body), ensure_ascii=False)
    return body


def csv_rows(client, url) -> list[dict]:
    body = text(client.get(url)).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(body)))


def expected(db, kind, record) -> dict:
    db.session.expire_all()
    model = {"plan": Plan, "task": Task, "result": Result, "penalty": Penalty}.get(kind)
    fresh = db.session.get(model, record.id) if model else record
    return shape(kind, fresh, clock.now())


# kind → (record key in world, detail path, list path, dataset, keys a person reads on the pages)
KINDS = {
    "plan": ("plan", lambda r: f"/plans/{r.id}", "/plans", PLANS, ("title", "description", "department")),
    "task": ("task", lambda r: f"/tasks/{r.code}", "/tasks", TASKS, ("title", "code", "description")),
    "result": ("result", lambda r: f"/results/{r.id}", "/results", RESULTS, ("entity_name", "uscc", "remark",
                                                                             "follow_up", "verification_method")),
    "penalty": ("person_penalty", lambda r: f"/penalties/{r.id}", "/penalties", PENALTIES,
                ("decision_no", "party_name", "violation_type", "facts", "authority")),
}
CONTENT = {kind: [k for k in FIELDS[kind] if k not in COMPUTED] for kind in FIELDS}


def _same_content(kind, got: dict, want: dict, where: str, skip=()):
    assert set(got) <= set(FIELDS[kind]), (where, set(got) - set(FIELDS[kind]))
    for key in CONTENT[kind]:
        if key in got and key not in skip:
            assert got[key] == want[key], (where, key, got[key], want[key])


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_channel_shows_the_same_public_fields(client, db, world, kind):
    name, detail_path, list_path, dataset, shown_keys = KINDS[kind]
    record = world[name]
    want = expected(db, kind, record)
    path = detail_path(record)
    # detail JSON and list JSON: the shape itself
    detail = client.get(path + ".json").get_json()
    _same_content(kind, detail, want, "detail json")
    items = client.get(list_path + ".json").get_json()["items"]
    row = next(i for i in items if i["url"] == want["url"])
    _same_content(kind, row, want, "list json")
    # CSV: the list JSON item through the dataset's columns, header unchanged
    rows = csv_rows(client, list_path + ".csv")
    assert list(rows[0]) == dataset.csv_header
    line = next(r for r in rows if r[dataset.csv_header[0]] == str(row[dataset.csv_columns[0].key]))
    assert list(line.values()) == [safe_cell(c) for c in dataset.csv_row(row)]
    # detail page, list page and its htmx fragment: what a person reads
    page = visible_text(client.get(path))
    listing = visible_text(client.get(list_path))
    fragment = visible_text(client.get(list_path, headers={"HX-Request": "true"}))
    for key in shown_keys:
        assert want[key] and want[key] in page, (key, want[key])
    first = shown_keys[0]
    assert want[first] in listing and want[first] in fragment
    # the kept version (HTML and JSON): same allow-list, the content it had then
    kept = client.get(path + ".json?version=1").get_json()
    assert kept["version"] == 1 and kept["reason"]
    changed = {"plan": "description", "task": "description", "result": "remark", "penalty": "violation_type"}[kind]
    _same_content(kind, kept["data"], want, "kept json", skip=(changed, "corrected_at", "version"))
    assert kept["data"][changed] != want[changed] and "原文" in kept["data"][changed]
    old_page = visible_text(client.get(path + "?version=1"))
    assert kept["data"][changed] in old_page
    for key in shown_keys:
        if key != changed:
            assert want[key] in old_page, (key, want[key])
    # feed entry
    feed = feedparser.parse(client.get(f"/feeds/{list_path.strip('/')}.atom").data)
    entry = next(e for e in feed.entries if e.link.endswith(want["url"]))
    assert want[{"plan": "title", "task": "title", "result": "entity_name", "penalty": "party_name"}[kind]] \
        in entry.title


def test_items_list_channels_show_the_same_fields(client, db, world):
    want = shape("item", world["item"], clock.now())
    row = next(i for i in client.get("/items.json").get_json()["items"] if i["id"] == want["id"])
    assert row == want
    line = next(r for r in csv_rows(client, "/items.csv") if r["事项编码"] == want["code"])
    assert list(line.values()) == [safe_cell(c) for c in ITEMS.csv_row(want)]
    for response in (client.get("/items"), client.get("/items", headers={"HX-Request": "true"})):
        assert want["name"] in visible_text(response)


def test_entity_page_lists_the_same_fields_as_the_records(client, db, world):
    shop = world["shop"]
    data = client.get(f"/entities/{shop.uscc}.json").get_json()
    assert set(data) <= set(FIELDS["entity"]) and data["operator_name"] == OPERATOR  # its own page only
    result = expected(db, "result", world["result"])
    penalty = expected(db, "penalty", world["shop_penalty"])
    [r] = data["results"]
    [p] = data["penalties"]
    assert {k: v for k, v in r.items() if k != "objection"} == {k: result[k] for k in r if k != "objection"}
    assert {k: v for k, v in p.items() if k != "objection"} == {k: penalty[k] for k in p if k != "objection"}
    page = visible_text(client.get(f"/entities/{shop.uscc}"))
    assert OPERATOR in page and penalty["decision_no"] in page and "责令改正" in page
    certificate = visible_text(client.get(f"/draws/{world['draw'].id}"))
    assert SHOP in certificate and OPERATOR not in certificate


def _public_bodies(client, world) -> dict[str, str]:
    """Every public channel's body, by URL (the shop's own entity page apart)."""
    urls = ["/", "/plans", "/tasks", "/results", "/penalties", "/items", "/stats", "/search?q=民市监罚",
            "/sitemap.xml", f"/draws/{world['draw'].id}", f"/draws/{world['draw'].id}.json",
            f"/entities/{world['company'].uscc}", f"/entities/{world['company'].uscc}.json",
            f"/entities/{world['shop'].uscc}/feed.atom"]
    for kind, (name, detail_path, list_path, _, _) in KINDS.items():
        path = detail_path(world[name])
        urls += [path, path + ".json", path + "?version=1", path + ".json?version=1", list_path + ".json",
                 list_path + ".csv", f"/feeds/{list_path.strip('/')}.atom", f"/feeds/{list_path.strip('/')}.rss"]
    path = f"/penalties/{world['shop_penalty'].id}"
    urls += [path, path + ".json", path + "?version=1", path + ".json?version=1"]
    urls += [f"/penalties/{world['company_penalty'].id}", f"/penalties/{world['company_penalty'].id}.json"]
    urls += ["/feeds/all.atom", "/feeds/all.rss", "/items.csv", "/penalties?q=张", "/penalties.csv?q=张"]
    urls += ["/search.json?q=民市监罚", "/search.json?q=张", f"/search?q={world['shop'].uscc[2:10]}",
             "/search?q=〔2025〕72号", "/search.json?q=民市监罚〔2025〕72号", "/search.json?q=形状",
             "/feeds/all.atom?q=民市监罚"]
    bodies = {url: _readable(client.get(url)) for url in urls}
    bodies["/penalties (fragment)"] = text(client.get("/penalties", headers={"HX-Request": "true"}))
    return bodies


def test_natural_person_and_operator_names_and_internal_fields_appear_nowhere(client, world):
    bodies = _public_bodies(client, world)
    for url, body in bodies.items():
        assert PERSON not in body, url
        assert OPERATOR not in body, url
        for name in INTERNAL:
            assert name not in body, (url, name)
    # the natural person is 张某 on every channel that names the party
    person = world["person_penalty"]
    for url in (f"/penalties/{person.id}", f"/penalties/{person.id}.json", f"/penalties/{person.id}?version=1",
                f"/penalties/{person.id}.json?version=1", "/penalties", "/penalties (fragment)", "/penalties.json",
                "/penalties.csv", "/feeds/penalties.atom", "/feeds/penalties.rss", "/feeds/all.atom", "/",
                "/search?q=〔2025〕72号", "/search.json?q=民市监罚〔2025〕72号"):
        assert "张某" in bodies[url], url
    # the individual business is named by its business name wherever its penalty is shown
    shop_penalty = world["shop_penalty"]
    for url in (f"/penalties/{shop_penalty.id}", f"/penalties/{shop_penalty.id}.json?version=1", "/penalties.csv",
                f"/penalties/{shop_penalty.id}?version=1", "/feeds/penalties.atom"):
        assert SHOP in bodies[url], url
    # a natural person's full name does not find the record either
    assert client.get(f"/penalties.json?q={PERSON}").get_json()["total"] == 0
    assert not [h for h in client.get(f"/search.json?q={PERSON}").get_json()["items"] if h["kind"] == "penalty"]


def test_kept_version_of_corrected_individual_business_penalty_shows_no_operator_and_no_internal_field(client, world):
    """Issue 10's acceptance: /penalties/<id>?version=1 of a corrected individual-business penalty."""
    p = world["shop_penalty"]
    page = client.get(f"/penalties/{p.id}?version=1")
    body = text(page)
    words = visible_text(page)
    assert "更正前的第 1 版" in words and "更正原因：事实表述有误" in words
    assert f"当事人名称 {SHOP}" in words and "违法事实原文" in words and "违法事实更正" not in words
    assert OPERATOR not in body
    for name in INTERNAL + ("natural_person", "organisation"):
        assert name not in body, name
    data = client.get(f"/penalties/{p.id}.json?version=1").get_json()
    assert data["data"]["party_name"] == SHOP and data["data"]["facts"] == "违法事实原文"
    assert set(data["data"]) <= set(FIELDS["penalty"])
    assert OPERATOR not in json.dumps(data, ensure_ascii=False) and not set(INTERNAL) & set(data["data"])


def test_shape_keys_and_dataset_columns_are_on_the_allow_list(db, world):
    now = clock.now()
    for kind, record in (("plan", world["plan"]), ("task", world["task"]), ("result", world["result"]),
                         ("penalty", world["shop_penalty"]), ("item", world["item"]),
                         ("entity", world["shop"])):
        assert set(shape(kind, record, now)) <= set(FIELDS[kind])
    csv_only = {"inspector_names", "conclusion_codes"}  # CSV cells derived from allow-listed fields
    for dataset in (ITEMS, PLANS, TASKS, RESULTS, PENALTIES):
        assert {c.key for c in dataset.columns} - csv_only <= set(FIELDS[dataset.kind]), dataset.kind
    assert "operator_name" not in shape("entity", world["shop"], now)
    assert shape("entity", world["shop"], now, own_page=True)["operator_name"] == OPERATOR


@pytest.mark.parametrize("name, kind, shown", [
    ("李小红", "natural_person", "李某"), ("欧阳明华", "natural_person", "欧阳某"), ("张某", "natural_person", "张某"),
    (" 王 五 ", "natural_person", "王某"), ("某自然人", "natural_person", "某自然人"),
    ("", "natural_person", "当事人（自然人）"), ("民权县某某商贸有限公司", "organisation", "民权县某某商贸有限公司"),
])
def test_party_display(name, kind, shown):
    assert party_display(name, kind) == shown
    assert party_display(name, kind, EntityType.INDIVIDUAL, SHOP) == SHOP
    assert surname_mask(PERSON) == "张某"


def test_unmasked_text_stored_by_a_bulk_load_is_masked_alike_on_every_channel(client, db, world):
    """The shape masks free text again (a second net behind the writers' masking)."""
    result = db.session.get(Result, world["result"].id)
    result.remark = "负责人电话13812345678，已责令改正"
    penalty = db.session.get(Penalty, world["company_penalty"].id)
    penalty.facts = "经查，当事人联系电话 138 1234 5678。"
    db.session.commit()
    bodies = [_readable(client.get(url)) for url in (
        f"/results/{result.id}", f"/results/{result.id}.json", "/results.json", "/results.csv", "/feeds/results.atom",
        f"/penalties/{penalty.id}", f"/penalties/{penalty.id}.json", "/penalties.json", "/penalties.csv")]
    for body in bodies:
        assert "13812345678" not in body and "138 1234 5678" not in body
    assert "负责人电话138****5678，已责令改正" in bodies[0] and "负责人电话138****5678，已责令改正" in bodies[3]
    assert "经查，当事人联系电话 138****5678。" in bodies[5] and "经查，当事人联系电话 138****5678。" in bodies[8]


@pytest.mark.parametrize("value", ["电话13812345678", "电话 138 1234 5678", "电话１３８１２３４５６７８", "护照E1234567号",
                                   "身份证号411421198001011234", "卡号6222 0000 1111 2222", "2025年3月12日 货值12000元"])
def test_the_cheap_test_before_masking_misses_no_identifier(value):
    from portal.domain.masking import mask_text, may_contain_identifier
    assert may_contain_identifier(value) or not mask_text(value).changed


def test_an_entity_name_stored_unmasked_by_a_bulk_load_is_masked_on_every_channel(client, db, world):
    """The second net covers the entity's name wherever a record shows it (results, draws, feeds),
    not only on the entity's own page."""
    company = db.session.get(Entity, world["company"].id)
    company.name = "民权县形状商贸有限公司（电话13812345678）"
    shop = db.session.get(Entity, world["shop"].id)
    shop.name = SHOP + "（电话13812345678）"  # the entity of the result and of a penalty
    db.session.commit()
    bodies = _public_bodies(client, world)
    bodies[f"/tasks/{world['task'].code} (fragment)"] = text(
        client.get(f"/tasks/{world['task'].code}", headers={"HX-Request": "true"}))
    for url in ("/transparency", "/transparency.json", f"/tasks/{world['task'].code}.json"):
        bodies[url] = _readable(client.get(url))
    leaks = [url for url, body in bodies.items() if "13812345678" in body]
    assert leaks == [], leaks
    shown = [url for url, body in bodies.items() if "民权县形状商贸有限公司（电话138****5678）" in body]
    assert {f"/draws/{world['draw'].id}", f"/entities/{world['company'].uscc}", "/transparency",
            f"/tasks/{world['task'].code}", f"/tasks/{world['task'].code}.json"} <= set(shown)
    shop_shown = {url for url, body in bodies.items() if SHOP + "（电话138****5678）" in body}
    assert {"/results", "/results.json", "/results.csv", "/feeds/results.atom", "/feeds/all.rss",
            f"/results/{world['result'].id}", f"/results/{world['result'].id}.json", "/penalties",
            f"/penalties/{world['shop_penalty'].id}", "/penalties.csv"} <= shop_shown
