"""Keeps `Task.results_complete_at`, the moving part of the surprise-task embargo, true to the records.

The value is derived only from published records (domain.visibility.has_been_published) of
the targets of the task's current draw (counts_as_current_draw), by the pure rule
`domain.visibility.results_complete_at`. It is recomputed at commit for every task whose
results or draws changed in the transaction, whatever wrote them (forms, imports, lifecycle
actions, the draw): session hooks installed by `create_app`. Loads that bypass the ORM (the
demo's bulk inserts, migrations) call `refresh()` themselves.
"""
from collections import defaultdict
from itertools import chain

from sqlalchemy import and_, event, func, select, update
from sqlalchemy.orm import attributes

from .domain.visibility import results_complete_at
from .extensions import db
from .models import Draw, DrawSelection, Result, Task
from .visibility_sql import current_draw_clause, has_been_published_clause

_TASKS, _DRAWS = "embargo.tasks", "embargo.draws"
# Columns whose change can move the embargo (anything else on these rows cannot).
RESULT_INPUTS = ("task_id", "entity_id", "status", "published_at", "withheld")
DRAW_INPUTS = ("task_id", "sequence", "status", "published_at", "withheld", "withdrawn_at", "drawn_at")
CHUNK = 500


def compute(task_ids=None, session=None) -> dict:
    """task id → results_complete_at, for these tasks (every task when None), from the database."""
    session = session or db.session
    ids = sorted(set(task_ids)) if task_ids is not None else list(session.execute(select(Task.id)).scalars())
    out = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        current = (select(Draw.task_id, func.max(Draw.sequence).label("sequence"))
                   .where(current_draw_clause(), Draw.task_id.in_(chunk)).group_by(Draw.task_id).subquery())
        published = (select(Result.task_id, Result.entity_id, Result.published_at)
                     .where(has_been_published_clause(), Result.task_id.in_(chunk)).subquery())
        rows = session.execute(
            select(current.c.task_id, published.c.published_at)
            .join(Draw, and_(Draw.task_id == current.c.task_id, Draw.sequence == current.c.sequence))
            .join(DrawSelection, DrawSelection.draw_id == Draw.id)
            .outerjoin(published, and_(published.c.task_id == current.c.task_id,
                                       published.c.entity_id == DrawSelection.entity_id)))
        targets = defaultdict(list)  # task id → publication moment of each target's result (None: none)
        for task_id, moment in rows:
            targets[task_id].append(moment)
        out.update({task_id: results_complete_at(targets.get(task_id, [])) for task_id in chunk})
    return out


def refresh(task_ids=None, session=None) -> int:
    """Store the computed value where it differs; returns how many tasks changed.

    A plain UPDATE (updated_at kept: derived data is not an edit); tasks already loaded in
    the session get the new value as their committed state.
    """
    session = session or db.session
    values = compute(task_ids, session)
    stored = {}
    ids = list(values)
    for i in range(0, len(ids), CHUNK):
        stored.update(session.execute(select(Task.id, Task.results_complete_at)
                                      .where(Task.id.in_(ids[i:i + CHUNK]))).all())
    changed = {task_id: value for task_id, value in values.items() if stored.get(task_id) != value}
    for task_id, value in changed.items():
        session.execute(update(Task).where(Task.id == task_id)
                        .values(results_complete_at=value, updated_at=Task.updated_at)
                        .execution_options(synchronize_session=False))
        loaded = session.identity_map.get(session.identity_key(Task, task_id))
        if loaded is not None:
            attributes.set_committed_value(loaded, "results_complete_at", value)
    return len(changed)


# ---------------------------------------------------------------- session hooks

def _values(obj, name) -> set:
    """Current and previous values of an attribute (a changed task_id touches two tasks)."""
    history = attributes.get_history(obj, name, passive=attributes.PASSIVE_NO_INITIALIZE)
    return {v for v in chain(history.added or (), history.unchanged or (), history.deleted or ()) if v is not None}


def _changed(obj, names) -> bool:
    return any(attributes.get_history(obj, n, passive=attributes.PASSIVE_NO_INITIALIZE).has_changes()
               for n in names)


def _after_flush(session, _flush_context):
    tasks = session.info.setdefault(_TASKS, set())
    draws = session.info.setdefault(_DRAWS, set())
    for obj in chain(session.new, session.deleted):
        if isinstance(obj, (Result, Draw)):
            tasks.update(_values(obj, "task_id"))
        elif isinstance(obj, DrawSelection):
            draws.update(_values(obj, "draw_id"))
    for obj in session.dirty:
        if isinstance(obj, Result) and _changed(obj, RESULT_INPUTS):
            tasks.update(_values(obj, "task_id"))
        elif isinstance(obj, Draw) and _changed(obj, DRAW_INPUTS):
            tasks.update(_values(obj, "task_id"))
        elif isinstance(obj, DrawSelection) and _changed(obj, ("draw_id", "entity_id")):
            draws.update(_values(obj, "draw_id"))


def _before_commit(session):
    if not session.info.get(_TASKS) and not session.info.get(_DRAWS):
        return
    session.flush()  # the last changes of the transaction are collected too
    tasks = session.info.pop(_TASKS, set())
    draws = session.info.pop(_DRAWS, set())
    if draws:
        tasks.update(session.execute(select(Draw.task_id).where(Draw.id.in_(draws))).scalars())
    if tasks:
        refresh(tasks, session)


def _forget(session, *_args):
    session.info.pop(_TASKS, None)
    session.info.pop(_DRAWS, None)


_installed = False


def install_hooks() -> None:
    global _installed
    if _installed:
        return
    event.listen(db.session, "after_flush", _after_flush)
    event.listen(db.session, "before_commit", _before_commit)
    event.listen(db.session, "after_soft_rollback", _forget)
    _installed = True
