"""The publication rule of domain.visibility, as SQL criteria for list queries.

Keep in step with portal/domain/visibility.py; tests/test_visibility.py checks
both give the same answer for every combination.
"""
import threading
from datetime import datetime

from sqlalchemy import Date, and_, bindparam, false, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from .database import UTCDateTime
from .domain.dates import china_date
from .models import CheckItem, Draw, Penalty, Plan, Result, Status, Task

# `now` as a bind parameter: a statement built with NOW (prepared() below) is built and given
# its cache key once per process and runs at any moment with `at(now)` as parameters. Building
# a statement with the publication rule costs more CPU than running it on a small page (the
# entity page's draws: ~1.3 ms to build, ~0.6 ms for SQLAlchemy's cache key, per request).
NOW = bindparam("now", type_=UTCDateTime())
TODAY = bindparam("today", type_=Date())  # the China date of `now` (publicity periods, embargoes)


def at(now: datetime) -> dict:
    """The parameters of a statement built with NOW."""
    return {"now": now, "today": china_date(now)}


def _today(now):
    return TODAY if now is NOW else china_date(now)


_prepared: dict = {}
_bounded: dict = {}
_prepared_lock = threading.Lock()
BOUNDED_STATEMENTS = 500


def prepared(key, build, bounded: bool = False):
    """The statement `build()` makes, built once per process under `key` (write it with NOW and
    bind parameters for everything a request varies, and execute it with at(now) | params).
    `bounded`: keys made from request input (a list's filters) go to a cache emptied whenever
    it holds BOUNDED_STATEMENTS of them."""
    cache = _bounded if bounded else _prepared
    stmt = cache.get(key)
    if stmt is None:
        with _prepared_lock:
            stmt = cache.get(key)
            if stmt is None:
                if bounded and len(cache) >= BOUNDED_STATEMENTS:
                    cache.clear()
                stmt = cache[key] = build()
    return stmt


MODELS = {"item": CheckItem, "plan": Plan, "task": Task, "draw": Draw, "result": Result, "penalty": Penalty}


class _no_index(FunctionElement):
    """The column itself; on SQLite written `+column` so the planner does not filter through
    the published_at/status index (nearly every row matches; SQLite has no histograms) and
    walks the list's ORDER BY index instead (bench/pages.py: /results 700 ms → a few ms)."""

    inherit_cache = True

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(_no_index)
def _no_index_default(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(_no_index, "sqlite")
def _no_index_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses.clauses[0], **kw)


def lifecycle_clause(model, now: datetime):
    published_at, status = _no_index(model.published_at), _no_index(model.status)
    return and_(
        model.withheld.is_(False),
        published_at.is_not(None),
        published_at <= now,
        or_(status == Status.PUBLISHED,
            and_(status == Status.WITHDRAWN, model.withdrawn_at.is_not(None), model.withdrawn_at > now)),
    )


def embargo_lifted_clause(now: datetime, task=Task):
    """domain.visibility.surprise_embargo_lifted: not a surprise task, its period has ended
    (China date), or every target of its current draw has a published result. `task`: Task
    or an alias of it."""
    return or_(task.surprise.is_(False), task.period_end < _today(now),
               and_(task.results_complete_at.is_not(None), task.results_complete_at <= now))


def task_clause(now: datetime, task=Task):
    return and_(lifecycle_clause(task, now), embargo_lifted_clause(now, task))


def has_been_published_clause():
    """domain.visibility.has_been_published for results (no clock: a scheduled publication counts
    with its own moment, which results_complete_at then carries)."""
    return and_(Result.published_at.is_not(None), Result.withheld.is_(False),
                Result.status.in_((Status.PUBLISHED, Status.WITHDRAWN)))


def current_draw_clause():
    """domain.visibility.counts_as_current_draw."""
    return and_(Draw.drawn_at.is_not(None), Draw.withheld.is_(False), Draw.status == Status.PUBLISHED)


# The task of a draw in public_clause("draw"), made once (aliased() costs ~0.5 ms).
_DRAW_TASK = aliased(Task, name="draw_task")


def public_clause(kind: str, now: datetime):
    """Rows of `kind` the public may see in full at `now`."""
    model = MODELS[kind]
    if kind == "task":
        return task_clause(now)
    if kind == "draw":
        # Public from the lock (pool_hash, commitment), with its task (SPEC §5 item 7). The task is
        # looked up by its key (EXISTS, an alias: the statement may join Task itself); `task_id IN
        # (SELECT public tasks)` made SQLite list every public task for each statement.
        return and_(lifecycle_clause(Draw, now),
                    select(_DRAW_TASK.id).where(_DRAW_TASK.id == Draw.task_id, task_clause(now, _DRAW_TASK)).exists())
    if kind == "penalty":
        today = _today(now)
        return and_(lifecycle_clause(Penalty, now), Penalty.publicity_end.is_not(None),
                    Penalty.publicity_end >= today,
                    or_(Penalty.credit_repair_date.is_(None), Penalty.credit_repair_date > today))
    if model is None:
        return false()
    return lifecycle_clause(model, now)
