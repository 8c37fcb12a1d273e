"""The one publication rule (SPEC §3), as plain Python.

`portal.queries.public_clause()` expresses the same rule in SQL for lists; the
test suite checks both agree on a matrix of records. Every public channel goes
through one of the two.
"""
import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta


class Visibility(str, enum.Enum):
    HIDDEN = "hidden"  # the public must not learn the record exists
    VISIBLE = "visible"
    TOMBSTONE = "tombstone"  # only "停止公示/已撤回" and the date or reason


class TombstoneReason(str, enum.Enum):
    WITHDRAWN = "withdrawn"
    PUBLICITY_ENDED = "publicity_ended"
    CREDIT_REPAIRED = "credit_repaired"


@dataclass(frozen=True)
class PublicState:
    visibility: Visibility
    reason: TombstoneReason | None = None
    stopped_on: date | None = None  # the day publication stopped
    note: str | None = None  # withdrawal reason (public by design)

    @property
    def is_visible(self) -> bool:
        return self.visibility is Visibility.VISIBLE

    @property
    def is_tombstone(self) -> bool:
        return self.visibility is Visibility.TOMBSTONE


HIDDEN = PublicState(Visibility.HIDDEN)
VISIBLE = PublicState(Visibility.VISIBLE)


def _china_date(moment: datetime) -> date:
    from .dates import china_date
    return china_date(moment)


def record_state(record, now: datetime) -> PublicState:
    """Lifecycle part shared by every kind: published, from publication time, never withheld."""
    if record.withheld:
        return HIDDEN
    if record.published_at is None or record.published_at > now:
        return HIDDEN
    status = getattr(record.status, "value", record.status)
    if status == "withdrawn":
        when = record.withdrawn_at
        if when is not None and when <= now:
            return PublicState(Visibility.TOMBSTONE, TombstoneReason.WITHDRAWN,
                               _china_date(when), record.withdrawal_reason)
        return VISIBLE if when is not None else HIDDEN
    if status != "published":
        return HIDDEN
    return VISIBLE


def surprise_embargo_lifted(task, now: datetime) -> bool:
    """A surprise task's plan entry, task, list and timing appear once its results are published."""
    if not task.surprise:
        return True
    return task.results_published_at is not None and task.results_published_at <= now


def task_state(task, now: datetime) -> PublicState:
    state = record_state(task, now)
    if state.visibility is not Visibility.HIDDEN and not surprise_embargo_lifted(task, now):
        return HIDDEN
    return state


def draw_state(draw, now: datetime) -> PublicState:
    """A drawn list: its own lifecycle, completed, and its task's embargo."""
    if draw.drawn_at is None:
        return HIDDEN
    state = record_state(draw, now)
    if state.visibility is Visibility.HIDDEN or not surprise_embargo_lifted(draw.task, now):
        return HIDDEN
    if not task_state(draw.task, now).is_visible:
        return HIDDEN  # a withdrawn task's list goes with it (as visibility_sql.public_clause says)
    return state


def penalty_state(penalty, now: datetime) -> PublicState:
    """Lifecycle plus the publicity period and credit repair (总局令第45号)."""
    state = record_state(penalty, now)
    if state.visibility is not Visibility.VISIBLE:
        return state
    if penalty.publicity_end is None:
        return HIDDEN  # e.g. a warning only: never published
    today = _china_date(now)
    ends = []
    if penalty.credit_repair_date is not None and penalty.credit_repair_date <= today:
        ends.append((penalty.credit_repair_date, TombstoneReason.CREDIT_REPAIRED))
    if today > penalty.publicity_end:
        ends.append((penalty.publicity_end + timedelta(days=1), TombstoneReason.PUBLICITY_ENDED))
    if ends:
        stopped_on, reason = min(ends)
        return PublicState(Visibility.TOMBSTONE, reason, stopped_on)
    return VISIBLE


def public_state(kind: str, record, now: datetime) -> PublicState:
    """Dispatch by record kind: item, plan, task, draw, result, penalty."""
    if kind == "task":
        return task_state(record, now)
    if kind == "draw":
        return draw_state(record, now)
    if kind == "penalty":
        return penalty_state(record, now)
    return record_state(record, now)


def is_public(kind: str, record, now: datetime) -> bool:
    return public_state(kind, record, now).is_visible
