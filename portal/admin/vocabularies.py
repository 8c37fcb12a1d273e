"""Vocabularies (admin): add, rename and deactivate terms of the code lists."""
from flask import abort, flash, render_template, request, url_for
from sqlalchemy import func, select

from .. import journal
from ..auth.access import roles_required
from ..database import write_transaction
from ..extensions import db
from ..models import VocabularyKind, VocabularyTerm
from . import bp
from .crud import redirect_303

KIND_LABELS = {"conclusion": "检查结果（结论）", "follow_up": "后续处置", "penalty_category": "处罚类别",
               "violation_type": "违法行为类型"}


def _ensure_defaults():
    """Fill a fresh database with the SPEC default terms so they can be edited."""
    if db.session.execute(select(func.count(VocabularyTerm.id))).scalar():
        return
    try:
        from ..demo.vocabulary import ensure_default_vocabularies
    except ImportError:  # pragma: no cover
        return
    with write_transaction():
        added = ensure_default_vocabularies()
        journal.record("create", "vocabulary", None, summary=f"载入默认代码表（{added} 项）", index=False)


@bp.get("/vocabularies")
@roles_required("admin")
def vocabularies():
    _ensure_defaults()
    kind = request.args.get("kind") or "conclusion"
    if kind not in KIND_LABELS:
        abort(404)
    terms = db.session.execute(select(VocabularyTerm).where(VocabularyTerm.kind == kind)
                               .order_by(VocabularyTerm.sort_order, VocabularyTerm.code)).scalars().all()
    return render_template("admin/vocabularies/index.html", kind=kind, kinds=KIND_LABELS, terms=terms,
                           errors={}, form={})


@bp.post("/vocabularies")
@roles_required("admin")
def vocabulary_add():
    kind = request.form.get("kind", "")
    if kind not in KIND_LABELS:
        abort(400)
    code = (request.form.get("code") or "").strip()
    label = (request.form.get("label") or "").strip()
    errors = {}
    if not code or len(code) > 20:
        errors["code"] = "请填写不超过 20 个字符的代码。"
    if not label or len(label) > 100:
        errors["label"] = "请填写不超过 100 个字符的名称。"
    if not errors and db.session.execute(select(VocabularyTerm.id).where(
            VocabularyTerm.kind == kind, VocabularyTerm.code == code)).first():
        errors["code"] = "该代码已存在。"
    if errors:
        terms = db.session.execute(select(VocabularyTerm).where(VocabularyTerm.kind == kind)
                                   .order_by(VocabularyTerm.sort_order)).scalars().all()
        return render_template("admin/vocabularies/index.html", kind=kind, kinds=KIND_LABELS, terms=terms,
                               errors=errors, form=request.form), 422
    with write_transaction():
        order = (db.session.execute(select(func.max(VocabularyTerm.sort_order))
                                    .where(VocabularyTerm.kind == kind)).scalar() or 0) + 1
        term = VocabularyTerm(kind=VocabularyKind(kind), code=code, label=label, sort_order=order, attributes={})
        db.session.add(term)
        db.session.flush()
        journal.record("create", "vocabulary", term.id, after={"kind": kind, "code": code, "label": label},
                       summary=f"新增代码 {KIND_LABELS[kind]} {code} {label}", index=False)
    flash(f"已新增 {code} {label}。", "success")
    return redirect_303(url_for("admin.vocabularies", kind=kind))


@bp.post("/vocabularies/<int:term_id>")
@roles_required("admin")
def vocabulary_edit(term_id):
    term = db.session.get(VocabularyTerm, term_id) or abort(404)
    kind = term.kind.value
    label = (request.form.get("label") or "").strip()
    active = request.form.get("active")
    if label and len(label) > 100:
        flash("名称不能超过 100 个字符。", "error")
        return redirect_303(url_for("admin.vocabularies", kind=kind))
    with write_transaction():
        term = db.session.get(VocabularyTerm, term_id)
        before = {"label": term.label, "active": term.active}
        if label:
            term.label = label
        if active in ("0", "1"):
            term.active = active == "1"
        journal.record("update", "vocabulary", term.id, before=before, after={"label": term.label, "active": term.active},
                       summary=f"修改代码 {kind} {term.code}", index=False)
    flash("已保存。", "success")
    return redirect_303(url_for("admin.vocabularies", kind=kind))
