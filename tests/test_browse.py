"""/tasks (every public task), the parameters every list accepts (queries.LIST_PARAMS) and the
items year filter, asserted on the page, the htmx fragment, JSON and CSV."""
import re
from datetime import date, datetime, timezone

import pytest

import factories as f
from portal.domain.visibility import public_state
from portal.models import CheckItemVersion, Status
from portal.queries import LIST_PARAMS

NOW = "2026-11-23T02:00:00+00:00"
CSV_HEADER = ("任务编号,年度,任务名称,牵头部门代码,牵头部门,参与部门,所属计划编号,临时任务,联合抽查,突击检查,抽查事项,"
              "检查开始日期,检查结束日期,公示时间,更正时间")


def text(response):
    return response.get_data(as_text=True)


def csv_lines(response):
    assert response.status_code == 200, text(response)
    return response.get_data().decode("utf-8-sig").split("\r\n")


@pytest.fixture
def tasks_world(db, set_now):
    set_now(NOW)
    a = f.department(code="SCJGJ", name="民权县市场监督管理局")
    b = f.department(code="WJW", name="民权县卫生健康委员会", region="411421")
    far = f.department(code="ZZ", name="郑州市市场监督管理局", region="410100")
    item = f.check_item(a, code="SC01", name="食品销售者检查")
    plan = f.plan(a, year=2025)
    draft_plan = f.plan(a, year=2026, publish=False)
    t = {
        "plan": f.task(a, plan=plan, title="食品销售专项抽查", items=[item], code="411421202504010001"),
        "temporary": f.task(a, title="投诉举报临时抽查", code="411421202509010002",
                            period=(date(2025, 9, 1), date(2025, 9, 30))),
        "joint": f.task(a, plan=plan, title="餐饮联合抽查", departments=[a, b], code="411421202505010003",
                        inspectors_per_target={"SCJGJ": 1, "WJW": 1}),
        "of_draft_plan": f.task(a, plan=draft_plan, title="2026年度计划内任务", code="411421202603010004",
                                period=(date(2026, 3, 1), date(2026, 6, 30))),
        "far": f.task(far, title="郑州市抽查", code="410100202504010005"),
        # Never public: a draft, a withheld task, a surprise task before its results.
        "draft": f.task(a, title="草稿里的抽查", publish=False, code="411421202504010006"),
        "withheld": f.task(a, title="涉密专项抽查", code="411421202504010007", withheld=True),
        # (its period runs past NOW: a surprise task also appears once its period has ended, SPEC §3)
        "surprise": f.task(a, title="夜市专项抽查", surprise=True, code="411421202504010008",
                           period=(date(2026, 10, 1), date(2026, 12, 31))),
    }
    # A withdrawn task is a tombstone: not in the list.
    gone = f.task(a, title="已撤回的重复抽查", code="411421202504010009")
    gone.status, gone.withdrawn_at, gone.withdrawal_reason = Status.WITHDRAWN, datetime(2025, 7, 1, tzinfo=timezone.utc), "重复"
    t["withdrawn"] = gone
    db.session.commit()
    return t


def _codes(response):
    assert response.status_code == 200, text(response)
    return sorted(row["code"] for row in response.get_json()["items"])


def test_tasks_lists_exactly_what_the_visibility_rule_allows(client, tasks_world, app):
    now = datetime.fromisoformat(NOW)
    visible = sorted(t.code for t in tasks_world.values() if public_state("task", t, now).is_visible)
    assert visible == sorted(tasks_world[k].code for k in ("plan", "temporary", "joint", "of_draft_plan", "far"))
    assert _codes(client.get("/tasks.json")) == visible
    assert sorted(line.split(",")[0] for line in csv_lines(client.get("/tasks.csv"))[1:] if line) == visible
    page = text(client.get("/tasks"))
    fragment = text(client.get("/tasks", headers={"HX-Request": "true"}))
    for key, task in tasks_world.items():
        shown = task.code in visible
        assert (task.title in page) is shown, key
        assert (task.title in fragment) is shown, key
    assert "<html" not in fragment and 'id="tasks-list"' in fragment


def test_task_rows_link_to_the_html_page_and_name_only_public_plans(client, tasks_world):
    page = text(client.get("/tasks"))
    joint = tasks_world["joint"]
    assert f'href="/tasks/{joint.code}"' in page and f"/tasks/{joint.code}.json" not in page
    assert "联合抽查" in page and "临时任务" in page
    rows = {row["code"]: row for row in client.get("/tasks.json").get_json()["items"]}
    assert rows[joint.code]["plan_id"] == tasks_world["plan"].plan_id
    assert rows[joint.code]["joint"] is True and rows[joint.code]["url"] == f"/tasks/{joint.code}"
    assert sorted(d["code"] for d in rows[joint.code]["departments"]) == ["SCJGJ", "WJW"]
    # The plan of this task is a draft: the task is public, its plan stays unnamed (as on the task page).
    assert rows[tasks_world["of_draft_plan"].code]["plan_id"] is None
    assert client.get(f"/tasks/{tasks_world['of_draft_plan'].code}.json").get_json()["plan_id"] is None


def test_tasks_csv_is_exact(client, tasks_world):
    lines = csv_lines(client.get("/tasks.csv?kind=joint"))
    departments = "、".join(d["name"] for d in client.get("/tasks.json?kind=joint").get_json()["items"][0]["departments"])
    assert sorted(departments.split("、")) == ["民权县卫生健康委员会", "民权县市场监督管理局"]
    assert lines[0] == CSV_HEADER
    assert lines[1] == (f"411421202505010003,2025,餐饮联合抽查,SCJGJ,民权县市场监督管理局,{departments},"
                        f"{tasks_world['plan'].plan_id},否,是,否,,2025-04-01,2025-06-30,2025-06-01 10:00,")
    assert lines[2:] == [""]


@pytest.mark.parametrize("query, keys", [
    ("kind=plan", ["plan", "joint", "of_draft_plan"]),
    ("kind=temporary", ["temporary", "far"]),
    ("kind=joint", ["joint"]),
    ("dept=WJW", ["joint"]),
    ("dept=ZZ", ["far"]),
    ("year=2026", ["of_draft_plan"]),
    ("region=4101", ["far"]),
    ("region=411421&kind=plan&year=2025", ["plan", "joint"]),
    ("q=联合", ["joint"]),
    ("q=4114212025090", ["temporary"]),
    ("utm_source=weibo&conclusion=C99", ["plan", "temporary", "joint", "of_draft_plan", "far"]),
])
def test_task_filters(client, tasks_world, query, keys):
    assert _codes(client.get(f"/tasks.json?{query}")) == sorted(tasks_world[k].code for k in keys)
    lines = [line for line in csv_lines(client.get(f"/tasks.csv?{query}"))[1:] if line]
    assert sorted(line.split(",")[0] for line in lines) == sorted(tasks_world[k].code for k in keys)


def test_tasks_is_in_the_main_navigation_with_a_kind_filter(client, tasks_world):
    home = text(client.get("/"))
    assert re.search(r'<nav class="site-nav"[^>]*>.*?<a href="/tasks"\s*>抽查任务</a>', home, re.S)
    page = text(client.get("/tasks?kind=joint"))
    assert '<a href="/tasks" aria-current="page">抽查任务</a>' in page
    assert '<option value="joint" selected>联合抽查任务</option>' in page
    assert 'href="/tasks.csv?kind=joint"' in page and 'href="/tasks.json?kind=joint"' in page
    assert 'hx-get="/tasks"' in page


# ---------------------------------------------------------------- unknown values on every list

@pytest.fixture
def lists_world(db):
    dept = f.department(code="SCJGJ", name="民权县市场监督管理局")
    f.check_item(dept, code="SC01")
    db.session.commit()


BAD_VALUES = {
    "dept": ("NOPE", "部门代码“NOPE”不存在"),
    "year": ("20x5", "年度“20x5”不正确"),
    "region": ("4200", "行政区划代码“4200”下没有"),
    "conclusion": ("C99", "检查结果“C99”不在检查结果代码表中"),
    "category": ("责令道歉", "处罚类别“责令道歉”不在处罚类别代码表中"),
    "kind": ("weekly", "任务类型“weekly”不正确"),
    "from": ("2025-02-30", "起始日期"),
    "to": ("明天", "截止日期"),
}
PAGING_VALUES = [("page", "0", "页码“0”不正确"), ("page", "abc", "页码“abc”不正确"), ("page", "１", "页码“１”不正确"),
                 ("per_page", "201", "每页条数不能超过 200"), ("per_page", "-5", "每页条数“-5”不正确")]
LIST_CASES = [(name, param, *BAD_VALUES[param]) for name, params in LIST_PARAMS.items() for param in params
              if param in BAD_VALUES] + [(name, p, v, m) for name in LIST_PARAMS for p, v, m in PAGING_VALUES]


@pytest.mark.parametrize("list_name, param, value, message", LIST_CASES)
def test_a_value_that_matches_nothing_is_a_400_on_every_channel(client, lists_world, list_name, param, value, message):
    for suffix, read in (("", text), (".json", lambda r: r.get_json()["error"]["message"]), (".csv", text)):
        response = client.get(f"/{list_name}{suffix}", query_string={param: value})
        assert response.status_code == 400, (list_name, suffix, param)
        assert message in read(response), (list_name, suffix, read(response))
    fragment = client.get(f"/{list_name}", query_string={param: value}, headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and message in text(fragment) and "<html" not in text(fragment)


def test_every_list_documents_and_accepts_its_parameters(client, lists_world):
    data = text(client.get("/data"))
    for name, params in LIST_PARAMS.items():
        for param in params:
            assert f"<code>{param}</code>" in data, param
        response = client.get(f"/{name}.json", query_string={"utm_source": "x", "fbclid": "y"})
        assert response.status_code == 200, name
    # A list ignores another list's filter names rather than failing.
    assert client.get("/items.json?conclusion=C99&kind=weekly").status_code == 200


def test_known_values_are_accepted(client, lists_world):
    for query in ("dept=SCJGJ", "region=41", "region=411421", "conclusion=C05", "conclusion=c05",
                  "conclusion=发现问题已责令改正", "category=罚款", "per_page=200", "page=3"):
        for name in ("results", "penalties"):
            assert client.get(f"/{name}.json?{query}").status_code == 200, (name, query)


# ---------------------------------------------------------------- items in force in a year

@pytest.fixture
def items_world(db):
    dept = f.department(code="SCJGJ", name="民权县市场监督管理局")
    old = f.check_item(dept, code="SC01", name="食品销售者检查（旧）")
    old.versions[0].effective_from = date(2024, 1, 1)
    old.versions.append(CheckItemVersion(version=2, name="食品销售者检查（2026版）", kind="重点",
                                         effective_from=date(2026, 3, 1), method="实地检查"))
    new = f.check_item(dept, code="SC02", name="网络食品交易检查")
    new.versions[0].effective_from = date(2026, 1, 1)
    db.session.commit()
    return {"old": old, "new": new}


@pytest.mark.parametrize("year, expected", [
    (2023, []),
    (2024, [("SC01", "食品销售者检查（旧）", 1)]),
    (2025, [("SC01", "食品销售者检查（旧）", 1)]),
    (2026, [("SC01", "食品销售者检查（2026版）", 2), ("SC02", "网络食品交易检查", 1)]),
])
def test_items_of_a_year_are_those_in_force_then_in_that_version(client, items_world, year, expected):
    rows = client.get(f"/items.json?year={year}").get_json()["items"]
    assert [(r["code"], r["name"], r["version"]) for r in rows] == expected
    lines = [line for line in csv_lines(client.get(f"/items.csv?year={year}"))[1:] if line]
    assert [(line.split(",")[2], line.split(",")[3], int(line.split(",")[-1])) for line in lines] == expected
    page = text(client.get(f"/items?year={year}"))
    for code, name, _ in expected:
        assert name in page
    if year == 2025:
        assert "食品销售者检查（2026版）" not in page and "网络食品交易检查" not in page
    # Without a year the current version shows, with its history.
    assert "食品销售者检查（2026版）" in text(client.get("/items"))


def test_data_page_documents_the_tasks_list_with_unique_anchors(client, lists_world):
    page = text(client.get("/data"))
    assert 'id="dataset-task"' in page and 'href="/tasks.csv"' in page
    for label in CSV_HEADER.split(","):
        assert f"<td>{label}</td>" in page, label
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_the_home_page_leads_to_the_tasks_list(client, tasks_world):
    home = text(client.get("/"))
    assert '<a href="/tasks"><span class="num">5</span><span class="label">抽查任务</span></a>' in home
    assert '<a href="/tasks">全部抽查任务 →</a>' in home
