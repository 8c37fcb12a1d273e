"""Writes of the right of reply: filing a case, taking it, deciding it.

Call each inside `write_transaction()`: the case, the record's lifecycle change (withdrawal,
credit repair) and the audit events commit together or not at all. Every step is one audit
event (record kind "objection"); a step that changes what the public sees of the record also
appends a change-log row for the record, so caches and search notice it.
"""
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from .. import journal, lifecycle
from ..domain.dates import china_date
from ..extensions import db
from ..models import (CaseKind, CaseStatus, Objection, ObjectionAttachment, Outcome, Penalty, Relation, Result,
                      SearchChange, Status)
from . import domain

RECORD_MODELS = {"result": Result, "penalty": Penalty}
PUBLIC_ACTOR = "public"  # the audit trail's name for an anonymous filer


class CaseError(ValueError):
    """The step is not possible in the case's (or record's) current state; Chinese message."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def record_label(record_kind: str, record) -> str:
    """How a clerk recognises the record: task code + entity, or the decision number."""
    if record is None:
        return "（记录已删除）"
    if record_kind == "result":
        return f"{record.task.code} {record.entity.name}"
    return f"{record.decision_no} {record.party_name}"


def load_record(case: Objection):
    return db.session.get(RECORD_MODELS[case.record_kind], case.record_id)


def _touch_record(case: Objection) -> None:
    # Only objections change a record's public shape (the badge); credit repair goes through lifecycle.
    if case.kind is CaseKind.OBJECTION:
        db.session.add(SearchChange(record_kind=case.record_kind, record_id=case.record_id))


def _summary(case: Objection, text: str) -> str:
    return f"{domain.KIND_LABELS[case.kind.value]} {case.receipt_no}：{text}"


def file_case(kind: str, record_kind: str, record, filing: domain.Filing, attachments, now: datetime):
    """Store a new case about a public `record`; returns (case, token). The token is the filer's
    private status link and is never stored, only its hash."""
    token = secrets.token_urlsafe(32)
    case = Objection(kind=CaseKind(kind), record_kind=record_kind, record_id=record.id,
                     department_id=record.department_id, token_hash=hash_token(token),
                     relation=Relation(filing.relation), contact_name=filing.contact_name,
                     contact_mobile=filing.contact_mobile, points=list(filing.points), statement=filing.statement,
                     status=CaseStatus.RECEIVED, received_at=now, created_at=now, updated_at=now)
    case.attachments = [ObjectionAttachment(position=n, filename=a.filename, content_type=a.content_type,
                                            size=a.size, sha256=a.sha256, data=a.data)
                        for n, a in enumerate(attachments, 1)]
    db.session.add(case)
    db.session.flush()
    # The audit trail names the record and counts the files; contact details stay in the case row.
    journal.record("objection_received", "objection", case.id, actor=PUBLIC_ACTOR, department_id=case.department_id,
                   after={"kind": kind, "record_kind": record_kind, "record_id": record.id,
                          "attachments": [{"sha256": a.sha256, "size": a.size} for a in attachments]},
                   summary=_summary(case, f"受理对{domain.RECORD_LABELS[record_kind]} "
                                          f"{record_label(record_kind, record)} 的申请"))
    _touch_record(case)
    return case, token


def claim(case: Objection, actor, now: datetime) -> Objection:
    """A clerk takes a new case (核查中); the filer's status page shows the step."""
    if case.status is not CaseStatus.RECEIVED:
        raise CaseError("该申请已由工作人员开始核查或已办结，无需重复认领。")
    case.status, case.claimed_at, case.claimed_by_id = CaseStatus.IN_REVIEW, now, _actor_id(actor)
    journal.record("objection_claimed", "objection", case.id, actor=actor, department_id=case.department_id,
                   before={"status": "received"}, after={"status": "in_review"},
                   summary=_summary(case, "开始核查"))
    return case


def _actor_id(actor):
    return journal._actor(actor)[0]  # the given user, else the signed-in one


def _take(case: Objection, actor, now: datetime) -> None:
    if case.claimed_at is None:
        case.claimed_at, case.claimed_by_id = now, _actor_id(actor)


def start_correction(case: Objection, actor, now: datetime) -> Objection:
    """更正: the case waits for the record's correction (the normal correction form) and closes then."""
    if case.kind is not CaseKind.OBJECTION:
        raise CaseError("只有异议可以通过更正办结。")
    if not case.is_open:
        raise CaseError("该异议已办结。")
    record = load_record(case)
    if record is None or record.status is not Status.PUBLISHED:
        raise CaseError("该记录当前不是已发布状态，不能更正；请选择“维持”或“撤回”。")
    if case.status is CaseStatus.CORRECTING:
        return case  # already waiting for the correction: just reopen the form
    before = case.status.value
    _take(case, actor, now)
    case.status, case.correcting_at = CaseStatus.CORRECTING, now
    journal.record("objection_correcting", "objection", case.id, actor=actor, department_id=case.department_id,
                   before={"status": before}, after={"status": "correcting"},
                   summary=_summary(case, f"决定更正{domain.RECORD_LABELS[case.record_kind]}，等待保存更正"))
    return case


def _close(case: Objection, outcome: Outcome, reason: str, actor, now: datetime) -> None:
    before = case.status.value
    _take(case, actor, now)
    case.status, case.outcome, case.decided_at = CaseStatus.DECIDED, outcome, now
    case.decided_by_id, case.decision_reason = _actor_id(actor), reason
    journal.record("objection_decided", "objection", case.id, actor=actor, department_id=case.department_id,
                   before={"status": before}, after={"status": "decided", "outcome": outcome.value, "reason": reason},
                   summary=_summary(case, f"办结：{domain.OUTCOME_LABELS[outcome.value]}。{reason}"))
    _touch_record(case)


def decide(case: Objection, outcome: str, reason: str, actor, now: datetime) -> Objection:
    """维持 / 撤回 an objection, or 准予 / 不予 a credit repair. 更正 goes through start_correction()."""
    if not case.is_open:
        raise CaseError("该申请已办结，不能再次处理。")
    if outcome not in domain.OUTCOMES_BY_KIND[case.kind.value]:
        raise CaseError("请选择有效的处理结果。")
    if outcome == "corrected":
        raise CaseError("更正请点击“更正”，在记录的更正表单中保存更正后自动办结。")
    record = load_record(case)
    if outcome == "withdrawn":
        # Through the existing lifecycle: the public page becomes a tombstone with the reason.
        if record is not None and record.status is Status.PUBLISHED:
            lifecycle.withdraw(case.record_kind, record, f"{reason}（异议 {case.receipt_no} 核查结果）", actor=actor)
    elif outcome == "approved":
        if record is None or record.credit_repair_date is not None:
            raise CaseError("该行政处罚已经信用修复。")
        # The existing credit-repair path: the penalty becomes a tombstone from today (China date).
        lifecycle.mark_credit_repair(record, china_date(now), f"{reason}（信用修复申请 {case.receipt_no}）", actor=actor)
    _close(case, Outcome(outcome), reason, actor, now)
    return case


def on_record_corrected(kind: str, *, record, actor=None, reason: str = "", **_):
    """lifecycle.record_corrected: a saved correction closes the objections waiting for it."""
    if kind not in RECORD_MODELS:
        return
    waiting = db.session.execute(select(Objection).where(
        Objection.record_kind == kind, Objection.record_id == record.id,
        Objection.status == CaseStatus.CORRECTING)).scalars().all()
    for case in waiting:
        _close(case, Outcome.CORRECTED, reason or "已更正", actor, record.corrected_at)
