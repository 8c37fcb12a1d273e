"""Public draw certificates (SPEC §5 step 4): /draws/<id>, /draws/<id>.json, /draws/<id>/pool.txt,
and the draw part of the task page.

Visibility is the one rule, `public_state("draw", …)`: a draw is public from its lock
(pool, pool_hash, commitment; SPEC §5 item 7) and complete once performed; a surprise
task's draws stay hidden until the task's embargo lifts.
"""
import json
from pathlib import Path

from flask import Response, abort, jsonify, render_template
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from .. import clock, draw_service
from ..domain import draw as algo
from ..domain.visibility import public_state
from ..extensions import db
from ..models import Draw, DrawSelection, Entity
from ..visibility_sql import prepared
from . import bp
from .shape import public_name

# The standard-library check shown on every certificate (tests run this very file).
VERIFY_SCRIPT_PATH = Path(__file__).resolve().parents[2] / "templates" / "public" / "draws" / "_verify_script.py.txt"


def _public_draw_or_404(draw_id: int):
    """The draw with its task (its visibility depends on the task's); the certificate's rows are
    read as plain rows by draw_service.certificate."""
    draw = db.session.get(Draw, draw_id, options=(joinedload(Draw.task),))
    if draw is None:
        abort(404)
    state = public_state("draw", draw, clock.now())
    if not (state.is_visible or state.is_tombstone):
        abort(404)
    return draw, state


def _visible(draws, now) -> list:
    return [d for d in draws if public_state("draw", d, now).is_visible]


def public_certificate(draw, now, siblings: list | None = None, with_pool: bool = True) -> dict:
    """The certificate with links to other draws of the task limited to those the public may see.

    `siblings`: the task's draws (sibling_draws), when the caller already has them; `with_pool`:
    see draw_service.certificate."""
    siblings = draw_service.sibling_draws(draw) if siblings is None else siblings
    cert = draw_service.certificate(draw, siblings, with_pool)
    visible = _visible(siblings, now)
    visible_ids = {d.id for d in visible}
    later = draw_service.successors(visible).get(draw.id)
    cert["supersedes"] = [i for i in cert["supersedes"] if i in visible_ids]
    cert["superseded_by"] = later.id if later else None
    cert["superseded_by_sequence"] = later.sequence if later else None
    cert["superseded_reason"] = later.reason if later else None
    return cert


# The HTML rule is registered first so url_for(endpoint) without fmt builds the HTML URL.
@bp.get("/draws/<int:draw_id>.json", defaults={"fmt": "json"})
@bp.get("/draws/<int:draw_id>", defaults={"fmt": "html"})
def draw(draw_id, fmt):
    now = clock.now()
    record, state = _public_draw_or_404(draw_id)
    if state.is_tombstone:
        if fmt == "json":
            return jsonify({"kind": "draw", "id": draw_id, "status": "withdrawn",
                            "withdrawn_on": state.stopped_on.isoformat(), "reason": state.note})
        return render_template("public/tombstone.html", kind="draw", state=state, record_key=draw_id)
    task_draws = draw_service.sibling_draws(record)
    cert = public_certificate(record, now, task_draws, with_pool=fmt == "json")
    if fmt == "json":
        response = Response(json.dumps(cert, ensure_ascii=False, indent=1), mimetype="application/json")
        response.headers["Content-Disposition"] = f'inline; filename="draw-{draw_id}.json"'
        return response
    siblings = {d.id: d for d in task_draws}
    # Each drawn entity's name as every public channel writes it (shape.public_name, as the task
    # page's drawn list): the page shows nothing else of the entity, never an operator's name.
    names = {uscc: public_name(name)
             for uscc, name in db.session.execute(prepared("drawn_entities", _drawn_entities), {"draw_id": draw_id})}
    return render_template("public/draws/detail.html", draw=record, cert=cert, task=record.task,
                           siblings=siblings, entities=names,
                           department_names={d.code: d.name for d in draw_service.task_departments(record.task)},
                           verify_script=VERIFY_SCRIPT_PATH.read_text(encoding="utf-8"),
                           scope=draw_service.describe_scope(record.snapshot),
                           pool=draw_service.pool_summary(draw_id))


def _drawn_entities():
    """(selected USCC, entity name) for each entity a draw selected (plain rows)."""
    return (select(DrawSelection.uscc, Entity.name).join(Entity, DrawSelection.entity_id == Entity.id)
            .where(DrawSelection.draw_id == bindparam("draw_id")))


@bp.get("/draws/<int:draw_id>/pool.txt")
def draw_pool(draw_id):
    """The exact text hashed into pool_hash: `sha256sum pool.txt` must print it (public from the lock)."""
    record, state = _public_draw_or_404(draw_id)
    if not state.is_visible:
        abort(404)
    text = algo.pool_text(draw_service.pool_rows(draw_id))
    response = Response(text.encode("utf-8"), content_type="text/plain; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="draw-{draw_id}-pool.txt"'
    return response


@bp.get("/draws/verify_draw.py")
def draw_verify_script():
    """The certificate's standard-library check as a file to save and run (`python3 verify_draw.py draw.json`)."""
    response = Response(VERIFY_SCRIPT_PATH.read_bytes(), content_type="text/x-python; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="verify_draw.py"'
    return response


@bp.app_template_global("draw_why_drawn")
def draw_why_drawn(entity):
    """For the entity page: each public draw that selected `entity`, with stratum, ratio and key rank."""
    if entity is None:
        return []
    return draw_service.why_drawn(entity, clock.now())


# ---------------------------------------------------------------- the task page's draws

@bp.app_template_global("task_draw_history")
def task_draw_history(draws) -> list[tuple]:
    """Every public draw of a task, oldest first, as (draw, the draw that superseded it or None).
    `draws` is queries.TaskDraws. A locked draw shows its pool_hash and commitment (public before
    the public entropy existed); a superseded one says which draw replaced it and why."""
    public = sorted(draws.superseded + ([draws.current] if draws.current else []) + draws.locked,
                    key=lambda d: d.sequence)
    later = draw_service.successors(public)
    return [(d, later.get(d.id)) for d in public]


def task_draw_history_json(draws) -> list[dict]:
    """task_draw_history for the task's JSON (`draws` key)."""
    return [{"id": d.id, "url": f"/draws/{d.id}", "sequence": d.sequence,
             "status": "drawn" if d.drawn_at is not None else "locked",
             "locked_at": _iso(d.locked_at), "drawn_at": _iso(d.drawn_at),
             "pool_hash": d.pool_hash, "commitment": d.commitment, "reason": d.reason,
             "superseded_by": None if nxt is None else {"id": nxt.id, "sequence": nxt.sequence, "reason": nxt.reason}}
            for d, nxt in task_draw_history(draws)]


def _iso(value):
    return value.isoformat() if value is not None else None
