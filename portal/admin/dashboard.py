"""The dashboard: the user's department at a glance."""
from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.access import READERS, department_scope, roles_required
from ..extensions import db
from ..models import AuditEvent, ImportBatch, Penalty, Plan, Result, Status, Task
from . import bp

DRAFT_KINDS = (("plan", Plan, "抽查计划"), ("task", Task, "抽查任务"), ("result", Result, "检查结果"),
               ("penalty", Penalty, "行政处罚"))


def _label(kind, row):
    if kind == "result":
        return f"{row.task.code} · {row.entity.name}"
    if kind == "penalty":
        return f"{row.decision_no} · {row.party_name}"
    if kind == "task":
        return f"{row.code} · {row.title}"
    return f"{row.year} · {row.title}"


@bp.get("/")
@roles_required(*READERS)
def dashboard():
    drafts, counts = [], {}
    for kind, model, label in DRAFT_KINDS:
        base = department_scope(select(model).where(model.status == Status.DRAFT), model)
        counts[kind] = (label, db.session.execute(
            select(func.count()).select_from(base.subquery())).scalar() or 0)
        for row in db.session.execute(base.order_by(model.updated_at.desc()).limit(10)).scalars():
            drafts.append({"kind": kind, "kind_label": label, "id": row.id, "label": _label(kind, row),
                           "updated_at": row.updated_at})
    drafts.sort(key=lambda d: d["updated_at"], reverse=True)
    uploads = db.session.execute(department_scope(select(ImportBatch), ImportBatch)
                                 .order_by(ImportBatch.at.desc()).limit(10)).scalars().all()
    events = db.session.execute(department_scope(select(AuditEvent), AuditEvent)
                                .order_by(AuditEvent.id.desc()).limit(10)).scalars().all()
    return render_template("admin/dashboard.html", counts=counts, drafts=drafts[:20], uploads=uploads,
                           events=events, user=current_user)
