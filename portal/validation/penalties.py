"""行政处罚: the one validator for the back-office form, uploads and `flask import penalties`."""
from __future__ import annotations

import re
from datetime import date

from .core import Reader
from .lookups import Lookups
from .vocabulary import PARTY_KINDS, match_terms

FACTS_MAX = 8000
LEGAL_BASIS_MAX = 4000
FINE = "罚款"


def normalise_decision_no(text: str) -> str:
    """文号 as written on the decision: no spaces, 〔〕 for the year brackets people type as []."""
    return re.sub(r"\s+", "", text).replace("[", "〔").replace("]", "〕").replace("［", "〔").replace("］", "〕")


def validate_penalty(r: Reader, lk: Lookups, today: date) -> None:
    values, defaults = r.checked.values, r.checked.defaults
    decision_no = r.text("decision_no", required=True, max_length=100, label="行政处罚决定书文号")
    if decision_no:
        decision_no = normalise_decision_no(decision_no)
        r.checked.display["decision_no"] = decision_no
    values["decision_no"] = decision_no
    entity = None
    if r.given("uscc"):
        uscc = r.code("uscc", required=False)
        if uscc:
            entity = lk.entities.get(uscc)
            if entity is None:
                r.problem("uscc", f"名录库中没有统一社会信用代码为“{uscc}”的检查对象",
                          "请核对代码，或先在检查对象名录库中添加；当事人为自然人时留空")
        values["entity_id"] = entity.id if entity else None
    values["party_name"] = r.text("party_name", required=True, max_length=200, mask=True, label="当事人名称")
    # The party's kind decides how public channels name it (a natural person: surname + 某).
    inferred = "natural_person" if (entity is None and not values.get("entity_id")) or \
        (entity is not None and entity.entity_type == "个体工商户") else "organisation"
    if r.given("party_kind"):
        text = r.text("party_kind")
        kind = PARTY_KINDS.get(text or "")
        if text and kind is None:
            r.problem("party_kind", f"未知的当事人类型“{text}”", "可填：法人或其他组织、自然人")
        values["party_kind"] = kind or inferred
    else:
        defaults["party_kind"] = inferred
    for key, limit in (("violation_type", 200), ("facts", FACTS_MAX), ("legal_basis", LEGAL_BASIS_MAX)):
        if r.given(key):
            values[key] = r.text(key, max_length=limit, mask=True)
    categories = []
    text = r.list_text("categories")
    if not text:
        r.problem("categories", "必填项为空", "请填写或选择处罚类别，如 罚款、没收违法所得")
    else:
        found, unknown = match_terms(text, lk.penalty_categories)
        for piece in unknown:
            r.problem("categories", f"未知的处罚类别“{piece}”", "可填：" + "、".join(lk.penalty_categories.values()))
        categories = [label for _code, label in found]
        r.checked.display["categories"] = "、".join(categories)
    values["categories"] = categories
    for key in ("fine_amount", "confiscation_amount"):
        if r.given(key):
            values[key] = r.amount(key)
    if FINE in categories and r.given("fine_amount") and values.get("fine_amount") is None \
            and not r.has_problem("fine_amount"):
        r.problem("fine_amount", "处罚类别含“罚款”，但没有填写罚款金额", "请填写罚款金额（元）")
    if values.get("fine_amount") and categories and FINE not in categories:
        r.problem("categories", "填写了罚款金额，但处罚类别中没有“罚款”", "请在处罚类别中加上“罚款”，或删去罚款金额")
    decided = r.date("decision_date", required=True, today=today)
    values["decision_date"] = decided
    if r.given("restriction_end"):
        end = r.date("restriction_end")
        if end is not None and decided is not None and end < decided:
            r.problem("restriction_end", f"限制期限截止日期 {end} 早于处罚决定日期 {decided}", "请核对日期")
        values["restriction_end"] = end
    if r.given("authority"):
        values["authority"] = r.text("authority", max_length=200, mask=True) or lk.department_name
    else:
        defaults["authority"] = lk.department_name
    if r.given("task_code"):
        values["task_id"] = _task_id(r, lk)
    if decision_no:
        r.checked.natural_key = (decision_no,)


def _task_id(r, lk):
    code = r.text("task_code")
    if not code:
        return None
    task = lk.tasks.get(code.upper())
    if task is None:
        r.problem("task_code", f"任务编号“{code}”不存在", "请核对任务编号，或留空")
    elif lk.department_id not in task.department_ids:
        r.problem("task_code", f"任务“{code}”不属于本部门", "只能关联本部门参与的任务，或留空")
    else:
        return task.id
    return None
