"""Every public URL in HTML, JSON and CSV; filters; htmx fragments; tombstones; 404s."""
from datetime import date, datetime, timedelta, timezone

import pytest

import factories as f
from sqlalchemy import update

from portal.models import CheckItem, Department, EntityType, RecordVersion, Status
from portal.models.plans import plan_department, task_check_item, task_department

NOW = "2025-07-01T02:00:00+00:00"


@pytest.fixture
def world(app, db, set_now):
    """A small public data set: one department, plan, task, draw, two results, a penalty."""
    set_now(NOW)
    dept = f.department(code="SCJGJ", name="民权县市场监督管理局")
    item = f.check_item(dept, code="SC01", name="食品销售者检查")
    plan = f.plan(dept, title="2025年度市场监管双随机抽查计划")
    task = f.task(dept, plan=plan, code="411421202504010001", title="食品经营者专项抽查", items=[item])
    inspector = f.inspector(dept, name="王检查", licence_no="41142100099", id_card_no="41142119800101123X")
    good = f.entity(name="民权县诚信食品有限公司")
    bad = f.entity(name="=1+1 @cmd 商贸有限公司")
    draw = f.draw(task, [good, bad], inspectors=[inspector])
    r1 = f.result(task, good, formed=date(2025, 5, 10))
    r1.inspectors = [inspector]
    r2 = f.result(task, bad, formed=date(2025, 5, 12), conclusions=(("C02", "未按规定公示应当公示的信息"),),
                  remark="-责令改正", follow_up="责令改正")
    pen = f.penalty(dept, bad, decision_no="民市监罚〔2025〕8号", fine="20000.00")
    db.session.commit()
    return dict(dept=dept, item=item, plan=plan, task=task, inspector=inspector, good=good, bad=bad,
                draw=draw, r1=r1, r2=r2, pen=pen)


def text(response):
    return response.get_data(as_text=True)


LIST_URLS = ["/items", "/plans", "/results", "/penalties"]


@pytest.mark.parametrize("url", LIST_URLS)
def test_list_pages_render_with_filters_form_and_rows(client, world, url):
    response = client.get(url)
    assert response.status_code == 200
    body = text(response)
    kind = url.strip("/")
    assert f'id="{kind}-list"' in body
    assert f'id="{kind}-filters"' in body
    assert 'method="get"' in body and '<button type="submit">筛选</button>' in body
    assert 'hx-push-url="true"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_results_page_shows_public_results(client, world):
    body = text(client.get("/results"))
    assert "民权县诚信食品有限公司" in body
    assert "未按规定公示应当公示的信息" in body
    assert "共 <strong>2</strong> 条" in body
    assert '<link rel="alternate" type="application/atom+xml" title="检查结果" href="/feeds/results.atom">' in body


def test_json_list_envelope(client, world):
    data = client.get("/results.json").get_json()
    assert set(data) == {"items", "total", "page", "per_page"}
    assert data["total"] == 2 and data["page"] == 1 and data["per_page"] == 20
    first = data["items"][0]
    assert first["uscc"] == world["bad"].uscc
    assert first["conclusions"] == [{"code": "C02", "label": "未按规定公示应当公示的信息"}]
    assert first["task_code"] == "411421202504010001"
    assert first["check_items"] == ["食品销售者检查"]


@pytest.mark.parametrize("url, total", [("/items.json", 1), ("/plans.json", 1), ("/penalties.json", 1)])
def test_other_json_lists(client, world, url, total):
    data = client.get(url).get_json()
    assert data["total"] == total and len(data["items"]) == total


def test_results_csv_exact_header_bom_and_formula_escaping(client, world):
    response = client.get("/results.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ("记录编号,任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,"
                        "后续处置,执法人员,执法人员姓名,结论代码,部门代码,实施部门,公示时间,更正时间,公示及时性,异议状态")
    r2, bad = world["r2"], world["bad"]
    assert lines[1] == (f"{r2.id},411421202504010001,{bad.uscc},'=1+1 @cmd 商贸有限公司,食品销售者检查,2025-05-10,"
                        "未按规定公示应当公示的信息,'-责令改正,2025-05-12,责令改正,,,C02,SCJGJ,"
                        "民权县市场监督管理局,2025-06-01 10:00,,按时公示,")
    assert len([line for line in lines if line]) == 3


def test_penalties_csv_header_and_rows(client, world):
    lines = client.get("/penalties.csv").get_data().decode("utf-8-sig").split("\r\n")
    assert lines[0] == ("记录编号,行政处罚决定书文号,统一社会信用代码,当事人名称,违法行为类型,违法事实,处罚依据,处罚类别,"
                        "罚款金额（元）,没收金额（元）,处罚决定日期,处罚机关,关联任务编号,公示截止日期,部门代码,实施部门,"
                        "公示时间,更正时间,公示及时性,异议状态")
    assert lines[1].startswith(f"{world['pen'].id},民市监罚〔2025〕8号,{world['bad'].uscc},'=1+1 @cmd 商贸有限公司,")
    assert ",20000.00,," in lines[1]


def test_plans_and_items_csv_headers(client, world):
    plans = client.get("/plans.csv").get_data().decode("utf-8-sig").split("\r\n")
    assert plans[0] == "记录编号,年度,计划名称,牵头部门代码,牵头部门,参与部门,批准日期,公开任务数,公示时间,更正时间"
    assert plans[1] == (f"{world['plan'].id},2025,2025年度市场监管双随机抽查计划,SCJGJ,民权县市场监督管理局,"
                        "民权县市场监督管理局,2025-03-03,1,2025-06-01 10:00,")
    items = client.get("/items.csv").get_data().decode("utf-8-sig").split("\r\n")
    assert items[0] == ("部门代码,部门,事项编码,事项名称,抽查依据,抽查对象,抽查内容,抽查方式,事项类别,抽查比例和频次,"
                        "检查人员要求,生效日期,版本")
    assert items[1] == "SCJGJ,民权县市场监督管理局,SC01,食品销售者检查,《食品安全法》,食品生产经营者,生产经营条件,实地检查,一般,,,2025-01-01,1"


def test_csv_respects_filters(client, world):
    lines = client.get("/results.csv?conclusion=C01").get_data().decode("utf-8-sig").split("\r\n")
    assert len([line for line in lines if line]) == 2
    assert world["good"].uscc in lines[1]


@pytest.mark.parametrize("query, expected", [
    ("conclusion=C02", 1), ("conclusion=未发现问题", 1), ("dept=SCJGJ", 2), ("year=2025", 2),
    ("year=2024", 0), ("region=411400", 2), ("region=41", 2), ("q=诚信", 1), ("q=411421202504010001", 2),
    ("from=2025-05-11", 1), ("to=2025/5/11", 1), ("from=2025-05-01&to=2025-05-31", 2),
])
def test_result_filters(client, world, query, expected):
    assert client.get(f"/results.json?{query}").get_json()["total"] == expected


def test_q_is_a_substring_filter_with_escaping(client, world):
    assert client.get("/results.json?q=%25").get_json()["total"] == 0
    assert client.get("/penalties.json?q=8号").get_json()["total"] == 1
    assert client.get("/penalties.json?category=罚款").get_json()["total"] == 1
    assert client.get("/penalties.json?category=警告").get_json()["total"] == 0
    assert client.get("/plans.json?q=市场监管").get_json()["total"] == 1
    assert client.get("/items.json?q=食品销售").get_json()["total"] == 1


@pytest.mark.parametrize("query, message", [
    ("year=abc", "年度“abc”不正确"), ("from=2025-02-30", "起始日期"), ("region=41x", "行政区划代码“41x”不正确"),
    ("from=2025-06-01&to=2025-05-01", "起始日期不能晚于截止日期"), ("dept=%3Cb%3E", "部门代码"),
    # A well-formed value that matches nothing is refused, not answered with an empty list.
    ("dept=NOPE", "部门代码“NOPE”不存在"), ("region=4200", "行政区划代码“4200”下没有"),
    ("conclusion=C99", "检查结果“C99”不在检查结果代码表中"), ("per_page=201", "每页条数不能超过 200"),
    ("page=abc", "页码“abc”不正确"),
])
def test_invalid_filters_get_a_chinese_message_on_every_channel(client, world, query, message):
    page = client.get(f"/results?{query}")
    assert page.status_code == 400
    assert message in text(page) and "筛选条件有误" in text(page)
    as_json = client.get(f"/results.json?{query}")
    assert as_json.status_code == 400 and message in as_json.get_json()["error"]["message"]
    as_csv = client.get(f"/results.csv?{query}")
    assert as_csv.status_code == 400 and message in text(as_csv)


def test_paging_json_and_html(client, world):
    data = client.get("/results.json?per_page=1&page=2").get_json()
    assert data["page"] == 2 and data["per_page"] == 1 and data["total"] == 2
    assert data["items"][0]["uscc"] == world["good"].uscc
    body = text(client.get("/results?per_page=1"))
    assert 'href="/results?per_page=1&amp;page=2"' in body
    assert 'hx-get="/results?per_page=1&amp;page=2"' in body


def test_htmx_gets_only_the_fragment_and_history_restore_the_page(client, world):
    fragment = client.get("/results?conclusion=C02", headers={"HX-Request": "true"})
    body = text(fragment)
    assert body.lstrip().startswith('<div id="results-list"')
    assert "<html" not in body and "results-filters" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get("/results?conclusion=C02",
                         headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in text(restore) and 'id="results-filters"' in text(restore)


def test_home_page_counts_and_latest(client, world):
    body = text(client.get("/"))
    assert 'action="/search"' in body
    assert "民权县诚信食品有限公司" in body and "民市监罚〔2025〕8号" in body and "食品经营者专项抽查" in body
    assert '<span class="num">2</span><span class="label">检查结果</span>' in body


def test_result_detail_html_and_json(client, world):
    r = world["r1"]
    response = client.get(f"/results/{r.id}")
    body = text(response)
    assert response.status_code == 200
    assert "民权县诚信食品有限公司" in body and "王检查" in body and "41142100099" in body
    data = client.get(f"/results/{r.id}.json").get_json()
    assert data["id"] == r.id and data["inspectors"] == [{"name": "王检查", "licence_no": "41142100099"}]
    assert data["previous_versions"] == []


def test_penalty_plan_task_entity_details(client, world):
    assert "民市监罚〔2025〕8号" in text(client.get(f"/penalties/{world['pen'].id}"))
    assert client.get(f"/penalties/{world['pen'].id}.json").get_json()["fine_amount"] == "20000.00"
    plan_page = text(client.get(f"/plans/{world['plan'].id}"))
    assert "食品经营者专项抽查" in plan_page
    assert client.get(f"/plans/{world['plan'].id}.json").get_json()["tasks"][0]["code"] == "411421202504010001"
    task_page = text(client.get("/tasks/411421202504010001"))
    assert "食品销售者检查" in task_page and 'id="drawn-list"' in task_page
    assert f'/draws/{world["draw"].id}' in task_page and "王检查（<span class=\"mono\">41142100099</span>）" in task_page
    task_json = client.get("/tasks/411421202504010001.json").get_json()
    assert task_json["draw"]["selected"][0]["inspectors"] == [{"name": "王检查", "licence_no": "41142100099"}]
    assert len(task_json["results"]) == 2
    entity_page = text(client.get(f"/entities/{world['bad'].uscc}"))
    assert "民市监罚〔2025〕8号" in entity_page and "411421202504010001" in entity_page
    assert f'href="/entities/{world["bad"].uscc}/feed.atom"' in entity_page
    entity_json = client.get(f"/entities/{world['bad'].uscc}.json").get_json()
    assert [p["decision_no"] for p in entity_json["penalties"]] == ["民市监罚〔2025〕8号"]
    assert entity_json["draws"][0]["task_code"] == "411421202504010001"


def test_data_page_documents_every_csv_column_and_code_lists(client, world):
    from portal.public.datasets import LISTS
    body = text(client.get("/data"))
    for ds in LISTS:
        assert f'href="{ds.endpoint.replace("public.", "/")}.csv"' in body
        for column in ds.csv_columns:
            assert f"<td>{column.label}</td>" in body
    assert "未按规定公示应当公示的信息" in body and "<code>SCJGJ</code>" in body and "列入经营异常名录" in body


@pytest.mark.parametrize("url", ["/results/999999", "/results/999999.json", "/penalties/999999", "/plans/999999",
                                 "/plans/999999.json", "/tasks/000000000000000000", "/tasks/nope.json",
                                 "/entities/91411421MA00000000", "/entities/nope.json", "/penalties/999999.json"])
def test_unknown_records_404_in_chinese(client, world, url):
    response = client.get(url)
    assert response.status_code == 404
    if url.endswith(".json"):
        assert response.get_json()["error"]["title"] == "页面不存在"
    else:
        assert "页面不存在" in text(response)


def test_withdrawn_result_is_a_tombstone_with_reason(client, world, db):
    r = world["r1"]
    r.status = Status.WITHDRAWN
    r.withdrawn_at = datetime(2025, 6, 20, 1, 0, tzinfo=timezone.utc)
    r.withdrawal_reason = "检查对象名称录入错误"
    db.session.commit()
    body = text(client.get(f"/results/{r.id}"))
    assert "该信息已于 2025-06-20 撤回" in body and "检查对象名称录入错误" in body
    assert "民权县诚信食品有限公司" not in body
    assert client.get(f"/results/{r.id}.json").get_json() == {
        "kind": "result", "id": r.id, "status": "withdrawn", "withdrawn_on": "2025-06-20",
        "reason": "检查对象名称录入错误"}
    assert client.get("/results.json").get_json()["total"] == 1
    assert world["good"].uscc not in text(client.get("/results.csv"))


def test_penalty_past_publicity_is_a_bare_tombstone(client, world, db):
    p = world["pen"]
    p.publicity_end = date(2025, 6, 15)
    db.session.commit()
    body = text(client.get(f"/penalties/{p.id}"))
    assert "该信息已于 2025-06-16 停止公示" in body
    for leaked in ("民市监罚〔2025〕8号", "商贸有限公司", "20,000.00", "食品安全法"):
        assert leaked not in body
    assert client.get(f"/penalties/{p.id}.json").get_json() == {
        "kind": "penalty", "id": p.id, "status": "publicity_ended", "stopped_on": "2025-06-16",
        "ended_by": "publicity_period"}
    assert client.get("/penalties.json").get_json()["total"] == 0
    assert "民市监罚" not in text(client.get(f"/entities/{world['bad'].uscc}"))


def test_credit_repaired_penalty_stops_publicity(client, world, db):
    p = world["pen"]
    p.credit_repair_date = date(2025, 6, 30)
    db.session.commit()
    assert "该信息已于 2025-06-30 停止公示" in text(client.get(f"/penalties/{p.id}"))
    assert client.get("/penalties.csv").get_data().decode("utf-8-sig").count("\r\n") == 1


def test_corrected_record_shows_notice_and_previous_version(client, world, db):
    r = world["r2"]
    db.session.add(RecordVersion(record_kind="result", record_id=r.id, version=1,
                                 data={"remark": "旧的结果说明", "follow_up": "无需后续处置", "id_card_no": "x"},
                                 replaced_at=datetime(2025, 6, 10, 2, 0, tzinfo=timezone.utc), reason="结论有误"))
    r.version = 2
    r.corrected_at = datetime(2025, 6, 10, 2, 0, tzinfo=timezone.utc)
    db.session.commit()
    body = text(client.get(f"/results/{r.id}"))
    assert "更正于 2025-06-10 10:00" in body and f'href="/results/{r.id}?version=1"' in body
    old = text(client.get(f"/results/{r.id}?version=1"))
    assert "旧的结果说明" in old and "结论有误" in old and "id_card_no" not in old
    data = client.get(f"/results/{r.id}.json").get_json()
    assert data["previous_versions"][0]["url"] == f"/results/{r.id}?version=1"
    # The kept version goes through the record's public shape: the kept fields over the rest of
    # the record, never a snapshot key outside the allow-list (portal.public.shape).
    kept = client.get(f"/results/{r.id}.json?version=1").get_json()["data"]
    assert kept["remark"] == "旧的结果说明" and kept["follow_up"] == "无需后续处置" and kept["version"] == 1
    assert kept["uscc"] == world["bad"].uscc and "id_card_no" not in kept
    assert client.get(f"/results/{r.id}?version=7").status_code == 404
    assert client.get(f"/results/{r.id}?version=x").status_code == 404


def test_individual_business_operator_name_only_on_its_own_page(client, world, db):
    shop = f.entity(name="民权县老张烩面馆", entity_type=EntityType.INDIVIDUAL, operator_name="张大山")
    f.result(world["task"], shop, formed=date(2025, 5, 20))
    f.penalty(world["dept"], shop, decision_no="民市监罚〔2025〕9号", party_name="张大山")
    db.session.commit()
    assert "张大山" in text(client.get(f"/entities/{shop.uscc}"))
    assert client.get(f"/entities/{shop.uscc}.json").get_json()["operator_name"] == "张大山"
    for url in ["/", "/results", "/results.json", "/results.csv", "/penalties", "/penalties.json", "/penalties.csv",
                "/tasks/411421202504010001", "/tasks/411421202504010001.json"]:
        assert "张大山" not in text(client.get(url)), url
    assert "民权县老张烩面馆" in text(client.get("/penalties.csv"))


def test_empty_filter_fields_redirect_to_a_clean_shareable_url(client, world):
    response = client.get("/results?q=&dept=SCJGJ&year=&conclusion=C02")
    assert response.status_code == 302
    assert response.headers["Location"] == "/results?dept=SCJGJ&conclusion=C02"
    assert client.get("/results?q=", headers={"HX-Request": "true"}).headers["Location"] == "/results"


def test_list_totals_are_cached_until_any_write(app, client, world, db):
    from sqlalchemy import event
    app.config["PUBLIC_COUNT_TTL"] = 30
    assert client.get("/results.json").get_json()["total"] == 2
    statements = []

    def collect(_conn, _cursor, sql, *_args):
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", collect)
    try:
        assert client.get("/results.json").get_json()["total"] == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", collect)
    assert not [sql for sql in statements if "count(" in sql.lower()]  # the total came from the cache
    # Any write that may change a public page (here one bypassing the journal) is a new public
    # revision (portal/caching.py), so the total is recounted at once.
    f.result(world["task"], f.entity())
    db.session.commit()
    assert client.get("/results.json").get_json()["total"] == 3
    app.config["PUBLIC_COUNT_TTL"] = 0


def test_penalty_category_filter_accepts_label_or_code_list_code(client, world, db):
    from portal.models import VocabularyKind, VocabularyTerm
    db.session.add(VocabularyTerm(kind=VocabularyKind.PENALTY_CATEGORY, code="P03", label="罚款", sort_order=3))
    db.session.commit()
    assert client.get("/penalties.json?category=P03").get_json()["total"] == 1
    assert client.get("/penalties.json?category=罚款").get_json()["total"] == 1
    body = client.get("/penalties").get_data(as_text=True)
    assert '<option value="罚款">罚款</option>' in body


def test_redraw_keeps_the_superseded_draw_visible(client, world, db):
    with db.session.no_autoflush:  # the factory builds the Draw before adding it
        later = f.draw(world["task"], [world["bad"]], inspectors=[world["inspector"]], sequence=2,
                       drawn_at=f.T0 + timedelta(days=1))
    later.reason = "原抽取名单中一户已注销"
    db.session.commit()
    page = text(client.get("/tasks/411421202504010001"))
    assert "第 1 次抽取" in page and "已被第 2 次抽取取代，原因：原抽取名单中一户已注销" in page
    data = client.get("/tasks/411421202504010001.json").get_json()
    assert data["draw"]["id"] == later.id and data["superseded_draws"][0]["id"] == world["draw"].id
    good = client.get(f"/entities/{world['good'].uscc}.json").get_json()
    assert [d["superseded"] for d in good["draws"]] == [True]
    assert "已被第 2 次抽取取代" in text(client.get(f"/entities/{world['good'].uscc}"))


def test_detail_pages_show_the_disclosure_deadline(client, world):
    r = world["r1"]  # formed 2025-05-10, published 2025-06-01: within 20 working days
    assert "公示时限" in text(client.get(f"/results/{r.id}"))
    disclosure = client.get(f"/results/{r.id}.json").get_json()["disclosure"]
    assert disclosure["on_time"] is True and disclosure["published_on"] == "2025-06-01"
    assert client.get(f"/penalties/{world['pen'].id}.json").get_json()["disclosure"]["due_date"]


def test_items_are_grouped_by_department_and_filter_form_is_htmx_enhanced(client, world, db):
    other = f.department(code="WSJ", name="民权县卫生健康委员会")
    f.check_item(other, code="WS01", name="公共场所卫生检查")
    db.session.commit()
    body = text(client.get("/items"))
    # Ordered by department code: SCJGJ before WSJ.
    assert body.index('scope="colgroup">民权县市场监督管理局') < body.index('scope="colgroup">民权县卫生健康委员会')
    assert body.count('scope="colgroup"') == 2
    assert 'hx-get="/items" hx-target="#items-list" hx-swap="outerHTML" hx-push-url="true"' in body
    assert 'hx-trigger="submit, change, input changed delay:400ms from:#items-filters-q"' in body
    assert client.get("/items.json?dept=WSJ").get_json()["items"][0]["code"] == "WS01"


@pytest.mark.parametrize("url", LIST_URLS)
def test_every_list_answers_htmx_with_its_fragment(client, world, url):
    kind = url.strip("/")
    body = text(client.get(url, headers={"HX-Request": "true"}))
    assert body.lstrip().startswith(f'<div id="{kind}-list"') and "<html" not in body
    assert f'href="/{kind}.csv"' in body  # downloads follow the filters inside the swapped region


@pytest.mark.parametrize("ttl", [0, 30])
def test_deep_pages_found_by_day_hold_the_same_rows_as_an_offset(app, client, world, db, ttl):
    # Twelve more results and penalties over four days, several on one day, so pages start mid-day.
    for i in range(12):
        ent = f.entity(name=f"深页测试企业{i:02d}")
        f.result(world["task"], ent, formed=date(2025, 6, 1 + i % 4))
        f.penalty(world["dept"], ent, decided=date(2025, 6, 1 + i % 4))
    db.session.commit()
    app.config["PUBLIC_COUNT_TTL"] = ttl

    def pages(deep):
        app.config["LIST_DEEP_OFFSET"] = deep
        seen = {}
        for url in ("/results.json?per_page=3", "/penalties.json?per_page=3", "/results.json?per_page=5&year=2025",
                    "/penalties.json?per_page=2&dept=SCJGJ"):
            for page in range(1, 9):
                body = client.get(f"{url}&page={page}").get_json()
                seen[url, page] = [item["id"] for item in body["items"]]
        seen["html"] = [line for line in text(client.get("/results?per_page=3&page=4")).splitlines() if "/results/" in line]
        return seen

    by_offset, by_day = pages(0), pages(1)
    assert by_day == by_offset
    assert [i for page in range(1, 6) for i in by_day["/results.json?per_page=3", page]] == \
        [r["id"] for r in client.get("/results.json?per_page=20").get_json()["items"]]
    assert by_day["/results.json?per_page=3", 6] == [] and len(by_day["/penalties.json?per_page=3", 5]) == 1
    assert by_day["/penalties.json?per_page=3", 6] == []
    # A write is a new public revision: the rows per day are counted again.
    newest = f.result(world["task"], f.entity(name="新增深页企业"), formed=date(2025, 6, 4))
    db.session.commit()
    app.config["LIST_DEEP_OFFSET"] = 1
    assert client.get("/results.json?per_page=3&page=2").get_json()["items"][0]["id"] == \
        client.get("/results.json?per_page=4").get_json()["items"][3]["id"]
    assert newest.id in [r["id"] for r in client.get("/results.json?per_page=3").get_json()["items"]]
    app.config["PUBLIC_COUNT_TTL"] = 0


def test_departments_and_check_items_are_listed_in_a_stable_order_on_every_channel(client, db, world):
    """Many-to-many lists come in creation order whatever order the rows were linked in (PostgreSQL
    returns unordered rows in any order it likes, e.g. after ANALYZE)."""
    first, second, third = (f.department(code=f"ORD{i}", name=f"排序局{i}") for i in (1, 2, 3))
    items = [f.check_item(first, code=f"OI{i}", name=f"排序事项{i}") for i in (1, 2, 3)]
    plan = f.plan(first, title="排序计划")
    plan.participants = []
    task = f.task(third, plan=plan, code="411421202504010077", items=[])  # linked to its lead, `third`
    db.session.flush()
    for dept in (third, first, second):  # linked in this order, one statement each
        db.session.execute(plan_department.insert().values(plan_id=plan.id, department_id=dept.id))
        if dept is not third:
            db.session.execute(task_department.insert().values(task_id=task.id, department_id=dept.id))
    for item in (items[2], items[0], items[1]):
        db.session.execute(task_check_item.insert().values(task_id=task.id, check_item_id=item.id))
    db.session.commit()
    # Rewrite the first rows so that they lie last on disk (PostgreSQL writes a new row version).
    db.session.execute(update(Department).where(Department.id == first.id).values(name=first.name))
    db.session.execute(update(CheckItem).where(CheckItem.id == items[0].id).values(code=items[0].code))
    db.session.commit()
    db.session.expire_all()
    plan_json = client.get(f"/plans/{plan.id}.json").get_json()
    assert [d["code"] for d in plan_json["participants"]] == ["ORD1", "ORD2", "ORD3"]
    task_json = client.get(f"/tasks/{task.code}.json").get_json()
    assert [d["code"] for d in task_json["departments"]] == ["ORD1", "ORD2", "ORD3"]
    assert [i["code"] for i in task_json["check_items"]] == ["OI1", "OI2", "OI3"]
    assert "排序局1、排序局2、排序局3" in text(client.get(f"/plans/{plan.id}"))
    assert "排序局1、排序局2、排序局3" in text(client.get("/plans"))
