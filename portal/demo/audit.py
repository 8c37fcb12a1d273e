"""The demo's audit trail: one event per record the demo creates, and one per lifecycle step it
gives them (publish, correct, withdraw, withhold, credit repair, each step of an objection), in
the order they happened, appended with journal.record_many (one chain-head lookup, no per-row flush).

The events are written at load time; each names its historical moment in `after["at"]`.
"""
from datetime import datetime, time, timezone

from sqlalchemy import select

from ..domain.dates import CHINA
from ..extensions import db

_KIND_LABELS = {"department": "部门", "item": "抽查事项", "entity": "检查对象", "inspector": "执法人员", "plan": "抽查计划",
                "task": "抽查任务", "draw": "抽取记录", "result": "检查结果", "penalty": "行政处罚",
                "objection": "异议或信用修复申请"}
_OUTCOMES = {"maintained": "维持", "corrected": "更正", "withdrawn": "撤回", "approved": "准予信用修复",
             "refused": "不予信用修复"}
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _moment(value) -> datetime:
    if value is None:
        return _EPOCH
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(9), CHINA).astimezone(timezone.utc)  # a date: 09:00 in China


def _event(out, when, action, kind, record_id, department_id, label, text):
    out.append((_moment(when), len(out), {
        "action": action, "record_kind": kind, "record_id": record_id, "department_id": department_id,
        "summary": f"演示数据：{text}{_KIND_LABELS[kind]} {label}", "after": {"at": _moment(when)}, "index": False}))


def _lifecycle(out, kind, row, department_id, label):
    """create, then publish / correct / withdraw / withhold as the generated row says."""
    _event(out, row.created_at, "create", kind, row.id, department_id, label, "新建")
    if row.published_at is not None:
        _event(out, row.published_at, "publish", kind, row.id, department_id, label, "发布")
    if row.corrected_at is not None:
        _event(out, row.corrected_at, "correct", kind, row.id, department_id, label, "更正")
    if row.withdrawn_at is not None:
        _event(out, row.withdrawn_at, "withdraw", kind, row.id, department_id, label, "撤回")
    if row.withheld:
        _event(out, row.published_at or row.created_at, "withhold", kind, row.id, department_id, label, "不予公开")


def demo_events(session) -> list[dict]:
    """record_many() entries for every row the demo generator wrote, oldest first."""
    t = db.metadata.tables
    out = []
    for row in session.execute(select(t["department"]).order_by(t["department"].c.id)):
        _event(out, None, "create", "department", row.id, row.id, row.code, "新建")
    for row in session.execute(select(t["check_item"]).order_by(t["check_item"].c.id)):
        _lifecycle(out, "item", row, row.department_id, row.code)
    for row in session.execute(select(t["entity"].c.id, t["entity"].c.uscc, t["entity"].c.created_at)
                               .order_by(t["entity"].c.id)):
        _event(out, row.created_at, "create", "entity", row.id, None, row.uscc, "新建")
    for row in session.execute(select(t["inspector"].c.id, t["inspector"].c.department_id, t["inspector"].c.licence_no,
                                      t["inspector"].c.created_at).order_by(t["inspector"].c.id)):
        _event(out, row.created_at, "create", "inspector", row.id, row.department_id, row.licence_no, "新建")
    for row in session.execute(select(t["plan"]).order_by(t["plan"].c.id)):
        _lifecycle(out, "plan", row, row.department_id, row.title)
    task_departments = {}
    for row in session.execute(select(t["task"]).order_by(t["task"].c.id)):
        task_departments[row.id] = row.department_id
        _lifecycle(out, "task", row, row.department_id, row.code)
    for row in session.execute(select(t["draw"]).order_by(t["draw"].c.id)):
        _lifecycle(out, "draw", row, task_departments.get(row.task_id), f"#{row.id}")
    for row in session.execute(select(t["result"]).order_by(t["result"].c.id)):
        _lifecycle(out, "result", row, row.department_id, f"#{row.id}")
    for row in session.execute(select(t["penalty"]).order_by(t["penalty"].c.id)):
        _lifecycle(out, "penalty", row, row.department_id, row.decision_no)
        if row.credit_repair_date is not None:
            _event(out, row.credit_repair_date, "credit_repair", "penalty", row.id, row.department_id,
                   row.decision_no, "信用修复：")
    for row in session.execute(select(t["objection"]).order_by(t["objection"].c.id)):
        label = f"#{row.id}（{row.record_kind} #{row.record_id}）"
        _event(out, row.received_at, "objection_received", "objection", row.id, row.department_id, label, "受理")
        if row.claimed_at is not None:
            _event(out, row.claimed_at, "objection_claimed", "objection", row.id, row.department_id, label, "开始核查")
        if row.correcting_at is not None:
            _event(out, row.correcting_at, "objection_correcting", "objection", row.id, row.department_id, label,
                   "决定更正")
        if row.decided_at is not None:
            _event(out, row.decided_at, "objection_decided", "objection", row.id, row.department_id, label,
                   f"办结（{_OUTCOMES[getattr(row.outcome, 'value', row.outcome)]}）")
    out.sort(key=lambda item: (item[0], item[1]))
    return [entry for _when, _n, entry in out]

