"""Public draw certificates (SPEC §5 step 4): /draws/<id>, /draws/<id>.json, /draws/<id>/pool.txt.

Visibility is the one rule, `public_state("draw", …)`: a surprise task's certificate
stays hidden until its results are published.
"""
import json
from pathlib import Path

from flask import Response, abort, jsonify, render_template

from .. import clock, draw_service
from ..domain import draw as algo
from ..domain.visibility import public_state
from ..extensions import db
from ..models import Draw
from . import bp

# The standard-library check shown on every certificate (tests run this very file).
VERIFY_SCRIPT_PATH = Path(__file__).resolve().parents[2] / "templates" / "public" / "draws" / "_verify_script.py.txt"


def _public_draw_or_404(draw_id: int):
    draw = db.session.get(Draw, draw_id)
    if draw is None:
        abort(404)
    state = public_state("draw", draw, clock.now())
    if not (state.is_visible or state.is_tombstone):
        abort(404)
    return draw, state


def _public_ids(draws, now) -> set[int]:
    return {d.id for d in draws if public_state("draw", d, now).is_visible}


def public_certificate(draw, now) -> dict:
    """The certificate with links to other draws of the task limited to those the public may see."""
    cert = draw_service.certificate(draw)
    visible = _public_ids(draw_service.sibling_draws(draw), now)
    cert["supersedes"] = [i for i in cert["supersedes"] if i in visible]
    if cert["superseded_by"] not in visible:
        later = [d for d in draw_service.sibling_draws(draw) if d.sequence > draw.sequence and d.id in visible]
        cert["superseded_by"] = later[0].id if later else None
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
    cert = public_certificate(record, now)
    if fmt == "json":
        response = Response(json.dumps(cert, ensure_ascii=False, indent=1), mimetype="application/json")
        response.headers["Content-Disposition"] = f'inline; filename="draw-{draw_id}.json"'
        return response
    siblings = {d.id: d for d in draw_service.sibling_draws(record)}
    names = {sel.uscc: sel.entity for sel in record.selections}
    return render_template("public/draws/detail.html", draw=record, cert=cert, task=record.task,
                           siblings=siblings, entities=names,
                           department_names={d.code: d.name for d in draw_service.task_departments(record.task)},
                           verify_script=VERIFY_SCRIPT_PATH.read_text(encoding="utf-8"), scope=draw_service.describe_scope(record.task),
                           pool_text_bytes=len(algo.pool_text(algo.Candidate(p["uscc"], p["stratum"])
                                                              for p in cert["pool"]).encode("utf-8")))


@bp.get("/draws/<int:draw_id>/pool.txt")
def draw_pool(draw_id):
    """The exact text hashed into pool_hash: `sha256sum pool.txt` must print it."""
    record, state = _public_draw_or_404(draw_id)
    if not state.is_visible:
        abort(404)
    cert = draw_service.certificate(record)
    text = algo.pool_text(algo.Candidate(p["uscc"], p["stratum"]) for p in cert["pool"])
    response = Response(text.encode("utf-8"), content_type="text/plain; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="draw-{draw_id}-pool.txt"'
    return response


@bp.app_template_global("draw_why_drawn")
def draw_why_drawn(entity):
    """For the entity page: each public draw that selected `entity`, with stratum, ratio and key rank."""
    if entity is None:
        return []
    return draw_service.why_drawn(entity, clock.now())
