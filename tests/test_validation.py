"""One validator and one vocabulary per record kind: the form and the importer agree on every rule."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

import factories as f
from conftest import extract_csrf
from portal.importers import build_preview
from portal.models import Result
from portal.validation import Lookups, TaskInfo, validate
from portal.validation.results import REMARK_MAX
from portal.validation.vocabulary import match_terms, split_list

CONCLUSIONS = {"C01": "未发现问题", "C03": "公示信息隐瞒真实情况、弄虚作假", "C05": "发现问题已责令改正",
               "C10": "已注销、被吊销或被撤销"}


@pytest.mark.parametrize("given, found, unknown", [
    ("C01", [("C01", "未发现问题")], []),
    ("c03", [("C03", "公示信息隐瞒真实情况、弄虚作假")], []),
    ("公示信息隐瞒真实情况、弄虚作假", [("C03", "公示信息隐瞒真实情况、弄虚作假")], []),
    ("C01、已注销、被吊销或被撤销", [("C01", "未发现问题"), ("C10", "已注销、被吊销或被撤销")], []),
    ("公示信息隐瞒真实情况、弄虚作假；发现问题已责令改正", [("C03", "公示信息隐瞒真实情况、弄虚作假"),
                                                           ("C05", "发现问题已责令改正")], []),
    ("C01, C05 / C01", [("C01", "未发现问题"), ("C05", "发现问题已责令改正")], []),
    ("公示信息隐瞒真实情况、C99", [], ["公示信息隐瞒真实情况", "C99"]),
    (["C03", "已注销、被吊销或被撤销"], [("C03", "公示信息隐瞒真实情况、弄虚作假"), ("C10", "已注销、被吊销或被撤销")], []),
])
def test_vocabulary_terms_read_by_code_or_by_a_label_containing_a_separator(given, found, unknown):
    assert match_terms(given, CONCLUSIONS) == (found, unknown)


def test_one_list_splitter():
    assert split_list("A、B;C；D,E，F/G H\nI") == list("ABCDEFGHI")
    assert split_list(["A", " ", "B "]) == ["A", "B"]
    assert split_list(None) == []


def _lookups(**task):
    info = TaskInfo(id=1, code="411421202504010001", department_id=7, department_ids={7}, item_terms={"I1": "食品"},
                    item_ids_by_code={"I1": 11}, item_ids={11}, drawn_entity_ids={3}, drawn_on=date(2025, 4, 1),
                    period_start=date(2025, 4, 1), period_end=date(2025, 6, 30), **task)
    from portal.validation import EntityRef
    return Lookups(department_id=7, tasks={info.code: info}, conclusions=CONCLUSIONS,
                   entities={f.make_uscc(3): EntityRef(3, "甲公司", "企业"), f.make_uscc(4): EntityRef(4, "乙公司", "企业")},
                   follow_ups={"F1": "无需后续处置"})


def _result(**raw):
    base = {"task_code": "411421202504010001", "uscc": f.make_uscc(3), "conclusions": "C01",
            "formed_date": "2025-05-10"}
    return validate("result", {**base, **raw}, _lookups(), date(2025, 7, 1))


def test_inspection_before_the_draw_is_refused_in_chinese():
    checked = _result(inspection_date="2025-03-30")
    assert [(p.key, p.message, p.severity) for p in checked.problems] == [
        ("inspection_date", "检查日期 2025-03-30 早于该任务的抽取日期 2025-04-01：抽取之后才能检查", "error"),
        ("inspection_date", "检查日期 2025-03-30 不在任务检查期间（2025-04-01 至 2025-06-30）内", "warning")]
    assert _result(formed_date="2025-03-31").errors[0].message == \
        "结果形成日期 2025-03-31 早于该任务的抽取日期 2025-04-01：抽取之后才能检查"
    assert _result(inspection_date="2025-04-01").ok


def test_warnings_and_limits():
    assert [p.message for p in _result(uscc=f.make_uscc(4)).warnings] == ["“乙公司”不在该任务的抽取名单中"]
    assert _result(remark="说" * REMARK_MAX).ok
    assert _result(remark="说" * (REMARK_MAX + 1)).errors[0].message == "内容过长（4001 字，最多 4000 字）"


def test_items_naming_the_whole_task_leave_findings_alone():
    assert "item_ids" not in _result(items="食品").values
    assert "item_ids" not in _result(items="").values
    assert _result(items="水产品").errors[0].message == "检查事项“水产品”不属于该任务"


DRAWN = datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(app, db, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="VAL", name="校验测试局")
    task = f.task(dept, code="411421202504010001")
    drawn, undrawn = f.entity(), f.entity()
    insp = [f.inspector(dept, licence_no=f"41142198{i:05d}") for i in range(3)]
    f.draw(task, [drawn], insp, drawn_at=DRAWN)
    clerk = f.user("clerk", dept, username="val-clerk")
    db.session.commit()
    return dict(dept=dept, task=task, drawn=drawn, undrawn=undrawn, insp=insp, clerk=clerk)


def _form_post(client, **data):
    token = extract_csrf(client.get("/admin/results/new").get_data(as_text=True))
    return client.post("/admin/results/new", data={"csrf_token": token, **data})


def _file(*rows):
    header = "任务编号,统一社会信用代码,检查日期,检查结果,结果说明,结果形成日期,执法人员\r\n"
    return ("\ufeff" + header + "".join(",".join(r) + "\r\n" for r in rows)).encode("utf-8")


def test_the_form_and_the_importer_give_the_same_answers(world, client, login, db):
    w = world
    login(client, w["clerk"])
    licences = f"{w['insp'][0].licence_no}；{w['insp'][1].licence_no} {w['insp'][2].licence_no}"
    cases = [  # (form fields, file cells, expected error/warning text)
        (dict(inspection_date="2025-03-20"), ["2025-03-20", "C01", "", "2025-05-10", ""],
         "检查日期 2025-03-20 早于该任务的抽取日期 2025-04-01：抽取之后才能检查"),
        (dict(remark="说" * 4001), ["", "C01", "说" * 4001, "2025-05-10", ""], "内容过长（4001 字，最多 4000 字）"),
        (dict(inspection_date="2025-07-01"), ["2025-07-01", "C01", "", "2025-07-01", ""],
         "检查日期 2025-07-01 不在任务检查期间（2025-04-01 至 2025-06-30）内"),
        (dict(inspector_licences="4114210000404"), ["", "C01", "", "2025-05-10", "4114210000404"],
         "执法证号“4114210000404”不在执法检查人员名录中"),
    ]
    for form_fields, cells, message in cases:
        data = dict(task_id=w["task"].id, entity_uscc=w["drawn"].uscc, formed_date="2025-05-10", conclusions=["C01"])
        html = _form_post(client, **{**data, **form_fields}).get_data(as_text=True)
        assert message in html, message
        preview = build_preview("results", _file([w["task"].code, w["drawn"].uscc, *cells]), "r.csv", w["dept"],
                                date(2025, 7, 1))
        assert message in [p.message for p in preview.problems], message
    # The undrawn warning on both paths; the same list separators for the inspectors.
    html = _form_post(client, task_id=w["task"].id, entity_uscc=w["undrawn"].uscc, formed_date="2025-05-10",
                      conclusions=["C03", "C10"], inspector_licences=licences, accept_warnings="1")
    assert html.status_code == 303
    saved = db.session.execute(select(Result)).scalar_one()
    assert sorted(i.licence_no for i in saved.inspectors) == sorted(i.licence_no for i in w["insp"])
    assert [c.code for c in sorted(saved.conclusions, key=lambda c: c.code)] == ["C03", "C10"]
    preview = build_preview("results", _file([w["task"].code, w["undrawn"].uscc, "", "公示信息隐瞒真实情况、弄虚作假、"
                                              "已注销、被吊销或被撤销", "", "2025-05-10", licences]),
                            "r.csv", w["dept"], date(2025, 7, 1))
    assert preview.ok and preview.counts["unchanged"] == 1  # the same record, read the same way
    assert preview.warnings == []  # nothing is written: the warning accepted when it was saved is not asked again
    changed = _file([w["task"].code, w["undrawn"].uscc, "", "C03", "", "2025-05-10", licences])
    preview = build_preview("results", changed, "r.csv", w["dept"], date(2025, 7, 1))
    assert preview.counts["updated"] == 1
    assert [p.message for p in preview.warnings] == [f"“{w['undrawn'].name}”不在该任务的抽取名单中"]
