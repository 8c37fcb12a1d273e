"""The publication rule of domain.visibility, as SQL criteria for list queries.

Keep in step with portal/domain/visibility.py; tests/test_visibility.py checks
both give the same answer for every combination.
"""
from datetime import datetime

from sqlalchemy import and_, false, or_, select

from .domain.dates import china_date
from .models import CheckItem, Draw, Penalty, Plan, Result, Status, Task

MODELS = {"item": CheckItem, "plan": Plan, "task": Task, "draw": Draw, "result": Result, "penalty": Penalty}


def lifecycle_clause(model, now: datetime):
    return and_(
        model.withheld.is_(False),
        model.published_at.is_not(None),
        model.published_at <= now,
        or_(model.status == Status.PUBLISHED,
            and_(model.status == Status.WITHDRAWN, model.withdrawn_at.is_not(None), model.withdrawn_at > now)),
    )


def task_clause(now: datetime):
    return and_(lifecycle_clause(Task, now),
                or_(Task.surprise.is_(False), and_(Task.results_published_at.is_not(None),
                                                   Task.results_published_at <= now)))


def public_clause(kind: str, now: datetime):
    """Rows of `kind` the public may see in full at `now`."""
    model = MODELS[kind]
    if kind == "task":
        return task_clause(now)
    if kind == "draw":
        return and_(lifecycle_clause(Draw, now), Draw.drawn_at.is_not(None),
                    Draw.task_id.in_(select(Task.id).where(task_clause(now))))
    if kind == "penalty":
        today = china_date(now)
        return and_(lifecycle_clause(Penalty, now), Penalty.publicity_end.is_not(None),
                    Penalty.publicity_end >= today,
                    or_(Penalty.credit_repair_date.is_(None), Penalty.credit_repair_date > today))
    if model is None:
        return false()
    return lifecycle_clause(model, now)
