"""/transparency: the audit chain head, the draw-v1 algorithm, and fairness in the open.

Fairness figures count public draws only (the one visibility rule, in SQL), and of
those only the draw in force for each task: a draw replaced by a redraw stays
public on its certificate but did not send anyone an inspector.
"""
from dataclasses import dataclass
from datetime import datetime, time, timezone

from flask import current_app, jsonify, render_template
from sqlalchemy import and_, func, select

from .. import caching, clock, journal
from ..domain.dates import CHINA
from ..extensions import db
from ..models import Draw, DrawAssignment, DrawPoolEntry, DrawSelection, Entity
from ..visibility_sql import public_clause
from . import bp
from .shape import public_name

YEARS = 3


@dataclass
class Fairness:
    since: object
    draws: int
    superseded: int
    pooled: int  # distinct entities that were in at least one pool
    drawn_entities: int
    histogram: list  # [(times drawn, number of entities)], 0 included
    max_times: int
    most_drawn: list  # [(uscc, name, times)] at the maximum
    inspector_counts: list  # [(name, licence_no, assignments)]
    repeated_pairs: list  # [(licence_no, inspector name, uscc, entity name, times)]


def _since(now):
    today = now.astimezone(CHINA).date()
    try:
        start = today.replace(year=today.year - YEARS)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - YEARS, day=28)
    return start, datetime.combine(start, time(0), tzinfo=CHINA).astimezone(timezone.utc)


def fairness(now) -> Fairness:
    start_date, start = _since(now)
    public = select(Draw.id, Draw.task_id, Draw.sequence).where(public_clause("draw", now), Draw.drawn_at >= start)
    rows = db.session.execute(public).all()
    latest = {}
    for draw_id, task_id, sequence in rows:
        if task_id not in latest or sequence > latest[task_id][1]:
            latest[task_id] = (draw_id, sequence)
    in_force = [v[0] for v in latest.values()]
    ids = in_force or [-1]

    per_entity = (select(DrawSelection.entity_id, func.count().label("times"))
                  .where(DrawSelection.draw_id.in_(ids)).group_by(DrawSelection.entity_id).subquery())
    counts = dict(db.session.execute(select(per_entity.c.times, func.count()).group_by(per_entity.c.times)).all())
    pooled = db.session.execute(select(func.count(func.distinct(DrawPoolEntry.entity_id)))
                                .where(DrawPoolEntry.draw_id.in_(ids))).scalar() or 0
    drawn_entities = sum(counts.values())
    histogram = [(0, max(pooled - drawn_entities, 0))] + sorted(counts.items())
    max_times = max(counts) if counts else 0
    most = []
    if max_times:
        most = db.session.execute(
            select(Entity.uscc, Entity.name, per_entity.c.times).join(per_entity, per_entity.c.entity_id == Entity.id)
            .where(per_entity.c.times == max_times).order_by(Entity.uscc).limit(20)).all()

    current = and_(DrawAssignment.replaced_at.is_(None), DrawSelection.draw_id.in_(ids))
    inspectors = db.session.execute(
        select(DrawAssignment.name, DrawAssignment.licence_no, func.count())
        .join(DrawSelection, DrawAssignment.selection_id == DrawSelection.id).where(current)
        .group_by(DrawAssignment.licence_no, DrawAssignment.name)
        .order_by(func.count().desc(), DrawAssignment.licence_no)).all()
    pairs = db.session.execute(
        select(DrawAssignment.licence_no, DrawAssignment.name, Entity.uscc, Entity.name, func.count())
        .join(DrawSelection, DrawAssignment.selection_id == DrawSelection.id)
        .join(Entity, DrawSelection.entity_id == Entity.id).where(current)
        .group_by(DrawAssignment.licence_no, DrawAssignment.name, Entity.uscc, Entity.name)
        .having(func.count() > 1).order_by(func.count().desc(), DrawAssignment.licence_no, Entity.uscc)
        .limit(200)).all()
    return Fairness(start_date, len(in_force), len(rows) - len(in_force), pooled, drawn_entities, histogram,
                    max_times, [(uscc, public_name(name), times) for uscc, name, times in most],
                    [tuple(r) for r in inspectors],
                    [(lic, inspector, uscc, public_name(name), times) for lic, inspector, uscc, name, times in pairs])


def fairness_cached(now) -> Fairness:
    """fairness(now), kept per worker under the public revision: it reads every public draw's
    selections and assignments (about 1 s of SQLite time on the 100k data set) and changes only
    with a write, a scheduled moment passing or the China date (portal/caching.py.revision_key,
    what the page's ETag is made of)."""
    key = caching.revision_key(now)
    cache = current_app.extensions.setdefault("public_fairness", {})
    fair = cache.get(key)
    if fair is None:
        fair = fairness(now)
        cache.clear()  # only the current revision is ever asked for again
        cache[key] = fair
    return fair


def histogram_svg(histogram, width=560, bar_height=22):
    """Horizontal bars as plain data for an inline SVG (rendered server-side, no script)."""
    top = max((n for _, n in histogram), default=0) or 1
    label_w, value_w = 80, 80
    span = width - label_w - value_w
    bars = [{"y": i * (bar_height + 6), "label": f"{times} 次", "n": n,
             "w": max(1, round(span * n / top)) if n else 0} for i, (times, n) in enumerate(histogram)]
    return {"width": width, "height": len(bars) * (bar_height + 6), "bar_height": bar_height, "label_w": label_w,
            "bars": bars}


# The HTML rule is registered first so url_for(endpoint) without fmt builds the HTML URL.
@bp.get("/transparency.json", defaults={"fmt": "json"})
@bp.get("/transparency", defaults={"fmt": "html"})
def transparency(fmt):
    now = clock.now()
    count, head = journal.chain_head()
    fair = fairness_cached(now)
    if fmt == "json":
        return jsonify({
            "audit_chain": {"events": count, "head": head},
            "algorithm": "draw-v1",
            "fairness": {
                "since": fair.since.isoformat(), "draws": fair.draws, "superseded_draws": fair.superseded,
                "entities_in_pools": fair.pooled, "entities_drawn": fair.drawn_entities,
                "times_drawn_histogram": [{"times": t, "entities": n} for t, n in fair.histogram],
                "max_times_drawn": fair.max_times,
                "inspector_assignments": [{"name": n, "licence_no": lic, "assignments": c}
                                          for n, lic, c in fair.inspector_counts],
                "repeated_pairs": [{"licence_no": lic, "inspector": n, "uscc": u, "entity": e, "times": c}
                                   for lic, n, u, e, c in fair.repeated_pairs],
            }})
    return render_template("public/transparency.html", chain_count=count, chain_head=head, fair=fair,
                           chart=histogram_svg(fair.histogram), now=now)
