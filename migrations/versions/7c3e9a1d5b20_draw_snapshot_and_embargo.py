"""draws: snapshot at lock, published from lock; tasks: results_complete_at (surprise embargo)

SPEC §3 (surprise-task embargo) and §5 item 7 (no draw-shopping):

- draw.snapshot: the scope and stratification a draw used, taken at lock. Existing draws get
  one from what they stored: their pool and strata. The scope filter itself was never stored,
  so it is recorded as null ("not recorded"; the stored pool is authoritative); the
  stratification is the entity attribute that every pool line's stratum matches.
- Every draw is public from its lock: draws still in draft (performed or only locked) are
  published now, at the migration's time (they were not public before).
- task.results_complete_at replaces task.results_published_at (when the first result was
  published): when every target of the current draw has a published result, computed here
  from the stored records by the same rule as portal.embargo.

Revision ID: 7c3e9a1d5b20
Revises: 0451fec0e150
Create Date: 2026-12-01 10:00:00
"""
from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "7c3e9a1d5b20"
down_revision = "0451fec0e150"
branch_labels = None
depends_on = None

ALL_STRATUM = "全部"

task = sa.table("task", sa.column("id", sa.Integer), sa.column("results_complete_at", sa.DateTime(timezone=True)),
                sa.column("results_published_at", sa.DateTime(timezone=True)))
draw = sa.table("draw", sa.column("id", sa.Integer), sa.column("task_id", sa.Integer),
                sa.column("sequence", sa.Integer), sa.column("status", sa.String),
                sa.column("published_at", sa.DateTime(timezone=True)), sa.column("withheld", sa.Boolean),
                sa.column("drawn_at", sa.DateTime(timezone=True)), sa.column("snapshot", sa.JSON))
pool = sa.table("draw_pool_entry", sa.column("draw_id", sa.Integer), sa.column("entity_id", sa.Integer),
                sa.column("stratum", sa.String))
selection = sa.table("draw_selection", sa.column("draw_id", sa.Integer), sa.column("entity_id", sa.Integer))
entity = sa.table("entity", sa.column("id", sa.Integer), sa.column("risk_class", sa.String),
                  sa.column("entity_type", sa.String), sa.column("industry", sa.String),
                  sa.column("region_code", sa.String))
result = sa.table("result", sa.column("id", sa.Integer), sa.column("task_id", sa.Integer),
                  sa.column("entity_id", sa.Integer), sa.column("status", sa.String),
                  sa.column("published_at", sa.DateTime(timezone=True)), sa.column("withheld", sa.Boolean))


def _utc(value):
    """Datetimes as the app stores them: naive UTC on SQLite, aware on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else value


# How each stratification names an entity's stratum (portal.draw_service._stratify at the time).
STRATIFIERS = (
    ("none", lambda row: ALL_STRATUM),
    ("risk_class", lambda row: row.risk_class),
    ("entity_type", lambda row: row.entity_type),
    ("industry", lambda row: (row.industry or "")[:1] or "未分类"),
    ("region", lambda row: row.region_code),
)


def _inferred_stratify_by(conn, draw_id):
    """The stratification every line of the stored pool agrees with (first in STRATIFIERS order), or None."""
    candidates = [name for name, _ in STRATIFIERS]
    fns = dict(STRATIFIERS)
    rows = conn.execute(sa.select(pool.c.stratum, entity.c.risk_class, entity.c.entity_type, entity.c.industry,
                                  entity.c.region_code).join(entity, entity.c.id == pool.c.entity_id)
                        .where(pool.c.draw_id == draw_id))
    seen = False
    for row in rows:
        seen = True
        candidates = [name for name in candidates if fns[name](row) == row.stratum]
        if not candidates:
            return None
    return candidates[0] if seen and candidates else None


def _results_complete_at(conn):
    """task id → when every target of its current draw had a published result (the rule of
    portal.domain.visibility.results_complete_at, with current_draw / has_been_published)."""
    current = (sa.select(draw.c.task_id, sa.func.max(draw.c.sequence).label("sequence"))
               .where(draw.c.drawn_at.is_not(None), draw.c.withheld.is_(False), draw.c.status == "published")
               .group_by(draw.c.task_id).subquery())
    published = (sa.select(result.c.task_id, result.c.entity_id, result.c.published_at)
                 .where(result.c.published_at.is_not(None), result.c.withheld.is_(False),
                        result.c.status.in_(("published", "withdrawn"))).subquery())
    rows = conn.execute(
        sa.select(current.c.task_id, published.c.published_at)
        .join(draw, sa.and_(draw.c.task_id == current.c.task_id, draw.c.sequence == current.c.sequence))
        .join(selection, selection.c.draw_id == draw.c.id)
        .outerjoin(published, sa.and_(published.c.task_id == current.c.task_id,
                                      published.c.entity_id == selection.c.entity_id)))
    targets = defaultdict(list)
    for task_id, moment in rows:
        targets[task_id].append(moment)
    out = {}
    for task_id, moments in targets.items():
        if moments and all(m is not None for m in moments):
            out[task_id] = max(_utc(m) for m in moments)
    return out


def _drop_column(table, column):
    """Native DROP COLUMN everywhere (SQLite ≥ 3.35). Never the batch mode's table copy here: with
    foreign keys on, dropping the old `task` or `draw` table would cascade-delete their child rows
    (task_department, draw_pool_entry, …) or fail on the ones referencing it."""
    op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')


def upgrade():
    conn = op.get_bind()
    now = _utc(datetime.now(timezone.utc))

    # Columns are added in place (ALTER TABLE … ADD COLUMN), for the reason given in _drop_column.
    op.add_column("draw", sa.Column("snapshot", sa.JSON(), nullable=True))
    for (draw_id,) in conn.execute(sa.select(draw.c.id).order_by(draw.c.id)).all():
        snapshot = {"scope": None, "stratify_by": _inferred_stratify_by(conn, draw_id), "source": "migration"}
        conn.execute(draw.update().where(draw.c.id == draw_id).values(snapshot=snapshot))

    # No unpublished performed draw (and a lock is public at once): publish what is still a draft.
    conn.execute(draw.update().where(draw.c.status == "draft").values(status="published", published_at=now))

    op.add_column("task", sa.Column("results_complete_at", sa.DateTime(timezone=True), nullable=True))
    for task_id, moment in _results_complete_at(conn).items():
        conn.execute(task.update().where(task.c.id == task_id).values(results_complete_at=moment))
    _drop_column("task", "results_published_at")


def downgrade():
    conn = op.get_bind()
    op.add_column("task", sa.Column("results_published_at", sa.DateTime(timezone=True), nullable=True))
    # The old meaning: when the task's first result was published.
    first = (sa.select(result.c.task_id, sa.func.min(result.c.published_at))
             .where(result.c.published_at.is_not(None), result.c.withheld.is_(False),
                    result.c.status.in_(("published", "withdrawn"))).group_by(result.c.task_id))
    for task_id, moment in conn.execute(first).all():
        conn.execute(task.update().where(task.c.id == task_id).values(results_published_at=_utc(moment)))
    _drop_column("task", "results_complete_at")
    _drop_column("draw", "snapshot")
