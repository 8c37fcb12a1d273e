"""The draw screens: scope and strata, pool preview, lock, witnesses + public entropy → draw,
redraw and inspector substitution (SPEC §5). One page per task: /admin/tasks/<id>/draw.

There is no "publish" step: locking publishes the draw record (pool_hash, commitment) and
performing it publishes the drawn list (SPEC §5 item 7, no draw-shopping).

Reads: any back-office role that may read the task. Writes: admins and clerks of the
task's (lead) department. Every write answers 303 (HX-Redirect for htmx) back to the page.
"""
from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import draw_service, journal
from ..auth.access import ADMIN, CLERK, READERS, can_edit, get_scoped_or_404, require_edit, roles_required
from ..database import write_transaction
from ..extensions import db, htmx
from ..models import Draw, DrawPoolEntry, DrawSelection, EntityType, Inspector, Result, RiskClass, Task
from ..validation.draws import witnessing
from . import bp

STRATUM_ROWS = 6  # rows in the strata editor (blank ones are ignored)


def _back(task_id, anchor=""):
    target = url_for("admin.task_draw", task_id=task_id) + anchor
    if htmx:
        response = redirect(target, code=303)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def _split(text):
    return [v.strip() for v in (text or "").replace("，", ",").replace("、", ",").split(",") if v.strip()]


def _settings_from(form, task):
    """Scope, strata and inspectors per target from the editor (a GET query or a POST form)."""
    scope = {"entity_types": [t for t in form.getlist("entity_types") if t in {e.value for e in EntityType}],
             "regions": _split(form.get("regions")), "industries": _split(form.get("industries")),
             "tags": _split(form.get("tags")), "statuses": ["存续"]}
    scope = {k: v for k, v in scope.items() if v}
    strata = []
    for name, mode, value in zip(form.getlist("stratum"), form.getlist("mode"), form.getlist("value")):
        name, value = name.strip(), value.strip()
        if not name and not value:
            continue
        strata.append({"stratum": name, "count": value} if mode == "count" else {"stratum": name, "ratio": value})
    per_target = {}
    for dept in draw_service.task_departments(task):
        raw = (form.get(f"ipt_{dept.code}") or "").strip()
        per_target[dept.code] = raw
    stratify_by = form.get("stratify_by") or task.stratify_by or "risk_class"
    return scope, strata, per_target, stratify_by


def _validate(task, scope, strata, per_target, stratify_by):
    """Normalised settings, or raise DrawError with a message for the clerk."""
    if stratify_by not in draw_service.STRATIFY_LABELS:
        raise draw_service.DrawError("请选择有效的分层方式")
    draft = SimpleNamespace(scope=scope, strata=strata, stratify_by=stratify_by)
    rules = draw_service.stratum_rules(draft)
    names = [r.stratum for r in rules]
    if len(set(names)) != len(names):
        raise draw_service.DrawError("分层名称不能重复")
    clean_strata = [{"stratum": r.stratum, "count": r.count} if r.count is not None
                    else {"stratum": r.stratum, "ratio": r.ratio} for r in rules]
    clean_ipt = {}
    for code, raw in per_target.items():
        try:
            value = int(raw) if raw != "" else draw_service.DEFAULT_INSPECTORS_PER_TARGET
        except ValueError:
            raise draw_service.DrawError(f"部门 {code} 的每户执法人员数“{raw}”不是整数") from None
        if value < 0 or value > 10:
            raise draw_service.DrawError(f"部门 {code} 的每户执法人员数应在 0 到 10 之间")
        clean_ipt[code] = value
    if not any(clean_ipt.values()):
        raise draw_service.DrawError("每户至少应匹配 1 名执法人员")
    return SimpleNamespace(scope=scope, strata=clean_strata, stratify_by=stratify_by, inspectors_per_target=clean_ipt)


def _editor_rows(strata):
    rows = [{"stratum": s.get("stratum", ""), "mode": "count" if s.get("count") not in (None, "") else "ratio",
             "value": s.get("count") if s.get("count") not in (None, "") else s.get("ratio", "")} for s in strata]
    while len(rows) < STRATUM_ROWS:
        rows.append({"stratum": "", "mode": "ratio", "value": ""})
    return rows


def _page_context(task):
    draws = db.session.execute(select(Draw).where(Draw.task_id == task.id).order_by(Draw.sequence)).scalars().all()
    latest = draws[-1] if draws else None
    inspectors = db.session.execute(
        select(Inspector).where(Inspector.department_id.in_([d.id for d in draw_service.task_departments(task)]),
                                Inspector.active.is_(True)).order_by(Inspector.licence_no)).scalars().all()
    pool_size = db.session.execute(select(func.count(DrawPoolEntry.id)).where(
        DrawPoolEntry.draw_id == latest.id)).scalar() if latest else 0
    result_count = db.session.execute(select(func.count(Result.id)).where(Result.task_id == task.id)).scalar()
    return {"task": task, "draws": draws, "latest": latest, "latest_pool_size": pool_size, "editable": can_edit(task),
            "lock_refusal": draw_service.lock_refusal(task, bool(draws), bool(result_count)),
            "result_count": result_count, "successors": draw_service.successors(draws),
            "preview": draw_service.pool_preview(task), "scope": task.scope or {},
            "strata_rows": _editor_rows(task.strata or draw_service.DEFAULT_STRATA),
            "per_target": draw_service.inspectors_per_target(task),
            "departments": draw_service.task_departments(task), "entity_types": [e.value for e in EntityType],
            "stratify_labels": draw_service.STRATIFY_LABELS, "risk_classes": [r.value for r in RiskClass],
            "inspectors": inspectors}


@bp.get("/tasks/<int:task_id>/draw")
@roles_required(*READERS)
def task_draw(task_id):
    task = get_scoped_or_404(Task, task_id)
    return render_template("admin/draws/task.html", **_page_context(task))


@bp.get("/tasks/<int:task_id>/draw/preview")
@roles_required(*READERS)
def task_draw_preview(task_id):
    """Pool size per stratum for the settings in the query string (unsaved): the htmx refresh target."""
    task = get_scoped_or_404(Task, task_id)
    scope, strata, per_target, stratify_by = _settings_from(request.args, task)
    try:
        settings = _validate(task, scope, strata, per_target, stratify_by)
        draft = SimpleNamespace(scope=settings.scope, strata=settings.strata, stratify_by=settings.stratify_by)
        preview = draw_service.pool_preview(draft)
    except draw_service.DrawError as exc:
        preview = draw_service.PoolPreview([], 0, 0, str(exc))
    template = "admin/draws/_preview.html" if htmx else "admin/draws/preview_page.html"
    return render_template(template, task=task, preview=preview)


@bp.post("/tasks/<int:task_id>/draw/settings")
@roles_required(ADMIN, CLERK)
def task_draw_settings(task_id):
    task = require_edit(get_scoped_or_404(Task, task_id))
    scope, strata, per_target, stratify_by = _settings_from(request.form, task)
    try:
        settings = _validate(task, scope, strata, per_target, stratify_by)
    except draw_service.DrawError as exc:
        flash(str(exc), "error")
        return _back(task_id, "#draw-settings")
    task_id = task.id
    with write_transaction():
        task = db.session.get(Task, task_id)
        before = {"scope": task.scope, "strata": task.strata, "stratify_by": task.stratify_by,
                  "inspectors_per_target": task.inspectors_per_target}
        task.scope, task.strata = settings.scope, settings.strata
        task.stratify_by, task.inspectors_per_target = settings.stratify_by, settings.inspectors_per_target
        journal.record("update", "task", task.id, before=before,
                       after={"scope": settings.scope, "strata": settings.strata,
                              "stratify_by": settings.stratify_by,
                              "inspectors_per_target": settings.inspectors_per_target},
                       department_id=task.department_id, summary=f"修改任务 {task.code} 的抽查范围与分层")
    flash("已保存抽查范围、分层和执法人员配置。", "success")
    return _back(task_id, "#draw-settings")


@bp.post("/tasks/<int:task_id>/draw/lock")
@roles_required(ADMIN, CLERK)
def task_draw_lock(task_id):
    task = require_edit(get_scoped_or_404(Task, task_id))
    try:
        draw = draw_service.lock(task, current_user, reason=request.form.get("reason"))
    except draw_service.DrawError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(task_id, "#draw-lock")
    public = "名单哈希和承诺值已随任务公开" if not task.surprise else "名单哈希和承诺值已记入审计链，随检查结果公开"
    flash(f"已锁定候选名单（第 {draw.sequence} 次抽取），{public}。请向见证人出示这两个值。", "success")
    return _back(task_id, "#draw-perform")


def _draw_for_edit(draw_id):
    draw = db.session.get(Draw, draw_id)
    if draw is None:
        abort(404)
    task = get_scoped_or_404(Task, draw.task_id)
    require_edit(task)
    return draw, task


@bp.post("/draws/<int:draw_id>/perform")
@roles_required(ADMIN, CLERK)
def draw_perform(draw_id):
    draw, task = _draw_for_edit(draw_id)
    witnesses = list(zip(request.form.getlist("witness_name"), request.form.getlist("witness_org")))
    try:
        draw_service.perform(draw, request.form.get("public_entropy"), witnesses, current_user)
    except draw_service.DrawError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(task.id, "#draw-perform")
    flash("抽取完成，抽取名单和抽取凭证已即时公示" + ("（突击检查任务：检查结果全部公示或检查期结束后对公众可见）"
                                                      if task.surprise else "") + "。", "success")
    masked = witnessing(request.form.get("public_entropy"), witnesses).maskings  # the clerk sees what was masked
    if masked:
        flash("见证信息中的个人信息已遮蔽后保存并公开：" + "；".join(f"{m.label} {m.masked}" for m in masked), "info")
    return _back(task.id, "#draw-result")


@bp.post("/draws/<int:draw_id>/substitute")
@roles_required(ADMIN, CLERK)
def draw_substitute(draw_id):
    draw, task = _draw_for_edit(draw_id)
    try:
        selection_id = int(request.form.get("selection_id", ""))
    except ValueError:
        abort(400)
    selection = db.session.get(DrawSelection, selection_id)
    if selection is None or selection.draw_id != draw.id:
        abort(404)
    try:
        draw_service.substitute(selection, request.form.get("old_licence"), request.form.get("new_licence"),
                                request.form.get("reason"), current_user)
    except draw_service.DrawError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(task.id, "#draw-result")
    flash("已更换执法人员，更换记录将在抽取凭证上公示。", "success")
    return _back(task.id, "#draw-result")
