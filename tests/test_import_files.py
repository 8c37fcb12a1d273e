"""Uploads: the bad-input corpus in tests/data, idempotency, masking, commit all-or-nothing (SPEC §9)."""
import importlib.util
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

import factories as f
from portal.extensions import db as _db
from portal.importers import ImportRejected, build_preview, commit
from portal.models import (AuditEvent, Department, Entity, ImportBatch, Inspector, Penalty, Result, SearchChange,
                           Status)

DATA = Path(__file__).parent / "data"
TODAY = date(2025, 7, 1)
DRAWN_AT = datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc)
NOW = "2025-07-01T02:00:00+00:00"

_spec = importlib.util.spec_from_file_location("make_corpus", DATA / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)


@pytest.fixture
def world(app, set_now):
    """Department MQ01 with the task, entities and inspectors the corpus files refer to."""
    set_now(NOW)
    # The search index is SEARCH's business (tests/test_search*.py); keep these tests about imports.
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="MQ01", name="民权县市场监督管理局")
    entities = [f.entity(uscc=u, name=f"民权县测试商贸有限公司{i}") for i, u in enumerate(corpus.ENTITY_USCC, 1)]
    inspectors = [f.inspector(dept, licence_no=lic, name=f"检查员{i}") for i, lic in enumerate(corpus.LICENCES, 1)]
    task = f.task(dept, code=corpus.TASK)
    f.draw(task, entities[:2], inspectors, drawn_at=DRAWN_AT)  # the corpus inspects from 2025-04-08
    _db.session.commit()
    return {"dept": dept, "entities": entities, "inspectors": inspectors, "task": task}


def table_counts():
    counts = {}
    for table in _db.metadata.sorted_tables:
        counts[table.name] = _db.session.execute(select(func.count()).select_from(table)).scalar()
    return counts


def load(name):
    return (DATA / name).read_bytes()


def problems_text(preview):
    return "\n".join(f"{p.row}|{p.column}|{p.severity}|{p.message}|{p.fix}" for p in preview.problems)


@pytest.mark.parametrize("name,encoding", [
    ("results_ok_utf8.csv", "UTF-8"), ("results_ok_utf8_bom.csv", "UTF-8（带 BOM）"), ("results_ok_gbk.csv", "GBK"),
    ("results_ok_utf16.csv", "UTF-16"), ("results_ok.xlsx", "XLSX"),
])
def test_good_files_in_every_encoding_import(world, name, encoding):
    data = load(name)
    preview = build_preview("results", data, name, world["dept"], TODAY)
    assert preview.encoding == encoding
    assert preview.ok, problems_text(preview)
    assert preview.counts["new"] == 2 and not preview.errors
    masked = [(n, m.label, m.masked) for n, m in preview.maskings]
    assert masked == [(2, "手机号码", "138****5678"), (2, "身份证号码", "1101**********002X")]
    batch = commit("results", data, name, world["dept"], accept_warnings=True)
    assert (batch.row_count, batch.created_count, batch.updated_count, batch.unchanged_count) == (2, 2, 0, 0)
    results = _db.session.execute(select(Result).order_by(Result.id)).scalars().all()
    assert len(results) == 2
    assert results[0].remark == "当事人联系电话 138****5678，身份证1101**********002X"
    assert results[0].formed_date == date(2025, 4, 10) and results[0].inspection_date == date(2025, 4, 8)
    assert [c.code for c in results[0].conclusions] == ["C01"]
    assert sorted(i.licence_no for i in results[0].inspectors) == corpus.LICENCES
    assert all(r.status == Status.DRAFT for r in results)
    # The audit trail and the search change log were written in the same transaction.
    actions = [e.action for e in _db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["create", "create", "import"]
    assert _db.session.execute(select(func.count()).select_from(SearchChange)).scalar() == 2


def test_gb18030_rare_characters_survive(world):
    preview = build_preview("results", load("results_ok_gb18030.csv"), "rare.csv", world["dept"], TODAY)
    assert preview.encoding == "GB18030" and preview.ok, problems_text(preview)
    commit("results", load("results_ok_gb18030.csv"), "rare.csv", world["dept"])
    assert _db.session.execute(select(Result.remark)).scalar() == "经营场所位于㐀村𠀀组，未发现问题"


BAD = [
    ("results_bad_uscc_malformed.csv", "统一社会信用代码", "有 16 位"),
    ("results_bad_sci_text.csv", "统一社会信用代码", "科学计数法"),
    ("results_bad_numeric_uscc.xlsx", "统一社会信用代码", "数字单元格"),
    ("results_bad_conclusion.csv", "检查结果", "未知的检查结果“基本合格”"),
    ("results_bad_date.csv", "检查日期", "2025年没有2月30日"),
    ("results_bad_duplicate.csv", "任务编号、统一社会信用代码", "与第 2 行重复"),
    ("results_bad_formula.csv", "结果说明", "公式"),
    ("results_bad_formula.xlsx", "结果说明", "公式"),
    ("results_bad_missing_column.csv", "检查结果、结果形成日期", "缺少必填列"),
    ("results_bad_utf16_nobom.csv", "", "UTF-16"),
    ("not_a_workbook.xlsx", "", "不是有效的 .xlsx"),
    ("old_excel.xls", "", "旧版 Excel"),
    ("xlsx_xml_entities.xlsx", "", "XML 实体声明"),
    ("xlsx_zip_bomb.xlsx", "", "压缩炸弹"),
]


@pytest.mark.parametrize("name,column,message", BAD)
def test_bad_files_get_a_clear_message_and_change_nothing(world, name, column, message):
    before = table_counts()
    data = load(name)
    preview = build_preview("results", data, name, world["dept"], TODAY)
    assert not preview.ok
    matching = [p for p in preview.errors if message in p.message]
    assert matching, problems_text(preview)
    assert matching[0].column == column
    assert all(p.fix or p.row is None for p in preview.errors)  # every row error says how to fix it
    with pytest.raises(ImportRejected):
        commit("results", data, name, world["dept"], accept_warnings=True)
    assert table_counts() == before


def test_duplicate_row_message_names_both_rows(world):
    preview = build_preview("results", load("results_bad_duplicate.csv"), "dup.csv", world["dept"], TODAY)
    [dup] = preview.errors
    assert dup.row == 4 and dup.message == "与第 2 行重复（同一任务和检查对象）"


def test_wrong_check_character_is_a_warning_the_clerk_may_accept(world, app):
    _db.session.add(Entity(uscc=corpus.WRONG_CHECK, name="校验位异常公司", entity_type="企业", region_code="411421"))
    _db.session.commit()
    data = load("results_warn_uscc_checksum.csv")
    preview = build_preview("results", data, "w.csv", world["dept"], TODAY)
    assert preview.ok
    assert any("校验位应为" in w.message and w.column == "统一社会信用代码" for w in preview.warnings)
    before = table_counts()
    with pytest.raises(ImportRejected):
        commit("results", data, "w.csv", world["dept"], accept_warnings=False)
    assert table_counts() == before
    batch = commit("results", data, "w.csv", world["dept"], accept_warnings=True)
    assert batch.created_count == 1


def _status_kb(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return None


def peak_growth_mb(work):
    """Run `work()`; return (its result, how far the process's peak RSS rose above the start, in MB).

    The peak, not the RSS afterwards: a parser that inflates a bomb frees it again before returning.
    Linux resets the peak (VmHWM) when "5" is written to /proc/self/clear_refs.
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS:")
    result = work()
    return result, (_status_kb("VmHWM:") - before) / 1024


def test_zip_bomb_refused_fast_without_memory_growth(world):
    data = load("xlsx_zip_bomb.xlsx")
    started = time.monotonic()
    preview, growth_mb = peak_growth_mb(lambda: build_preview("results", data, "bomb.xlsx", world["dept"], TODAY))
    elapsed = time.monotonic() - started
    print(f"zip bomb refused in {elapsed:.3f} s, peak RSS growth {growth_mb:.1f} MB")
    assert "压缩炸弹" in preview.file_problems[0].message
    assert growth_mb < 300  # a resource bound: the 1 GiB sheet was never inflated
    assert elapsed < 2 * 5  # generous margin over the 2 s promise on a busy 2-core machine


SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _workbook_with_strings(mb, part="xl/sharedStrings.xml", content_type=SST_TYPE, header=("任务编号",)):
    """A real XLSX whose first cell is shared string 0, with a shared-string table of about `mb` MB
    (distinct strings, so it compresses only ~10:1, like the probe's 6 MB file expanding to 92 MB)."""
    import io
    import random
    import zipfile

    import openpyxl

    base = io.BytesIO()
    book = openpyxl.Workbook()
    book.active.append(list(header))
    book.save(base)
    rnd = random.Random(7)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
                                    .encode())
            if info.filename == "xl/_rels/workbook.xml.rels":
                target = part.removeprefix("xl/")
                data = data.replace(b"</Relationships>", (
                    '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    f'relationships/sharedStrings" Target="{target}"/></Relationships>').encode())
            dst.writestr(info.filename, data)
        with dst.open(part, "w", force_zip64=True) as out_part:
            out_part.write(b'<?xml version="1.0" encoding="UTF-8"?>'
                           b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            out_part.write(f"<si><t>{header[0]}</t></si>".encode())
            written = 0
            while written < mb * 1024 * 1024:
                chunk = "".join(f"<si><t>民权县某某商贸有限公司{rnd.getrandbits(24):06x}</t></si>"
                                for _ in range(5000)).encode()
                out_part.write(chunk)
                written += len(chunk)
            out_part.write(b"</sst>")
    return out.getvalue()


def test_shared_strings_bomb_refused_by_its_expanded_size(world):
    """The probe's file: ~10 MB compressed, a 92 MB shared-string table, ratio ~10:1 (passed the ratio check)."""
    data = _workbook_with_strings(92)
    assert len(data) < 12 * 1024 * 1024
    started = time.monotonic()
    preview, growth_mb = peak_growth_mb(lambda: build_preview("results", data, "strings.xlsx", world["dept"], TODAY))
    elapsed = time.monotonic() - started
    print(f"shared-strings bomb refused in {elapsed:.3f} s, peak RSS growth {growth_mb:.1f} MB")
    [problem] = preview.file_problems
    assert problem.message.startswith("该 .xlsx 文件中的“共享字符串表 sharedStrings.xml”解压后有 92.")
    assert "超过 24 MB 的上限（疑似“压缩炸弹”，或文件过大），已拒绝处理" in problem.message
    assert preview.rows == []
    assert growth_mb < 64  # the table was never parsed (it would take ~630 MB)
    assert elapsed < 5


def test_a_part_only_gets_a_larger_allowance_for_its_declared_role(world):
    """A shared-string table named like a worksheet is still parsed whole: it gets the 8 MB limit."""
    disguised = _workbook_with_strings(12, part="xl/worksheets/sheet9.xml")
    [problem] = build_preview("results", disguised, "d.xlsx", world["dept"], TODAY).file_problems
    assert problem.message.startswith("该 .xlsx 文件中的“xl/worksheets/sheet9.xml”解压后有 12.")
    assert "超过 8 MB 的上限" in problem.message


def test_a_large_but_legitimate_shared_string_table_is_read(world):
    data = _workbook_with_strings(10)  # over the 8 MB of ordinary parts, within the 24 MB for shared strings
    preview, growth_mb = peak_growth_mb(lambda: build_preview("results", data, "big.xlsx", world["dept"], TODAY))
    assert preview.file_problems[0].message == "缺少必填列：统一社会信用代码、检查结果、结果形成日期"  # it was opened
    print(f"10 MB shared-string table read with a peak RSS growth of {growth_mb:.1f} MB")


def test_same_file_twice_and_same_keys_in_another_file_never_duplicate(world):
    data = load("results_ok_gbk.csv")
    first = commit("results", data, "a.csv", world["dept"])
    again = build_preview("results", data, "a.csv", world["dept"], TODAY)
    assert again.ok and [b.id for b in again.previous] == [first.id]
    assert again.counts == {"rows": 2, "new": 0, "updated": 0, "unchanged": 2, "error_rows": 0, "warning_rows": 0}
    second = commit("results", data, "a.csv", world["dept"])
    assert (second.created_count, second.unchanged_count) == (0, 2)
    # Same natural keys, different file (UTF-8, one changed conclusion): updates, no new rows.
    other = load("results_ok_utf8.csv").decode("utf-8").replace(",C01,经检查", ",C05,经检查")
    third = commit("results", other.encode("utf-8"), "b.csv", world["dept"])
    assert (third.created_count, third.updated_count, third.unchanged_count) == (0, 1, 1)
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 2
    labels = _db.session.execute(select(Result).where(Result.entity_id == world["entities"][1].id)).scalar()
    assert [c.code for c in labels.conclusions] == ["C05"]
    assert _db.session.execute(select(func.count()).select_from(ImportBatch)).scalar() == 3
    from portal.journal import verify_chain
    count, _head, problem, _missing = verify_chain()
    assert problem is None and count == 2 + 1 + 1 + 1 + 1  # 2 creates, 3 imports, 1 update


def test_audit_chain_stays_valid_with_bulk_events_corrections_and_publication(world):
    from portal.journal import verify_chain
    commit("results", load("results_ok_gbk.csv"), "a.csv", world["dept"], publish=True)
    changed = load("results_ok_utf8.csv").decode("utf-8").replace("2025/4/10", "2025/4/11")
    commit("results", changed.encode(), "b.csv", world["dept"], accept_warnings=True)
    count, _head, problem, _missing = verify_chain()
    assert problem is None
    actions = [e.action for e in _db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["create", "create", "publish", "publish", "import", "correct", "correct", "import"]


def test_publish_option_and_published_rows_are_corrected_not_overwritten(world):
    data = load("results_ok_gbk.csv")
    batch = commit("results", data, "a.csv", world["dept"], publish=True)
    assert "发布 2" in batch.message
    result = _db.session.execute(select(Result).order_by(Result.id)).scalars().first()
    # The import published a result for both drawn targets: the embargo column followed (portal.embargo).
    assert result.status == Status.PUBLISHED and result.task.results_complete_at == max(
        r.published_at for r in _db.session.execute(select(Result)).scalars())
    changed = load("results_ok_utf8.csv").decode("utf-8").replace("2025/4/10", "2025/4/11")
    preview = build_preview("results", changed.encode(), "b.csv", world["dept"], TODAY)
    assert preview.counts["updated"] == 2
    assert any("更正" in w.message for w in preview.warnings)
    commit("results", changed.encode(), "b.csv", world["dept"], accept_warnings=True)
    _db.session.expire_all()
    result = _db.session.get(Result, result.id)
    assert result.formed_date == date(2025, 4, 11) and result.version == 2 and result.corrected_at is not None


def test_results_of_another_departments_task_are_refused(world):
    other = f.department(code="OTHER")
    clerk_dept = _db.session.get(Department, other.id)
    _db.session.commit()
    preview = build_preview("results", load("results_ok_utf8.csv"), "a.csv", clerk_dept, TODAY)
    assert any(p.message == f"任务“{corpus.TASK}”不属于本部门" for p in preview.errors)


def test_joint_task_participant_may_import(world):
    partner = f.department(code="JOINT")
    world["task"].departments.append(partner)
    _db.session.commit()
    preview = build_preview("results", load("results_ok_utf8.csv"), "a.csv", partner, TODAY)
    assert preview.ok, problems_text(preview)


def test_entity_not_drawn_is_a_warning(world):
    text = load("results_ok_utf8.csv").decode().replace(corpus.ENTITY_USCC[1], corpus.ENTITY_USCC[2])
    preview = build_preview("results", text.encode(), "a.csv", world["dept"], TODAY)
    assert preview.ok
    assert [w.message for w in preview.warnings] == ["“民权县测试商贸有限公司3”不在该任务的抽取名单中"]


def test_penalties(world):
    data = load("penalties_ok.csv")
    preview = build_preview("penalties", data, "p.csv", world["dept"], TODAY)
    assert preview.ok, problems_text(preview)
    assert [(n, m.masked) for n, m in preview.maskings] == [(2, "139****5678")]
    commit("penalties", data, "p.csv", world["dept"])
    fine, warning = _db.session.execute(select(Penalty).order_by(Penalty.decision_no)).scalars().all()
    assert fine.decision_no == "民市监罚〔2025〕101号" and fine.fine_amount == Decimal("5000.00")
    assert fine.confiscation_amount == Decimal("320.50") and fine.categories == ["罚款", "没收违法所得"]
    assert fine.facts == "经查，当事人销售过期食品，负责人手机139****5678。"
    assert fine.entity_id == world["entities"][0].id and fine.task_id == world["task"].id
    assert fine.publicity_end == date(2028, 5, 19)  # fine + confiscation: 3 years
    assert fine.authority == "民权县市场监督管理局"
    assert warning.party_kind == "natural_person" and warning.publicity_end is None
    again = commit("penalties", data, "p.csv", world["dept"])
    assert again.unchanged_count == 2


def test_penalties_bad(world):
    before = table_counts()
    preview = build_preview("penalties", load("penalties_bad.csv"), "p.csv", world["dept"], TODAY)
    text = problems_text(preview)
    for expected in ("未知的处罚类别“记大过”", "“五千”不是金额数字", "2025年没有13月1日", "任务编号“999”不存在"):
        assert expected in text
    with pytest.raises(ImportRejected):
        commit("penalties", load("penalties_bad.csv"), "p.csv", world["dept"])
    assert table_counts() == before


def test_entities_update_by_uscc(world):
    data = load("entities_ok.csv")
    preview = build_preview("entities", data, "e.csv", world["dept"], TODAY)
    assert preview.encoding in ("GBK", "GB18030") and preview.ok, problems_text(preview)
    assert (preview.counts["new"], preview.counts["updated"]) == (1, 1)
    commit("entities", data, "e.csv", world["dept"])
    first = _db.session.get(Entity, world["entities"][0].id)
    assert first.name == "民权县测试商贸有限公司1（更名）" and first.risk_class.value == "C"
    assert first.tags == ["重点", "食品销售"]
    new = _db.session.execute(select(Entity).where(Entity.name == "民权县新店")).scalar()
    assert new.entity_type.value == "个体工商户" and new.risk_class.value == "A" and new.operator_name == "李某"
    assert _db.session.execute(select(func.count()).select_from(Entity)).scalar() == 4
    assert commit("entities", data, "e.csv", world["dept"]).unchanged_count == 2


def test_inspectors_update_by_licence_and_keep_id_numbers_out_of_the_preview(world):
    data = load("inspectors_ok.csv")
    preview = build_preview("inspectors", data, "i.csv", world["dept"], TODAY)
    assert preview.ok, problems_text(preview)
    assert preview.rows[0].display["身份证号码"] == "1101**********002X"
    assert corpus.ID_NUMBER not in repr(preview.rows[0].display)
    commit("inspectors", data, "i.csv", world["dept"])
    first = _db.session.execute(select(Inspector).where(Inspector.licence_no == corpus.LICENCES[0])).scalar()
    assert first.name == "检查员甲（改名）" and first.id_card_no == corpus.ID_NUMBER
    new = _db.session.execute(select(Inspector).where(Inspector.licence_no == "41142100000009")).scalar()
    assert new.active is False and new.department_id == world["dept"].id
    events = _db.session.execute(select(AuditEvent.after)).scalars().all()
    assert corpus.ID_NUMBER not in repr(events)


def test_inspector_of_another_department_is_refused(world):
    other = f.department(code="OTHER")
    _db.session.commit()
    preview = build_preview("inspectors", load("inspectors_ok.csv"), "i.csv", other, TODAY)
    assert any(p.message == "该执法证号属于其他部门的执法人员" for p in preview.errors)


def test_cli_import(world, runner):
    result = runner.invoke(args=["import", "results", str(DATA / "results_bad_date.csv"), "--department", "MQ01"])
    assert result.exit_code == 1
    assert "错误 第 2 行［检查日期］：“2025-02-30”不是有效日期（2025年没有2月30日）" in result.output
    assert _db.session.execute(select(func.count()).select_from(Result)).scalar() == 0
    result = runner.invoke(args=["import", "results", str(DATA / "results_ok_gbk.csv"), "--department", "MQ01",
                                 "--publish"])
    assert result.exit_code == 0, result.output
    assert "已导入 2 行" in result.output and "新增 2，更新 0，未变化 0，发布 2" in result.output
    assert "已遮蔽 第 2 行［结果说明］手机号码：138****5678" in result.output
    result = runner.invoke(args=["import", "results", str(DATA / "results_ok_gbk.csv"), "--department", "NOPE"])
    assert result.exit_code != 0 and "部门代码“NOPE”不存在" in result.output


def test_xlsx_date_cells_and_text_formatted_codes(world):
    import datetime as dt
    import io as _io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(corpus.RESULT_HEADERS)
    row = corpus.result_row(0)
    row[4], row[7] = dt.datetime(2025, 4, 8), dt.date(2025, 4, 10)  # real date cells
    ws.append(row)
    buffer = _io.BytesIO()
    wb.save(buffer)
    preview = build_preview("results", buffer.getvalue(), "d.xlsx", world["dept"], TODAY)
    assert preview.ok, problems_text(preview)
    assert preview.rows[0].values["inspection_date"] == date(2025, 4, 8)
    assert preview.rows[0].values["formed_date"] == date(2025, 4, 10)


def test_inspectors_must_belong_to_the_task_departments(world):
    outsider = f.inspector(f.department(code="FAR"), licence_no="99990000000001")
    _db.session.commit()
    text = load("results_ok_utf8.csv").decode().replace(corpus.LICENCES[1], outsider.licence_no)
    preview = build_preview("results", text.encode(), "a.csv", world["dept"], TODAY)
    assert [p.message for p in preview.errors] == ["执法人员“99990000000001”不属于本任务的参与部门"] * 2
