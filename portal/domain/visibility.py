"""The one publication rule (SPEC §3), as plain Python.

`portal.visibility_sql.public_clause()` expresses the same rule in SQL for lists; the
test suite checks both agree on a matrix of records. Every public channel goes
through one of the two.

Surprise tasks (突击检查) are under embargo: the plan entry, the task, its draws (drawn
list and certificate) and its inspection period stay hidden until every target of the
task's current draw has a published result, or the task's period has ended (China
date), whichever comes first. `Task.results_complete_at` stores the first of those two
moments that depends on other records (see `results_complete_at`; kept current by
portal.embargo on every write); the period part is read from the task itself.
"""
import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .dates import china_date, china_midnight


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


def _status(record) -> str:
    return getattr(record.status, "value", record.status)


def record_state(record, now: datetime) -> PublicState:
    """Lifecycle part shared by every kind: published, from publication time, never withheld."""
    if record.withheld:
        return HIDDEN
    if record.published_at is None or record.published_at > now:
        return HIDDEN
    status = _status(record)
    if status == "withdrawn":
        when = record.withdrawn_at
        if when is not None and when <= now:
            return PublicState(Visibility.TOMBSTONE, TombstoneReason.WITHDRAWN,
                               china_date(when), record.withdrawal_reason)
        return VISIBLE if when is not None else HIDDEN
    if status != "published":
        return HIDDEN
    return VISIBLE


# ---------------------------------------------------------------- the surprise-task embargo

def has_been_published(result) -> bool:
    """Whether a result counts towards lifting its task's embargo: it was (or is scheduled to be)
    public. A later withdrawal does not hide the task again; a withheld result never counts."""
    return result.published_at is not None and not result.withheld and _status(result) in ("published", "withdrawn")


def counts_as_current_draw(draw) -> bool:
    """A draw whose targets decide the embargo: performed and published, not withheld or withdrawn."""
    return draw.drawn_at is not None and not draw.withheld and _status(draw) == "published"


def results_complete_at(publications) -> datetime | None:
    """When every target of the current draw had a published result: the latest of their
    publication moments (`None` for a target without one). None while any is missing,
    and for a draw that selected nobody (nothing would ever lift it)."""
    moments = list(publications)
    if not moments or any(m is None for m in moments):
        return None
    return max(moments)


def period_over_at(period_end: date) -> datetime:
    """The instant a task's period has ended: midnight China time after its last day."""
    return china_midnight(period_end + timedelta(days=1))


def embargo_lift_moment(period_end: date, complete: datetime | None) -> datetime:
    """Whichever comes first: the end of the period, or every drawn target's result published."""
    over = period_over_at(period_end)
    return over if complete is None else min(over, complete)


def embargo_lifts_at(task) -> datetime | None:
    """When a surprise task and everything about it becomes public (None: not a surprise task)."""
    if not task.surprise:
        return None
    return embargo_lift_moment(task.period_end, task.results_complete_at)


def surprise_embargo_lifted(task, now: datetime) -> bool:
    if not task.surprise:
        return True
    return embargo_lifts_at(task) <= now


# ---------------------------------------------------------------- per kind

def task_state(task, now: datetime) -> PublicState:
    state = record_state(task, now)
    if state.visibility is not Visibility.HIDDEN and not surprise_embargo_lifted(task, now):
        return HIDDEN
    return state


def draw_state(draw, now: datetime) -> PublicState:
    """A draw record: public from the moment its pool is locked (pool_hash and commitment, SPEC §5
    item 7), its drawn list once performed; hidden with its task (withheld, draft, embargo)."""
    state = record_state(draw, now)
    if state.visibility is Visibility.HIDDEN:
        return HIDDEN
    if not task_state(draw.task, now).is_visible:
        return HIDDEN  # a withdrawn or embargoed task's draws go with it (as visibility_sql.public_clause says)
    return state


def task_named_beside_result(task, now: datetime) -> bool:
    """A public result names its task by title while the task itself is under a surprise embargo
    (SPEC §3: "public on its own with the task's title"), but never a withheld, draft or
    withdrawn task. Whether it may also link to it (code, page, list) is `task_state`."""
    return record_state(task, now).is_visible


def penalty_state(penalty, now: datetime) -> PublicState:
    """Lifecycle plus the publicity period and credit repair (总局令第45号)."""
    state = record_state(penalty, now)
    if state.visibility is not Visibility.VISIBLE:
        return state
    if penalty.publicity_end is None:
        return HIDDEN  # e.g. a warning only: never published
    today = china_date(now)
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
