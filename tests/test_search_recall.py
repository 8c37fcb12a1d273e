"""Search finds what people type (issue 9 item 3), on records shaped like the demo's:
pieces of USCCs, 文号 fragments, task-code prefixes, Latin letters and digits inside names and
codes, two-character pieces of Chinese names; records with publications first; industry facets
in Chinese; a query that finds nothing suggests what to try."""
from datetime import date

import pytest

import factories as f
from portal import search

NOW = "2026-06-10T02:00:00+00:00"


@pytest.fixture
def index_dir(app, tmp_path):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    return tmp_path / "search-index"


@pytest.fixture
def world(app, db, index_dir, set_now):
    set_now(NOW)
    scj = f.department(code="SCJG", name="民权县市场监督管理局")
    f.department(code="YJGL", name="民权县应急管理局")
    item = f.check_item(scj, code="SCJG-01", name="食品销售者监督检查")
    bulk_item = f.check_item(scj, code="BULKB000123", name="散装食品标签专项检查")
    plan = f.plan(scj, year=2026, title="2026年度民权县市场监管领域双随机抽查工作计划")
    task = f.task(scj, plan=plan, code="411421202604010007", title="2026年食品销售者专项抽查", items=[item],
                  period=(date(2026, 4, 1), date(2026, 6, 30)))
    # Names as the demo makes them: county + firm word + trade + suffix; a Latin brand; a shop.
    xinyuan = f.entity(name="民权县鑫源食品有限公司", industry="C")
    xinyuan_trade = f.entity(name="民权县鑫源商贸有限公司", industry="F52")
    bank = f.entity(name="民权县BULKBANK电子商务有限公司", industry="I")
    shop = f.entity(name="民权县城关镇老王烟酒店", industry="F")
    fillers = [f.entity(name=f"民权县恒泰建材有限公司第{i}分公司", industry="E") for i in range(30)]
    result = f.result(task, xinyuan_trade, formed=date(2026, 5, 12), remark="经检查未发现问题")
    pen40 = f.penalty(scj, shop, decision_no="民市监罚〔2026〕40号", decided=date(2026, 5, 20),
                      facts="销售超过保质期的食品")
    pen140 = f.penalty(scj, xinyuan_trade, decision_no="民市监罚〔2026〕140号", decided=date(2026, 5, 21))
    pen_other = [f.penalty(scj, fillers[i], decision_no=f"民市监罚〔2026〕{400 + i}号", decided=date(2026, 5, 22))
                 for i in range(25)]
    db.session.commit()
    search.rebuild()
    return dict(task=task, item=item, bulk_item=bulk_item, xinyuan=xinyuan, xinyuan_trade=xinyuan_trade,
                bank=bank, shop=shop, result=result, pen40=pen40, pen140=pen140, pen_other=pen_other)


def page_text(client, **params):
    """The search page's text as a reader sees it (highlight marks removed)."""
    body = client.get("/search", query_string=params).get_data(as_text=True)
    return body.replace("<mark>", "").replace("</mark>", "")


def first_page(q, **kw):
    return [(h.kind, h.id) for h in search.query(q, per_page=20, **kw).hits]


def test_any_six_consecutive_characters_of_a_uscc(world, client, db):
    from sqlalchemy import select

    from portal.models import Entity

    uscc = world["bank"].uscc
    others = [u for u in db.session.execute(select(Entity.uscc)).scalars() if u != uscc]
    target = ("entity", world["bank"].id)
    for start in range(0, len(uscc) - 5):
        for piece in {uscc[start:start + 6], uscc[start:start + 9], uscc[start:].lower()}:
            assert target in first_page(piece, filters={"kind": "entity"}) or \
                target in [(h.kind, h.id) for h in search.query(piece, filters={"kind": "entity"}, per_page=100).hits]
            if not any(piece.upper() in u for u in others):  # a piece only this USCC has: first page, first
                assert first_page(piece)[0] == target, piece
    body = page_text(client, q=uscc[-8:])
    assert "民权县BULKBANK电子商务有限公司" in body


def test_decision_number_fragments(world, client):
    pen40, pen140 = world["pen40"], world["pen140"]
    hits = first_page("〔2026〕40号")
    assert hits[0] == ("penalty", pen40.id)
    assert ("penalty", pen140.id) not in hits  # 〔2026〕140号 does not contain 〔2026〕40号
    assert first_page("[2026]40号")[0] == ("penalty", pen40.id)  # other bracket forms
    assert first_page("（2026）40号")[0] == ("penalty", pen40.id)
    found = {h.id for h in search.query("民市监罚", filters={"kind": "penalty"}, per_page=50).hits}
    assert found == {pen40.id, pen140.id} | {p.id for p in world["pen_other"]}
    assert first_page("2026〕140")[0] == ("penalty", pen140.id)
    body = page_text(client, q="〔2026〕40号")
    assert "民市监罚〔2026〕40号" in body and "共找到" in body


def test_task_code_prefixes(world):
    task = world["task"]
    for prefix in ("4114212026", "41142120260401", task.code[:-1]):
        assert ("task", task.id) in first_page(prefix, filters={"kind": "task"}), prefix
    assert first_page(task.code) == [("task", task.id)]  # the whole code: exactly the task


def test_latin_letters_and_digits_inside_names_and_codes(world):
    assert ("entity", world["bank"].id) in first_page("LKBANK")
    assert ("entity", world["bank"].id) in first_page("bulkbank")
    assert ("entity", world["bank"].id) in first_page("BULK")
    assert ("item", world["bulk_item"].id) in first_page("BULKB00012")
    assert ("item", world["bulk_item"].id) in first_page("B0001")


def test_two_character_pieces_of_chinese_names(world, client):
    for piece in ("鑫源", "源食", "食品"):
        assert ("entity", world["xinyuan"].id) in first_page(piece, filters={"kind": "entity"}), piece
    for piece in ("老王", "烟酒", "城关"):
        assert ("entity", world["shop"].id) in first_page(piece), piece
    body = page_text(client, q="老王")
    assert "民权县城关镇老王烟酒店" in body


def test_records_with_publications_rank_above_directory_entries_without(world):
    hits = first_page("鑫源")
    with_pubs, without = ("entity", world["xinyuan_trade"].id), ("entity", world["xinyuan"].id)
    assert hits.index(with_pubs) < hits.index(without)
    assert hits.index(("result", world["result"].id)) < hits.index(without)
    assert hits[-1] == without


def test_industry_facets_show_chinese_names(world, client):
    res = search.query("民权县", filters={"kind": "entity"}, per_page=5)
    industries = {v.value: (v.label, v.count) for v in res.facets["industry"]}
    assert industries == {"E": ("建筑业", 30), "C": ("制造业", 1), "F": ("批发和零售业", 2),
                          "I": ("信息传输、软件和信息技术服务业", 1)}
    only = search.query("民权县", filters={"kind": "entity", "industry": "F"})
    assert {h.id for h in only.hits} == {world["xinyuan_trade"].id, world["shop"].id}
    body = client.get("/search", query_string={"q": "民权县", "kind": "entity"}).get_data(as_text=True)
    assert "<h2>行业</h2>" in body and "批发和零售业" in body and ">F<" not in body
    data = client.get("/search.json", query_string={"q": "民权县", "industry": "F"}).get_json()
    assert data["filters"] == {"industry": "F"} and data["total"] == 2
    assert {"value": "F", "label": "批发和零售业", "count": 2} in data["facets"]["industry"]


def test_a_query_that_finds_nothing_suggests_what_to_try(world, client):
    res = search.query("民权县鑫源食品有限责任公司西区", suggest=True)
    assert res.total == 0
    assert res.suggestions and all(search.query(s.q, filters=s.filters).total for s in res.suggestions)
    body = client.get("/search", query_string={"q": "鑫源食品有限责任公司西区"}).get_data(as_text=True)
    assert "没有找到" in body and "试试：" in body
    assert "鑫源" in body.split("试试：", 1)[1].split("</p>", 1)[0]
    # A filter that empties the answer: the suggestion is to drop it.
    body = client.get("/search", query_string={"q": "老王", "kind": "plan"}).get_data(as_text=True)
    assert "试试：" in body and "去掉筛选条件" in body


def test_a_uscc_piece_ranks_its_entity_before_neighbours_sharing_its_trigrams(app, db, index_dir, set_now):
    """Code matching is by trigrams, present in any order: `MA0004914` also matches `…MA0004913…`
    (whose USCC begins 914…). The entity whose USCC holds the typed piece comes first, even behind
    neighbours with publications (once an order-dependent failure: it hung on the factories' counter)."""
    set_now(NOW)
    scj = f.department(code="SCJG", name="民权县市场监督管理局")
    task = f.task(scj, code="411421202604010008", title="2026年专项抽查", period=(date(2026, 4, 1), date(2026, 6, 30)))
    neighbours = [f.entity(name=f"民权县邻近商贸有限公司{i}", uscc=f.make_uscc(4910 + i)) for i in range(4)]
    for i, e in enumerate(neighbours):
        f.result(task, e, formed=date(2026, 5, 10 + i))
    target = f.entity(name="民权县目标电子商务有限公司", uscc=f.make_uscc(4914))
    db.session.commit()
    search.rebuild()
    assert "MA0004914" in target.uscc and not any("MA0004914" in e.uscc for e in neighbours)
    assert all("914" in e.uscc for e in neighbours)  # every trigram of the piece is in each neighbour too
    for piece in ("MA0004914", "a0004914", "0004914"):
        assert first_page(piece)[0] == ("entity", target.id), piece
