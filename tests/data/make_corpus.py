"""Regenerate the upload corpus: `python tests/data/make_corpus.py` (writes next to this file).

The files refer to the fixed world built by tests/test_import_files.py: department MQ01,
task 411421202504010001, entities ENTITY_USCC[0..2], inspectors 41142100000001/2.
"""
import csv
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from portal.domain.uscc import make  # noqa: E402

TASK = "411421202504010001"
ENTITY_USCC = [make("9", "1", "411421", f"MA{i:07d}") for i in range(1, 4)]
LICENCES = ["41142100000001", "41142100000002"]
WRONG_CHECK = ENTITY_USCC[0][:17] + ("1" if ENTITY_USCC[0][17] != "1" else "2")
ID_NUMBER = "11010519491231002X"

RESULT_HEADERS = ["任务编号", "统一社会信用代码", "检查对象名称", "检查事项", "检查日期", "检查结果", "结果说明",
                  "结果形成日期", "后续处置", "执法人员"]


def result_row(i=0, **over):
    row = {"任务编号": TASK, "统一社会信用代码": ENTITY_USCC[i], "检查对象名称": "", "检查事项": "",
           "检查日期": "2025-04-08", "检查结果": "C01", "结果说明": "经检查未发现问题", "结果形成日期": "2025/4/10",
           "后续处置": "无需后续处置", "执法人员": "、".join(LICENCES)}
    row.update(over)
    return [row[h] for h in RESULT_HEADERS]


def csv_text(headers, rows):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def write(name, data: bytes):
    (HERE / name).write_bytes(data)


def xlsx(headers, rows, numeric_uscc=None, formula=None):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    if numeric_uscc is not None:
        ws.cell(row=2, column=2, value=numeric_uscc)  # a number cell: what Excel does to long codes
    if formula is not None:
        ws.cell(row=2, column=7, value=formula)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def main():
    good = [result_row(0, 结果说明=f"当事人联系电话 138 1234 5678，身份证{ID_NUMBER}"), result_row(1)]
    text = csv_text(RESULT_HEADERS, good)
    write("results_ok_utf8.csv", text.encode("utf-8"))
    write("results_ok_utf8_bom.csv", text.encode("utf-8-sig"))
    write("results_ok_gbk.csv", text.encode("gbk"))
    write("results_ok_utf16.csv", text.encode("utf-16"))  # with BOM
    rare = csv_text(RESULT_HEADERS, [result_row(0, 结果说明="经营场所位于㐀村𠀀组，未发现问题")])
    write("results_ok_gb18030.csv", rare.encode("gb18030"))
    write("results_ok.xlsx", xlsx(RESULT_HEADERS, good))

    write("results_bad_uscc_malformed.csv", csv_text(RESULT_HEADERS, [result_row(0, 统一社会信用代码="91411421MAO00001")]).encode("gbk"))
    write("results_warn_uscc_checksum.csv", csv_text(RESULT_HEADERS, [result_row(0, 统一社会信用代码=WRONG_CHECK)]).encode("utf-8"))
    write("results_bad_sci_text.csv", csv_text(RESULT_HEADERS, [result_row(0, 统一社会信用代码="9.14114E+17")]).encode("gbk"))
    write("results_bad_numeric_uscc.xlsx", xlsx(RESULT_HEADERS, [result_row(0)], numeric_uscc=9.14114210000001e17))
    write("results_bad_conclusion.csv", csv_text(RESULT_HEADERS, [result_row(0, 检查结果="C01、基本合格")]).encode("gbk"))
    write("results_bad_date.csv", csv_text(RESULT_HEADERS, [result_row(0, 检查日期="2025-02-30")]).encode("gbk"))
    write("results_bad_duplicate.csv", csv_text(RESULT_HEADERS, [result_row(0), result_row(1), result_row(0)]).encode("gbk"))
    write("results_bad_formula.csv", csv_text(RESULT_HEADERS, [result_row(0, 结果说明='=HYPERLINK("http://evil.example","点击")')]).encode("utf-8"))
    write("results_bad_formula.xlsx", xlsx(RESULT_HEADERS, [result_row(0)], formula="=CONCATENATE(\"a\",\"b\")"))
    write("results_bad_utf16_nobom.csv", text.encode("utf-16-le"))
    write("results_bad_missing_column.csv", csv_text(RESULT_HEADERS[:5], [result_row(0)[:5]]).encode("utf-8"))
    write("not_a_workbook.xlsx", b"PK\x03\x04 this is not really a zip file" + b"\x00" * 64)
    write("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)

    # An XLSX whose sheet expands to 1 GiB: refused from the declared sizes, never decompressed.
    base = xlsx(RESULT_HEADERS, [result_row(0)])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
                    chunk = b" " * (1 << 20)
                    for _ in range(1024):
                        member.write(chunk)
            else:
                dst.writestr(info, src.read(info.filename))
    write("xlsx_zip_bomb.xlsx", out.getvalue())

    # An XLSX with a "billion laughs" DOCTYPE in its shared strings.
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
              b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
              b'<si><t>&lol3;</t></si></sst>')
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                data = laughs
            dst.writestr(info, data)
        if "xl/sharedStrings.xml" not in names:
            dst.writestr("xl/sharedStrings.xml", laughs)
    write("xlsx_xml_entities.xlsx", out.getvalue())

    penalty_headers = ["行政处罚决定书文号", "统一社会信用代码", "当事人名称", "违法行为类型", "违法事实", "处罚依据",
                       "处罚类别", "罚款金额（元）", "没收金额（元）", "处罚决定日期", "处罚机关", "关联任务编号"]
    ok = [["民市监罚〔2025〕101号", ENTITY_USCC[0], "民权县测试商贸有限公司1", "销售不符合食品安全标准的食品",
           "经查，当事人销售过期食品，负责人手机13912345678。", "《食品安全法》第一百二十四条", "罚款、没收违法所得",
           "5,000", "320.50", "2025年5月20日", "", TASK],
          ["民市监罚〔2025〕102号", "", "王某", "其他违法行为", "经查属实。", "", "警告", "", "", "2025-05-21", "", ""]]
    write("penalties_ok.csv", csv_text(penalty_headers, ok).encode("gbk"))
    bad = [["民市监罚〔2025〕103号", ENTITY_USCC[0], "某公司", "", "", "", "罚款、记大过", "五千", "", "2025-13-01", "", "999"]]
    write("penalties_bad.csv", csv_text(penalty_headers, bad).encode("utf-8-sig"))

    entity_headers = ["统一社会信用代码", "名称", "类型", "行政区划代码", "行业代码", "登记状态", "信用风险分类", "标签", "住所",
                      "法定代表人", "经营者姓名", "成立日期"]
    rows = [[ENTITY_USCC[0], "民权县测试商贸有限公司1（更名）", "企业", "411421", "F", "存续", "C", "食品销售、重点", "民权县人民路1号",
             "张某", "", "2015-06-01"],
            [make("9", "2", "411421", "MA0000099"), "民权县新店", "个体工商户", "411421", "H", "存续", "低", "", "民权县北关",
             "", "李某", "2020/1/2"]]
    write("entities_ok.csv", csv_text(entity_headers, rows).encode("gb18030"))
    inspector_headers = ["执法证号", "姓名", "性别", "身份证号码", "执法领域", "职务", "可检查事项", "在岗"]
    rows = [[LICENCES[0], "检查员甲（改名）", "女", ID_NUMBER, "市场监管综合执法", "科长", "", "是"],
            ["41142100000009", "新检查员", "男", "", "食品安全", "科员", "", "否"]]
    write("inspectors_ok.csv", csv_text(inspector_headers, rows).encode("utf-8-sig"))


if __name__ == "__main__":
    main()
