"""The two directories (两库): 检查对象 and 执法检查人员, for the back-office forms and directory imports."""
from __future__ import annotations

import re
from datetime import date

from ..domain.masking import id_checksum_ok
from .core import Reader, cell_text, is_number_cell
from .lookups import Lookups
from .vocabulary import ENTITY_TYPES, NO, REGISTRATION_STATUSES, RISK_CLASSES, YES, split_list

REGION = re.compile(r"^\d{6}$")
INDUSTRY = re.compile(r"^([A-T]\d{0,4}|\d{2,4})$")


def validate_entity(r: Reader, lk: Lookups, today: date) -> None:
    values = r.checked.values
    uscc = r.code("uscc")
    values["uscc"] = uscc
    values["name"] = r.text("name", required=True, max_length=200, mask=True, label="名称")
    entity_type = r.text("entity_type", required=True, label="类型")
    if entity_type and entity_type not in ENTITY_TYPES:
        r.problem("entity_type", f"未知的类型“{entity_type}”", "可填：" + "、".join(ENTITY_TYPES))
    values["entity_type"] = entity_type
    region = r.text("region_code", required=True, label="行政区划代码")
    if region and not REGION.match(region):
        r.problem("region_code", f"“{region}”不是 6 位行政区划代码", "请填写 6 位数字（GB/T 2260），如 411421")
    values["region_code"] = region
    if r.given("industry"):
        industry = r.text("industry", max_length=8)
        if industry:
            industry = industry.upper()
            if not INDUSTRY.match(industry):
                r.problem("industry", f"“{industry}”不是国民经济行业分类代码", "填写门类字母（A-T）或代码，如 F 或 F52")
        values["industry"] = industry
    if r.given("registration_status"):
        status = r.text("registration_status") or "存续"
        if status not in REGISTRATION_STATUSES:
            r.problem("registration_status", f"未知的登记状态“{status}”", "可填：" + "、".join(REGISTRATION_STATUSES))
        values["registration_status"] = status
    if r.given("risk_class"):
        text = r.text("risk_class") or "B"
        risk = RISK_CLASSES.get(text.upper()) or RISK_CLASSES.get(text)
        if risk is None:
            r.problem("risk_class", f"未知的信用风险分类“{text}”", "可填 A、B、C、D 或 低、一般、较高、高")
        values["risk_class"] = risk
    if r.given("tags"):
        tags = [t for t in (_masked_items(r, "tags")) if t]
        values["tags"] = sorted(set(tags))
    for key, limit in (("address", 300), ("legal_representative", 100), ("operator_name", 100)):
        if r.given(key):
            values[key] = r.text(key, max_length=limit, mask=True)
    if r.given("established_on"):
        values["established_on"] = r.date("established_on", today=today)
    r.checked.defaults.update(registration_status="存续", risk_class="B", tags=[])
    if uscc:
        r.checked.natural_key = (uscc,)


def _masked_items(r, key):
    text = r.list_text(key)
    if isinstance(text, list):
        text = "、".join(text)
    if text and len(text) > 400:
        r.problem(key, f"内容过长（{len(text)} 字，最多 400 字）", "请精简内容")
        return []
    masked = r.text(key, mask=True) if text else None
    return split_list(masked)


def validate_inspector(r: Reader, lk: Lookups, today: date) -> None:
    values = r.checked.values
    licence = r.text("licence_no", required=True, max_length=40, label="执法证号")
    if licence:
        licence = re.sub(r"\s+", "", licence)
    values["licence_no"] = licence
    values["name"] = r.text("name", required=True, max_length=50, label="姓名")
    if r.given("gender"):
        gender = r.text("gender")
        if gender and gender not in ("男", "女"):
            r.problem("gender", f"“{gender}”不是有效的性别", "填写“男”或“女”，或留空")
            gender = None
        values["gender"] = gender
    if r.given("id_card_no"):
        values["id_card_no"] = _id_card(r)
    for key in ("enforcement_field", "post"):
        if r.given(key):
            values[key] = r.text(key, max_length=100)
    if r.given("specialties"):
        specialties = []
        for code in split_list(r.list_text("specialties")):
            item_id = lk.department_items.get(code) or lk.department_items.get(code.upper())
            if item_id is None:
                r.problem("specialties", f"本部门没有编码为“{code}”的检查事项", "请填写本部门检查事项的编码，或留空")
            elif item_id not in specialties:
                specialties.append(item_id)
        values["specialties"] = sorted(specialties)
    if r.given("active"):
        raw = r.raw("active")
        text = raw if isinstance(raw, bool) else (cell_text(raw) or "是")
        if isinstance(text, bool):
            values["active"] = text
        elif text in YES or text in NO:
            values["active"] = text in YES
        else:
            r.problem("active", f"“{text}”无法识别", "填写“是”或“否”")
    r.checked.defaults["active"] = True
    if licence:
        r.checked.natural_key = (licence,)


def _id_card(r):
    """身份证号码: internal only; checked (GB 11643) and shown masked, never in full."""
    raw = r.raw("id_card_no")
    if is_number_cell(raw):
        r.problem("id_card_no", "身份证号码是数字单元格，后几位已被表格软件改写", "请把该列设为“文本”格式后重新填写")
        return None
    text = cell_text(raw)
    if r._refuse_formula("id_card_no", raw) or not text:
        return None
    number = text.upper().replace(" ", "")
    if not (len(number) == 18 and id_checksum_ok(number)) and not re.fullmatch(r"\d{15}", number):
        r.problem("id_card_no", "身份证号码位数或校验位不正确", "请核对 18 位身份证号码（末位可能是 X）")
        return None
    r.checked.display["id_card_no"] = number[:4] + "*" * (len(number) - 8) + number[-4:]
    return number
