"""Reads of the right of reply: the public status of records (batched), the filer's case by
token, credit-repair eligibility, handling-deadline warnings, the clerk queue and /stats figures.
"""
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import selectinload

from .. import deadlines
from ..domain.dates import china_date, china_midnight
from ..domain.deadlines import DUE_SOON_WORKDAYS, urgency
from ..domain.publicity import LONG, SHORT, publicity_class
from ..extensions import db
from ..visibility_sql import NOW, prepared
from ..models import CaseKind, Department, Objection, OPEN_STATUSES, Penalty, Result
from . import domain
from .service import RECORD_MODELS, hash_token, record_label

BATCH = 500


# --- the public status of records (SPEC §12: "on every channel") ------------------------------------

def _record_id(record) -> int:
    return record["id"] if isinstance(record, dict) else record.id


def _cases_stmt():
    return (select(Objection.record_kind, Objection.record_id, Objection.kind, Objection.received_at,
                   Objection.decided_at, Objection.outcome)
            .where(Objection.kind == CaseKind.OBJECTION, Objection.record_kind.in_(bindparam("kinds", expanding=True)),
                   Objection.record_id.in_(bindparam("ids", expanding=True)), Objection.received_at <= NOW))


def _cases_by_record(ids_by_kind: dict[str, set[int]], now: datetime) -> dict[tuple[str, int], list]:
    """The objections filed on these records by `now`, by (kind, record id) (plain rows: no contact
    data is even read). Results and penalties alike: one statement per BATCH ids (a feed's both kinds)."""
    wanted = {kind: ids for kind, ids in ids_by_kind.items() if kind in domain.RECORD_KINDS and ids}
    out = defaultdict(list)
    if not wanted:
        return out
    ids = sorted(set().union(*wanted.values()))
    stmt = prepared("objection_cases", _cases_stmt)  # built once per process: every list page runs it
    for i in range(0, len(ids), BATCH):
        for row in db.session.execute(stmt, {"kinds": sorted(wanted), "ids": ids[i:i + BATCH], "now": now}):
            if row.record_id in wanted[row.record_kind]:  # a result and a penalty may share an id
                out[(row.record_kind, row.record_id)].append(row)
    return out


def objection_feed_info_by_kind(records_by_kind: dict[str, list], now: datetime) -> dict[tuple[str, int], tuple]:
    """{(kind, record id): (public objection object or None, when it last changed)} for records of
    any kinds (a feed's results and penalties), read by one statement."""
    ids = {kind: {_record_id(r) for r in records} for kind, records in records_by_kind.items()}
    cases = _cases_by_record(ids, now)
    return {(kind, rid): domain.public_status(cases.get((kind, rid), ()), now) for kind in ids for rid in ids[kind]}


def objection_feed_info(kind: str, records, now: datetime) -> dict[int, tuple[dict | None, datetime | None]]:
    """{record id: (public objection object or None, when it last changed)} in one query."""
    return {rid: info for (_kind, rid), info in objection_feed_info_by_kind({kind: records}, now).items()}


def objection_status_many(kind: str, records, now: datetime) -> dict[int, dict | None]:
    """{record id: the `objection` object of its public shape, or None} for a list of records
    (objects with `.id` or dicts with "id"), in one query: status, received, decided, outcome
    and the sentence every channel shows."""
    return {rid: info[0] for rid, info in objection_feed_info(kind, records, now).items()}


def add_objection_status(kind: str, items, now: datetime):
    """Yield the public dicts of `items` (JSON items, CSV rows) with their `objection` key, one
    query per batch (streams: constant memory)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            yield from _with_status(kind, batch, now)
            batch = []
    if batch:
        yield from _with_status(kind, batch, now)


def _with_status(kind, batch, now):
    statuses = objection_status_many(kind, batch, now)
    for item in batch:
        item["objection"] = statuses.get(item["id"])
        yield item


def _recently_changed_stmt():
    changed = func.max(func.coalesce(Objection.decided_at, Objection.received_at))
    return (select(Objection.record_id).where(Objection.kind == CaseKind.OBJECTION,
                                              Objection.record_kind == bindparam("record_kind"),
                                              Objection.received_at <= NOW)
            .group_by(Objection.record_id).order_by(changed.desc()).limit(bindparam("limit", type_=Integer())))


def recently_changed_ids(kind: str, now: datetime, limit: int) -> list[int]:
    """Records whose public objection status changed most recently (feeds: an updated entry);
    the statement is built once per process (every feed runs it)."""
    rows = db.session.execute(prepared("objections_recently_changed", _recently_changed_stmt),
                              {"record_kind": kind, "now": now, "limit": limit})
    return [row.record_id for row in rows]


# --- the filer's status page ------------------------------------------------------------------------

def case_by_token(token: str) -> Objection | None:
    if not token or len(token) > 100:
        return None
    return db.session.execute(select(Objection).where(Objection.token_hash == hash_token(token))
                              .options(selectinload(Objection.attachments))).scalar()


def handling_workdays() -> int:
    return int(current_app.config.get("OBJECTION_HANDLING_WORKDAYS", 15))


def due_of(case: Objection, calendar=None) -> tuple[date, bool]:
    return domain.handling_due(case.received_at, handling_workdays(), calendar or deadlines.work_calendar())


# --- credit repair ------------------------------------------------------------------------------------

def open_case_exists(kind: str, record_kind: str, record_id: int) -> bool:
    return db.session.execute(select(Objection.id).where(
        Objection.kind == CaseKind(kind), Objection.record_kind == record_kind, Objection.record_id == record_id,
        Objection.status.in_(OPEN_STATUSES)).limit(1)).first() is not None


def credit_repair_eligibility(penalty: Penalty, now: datetime) -> domain.Eligibility:
    """Whether the party of this (public) penalty may apply for credit repair now."""
    config = current_app.config
    cls = publicity_class(penalty.categories, penalty.fine_amount, penalty.confiscation_amount, penalty.party_kind,
                          deadlines.publicity_policy())
    published_on = china_date(penalty.published_at) if penalty.published_at is not None else None
    result = domain.credit_repair_eligibility(
        cls, published_on, china_date(now), penalty.credit_repair_date is not None,
        # 0 months in the setting: that publicity class cannot apply (None for the rule).
        {SHORT: config["CREDIT_REPAIR_MIN_MONTHS_SHORT"] or None, LONG: config["CREDIT_REPAIR_MIN_MONTHS_LONG"] or None})
    if result.eligible and open_case_exists(domain.CREDIT_REPAIR, "penalty", penalty.id):
        return domain.Eligibility(False, "该行政处罚已有信用修复申请正在办理，请通过受理后获得的查询链接了解进度。",
                                  result.from_date)
    return result


# --- the clerk's side ----------------------------------------------------------------------------------

@dataclass
class CaseProblem(deadlines.Problem):
    """A case past or near its handling deadline, listed with the disclosure warnings."""

    case_kind: str = domain.OBJECTION

    @property
    def kind_label(self) -> str:
        return domain.KIND_LABELS[self.case_kind]

    @property
    def category_label(self) -> str:
        return {"overdue": "逾期未办结", "due_soon": "即将到期"}[self.category]


def _records_of(cases) -> dict[tuple[str, int], object]:
    """The records the cases are about, loaded in one query per kind."""
    wanted = defaultdict(set)
    for case in cases:
        wanted[case.record_kind].add(case.record_id)
    loaded = {}
    for kind, ids in wanted.items():
        model = RECORD_MODELS[kind]
        stmt = select(model).where(model.id.in_(ids))
        if model is Result:
            stmt = stmt.options(selectinload(Result.task), selectinload(Result.entity))
        for record in db.session.execute(stmt).scalars():
            loaded[(kind, record.id)] = record
    return loaded


@dataclass
class CaseRow:
    """One case as the clerk's queue shows it."""

    case: Objection
    record: object
    label: str
    due_date: date
    provisional: bool
    state: str  # overdue / due_soon / ok / decided
    workdays: int  # overdue: working days late; due soon: left


def case_rows(cases, today: date) -> list[CaseRow]:
    cal = deadlines.work_calendar()
    records = _records_of(cases)
    rows = []
    for case in cases:
        due, provisional = due_of(case, cal)
        if case.is_open:
            u = urgency(due, today, cal, DUE_SOON_WORKDAYS)
            state, days = u.state, u.workdays
        else:
            state, days = "decided", 0
        record = records.get((case.record_kind, case.record_id))
        rows.append(CaseRow(case, record, record_label(case.record_kind, record), due, provisional, state, days))
    return rows


def open_cases(department_id: int | None):
    stmt = select(Objection).where(Objection.status.in_(OPEN_STATUSES)).order_by(Objection.received_at, Objection.id)
    if department_id is not None:
        stmt = stmt.where(Objection.department_id == department_id)
    return db.session.execute(stmt).scalars().all()


def handling_problems(department_id: int | None, today: date, departments: dict[int, str]) -> list[CaseProblem]:
    """Open cases overdue or due within DUE_SOON_WORKDAYS working days (most urgent first)."""
    problems = []
    for row in case_rows(open_cases(department_id), today):
        if row.state not in ("overdue", "due_soon"):
            continue
        case = row.case
        entity = getattr(row.record, "entity", None)
        problems.append(CaseProblem(
            row.state, "objection", case.id, case.department_id, departments.get(case.department_id, ""),
            f"{case.receipt_no} {domain.RECORD_LABELS[case.record_kind]} {row.label}", row.due_date,
            row.provisional, row.workdays, china_date(case.received_at), entity_id=getattr(entity, "id", None),
            entity_name=getattr(entity, "name", None), uscc=getattr(entity, "uscc", None),
            case_kind=case.kind.value))
    problems.sort(key=lambda p: (p.category != "overdue", -p.workdays if p.category == "overdue" else p.workdays,
                                 p.record_id))
    return problems


# --- /stats ---------------------------------------------------------------------------------------------

@dataclass
class DepartmentFigures:
    """One department's right-of-reply figures for cases received in a date range."""

    department_code: str
    department_name: str
    objections: int = 0
    decided: int = 0
    upheld: int = 0  # decided 更正 or 撤回
    handling_days: list = field(default_factory=list)  # working days from receipt to decision
    credit_repair_applications: int = 0
    credit_repairs_approved: int = 0

    @property
    def share_upheld(self) -> float | None:
        """Share of decided objections that changed the record (更正 or 撤回); 维持 counts as not upheld."""
        return round(self.upheld / self.decided, 4) if self.decided else None

    @property
    def median_handling_days(self) -> float | None:
        return float(statistics.median(self.handling_days)) if self.handling_days else None

    def as_json(self) -> dict:
        return {"department": self.department_code, "department_name": self.department_name,
                "objections": self.objections, "decided": self.decided, "upheld": self.upheld,
                "share_upheld": self.share_upheld, "median_handling_workdays": self.median_handling_days,
                "credit_repair_applications": self.credit_repair_applications,
                "credit_repairs_approved": self.credit_repairs_approved}


def department_stats(date_from: date | None, date_to: date | None, now: datetime,
                     department_code: str | None = None) -> list[DepartmentFigures]:
    """Per department, the cases received in [date_from, date_to] (China dates; None = open-ended)
    as known at `now`: number of objections, share upheld, median working days to a decision, and
    credit-repair applications. Counts only; nothing about who filed or why."""
    stmt = (select(Objection.kind, Objection.received_at, Objection.decided_at, Objection.outcome,
                   Department.code, Department.name)
            .join(Department, Department.id == Objection.department_id)
            .where(Objection.received_at <= now))
    if date_from is not None:
        stmt = stmt.where(Objection.received_at >= china_midnight(date_from))
    if date_to is not None:
        stmt = stmt.where(Objection.received_at < china_midnight(date_to + timedelta(days=1)))
    if department_code:
        stmt = stmt.where(Department.code == department_code)
    cal = deadlines.work_calendar()
    figures: dict[str, DepartmentFigures] = {}
    for kind, received_at, decided_at, outcome, code, name in db.session.execute(stmt):
        row = figures.setdefault(code, DepartmentFigures(code, name))
        decided = decided_at is not None and decided_at <= now
        if kind is CaseKind.CREDIT_REPAIR:
            row.credit_repair_applications += 1
            row.credit_repairs_approved += int(decided and outcome.value == "approved")
            continue
        row.objections += 1
        if decided:
            row.decided += 1
            row.upheld += int(outcome.value in domain.UPHELD)
            row.handling_days.append(max(0, cal.workdays_between(china_date(received_at), china_date(decided_at))))
    return sorted(figures.values(), key=lambda r: r.department_code)

