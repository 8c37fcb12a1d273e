"""检查结果: the one validator for the back-office form, uploads and `flask import results`."""
from __future__ import annotations

from datetime import date

from .core import WARNING, Reader
from .lookups import Lookups
from .vocabulary import match_terms, split_list

REMARK_MAX = 4000
FINDING_MAX = 4000
VERIFICATION_MAX = 100
FINDING_PREFIX = "finding_"  # per-item findings: key finding_<check item id> (back-office form)


def validate_result(r: Reader, lk: Lookups, today: date) -> None:
    values = r.checked.values
    task = _task(r, lk)
    entity = _entity(r, lk, task)
    if r.given("items"):
        item_ids = _items(r, task)
        if item_ids is not None:
            values["item_ids"] = item_ids
    inspection = r.date("inspection_date", today=today)
    formed = r.date("formed_date", required=True, today=today)
    if inspection and formed and formed < inspection:
        r.problem("formed_date", f"结果形成日期 {formed} 早于检查日期 {inspection}", "结果形成日期应不早于检查日期")
        formed = None
    if task is not None and task.drawn_on is not None:
        for key, day, what in (("inspection_date", inspection, "检查日期"), ("formed_date", formed, "结果形成日期")):
            if day is not None and day < task.drawn_on:
                r.problem(key, f"{what} {day} 早于该任务的抽取日期 {task.drawn_on}：抽取之后才能检查",
                          "请核对日期，或核对任务编号")
                if key == "inspection_date":
                    break  # one message is enough: the result-formed date is not earlier than the inspection
    if inspection and task is not None and task.period_start and task.period_end and \
            not (task.period_start <= inspection <= task.period_end):
        r.problem("inspection_date", f"检查日期 {inspection} 不在任务检查期间（{task.period_start} 至 {task.period_end}）内",
                  "请核对日期；确认无误可接受警告后保存", WARNING)
    conclusions = _conclusions(r, lk)
    values.update(task_id=task.id if task else None, entity_id=entity.id if entity else None,
                  inspection_date=inspection, formed_date=formed, conclusions=conclusions)
    for key, limit in (("remark", REMARK_MAX), ("verification_method", VERIFICATION_MAX)):
        if r.given(key):
            values[key] = r.text(key, max_length=limit, mask=True)
    if r.given("follow_up"):
        values["follow_up"] = _follow_up(r, lk)
    if r.given("inspectors"):
        values["inspectors"] = _inspectors(r, lk, task)
    findings = _findings(r, task)
    if findings is not None:
        values["findings"] = findings
    if task is not None and entity is not None:
        r.checked.natural_key = (task.id, entity.id)


def _task(r, lk):
    code = r.text("task_code")
    if not code and r.given("record_id"):
        # The public file shows no task code while a surprise task is under embargo: its 记录编号
        # names one of this department's results, whose task it is.
        record_id = r.text("record_id")
        code = lk.result_tasks.get(int(record_id)) if record_id and record_id.isascii() and record_id.isdigit() else None
    if not code:
        r.problem("task_code", "必填项为空", "请填写任务编号")
        return None
    task = lk.tasks.get(code.upper())
    if task is None:
        r.problem("task_code", f"任务编号“{code}”不存在", "请核对任务编号（18 位），或先在后台建立该任务")
        return None
    if lk.department_id not in task.department_ids:
        r.problem("task_code", f"任务“{code}”不属于本部门", "只能录入本部门（或本部门参与的联合任务）的检查结果")
        return None
    return task


def _entity(r, lk, task):
    uscc = r.code("uscc")
    entity = None
    if uscc:
        entity = lk.entities.get(uscc)
        if entity is None:
            r.problem("uscc", f"名录库中没有统一社会信用代码为“{uscc}”的检查对象", "请核对代码，或先在检查对象名录库中添加")
        elif task is not None and entity.id not in task.drawn_entity_ids:
            r.problem("uscc", f"“{entity.name}”不在该任务的抽取名单中", "请核对任务编号和代码；确认无误可接受警告后保存",
                      WARNING)
    if r.given("entity_name"):
        name = r.text("entity_name", max_length=200)
        if entity is not None and name and name != entity.name:
            r.problem("entity_name", f"名称“{name}”与名录库中的“{entity.name}”不一致", "请核对；保存时以名录库中的名称为准",
                      WARNING)
    return entity


def _items(r, task):
    """The task's check items this result is about: None when it covers the whole task."""
    text = r.list_text("items")
    if not text or task is None:
        return None
    found, unknown = match_terms(text, task.item_terms)
    for piece in unknown:
        r.problem("items", f"检查事项“{piece}”不属于该任务", "填写该任务包含的检查事项编码或名称，或留空")
    ids = {task.item_ids_by_code[code] for code, _name in found}
    if unknown or not ids or ids == task.item_ids:
        return None
    return sorted(ids)


def _conclusions(r, lk):
    text = r.list_text("conclusions")
    if not text:
        r.problem("conclusions", "必填项为空", "请填写或选择至少一项检查结果，如 C01 或 未发现问题")
        return []
    found, unknown = match_terms(text, lk.conclusions)
    for piece in unknown:
        r.problem("conclusions", f"未知的检查结果“{piece}”",
                  "请填写结论编码或名称，如 C01 或 未发现问题；可在“数据说明”页查看完整列表")
    if found:
        r.checked.display["conclusions"] = "、".join(label for _code, label in found)
    return sorted(found)


def _follow_up(r, lk):
    text = r.text("follow_up")
    if not text:
        return None
    found, unknown = match_terms([text], lk.follow_ups)
    if unknown:
        r.problem("follow_up", f"未知的后续处置“{text}”", "可填：" + "、".join(lk.follow_ups.values()))
        return None
    return found[0][1]


def _inspectors(r, lk, task):
    licences = []
    for licence in split_list(r.list_text("inspectors")):
        found = lk.inspectors.get(licence.upper())
        if found is None:
            r.problem("inspectors", f"执法证号“{licence}”不在执法检查人员名录中", "请核对执法证号，或先在执法检查人员名录中添加")
        elif task is not None and found[1] not in task.department_ids:
            r.problem("inspectors", f"执法人员“{licence}”不属于本任务的参与部门", "只能填写参与本任务的部门的执法人员")
        elif found[2] not in licences:
            licences.append(found[2])
    return sorted(licences)


def _findings(r, task):
    keys = [k for k in r.keys() if k.startswith(FINDING_PREFIX)]
    if not keys:
        return None
    findings = {}
    for key in keys:
        item_id = key[len(FINDING_PREFIX):]
        if task is None or not (item_id.isascii() and item_id.isdigit()) or int(item_id) not in task.item_ids:
            r.problem(key, "该检查事项不属于所选任务", "请先保存任务，再填写分项检查情况")
            continue
        text = r.text(key, max_length=FINDING_MAX, mask=True)
        if text:
            findings[int(item_id)] = text
    return findings
