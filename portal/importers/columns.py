"""Template columns per upload kind (SPEC §9) and header matching."""
from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("results", "penalties", "entities", "inspectors")
KIND_LABELS = {"results": "检查结果", "penalties": "行政处罚", "entities": "检查对象名录", "inspectors": "执法检查人员名录"}
RECORD_KIND = {"results": "result", "penalties": "penalty", "entities": "entity", "inspectors": "inspector"}
PUBLIC_DATASETS = {"results": "RESULTS", "penalties": "PENALTIES"}


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    required: bool = False
    hint: str = ""


COLUMNS = {
    "results": [
        Column("任务编号", "task_code", True, "18 位任务编号，如 411421202504010001"),
        Column("统一社会信用代码", "uscc", True, "18 位代码，单元格设为文本格式"),
        Column("检查对象名称", "entity_name", False, "与名录库中的名称一致"),
        Column("检查事项", "items", False, "任务中的检查事项编码或名称，可填多个；留空或填全部事项表示整个任务"),
        Column("检查日期", "inspection_date", False, "如 2025-03-07"),
        Column("检查结果", "conclusions", True, "结论编码或名称，多个用“、”分隔，如 C01"),
        Column("结果说明", "remark", False, "不要填写身份证号、手机号"),
        Column("结果形成日期", "formed_date", True, "如 2025-03-07"),
        Column("后续处置", "follow_up", False, "如 无需后续处置"),
        Column("执法人员", "inspectors", False, "执法证号，多个用“、”或“;”分隔"),
    ],
    "penalties": [
        Column("行政处罚决定书文号", "decision_no", True, "如 民市监罚〔2025〕12号"),
        Column("统一社会信用代码", "uscc", False, "当事人为单位或个体工商户时填写"),
        Column("当事人名称", "party_name", True, ""),
        Column("违法行为类型", "violation_type", False, ""),
        Column("违法事实", "facts", False, "不要填写身份证号、手机号"),
        Column("处罚依据", "legal_basis", False, ""),
        Column("处罚类别", "categories", True, "如 罚款、没收违法所得"),
        Column("罚款金额（元）", "fine_amount", False, "数字，如 5000 或 5000.00"),
        Column("没收金额（元）", "confiscation_amount", False, "数字"),
        Column("处罚决定日期", "decision_date", True, "如 2025-03-07"),
        Column("处罚机关", "authority", False, "默认为本部门名称"),
        Column("关联任务编号", "task_code", False, "由双随机抽查发现的，填写任务编号"),
    ],
    "entities": [
        Column("统一社会信用代码", "uscc", True, "18 位代码或 15 位注册号"),
        Column("名称", "name", True, ""),
        Column("类型", "entity_type", True, "企业、个体工商户、农民专业合作社或其他"),
        Column("行政区划代码", "region_code", True, "6 位数字，如 411421"),
        Column("行业代码", "industry", False, "国民经济行业门类字母或代码，如 F"),
        Column("登记状态", "registration_status", False, "存续、吊销、注销或迁出；默认存续"),
        Column("信用风险分类", "risk_class", False, "A、B、C、D（低、一般、较高、高）；默认 B"),
        Column("标签", "tags", False, "多个用“、”分隔"),
        Column("住所", "address", False, ""),
        Column("法定代表人", "legal_representative", False, ""),
        Column("经营者姓名", "operator_name", False, "个体工商户填写"),
        Column("成立日期", "established_on", False, "如 2015-06-01"),
    ],
    "inspectors": [
        Column("执法证号", "licence_no", True, ""),
        Column("姓名", "name", True, ""),
        Column("性别", "gender", False, "男或女"),
        Column("身份证号码", "id_card_no", False, "仅内部使用，不会公开"),
        Column("执法领域", "enforcement_field", False, ""),
        Column("职务", "post", False, ""),
        Column("可检查事项", "specialties", False, "本部门检查事项编码，多个用“、”分隔；留空表示全部"),
        Column("在岗", "active", False, "是或否；默认是"),
    ],
}

# Columns read when present but not part of the templates: the public open-data file's 记录编号 names an
# existing result, so a row whose task the public may not see yet (a surprise task under embargo shows
# no task code) still finds its task when a department uploads its own /results.csv back.
OPTIONAL_COLUMNS = {
    "results": [Column("记录编号", "record_id", False, "公开数据文件中的记录编号；任务编号为空时据此确定任务")],
}

EXAMPLES = {
    "results": ["411421202504010001", "91411421MA0000001X", "民权县某某商贸有限公司", "", "2025-04-08",
                "C01", "经检查未发现问题", "2025-04-10", "无需后续处置", "4114210000001、4114210000002"],
    "penalties": ["民市监罚〔2025〕12号", "91411421MA0000001X", "民权县某某商贸有限公司", "销售不符合食品安全标准的食品",
                  "经查，当事人销售超过保质期的食品。", "《食品安全法》第一百二十四条", "罚款、没收违法所得", "5000",
                  "320", "2025-05-20", "民权县市场监督管理局", ""],
    "entities": ["91411421MA0000001X", "民权县某某商贸有限公司", "企业", "411421", "F", "存续", "B", "食品销售",
                 "民权县人民路 1 号", "张某", "", "2015-06-01"],
    "inspectors": ["4114210000001", "李某", "女", "", "市场监管综合执法", "科员", "", "是"],
}


def normalise_header(text) -> str:
    value = str(text or "").strip()
    value = value.replace("(", "（").replace(")", "）")
    value = re.sub(r"[\s*＊:：]", "", value)
    return value


def public_csv_headers(kind: str) -> list[str]:
    """Headers of the public open-data CSV of this kind (/results.csv, /penalties.csv).

    Their extra columns (记录编号, 公示时间 …) are ignored on upload, so a department's own
    open-data file can be uploaded back unchanged. The columns are the public shape's
    (portal.public.shape) as portal.public.datasets names them.
    """
    if kind not in PUBLIC_DATASETS:
        return []
    from ..public import datasets
    return list(getattr(datasets, PUBLIC_DATASETS[kind]).csv_header)


def match_headers(kind: str, headers: list) -> tuple[dict, list, list, list]:
    """Map column key → index; return (mapping, missing required headers, unknown headers,
    ignored headers: the public open-data file's extra columns)."""
    wanted = {normalise_header(c.header): c for c in COLUMNS[kind] + OPTIONAL_COLUMNS.get(kind, [])}
    # Tolerate the unit-less spelling of amount headers.
    wanted.update({normalise_header(c.header).replace("（元）", ""): c for c in COLUMNS[kind] if "（元）" in c.header})
    public = {normalise_header(h) for h in public_csv_headers(kind)}
    mapping, unknown, ignored = {}, [], []
    for index, header in enumerate(headers):
        column = wanted.get(normalise_header(header))
        if column is None:
            if normalise_header(header) in public:
                ignored.append(str(header))
            elif str(header or "").strip():
                unknown.append(str(header))
        elif column.key not in mapping:
            mapping[column.key] = index
    missing = [c.header for c in COLUMNS[kind] if c.required and c.key not in mapping]
    return mapping, missing, unknown, ignored


def header_of(kind: str, key: str) -> str:
    for column in COLUMNS[kind] + OPTIONAL_COLUMNS.get(kind, []):
        if column.key == key:
            return column.header
    return key
