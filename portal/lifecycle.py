"""Lifecycle actions on public records (SPEC §3): publish, correct, withdraw, withhold, credit repair.

Call each inside `write_transaction()`; each writes the journal. Kinds: item, plan,
task, draw, result, penalty. The reasons a correction or a withdrawal gives are shown
publicly (version pages, tombstones): they are masked here, whoever calls (SPEC §6).
"""
from datetime import date, datetime

from blinker import Namespace
from sqlalchemy import inspect as sa_inspect

from . import clock, journal
from .extensions import db
from .models import (CheckItemVersion, PenaltyCategory, RecordVersion, ResultConclusion, Status)
from .validation import public_text

KINDS = ("item", "plan", "task", "draw", "result", "penalty")

# 不予公开: the fixed list of legal reasons (stored internally, never shown publicly).
WITHHOLD_REASONS = ("国家秘密", "商业秘密", "个人隐私", "当事人为未成年人", "其他法定情形")

_SKIP_COLUMNS = {"status", "published_at", "withheld", "withheld_reason", "withdrawn_at", "withdrawal_reason",
                 "corrected_at", "version", "created_at", "updated_at", "results_complete_at"}


_signals = Namespace()
# Sent inside the correcting transaction once a published record is corrected, as
# send(kind, record=…, actor=…, reason=…): features that wait for corrections (objections) listen.
record_corrected = _signals.signal("record-corrected")


class LifecycleError(ValueError):
    """The action is not allowed in the record's current state (Chinese message)."""


def department_of(kind: str, record):
    if kind == "draw":
        return record.task.department_id
    return getattr(record, "department_id", None)


def state_of(record) -> dict:
    return {"status": getattr(record.status, "value", record.status), "published_at": record.published_at,
            "withheld": record.withheld, "withheld_reason": record.withheld_reason,
            "withdrawn_at": record.withdrawn_at, "withdrawal_reason": record.withdrawal_reason,
            "corrected_at": record.corrected_at, "version": record.version}


def snapshot(kind: str, record) -> dict:
    """The record's content fields as plain JSON-able data (what a correction keeps)."""
    data = {}
    for attr in sa_inspect(record).mapper.column_attrs:
        if attr.key in _SKIP_COLUMNS or attr.key == "id":
            continue
        data[attr.key] = getattr(record, attr.key)
    if kind == "result":
        data["conclusions"] = [{"code": c.code, "label": c.label} for c in record.conclusions]
        data["inspectors"] = [{"name": i.name, "licence_no": i.licence_no} for i in record.inspectors]
        data["findings"] = [{"check_item_id": f.check_item_id, "conclusion_code": f.conclusion_code, "text": f.text}
                            for f in record.findings]
    elif kind == "penalty":
        data["categories"] = list(record.categories)
    elif kind == "item" and record.versions:
        cur = record.current
        for attr in sa_inspect(cur).mapper.column_attrs:
            if attr.key not in ("id", "check_item_id"):
                data[attr.key] = getattr(cur, attr.key)
    elif kind in ("task", "plan"):
        depts = record.departments if kind == "task" else record.participants
        data["departments"] = [d.code for d in depts]
    return journal._plain(data)


def _label(kind: str, record) -> str:
    for attr in ("decision_no", "code", "title"):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return f"#{record.id}"


KIND_LABELS = {"item": "抽查事项", "plan": "抽查计划", "task": "抽查任务", "draw": "抽取名单", "result": "检查结果",
               "penalty": "行政处罚"}


def _check_kind(kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")


def publish(kind: str, record, actor=None, at: datetime | None = None):
    """Make a draft public from `at` (default now).

    Publishing the last missing result of a surprise task lifts its embargo (portal.embargo
    recomputes it at commit, whatever the write path)."""
    _check_kind(kind)
    journal.record(**_publish_event(kind, record, at or clock.now()), actor=actor)
    return record


def publish_many(kind: str, records, actor=None, at: datetime | None = None) -> None:
    """publish() for many drafts at once (bulk imports): the same checks and events, appended to
    the journal together instead of one chain-head lookup and flush per record."""
    _check_kind(kind)
    when = at or clock.now()
    entries = [_publish_event(kind, record, when) for record in records]
    if entries:
        journal.record_many(entries, actor=actor)


def _publish_event(kind: str, record, when: datetime) -> dict:
    if record.withheld:
        raise LifecycleError("该记录已决定不予公开，不能发布。")
    status = getattr(record.status, "value", record.status)
    if status == Status.WITHDRAWN.value:
        raise LifecycleError("该记录已撤回，不能再次发布。")
    if status == Status.PUBLISHED.value:
        raise LifecycleError("该记录已经发布。")
    before = state_of(record)
    record.status = Status.PUBLISHED
    record.published_at = when
    return {"action": "publish", "record_kind": kind, "record_id": record.id, "before": before,
            "after": state_of(record), "department_id": department_of(kind, record),
            "summary": f"发布{KIND_LABELS[kind]} {_label(kind, record)}"}


def _apply_changes(kind: str, record, changes: dict) -> None:
    changes = dict(changes)
    if kind == "result" and "conclusions" in changes:
        record.conclusions = []
        db.session.flush()  # delete old rows first: (result_id, code) is unique
        record.conclusions = [ResultConclusion(code=c["code"] if isinstance(c, dict) else c[0],
                                               label=c["label"] if isinstance(c, dict) else c[1])
                              for c in changes.pop("conclusions")]
        db.session.flush()
    if kind == "penalty" and "categories" in changes:
        record.category_rows = []
        db.session.flush()
        record.category_rows = [PenaltyCategory(category=c) for c in changes.pop("categories")]
        db.session.flush()
    if kind == "item":
        cur = record.current
        fields = {a.key: getattr(cur, a.key) for a in sa_inspect(cur).mapper.column_attrs
                  if a.key not in ("id", "check_item_id", "version")}
        item_fields = {k: changes.pop(k) for k in list(changes) if k in fields}
        if item_fields:
            fields.update(item_fields)
            record.versions.append(CheckItemVersion(version=cur.version + 1, **fields))
    for key, value in changes.items():
        if key in _SKIP_COLUMNS or key == "id" or not hasattr(record, key):
            raise ValueError(f"cannot change {key!r} through correct()")
        setattr(record, key, value)


def correct(kind: str, record, changes: dict, reason: str, actor=None):
    """Change a published record: the old version is kept (RecordVersion) and shown as corrected."""
    _check_kind(kind)
    if not (reason or "").strip():
        raise LifecycleError("请填写更正原因。")
    reason = public_text(reason.strip())
    status = getattr(record.status, "value", record.status)
    if status != Status.PUBLISHED.value:
        raise LifecycleError("只有已发布的记录才能更正；草稿请直接修改。")
    before = snapshot(kind, record)
    actor_id = getattr(actor, "id", None)
    if actor_id is None:
        actor_id = journal._actor(None)[0]
    now = clock.now()
    db.session.add(RecordVersion(record_kind=kind, record_id=record.id, version=record.version, data=before,
                                 replaced_at=now, reason=reason.strip(), actor_id=actor_id))
    _apply_changes(kind, record, changes)
    record.corrected_at = now
    record.version = (record.version or 1) + 1
    db.session.flush()
    after = snapshot(kind, record)
    diff_before = {k: v for k, v in before.items() if after.get(k) != v}
    diff_after = {k: after.get(k) for k in diff_before}
    journal.record("correct", kind, record.id, actor=actor, before=diff_before,
                   after={**diff_after, "version": record.version, "reason": reason.strip()},
                   department_id=department_of(kind, record),
                   summary=f"更正{KIND_LABELS[kind]} {_label(kind, record)}：{reason.strip()}")
    record_corrected.send(kind, record=record, actor=actor, reason=reason.strip())
    return record


def withdraw(kind: str, record, reason: str, actor=None):
    """Take a published record down; the public page keeps a tombstone with the reason."""
    _check_kind(kind)
    if not (reason or "").strip():
        raise LifecycleError("请填写撤回原因。")
    reason = public_text(reason.strip())
    status = getattr(record.status, "value", record.status)
    if status != Status.PUBLISHED.value:
        raise LifecycleError("只有已发布的记录才能撤回。")
    before = state_of(record)
    record.status = Status.WITHDRAWN
    record.withdrawn_at = clock.now()
    record.withdrawal_reason = reason.strip()
    journal.record("withdraw", kind, record.id, actor=actor, before=before, after=state_of(record),
                   department_id=department_of(kind, record),
                   summary=f"撤回{KIND_LABELS[kind]} {_label(kind, record)}：{reason.strip()}")
    return record


def withhold(kind: str, record, reason: str, actor=None):
    """不予公开: the record never appears publicly; the legal reason stays internal."""
    _check_kind(kind)
    if reason not in WITHHOLD_REASONS:
        raise LifecycleError("请选择不予公开的法定理由：" + "、".join(WITHHOLD_REASONS))
    if record.withheld:
        raise LifecycleError("该记录已决定不予公开。")
    before = state_of(record)
    record.withheld = True
    record.withheld_reason = reason
    journal.record("withhold", kind, record.id, actor=actor, before=before, after=state_of(record),
                   department_id=department_of(kind, record),
                   summary=f"不予公开{KIND_LABELS[kind]} {_label(kind, record)}")
    return record


def mark_credit_repair(penalty, repaired_on: date, reason: str, actor=None):
    """信用修复: the penalty stops being public from `repaired_on` (tombstone)."""
    if not (reason or "").strip():
        raise LifecycleError("请填写信用修复的理由。")
    if repaired_on is None:
        raise LifecycleError("请填写信用修复日期。")
    before = {"credit_repair_date": penalty.credit_repair_date, "credit_repair_reason": penalty.credit_repair_reason}
    penalty.credit_repair_date = repaired_on
    penalty.credit_repair_reason = reason.strip()
    journal.record("credit_repair", "penalty", penalty.id, actor=actor, before=before,
                   after={"credit_repair_date": repaired_on, "credit_repair_reason": reason.strip()},
                   department_id=penalty.department_id,
                   summary=f"行政处罚 {penalty.decision_no} 信用修复")
    return penalty
