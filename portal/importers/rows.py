"""Row validation for uploads: plain Python, no Flask, no database.

`plan_rows(kind, table, lookups, today)` turns spreadsheet rows into `RowPlan`s: the values
to write (free text already masked), the action (new / updated / unchanged) and every
problem in plain Chinese (行号, 列名, 问题, 如何修改). The caller loads `Lookups` from the
database (tasks, entities, inspectors, vocabularies and existing records by natural key).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..domain import uscc as uscc_rules
from ..domain.dates import parse_date
from ..domain.masking import id_checksum_ok, mask_text
from .columns import COLUMNS, header_of, match_headers

ERROR, WARNING = "error", "warning"
_SPLIT = re.compile(r"[、;；,，/\n]+")
_SPLIT_LICENCES = re.compile(r"[、;；,，\s]+")


@dataclass
class Problem:
    row: int | None
    column: str
    message: str
    fix: str = ""
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


@dataclass
class Masking:
    column: str
    label: str
    masked: str


@dataclass
class RowPlan:
    number: int
    key: tuple = ()
    values: dict = field(default_factory=dict)
    display: dict = field(default_factory=dict)   # column header → text shown in the preview (masked)
    action: str = "new"                           # new / updated / unchanged
    existing_id: int | None = None
    changed_fields: list = field(default_factory=list)
    previous: dict = field(default_factory=dict)  # the existing record's values (for the audit "before")
    problems: list = field(default_factory=list)
    maskings: list = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def has_warnings(self) -> bool:
        return any(not p.is_error for p in self.problems)


@dataclass
class TaskInfo:
    id: int
    code: str
    department_id: int
    department_ids: set
    items: dict            # item code or name → check item id
    drawn_entity_ids: set
    period_start: date | None = None
    period_end: date | None = None


@dataclass
class Lookups:
    """Everything validation needs from the database, loaded once per file."""

    department_id: int
    department_name: str = ""
    tasks: dict = field(default_factory=dict)              # code → TaskInfo
    entities: dict = field(default_factory=dict)           # uscc → (id, name, entity_type value)
    inspectors: dict = field(default_factory=dict)         # licence → (id, department_id)
    conclusions: dict = field(default_factory=dict)        # code → label (active terms)
    follow_ups: dict = field(default_factory=dict)
    penalty_categories: dict = field(default_factory=dict)
    department_items: dict = field(default_factory=dict)   # item code → id (inspector specialties)
    existing: dict = field(default_factory=dict)           # natural key → (id, snapshot dict, extra dict)
    loaded: list = field(default_factory=list)             # the existing ORM objects (held, not inspected)


# ---------------------------------------------------------------- cell helpers

class CellError(ValueError):
    def __init__(self, message, fix=""):
        super().__init__(message)
        self.fix = fix


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip()


def is_formula(value) -> bool:
    return isinstance(value, str) and value.strip().startswith("=") and len(value.strip()) > 1


def _split_terms(text: str) -> list[str]:
    return [t.strip() for t in _SPLIT.split(text) if t.strip()]


def _vocab(text: str, terms: dict) -> str:
    """Return the label for a code or label (case-insensitive code); raise KeyError."""
    value = text.strip()
    if value.upper() in terms:
        return terms[value.upper()]
    for label in terms.values():
        if label == value:
            return label
    raise KeyError(value)


def _vocab_code(label: str, terms: dict) -> str:
    for code, term_label in terms.items():
        if term_label == label:
            return code
    return label


def parse_amount(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        text = str(value).strip()
        text = text.translate(str.maketrans("０１２３４５６７８９．，", "0123456789.,"))
        text = re.sub(r"^[¥￥]|元$|[,\s]", "", text)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise CellError(f"“{value}”不是金额数字", "只填写数字，如 5000 或 5000.00，不要带单位") from None
    if not amount.is_finite() or amount < 0:
        raise CellError(f"“{value}”不是有效金额", "金额应为不小于 0 的数字")
    if amount != amount.quantize(Decimal("0.01")):
        raise CellError(f"“{value}”超过两位小数", "金额精确到分，最多两位小数")
    if amount >= Decimal("1e12"):
        raise CellError(f"“{value}”金额过大", "请核对金额，单位为元")
    return amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------- the row walker

class _Row:
    """Accessors for one row that record problems instead of raising."""

    def __init__(self, kind, number, cells, mapping, plan):
        self.kind, self.number, self.cells, self.mapping, self.plan = kind, number, cells, mapping, plan

    def raw(self, key):
        index = self.mapping.get(key)
        if index is None or index >= len(self.cells):
            return None
        return self.cells[index]

    def problem(self, key, message, fix="", severity=ERROR):
        self.plan.problems.append(Problem(self.number, header_of(self.kind, key), message, fix, severity))

    def text(self, key, required=False, max_length=None, mask=False, show=True):
        value = self.raw(key)
        if is_formula(value):
            self.problem(key, f"单元格是公式“{cell_text(value)[:40]}”，公式不会被导入",
                         "请复制该列后“选择性粘贴 → 数值”，或直接填写文字")
            return None
        text = cell_text(value)
        if required and not text:
            self.problem(key, "必填项为空", f"请填写“{header_of(self.kind, key)}”")
            return None
        if max_length and len(text) > max_length:
            self.problem(key, f"内容过长（{len(text)} 字，最多 {max_length} 字）", "请精简内容")
            return None
        if mask and text:
            masked = mask_text(text)
            for finding in masked.findings:
                self.plan.maskings.append(Masking(header_of(self.kind, key), finding.label,
                                                  finding.original_excerpt_masked))
            text = masked.text
        if show:
            self.plan.display[header_of(self.kind, key)] = text
        return text or None

    def date(self, key, required=False, today=None):
        value = self.raw(key)
        if is_formula(value):
            self.text(key)
            return None
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(key, "必填日期为空", "请填写日期，如 2025-03-07")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not (19000101 <= value <= 21001231):
            self.problem(key, f"“{cell_text(value)}”是数字而不是日期", "请把单元格设为日期格式，或写成 2025-03-07")
            return None
        try:
            day = parse_date(value if isinstance(value, (date, datetime)) else cell_text(value))
        except ValueError as exc:
            self.problem(key, str(exc), "请写成 2025-03-07、2025/3/7 或 2025年3月7日")
            return None
        if day.year < 1949:
            self.problem(key, f"日期 {day.isoformat()} 过早", "请核对年份")
            return None
        if today is not None and day > today:
            self.problem(key, f"日期 {day.isoformat()} 晚于今天（{today.isoformat()}）", "不能填写未来的日期，请核对")
            return None
        self.plan.display[header_of(self.kind, key)] = day.isoformat()
        return day

    def code(self, key, required=True):
        """A USCC (or 15-digit 注册号); wrong check character is a warning."""
        value = self.raw(key)
        if is_formula(value):
            self.text(key)
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            shown = cell_text(value)
            self.problem(key, f"“{shown}”是数字单元格，长代码已被表格软件截断或改写",
                         "请把该列设为“文本”格式，重新填写完整的 18 位统一社会信用代码")
            return None
        text = cell_text(value)
        if not text:
            if required:
                self.problem(key, "必填项为空", "请填写 18 位统一社会信用代码")
            return None
        try:
            code = uscc_rules.validate(text)
        except uscc_rules.CodeProblem as exc:
            if not exc.warning:
                self.problem(key, str(exc), "请核对代码，18 位，不含字母 I、O、Z、S、V；单元格设为文本格式")
                return None
            self.problem(key, str(exc), "确认无误可勾选“接受警告”后导入", WARNING)
            code = uscc_rules.normalise(text)
        self.plan.display[header_of(self.kind, key)] = code
        return code


def plan_rows(kind: str, table, lookups: Lookups, today: date) -> tuple[list, list]:
    """Validate every row; return (file-level problems, row plans). Then call decide_actions()."""
    mapping, missing, unknown = match_headers(kind, table.headers)
    file_problems = []
    if missing:
        file_problems.append(Problem(1, "、".join(missing), f"缺少必填列：{'、'.join(missing)}",
                                     "请使用下载的模板，不要修改第一行的列名"))
        return file_problems, []
    for header in unknown:
        file_problems.append(Problem(1, header, f"无法识别的列“{header}”，该列将被忽略",
                                     "如需导入请使用模板中的列名", WARNING))
    if not table.rows:
        file_problems.append(Problem(None, "", "文件只有表头，没有数据行", "请在表头下面逐行填写数据"))
        return file_problems, []
    validate = {"results": _result, "penalties": _penalty, "entities": _entity, "inspectors": _inspector}[kind]
    plans, seen = [], {}
    for number, cells in table.rows:
        plan = RowPlan(number=number)
        row = _Row(kind, number, list(cells), mapping, plan)
        validate(row, lookups, today)
        if plan.key and not plan.has_errors:
            first = seen.get(plan.key)
            if first is not None:
                plan.problems.append(Problem(number, _key_header(kind), f"与第 {first} 行重复（同一{_key_label(kind)}）",
                                             "删除重复的行，或合并为一行"))
            else:
                seen[plan.key] = number
        plans.append(plan)
    return file_problems, plans


def decide_actions(plans: list, lookups: Lookups) -> None:
    """Once `lookups.existing` is loaded: new, updated or unchanged for every valid row."""
    for plan in plans:
        if not plan.has_errors:
            _decide_action(plan, lookups)


def _key_header(kind):
    return {"results": "任务编号、统一社会信用代码", "penalties": "行政处罚决定书文号", "entities": "统一社会信用代码",
            "inspectors": "执法证号"}[kind]


def _key_label(kind):
    return {"results": "任务和检查对象", "penalties": "决定书文号", "entities": "统一社会信用代码",
            "inspectors": "执法证号"}[kind]


def _decide_action(plan: RowPlan, lookups: Lookups) -> None:
    found = lookups.existing.get(plan.key)
    if found is None:
        plan.action = "new"
        return
    existing_id, snapshot, extra = found
    plan.existing_id = existing_id
    plan.previous = snapshot
    changed = [name for name, value in plan.values.items() if snapshot.get(name) != value]
    plan.changed_fields = changed
    if not changed:
        plan.action = "unchanged"
        return
    plan.action = "updated"
    if extra.get("other_department"):
        plan.problems.append(Problem(plan.number, _key_header(extra["kind"]), extra["other_department"],
                                     "请联系该记录所属部门处理"))
    elif extra.get("status") == "withdrawn":
        plan.problems.append(Problem(plan.number, _key_header(extra["kind"]), "该记录已撤回，不能通过导入修改",
                                     "删除此行；如需重新公开请联系管理员"))
    elif extra.get("status") == "published":
        plan.problems.append(Problem(
            plan.number, "、".join(changed_headers(extra["kind"], changed)),
            "该记录已公开，导入将作为“更正”处理：公开页面显示“更正于…”，原版本保留",
            "确认无误可接受警告后导入；否则删除此行", WARNING))


def changed_headers(kind, names):
    headers = []
    for name in names:
        header = header_of(kind, name)
        if header not in headers:
            headers.append(header)
    return headers


# ---------------------------------------------------------------- per kind

def _result(row: _Row, lookups: Lookups, today: date) -> None:
    plan = row.plan
    code = row.text("task_code", required=True)
    task = None
    if code:
        task = lookups.tasks.get(code.upper())
        if task is None:
            row.problem("task_code", f"任务编号“{code}”不存在", "请核对任务编号（18 位），或先在后台建立该任务")
        elif lookups.department_id not in task.department_ids:
            row.problem("task_code", f"任务“{code}”不属于本部门", "只能导入本部门（或本部门参与的联合任务）的检查结果")
            task = None
    uscc = row.code("uscc")
    entity = None
    if uscc:
        entity = lookups.entities.get(uscc)
        if entity is None:
            row.problem("uscc", f"名录库中没有统一社会信用代码为“{uscc}”的检查对象", "请核对代码，或先导入检查对象名录")
        elif task is not None and entity[0] not in task.drawn_entity_ids:
            row.problem("uscc", f"“{entity[1]}”不在该任务的抽取名单中", "请核对任务编号和代码；确认无误可接受警告后导入",
                        WARNING)
    name = row.text("entity_name", max_length=200)
    if entity is not None and name and name != entity[1]:
        row.problem("entity_name", f"名称“{name}”与名录库中的“{entity[1]}”不一致", "请核对；导入时以名录库中的名称为准",
                    WARNING)
    item_id = None
    item = row.text("item", max_length=200)
    if item and task is not None:
        item_id = task.items.get(item) or task.items.get(item.upper())
        if item_id is None:
            row.problem("item", f"检查事项“{item}”不属于该任务", "填写该任务包含的检查事项编码或名称，或留空")
    inspection = row.date("inspection_date", today=today)
    formed = row.date("formed_date", required=True, today=today)
    if inspection and formed and formed < inspection:
        row.problem("formed_date", f"结果形成日期 {formed} 早于检查日期 {inspection}", "结果形成日期应不早于检查日期")
        formed = None
    if inspection and task is not None and task.period_start and task.period_end and \
            not (task.period_start <= inspection <= task.period_end):
        row.problem("inspection_date", f"检查日期 {inspection} 不在任务检查期间（{task.period_start} 至 {task.period_end}）内",
                    "请核对日期；确认无误可接受警告后导入", WARNING)
    conclusions = []
    text = row.text("conclusions", required=True)
    if text:
        for term in _split_terms(text):
            try:
                label = _vocab(term, lookups.conclusions)
            except KeyError:
                row.problem("conclusions", f"未知的检查结果“{term}”",
                            "请填写结论编码或名称，如 C01 或 未发现问题；可在“数据说明”页查看完整列表")
                continue
            code_ = _vocab_code(label, lookups.conclusions)
            if all(c != code_ for c, _ in conclusions):
                conclusions.append((code_, label))
    remark = row.text("remark", max_length=2000, mask=True)
    follow_up = None
    text = row.text("follow_up")
    if text:
        try:
            follow_up = _vocab(text, lookups.follow_ups)
        except KeyError:
            row.problem("follow_up", f"未知的后续处置“{text}”", "可填：" + "、".join(lookups.follow_ups.values()))
    licences = []
    text = row.text("inspectors")
    if text:
        for licence in [t for t in _SPLIT_LICENCES.split(text) if t]:
            found = lookups.inspectors.get(licence.upper()) or lookups.inspectors.get(licence)
            if found is None:
                row.problem("inspectors", f"执法证号“{licence}”不在执法检查人员名录中", "请核对执法证号，或先导入执法检查人员名录")
            elif task is not None and found[1] not in task.department_ids:
                row.problem("inspectors", f"执法人员“{licence}”不属于本任务的参与部门", "只能填写参与本任务的部门的执法人员")
            elif found[2] not in licences:
                licences.append(found[2])
    if task is not None and entity is not None:
        plan.key = (task.id, entity[0])
    plan.values = {
        "task_id": task.id if task else None, "entity_id": entity[0] if entity else None,
        "inspection_date": inspection, "formed_date": formed, "remark": remark, "follow_up": follow_up,
        "conclusions": sorted(conclusions), "inspectors": sorted(licences), "item_id": item_id,
    }


def _penalty(row: _Row, lookups: Lookups, today: date) -> None:
    plan = row.plan
    decision_no = row.text("decision_no", required=True, max_length=100)
    if decision_no:
        decision_no = re.sub(r"\s+", "", decision_no).replace("[", "〔").replace("]", "〕")
        plan.display["行政处罚决定书文号"] = decision_no
    uscc = row.code("uscc", required=False)
    entity = None
    if uscc:
        entity = lookups.entities.get(uscc)
        if entity is None:
            row.problem("uscc", f"名录库中没有统一社会信用代码为“{uscc}”的检查对象", "请核对代码，或先导入检查对象名录；当事人为自然人时留空")
    party = row.text("party_name", required=True, max_length=200, mask=True)
    violation = row.text("violation_type", max_length=200, mask=True)
    facts = row.text("facts", max_length=5000, mask=True)
    basis = row.text("legal_basis", max_length=2000, mask=True)
    categories = []
    text = row.text("categories", required=True)
    if text:
        for term in _split_terms(text):
            try:
                label = _vocab(term, lookups.penalty_categories)
            except KeyError:
                row.problem("categories", f"未知的处罚类别“{term}”", "可填：" + "、".join(lookups.penalty_categories.values()))
                continue
            if label not in categories:
                categories.append(label)
    amounts = {}
    for key in ("fine_amount", "confiscation_amount"):
        value = row.raw(key)
        if is_formula(value):
            row.text(key)
            amounts[key] = None
            continue
        try:
            amounts[key] = parse_amount(value)
        except CellError as exc:
            row.problem(key, str(exc), exc.fix)
            amounts[key] = None
            continue
        if amounts[key] is not None:
            plan.display[header_of("penalties", key)] = str(amounts[key])
    if "罚款" in categories and amounts.get("fine_amount") is None and not any(
            p.column == "罚款金额（元）" for p in plan.problems):
        row.problem("fine_amount", "处罚类别含“罚款”，但没有填写罚款金额", "请填写罚款金额（元）")
    decided = row.date("decision_date", required=True, today=today)
    authority = row.text("authority", max_length=200) or lookups.department_name
    task_id = None
    code = row.text("task_code")
    if code:
        task = lookups.tasks.get(code.upper())
        if task is None:
            row.problem("task_code", f"任务编号“{code}”不存在", "请核对任务编号，或留空")
        elif lookups.department_id not in task.department_ids:
            row.problem("task_code", f"任务“{code}”不属于本部门", "只能关联本部门参与的任务，或留空")
        else:
            task_id = task.id
    party_kind = "organisation"
    if entity is None and not uscc:
        party_kind = "natural_person"
    elif entity is not None and entity[2] == "个体工商户":
        party_kind = "natural_person"
    if decision_no:
        plan.key = (decision_no,)
    plan.values = {
        "decision_no": decision_no, "entity_id": entity[0] if entity else None, "party_name": party,
        "party_kind": party_kind, "violation_type": violation, "facts": facts, "legal_basis": basis,
        "categories": categories, "fine_amount": amounts.get("fine_amount"),
        "confiscation_amount": amounts.get("confiscation_amount"), "decision_date": decided,
        "authority": authority, "task_id": task_id,
    }


ENTITY_TYPES = ("企业", "个体工商户", "农民专业合作社", "其他")
STATUSES = ("存续", "吊销", "注销", "迁出")
RISK = {"A": "A", "B": "B", "C": "C", "D": "D", "低": "A", "一般": "B", "较高": "C", "高": "D"}


def _entity(row: _Row, lookups: Lookups, today: date) -> None:
    plan = row.plan
    uscc = row.code("uscc")
    name = row.text("name", required=True, max_length=200, mask=True)
    entity_type = row.text("entity_type", required=True)
    if entity_type and entity_type not in ENTITY_TYPES:
        row.problem("entity_type", f"未知的类型“{entity_type}”", "可填：" + "、".join(ENTITY_TYPES))
    region = row.text("region_code", required=True)
    if region and not re.fullmatch(r"\d{6}", region):
        row.problem("region_code", f"“{region}”不是 6 位行政区划代码", "请填写 6 位数字，如 411421")
    industry = row.text("industry", max_length=8)
    if industry:
        industry = industry.upper()
        if not re.fullmatch(r"[A-T]\d{0,4}|\d{2,4}", industry):
            row.problem("industry", f"“{industry}”不是国民经济行业分类代码", "填写门类字母（A-T）或代码，如 F 或 F52")
    status = row.text("registration_status") or "存续"
    if status not in STATUSES:
        row.problem("registration_status", f"未知的登记状态“{status}”", "可填：" + "、".join(STATUSES))
    risk_text = row.text("risk_class") or "B"
    risk = RISK.get(risk_text.upper()) or RISK.get(risk_text)
    if risk is None:
        row.problem("risk_class", f"未知的信用风险分类“{risk_text}”", "可填 A、B、C、D 或 低、一般、较高、高")
    tags_text = row.text("tags", mask=True)
    tags = sorted(set(_split_terms(tags_text))) if tags_text else []
    address = row.text("address", max_length=300, mask=True)
    legal = row.text("legal_representative", max_length=100, mask=True)
    operator = row.text("operator_name", max_length=100, mask=True)
    established = row.date("established_on", today=today)
    if uscc:
        plan.key = (uscc,)
    plan.values = {
        "uscc": uscc, "name": name, "entity_type": entity_type, "region_code": region, "industry": industry,
        "registration_status": status, "risk_class": risk, "tags": tags, "address": address,
        "legal_representative": legal, "operator_name": operator, "established_on": established,
    }


def _inspector(row: _Row, lookups: Lookups, today: date) -> None:
    plan = row.plan
    licence = row.text("licence_no", required=True, max_length=40)
    if licence:
        licence = re.sub(r"\s+", "", licence)
    name = row.text("name", required=True, max_length=50)
    gender = row.text("gender")
    if gender and gender not in ("男", "女"):
        row.problem("gender", f"“{gender}”不是有效的性别", "填写“男”或“女”，或留空")
    id_card = None
    raw = row.raw("id_card_no")
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        row.problem("id_card_no", "身份证号码是数字单元格，后几位已被表格软件改写", "请把该列设为“文本”格式后重新填写")
    else:
        id_card = row.text("id_card_no", show=False)
        if id_card:
            id_card = id_card.upper().replace(" ", "")
            if not (len(id_card) == 18 and id_checksum_ok(id_card)) and not re.fullmatch(r"\d{15}", id_card):
                row.problem("id_card_no", "身份证号码位数或校验位不正确", "请核对 18 位身份证号码（末位可能是 X）")
                id_card = None
            else:
                plan.display["身份证号码"] = id_card[:4] + "*" * (len(id_card) - 8) + id_card[-4:]
    field_ = row.text("enforcement_field", max_length=100)
    post = row.text("post", max_length=100)
    specialties = []
    text = row.text("specialties")
    if text:
        for code in _split_terms(text):
            item_id = lookups.department_items.get(code) or lookups.department_items.get(code.upper())
            if item_id is None:
                row.problem("specialties", f"本部门没有编码为“{code}”的检查事项", "请填写本部门检查事项的编码，或留空")
            elif item_id not in specialties:
                specialties.append(item_id)
    active_text = row.text("active") or "是"
    if active_text not in ("是", "否", "在岗", "不在岗", "1", "0", "Y", "N"):
        row.problem("active", f"“{active_text}”无法识别", "填写“是”或“否”")
    active = active_text in ("是", "在岗", "1", "Y")
    if licence:
        plan.key = (licence,)
    plan.values = {
        "licence_no": licence, "name": name, "gender": gender, "id_card_no": id_card,
        "enforcement_field": field_, "post": post, "specialties": sorted(specialties), "active": active,
    }


def template_columns(kind):
    return [c.header for c in COLUMNS[kind]]
