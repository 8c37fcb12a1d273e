"""Open-data shapes: one dict per public record (the JSON item), the CSV columns derived
from it, and the data dictionary that /data publishes. One definition serves all three,
so the documentation cannot drift from the files.

The dicts themselves come from portal.public.shape, the one allow-list of public fields per
record kind (SPEC §6); this module names their CSV columns and documents them.
"""
from dataclasses import dataclass
from typing import Callable

from ..domain.dates import CHINA
from .shape import iso as _iso, penalty_party, restrict, shape


def _local(value) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _join(values, sep="；") -> str:
    return sep.join(str(v) for v in values if v not in (None, ""))


@dataclass(frozen=True)
class Column:
    key: str  # JSON key (snake_case)
    label: str  # CSV header (Chinese); empty: JSON only
    description: str
    csv: Callable | None = None  # cell from the JSON dict; default: the value itself

    def cell(self, item: dict):
        if self.csv is not None:
            return self.csv(item)
        value = item.get(self.key)
        if isinstance(value, list):
            return _join(value)
        return value


@dataclass(frozen=True)
class Dataset:
    kind: str
    title: str
    endpoint: str
    columns: tuple[Column, ...]
    note: str = ""

    @property
    def csv_columns(self) -> list[Column]:
        return [c for c in self.columns if c.label]

    @property
    def csv_header(self) -> list[str]:
        return [c.label for c in self.csv_columns]

    def csv_row(self, item: dict) -> list:
        return [c.cell(item) for c in self.csv_columns]


def _names(item, key):
    return _join([x["name"] for x in item.get(key) or []], "、")


def _disclosure_label(item) -> str:
    return (item.get("disclosure") or {}).get("label", "")


# ---------------------------------------------------------------- check items

def item_json(item, now=None) -> dict:
    return shape("item", item, now)


ITEMS = Dataset("item", "随机抽查事项清单", "public.items", (
    Column("id", "", "记录编号（内部唯一）"),
    Column("department_code", "部门代码", "实施部门代码，见部门代码表"),
    Column("department", "部门", "实施部门名称"),
    Column("code", "事项编码", "部门内唯一的事项编码"),
    Column("name", "事项名称", "抽查事项名称（现行版本）"),
    Column("legal_basis", "抽查依据", "法律、法规、规章依据"),
    Column("target_type", "抽查对象", "抽查对象类型"),
    Column("content", "抽查内容", "检查内容"),
    Column("method", "抽查方式", "实地检查、书面检查、网络监测等"),
    Column("kind", "事项类别", "重点 或 一般"),
    Column("ratio_frequency", "抽查比例和频次", "抽查比例和频次"),
    Column("inspector_requirements", "检查人员要求", "对执法检查人员的要求"),
    Column("effective_from", "生效日期", "现行版本生效日期（YYYY-MM-DD）"),
    Column("version", "版本", "现行版本号；事项变更后旧版本仍可查阅"),
    Column("previous_versions", "", "历史版本列表：version、name、effective_from"),
))


# ---------------------------------------------------------------- plans

def plan_json(plan, now=None) -> dict:
    """A plan's public fields (`task_count`: set `plan.public_task_count` first)."""
    return shape("plan", plan, now)


PLANS = Dataset("plan", "抽查计划", "public.plans", (
    Column("id", "记录编号", "计划编号，详情页为 /plans/<id>"),
    Column("url", "", "详情页路径"),
    Column("year", "年度", "计划年度"),
    Column("title", "计划名称", "计划标题"),
    Column("department_code", "牵头部门代码", "牵头部门代码"),
    Column("department", "牵头部门", "牵头部门名称"),
    Column("participants", "参与部门", "参与部门（JSON 中为 code、name 列表）", lambda i: _names(i, "participants")),
    Column("approval_date", "批准日期", "计划批准日期，公示时限自次日起算"),
    Column("description", "", "计划说明"),
    Column("task_count", "公开任务数", "已公开的抽查任务数（突击检查任务在结果公示后计入）"),
    Column("published_at", "公示时间", "公示时间（JSON 为 UTC ISO 8601，CSV 为北京时间）",
           lambda i: _local_from_iso(i["published_at"])),
    Column("corrected_at", "更正时间", "最近一次更正时间，未更正为空", lambda i: _local_from_iso(i["corrected_at"])),
    Column("version", "", "版本号，每次更正加一"),
))


def _local_from_iso(text):
    if not text:
        return ""
    from datetime import datetime
    return _local(datetime.fromisoformat(text))


# ---------------------------------------------------------------- tasks

def task_json(task, now) -> dict:
    return shape("task", task, now)


TASK_KEYS = (
    ("code", "任务编号：6 位行政区划代码 + yyyymmdd + 4 位序号"),
    ("title", "任务名称"), ("plan_id", "所属计划编号；临时任务为 null"), ("temporary", "是否临时任务"),
    ("surprise", "是否突击检查（结果公示前不公开）"), ("joint", "是否部门联合抽查"),
    ("departments", "参与部门 code、name 列表"), ("check_items", "抽查事项 department_code、code、name 列表"),
    ("period_start", "检查开始日期"), ("period_end", "检查结束日期"),
    ("inspectors_per_target", "每户匹配执法人员数（部门代码 → 人数）"),
    ("draw", "现行抽取记录：id、url、drawn_at、selected（uscc、name、stratum、inspectors：name、licence_no）"),
    ("superseded_draws", "被重新抽取取代的抽取记录：id、url、reason"),
    ("draws", "全部公开的抽取记录（锁定即公开）：id、url、sequence、status（locked 已锁定待抽取 / drawn 已抽取）、"
              "locked_at、drawn_at、pool_hash、commitment、reason、superseded_by（sequence、reason）"),
    ("results", "已公示检查结果：id、url、uscc、entity_name、conclusions、formed_date"),
)


TASKS = Dataset("task", "抽查任务", "public.tasks", (
    Column("id", "", "记录编号（内部唯一）"),
    Column("code", "任务编号", "6 位行政区划代码 + yyyymmdd + 4 位序号，详情页为 /tasks/<code>"),
    Column("url", "", "详情页路径"),
    Column("year", "年度", "任务年度"),
    Column("title", "任务名称", "任务名称"),
    Column("department_code", "牵头部门代码", "牵头部门代码"),
    Column("department", "牵头部门", "牵头部门名称"),
    Column("departments", "参与部门", "参与部门（JSON 中为 code、name 列表，含牵头部门）",
           lambda i: _names(i, "departments")),
    Column("plan_id", "所属计划编号", "所属抽查计划编号（/plans/<id>）；临时任务或计划尚未公开时为空"),
    Column("temporary", "临时任务", "是否临时任务（不属于年度计划）"),
    Column("joint", "联合抽查", "是否部门联合抽查（两个及以上部门）"),
    Column("surprise", "突击检查", "是否突击检查（结果公示后才公开）"),
    Column("check_items", "抽查事项", "抽查事项（JSON 中为 department_code、code、name 列表）",
           lambda i: _join([x["name"] for x in i.get("check_items") or []])),
    Column("period_start", "检查开始日期", "检查期间开始日期（YYYY-MM-DD）"),
    Column("period_end", "检查结束日期", "检查期间结束日期（YYYY-MM-DD）"),
    Column("inspectors_per_target", "", "每户匹配执法人员数（部门代码 → 人数）"),
    Column("description", "", "任务说明"),
    Column("published_at", "公示时间", "公示时间（JSON 为 UTC ISO 8601，CSV 为北京时间）",
           lambda i: _local_from_iso(i["published_at"])),
    Column("corrected_at", "更正时间", "最近一次更正时间，未更正为空", lambda i: _local_from_iso(i["corrected_at"])),
    Column("version", "", "版本号，每次更正加一"),
), note="列表中的每个任务都有详情页（抽取名单、检查结果、抽取凭证），详情的 JSON 字段见下方“抽查任务详情”。")


# ---------------------------------------------------------------- right of reply (SPEC §12)

OBJECTION_COLUMN = Column(
    "objection", "异议状态",
    "当事人异议的公开状态（无异议为 null）：status（pending 正在核查 / decided 已办结）、received（受理日期）、"
    "decided（办结日期）、outcome（maintained 维持 / corrected 更正 / withdrawn 撤回）、text（公示的说明文字）；"
    "CSV 为说明文字。异议人的联系方式、说明和附件不公开",
    lambda i: (i.get("objection") or {}).get("text", ""))


# ---------------------------------------------------------------- results

def result_json(result, now) -> dict:
    return shape("result", result, now)


RESULTS = Dataset("result", "检查结果", "public.results", (
    Column("id", "记录编号", "检查结果编号，详情页为 /results/<id>"),
    Column("url", "", "详情页路径"),
    Column("task_code", "任务编号", "所属抽查任务编号"),
    Column("task_title", "", "所属抽查任务名称"),
    Column("uscc", "统一社会信用代码", "检查对象统一社会信用代码（或 15 位注册号）"),
    Column("entity_name", "检查对象名称", "检查对象名称"),
    Column("entity_type", "", "检查对象类型：企业、个体工商户、农民专业合作社、其他"),
    Column("region_code", "", "检查对象所在行政区划代码"),
    Column("check_items", "检查事项", "任务涉及的抽查事项名称（CSV 以“；”分隔）"),
    Column("inspection_date", "检查日期", "实施检查日期"),
    Column("conclusions", "检查结果", "检查结论（JSON 为 code、label 列表；CSV 为名称，以“；”分隔），见检查结果代码表",
           lambda i: _join(c["label"] for c in i["conclusions"])),
    Column("remark", "结果说明", "结果说明（已去除个人信息）"),
    Column("formed_date", "结果形成日期", "检查结果形成日期，公示时限自次日起算"),
    Column("follow_up", "后续处置", "后续处置措施，见后续处置代码表"),
    Column("inspectors", "执法人员", "执法人员（JSON 为 name、licence_no 列表；CSV 为执法证号，以“、”分隔）",
           lambda i: _join((x["licence_no"] for x in i["inspectors"]), "、")),
    Column("inspector_names", "执法人员姓名", "执法人员姓名（仅 CSV，以“、”分隔）",
           lambda i: _names(i, "inspectors")),
    Column("conclusion_codes", "结论代码", "检查结论代码（仅 CSV，以“；”分隔）",
           lambda i: _join(c["code"] for c in i["conclusions"])),
    Column("department_code", "部门代码", "实施部门代码"),
    Column("department", "实施部门", "实施部门名称"),
    Column("verification_method", "", "核查方式"),
    Column("findings", "", "分事项检查情况：check_item、conclusion_code、text 列表"),
    Column("published_at", "公示时间", "公示时间（JSON 为 UTC ISO 8601，CSV 为北京时间）",
           lambda i: _local_from_iso(i["published_at"])),
    Column("corrected_at", "更正时间", "最近一次更正时间，未更正为空", lambda i: _local_from_iso(i["corrected_at"])),
    Column("disclosure", "公示及时性", "公示及时性（按 SPEC §4 工作日期限判定）：JSON 为对象 status（on_time 按时公示、late 逾期公示、"
           "pending 待公示）、late_working_days 逾期工作日数、label 中文说明、due 应公示日期；CSV 为中文说明，"
           "如“按时公示”“逾期 3 个工作日”", _disclosure_label),
    Column("version", "", "版本号，每次更正加一"),
    OBJECTION_COLUMN,
), note="CSV 前十列与后台“检查结果”上传模板的列一致。")


# ---------------------------------------------------------------- penalties

def public_party_name(penalty) -> str:
    """The party as published (shape.party_display: a natural person as surname + 某, an
    individual business under its business name)."""
    return penalty_party(penalty)


def penalty_json(penalty, now) -> dict:
    return shape("penalty", penalty, now)


PENALTIES = Dataset("penalty", "行政处罚", "public.penalties", (
    Column("id", "记录编号", "处罚记录编号，详情页为 /penalties/<id>"),
    Column("url", "", "详情页路径"),
    Column("decision_no", "行政处罚决定书文号", "决定书文号（唯一）"),
    Column("uscc", "统一社会信用代码", "当事人统一社会信用代码，自然人为空"),
    Column("party_name", "当事人名称", "当事人名称（自然人只显示姓氏加“某”，如 李某；个体工商户显示字号名称，不显示经营者姓名）"),
    Column("violation_type", "违法行为类型", "违法行为类型"),
    Column("facts", "违法事实", "主要违法事实（已去除个人信息）"),
    Column("legal_basis", "处罚依据", "处罚依据"),
    Column("categories", "处罚类别", "处罚类别（行政处罚法第九条；CSV 以“；”分隔），见处罚类别代码表"),
    Column("fine_amount", "罚款金额（元）", "罚款金额，单位元，两位小数"),
    Column("confiscation_amount", "没收金额（元）", "没收违法所得、非法财物金额，单位元"),
    Column("decision_date", "处罚决定日期", "处罚决定日期，公示时限自次日起算"),
    Column("authority", "处罚机关", "作出处罚决定的机关"),
    Column("task_code", "关联任务编号", "关联的抽查任务编号（如有）"),
    Column("publicity_end", "公示截止日期", "公示期最后一天；此后或信用修复后停止公示，仅保留“停止公示”提示"),
    Column("department_code", "部门代码", "实施部门代码"),
    Column("department", "实施部门", "实施部门名称"),
    Column("published_at", "公示时间", "公示时间（JSON 为 UTC ISO 8601，CSV 为北京时间）",
           lambda i: _local_from_iso(i["published_at"])),
    Column("corrected_at", "更正时间", "最近一次更正时间，未更正为空", lambda i: _local_from_iso(i["corrected_at"])),
    Column("disclosure", "公示及时性", "公示及时性（按 SPEC §4 工作日期限判定）：JSON 为对象 status（on_time 按时公示、late 逾期公示、"
           "pending 待公示）、late_working_days 逾期工作日数、label 中文说明、due 应公示日期；CSV 为中文说明，"
           "如“按时公示”“逾期 3 个工作日”", _disclosure_label),
    Column("version", "", "版本号，每次更正加一"),
    OBJECTION_COLUMN,
), note="CSV 前十三列与后台“行政处罚”上传模板的列一致（另加记录编号）。")


# ---------------------------------------------------------------- entities (detail only)

# The entity page lists each public result and penalty by a few fields of its public shape.
ENTITY_RESULT_KEYS = ("id", "url", "task_code", "formed_date", "conclusions", "follow_up")
ENTITY_PENALTY_KEYS = ("id", "url", "decision_no", "decision_date", "categories", "fine_amount", "publicity_end")


def entity_json(profile, now) -> dict:
    """The entity page as JSON: the only place an individual business's operator name appears."""
    data = shape("entity", profile.entity, now, own_page=True)
    data["draws"] = [{
        "draw_id": s.draw_id, "draw_url": f"/draws/{s.draw_id}", "task_code": s.task.code,
        "task_title": s.task.title, "drawn_at": _iso(s.draw.drawn_at), "stratum": s.stratum, "key": s.key,
        "superseded": s.superseded,
        "inspectors": [{"name": name, "licence_no": licence_no} for name, licence_no in s.inspectors],
    } for s in profile.selections]
    data["results"] = [_pick(shape("result", r, now), ENTITY_RESULT_KEYS) for r in profile.results]
    data["penalties"] = [_pick(shape("penalty", p, now), ENTITY_PENALTY_KEYS) for p in profile.penalties]
    return restrict("entity", data)


def _pick(data: dict, keys) -> dict:
    return {key: data[key] for key in keys}


ENTITY_KEYS = (
    ("uscc", "统一社会信用代码或注册号"), ("name", "名称"), ("entity_type", "类型"),
    ("region_code", "行政区划代码（GB/T 2260）"), ("industry", "国民经济行业（GB/T 4754 门类或代码）"),
    ("registration_status", "登记状态：存续、吊销、注销、迁出"), ("established_on", "成立日期"),
    ("operator_name", "经营者姓名（仅个体工商户，仅在本主体页面公开）"),
    ("draws", "被抽中的任务：draw_id、task_code、drawn_at、stratum、key、inspectors"),
    ("results", "已公示检查结果"), ("penalties", "公示期内的行政处罚（停止公示的不再列出）"),
)

LISTS = (ITEMS, PLANS, TASKS, RESULTS, PENALTIES)

# Labels for rendering a kept version's fields (RecordVersion.data) on a public page.
FIELD_LABELS = {c.key: (c.label or c.description) for ds in LISTS for c in ds.columns}
FIELD_LABELS.update({key: text.split("：")[0].split("（")[0] for key, text in TASK_KEYS + ENTITY_KEYS})
FIELD_LABELS.update({"name": "名称", "title": "名称", "remark": "结果说明", "facts": "违法事实",
                     "conclusions": "检查结果", "party_name": "当事人名称", "categories": "处罚类别",
                     "fine_amount": "罚款金额（元）", "decision_no": "决定书文号", "formed_date": "结果形成日期",
                     "inspection_date": "检查日期", "follow_up": "后续处置", "code": "编号", "label": "名称"})
