"""Disclosure deadlines (SPEC §4) as plain functions: due dates, on-time checks, warnings.

No database, no Flask: callers pass a WorkCalendar, the working days allowed and
the dates. portal.deadlines reads the rules and overrides and applies these.
"""
from dataclasses import dataclass
from datetime import date

from .workdays import WorkCalendar

# Working days allowed per record kind (configurable per deployment in DeadlineRule).
DEFAULT_RULES = {"plan": 10, "draw": 10, "result": 20, "penalty": 7}
RULE_LABELS = {"plan": "抽查计划及其任务", "draw": "抽取名单", "result": "检查结果", "penalty": "行政处罚"}
KIND_LABELS = {"plan": "抽查计划", "task": "抽查任务", "draw": "抽取名单", "result": "检查结果",
               "penalty": "行政处罚"}
DUE_SOON_WORKDAYS = 3


@dataclass(frozen=True)
class Disclosure:
    """When a record was due, and (once published) whether it was on time."""

    due_date: date | None  # None: not due yet (e.g. a surprise task before its results exist)
    provisional: bool = False  # the due date counts days the holiday data does not cover
    published_on: date | None = None
    on_time: bool | None = None
    late_days: int | None = None  # working days after the due date; 0 when on time
    start_date: date | None = None  # the day the clock started
    working_days: int | None = None  # days allowed
    # What started the clock (templates word it): plan_approved, task_created, drawn, formed,
    # decided, or embargo_lifted (a surprise task and its list are due when its embargo lifts).
    start_event: str | None = None

    @property
    def is_published(self) -> bool:
        return self.published_on is not None


def assess(start: date | None, working_days: int, published_on: date | None, calendar: WorkCalendar,
           due_override: tuple[date, bool] | None = None, start_event: str | None = None) -> Disclosure:
    """Due date = `working_days` working days after `start`; judge `published_on` against it.

    `due_override` (date, provisional) replaces the computed due date, for records due
    together with another (a surprise task's list is due with its results).
    """
    if due_override is not None:
        due, provisional = due_override
    elif start is None:
        return Disclosure(None, published_on=published_on, start_date=None, working_days=working_days,
                          start_event=start_event)
    else:
        due, provisional = calendar.add_workdays(start, working_days)
    if due is None:
        return Disclosure(None, published_on=published_on, start_date=start, working_days=working_days,
                          start_event=start_event)
    if published_on is None:
        return Disclosure(due, provisional, None, None, None, start, working_days, start_event)
    late = calendar.workdays_between(due, published_on) if published_on > due else 0
    # Published on a later rest day after the due date: still late by the calendar day, count at least 1.
    if published_on > due and late == 0:
        late = 1
    return Disclosure(due, provisional, published_on, late == 0, late, start, working_days, start_event)


def task_clock_start(plan_approval: date, task_created_on: date) -> tuple[date, str]:
    """A task of a plan: its clock starts at the later of the plan's approval and the task's own
    creation (SPEC §4), so a task added to a plan later is not born overdue. Returns the day and
    the start event."""
    if task_created_on > plan_approval:
        return task_created_on, "task_created"
    return plan_approval, "plan_approved"


def embargoed_disclosure(lifted_on: date | None, own_published_on: date | None, working_days: int,
                         calendar: WorkCalendar) -> Disclosure:
    """A surprise task, and its drawn list, are "published with the results" (SPEC §4): due on the
    day the embargo lifts, and public when both the record itself and the embargo are.

    `lifted_on` is the China date of domain.visibility.embargo_lifts_at; `own_published_on`
    the record's own publication date (None while a draft, or before the embargo lifted, when
    the public cannot see it: nothing public is derived from what is not public).
    """
    if lifted_on is None:
        return Disclosure(None, working_days=working_days, start_event="embargo_lifted")
    published_on = max(own_published_on, lifted_on) if own_published_on is not None else None
    return assess(None, working_days, published_on, calendar, due_override=(lifted_on, False),
                  start_event="embargo_lifted")


def workdays_to_publish(start: date, published_on: date, calendar: WorkCalendar) -> int:
    """Working days from the start event to publication (0 when published the same day or earlier)."""
    return max(0, calendar.workdays_between(start, published_on))


@dataclass(frozen=True)
class Urgency:
    """Where an unpublished record stands today."""

    state: str  # "overdue", "due_soon" or "ok"
    workdays: int  # overdue: working days past due; due soon: working days left (0 = due today)


def urgency(due: date, today: date, calendar: WorkCalendar, soon: int = DUE_SOON_WORKDAYS) -> Urgency:
    if today > due:
        return Urgency("overdue", max(1, calendar.workdays_between(due, today)))
    left = calendar.workdays_between(today, due)
    if left <= soon:
        return Urgency("due_soon", left)
    return Urgency("ok", left)


# --- on-time status shown on every list row, JSON item and CSV line --------------------------

ON_TIME, LATE, PENDING = "on_time", "late", "pending"


def disclosure_status(d: Disclosure) -> dict:
    """The public verdict of one record: 按时公示 / 逾期 N 个工作日 / 待公示.

    A published record with no due date (nothing was due yet, e.g. a temporary task
    published before its draw) was not late, so it counts as on time.
    """
    if not d.is_published:
        return {"status": PENDING, "late_working_days": None, "label": "待公示", "due": d.due_date}
    if d.on_time is False:
        return {"status": LATE, "late_working_days": d.late_days, "label": f"逾期 {d.late_days} 个工作日",
                "due": d.due_date}
    return {"status": ON_TIME, "late_working_days": 0, "label": "按时公示", "due": d.due_date}
