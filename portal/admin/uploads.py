"""批量上传: template download, upload → preview → confirm → result, import history.

The uploaded file is kept in the database (`upload_job`, portal/importers/jobs.py) between preview
and confirm, so any host may answer the confirmation; the confirm POST names it by its token (the
form's `run`) and re-validates everything inside the write transaction. A file of at most
IMPORT_INLINE_ROWS rows is imported within the confirm request (the page polls
/admin/uploads/progress/<sha256>/<run> meanwhile); a larger one runs as a job in the background and
the clerk follows /admin/uploads/jobs/<token> (htmx polls it; without JavaScript it refreshes
itself), which survives the worker that runs it being recycled.
"""
import re

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import clock
from ..auth.access import ADMIN, AUDITOR, CLERK, department_scope, role_of, roles_required
from ..extensions import db
from ..importers import KIND_LABELS, KINDS, COLUMNS, build_preview, jobs
from ..importers import template_csv, template_xlsx
from ..models import Department, ImportBatch, UploadJob
from ..web import wants_fragment
from . import bp

_HASH = re.compile(r"^[0-9a-f]{64}$")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
HISTORY_PER_PAGE = 50


def _clean_filename(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or "upload")[:200]


def _departments():
    return db.session.execute(select(Department).order_by(Department.code)).scalars().all()


def _target_department(form_value) -> Department:
    """Clerks import into their own department only; a forged department id is refused."""
    role = role_of()
    if role == CLERK:
        if form_value not in (None, "", str(current_user.department_id)):
            abort(403)
        if current_user.department_id is None:
            abort(403)
        return db.session.get(Department, current_user.department_id)
    if role == ADMIN:
        if not str(form_value or "").isdigit():
            return None
        department = db.session.get(Department, int(form_value))
        if department is None:
            abort(404)
        return department
    abort(403)


def _kind(value) -> str:
    if value not in KINDS:
        abort(404)
    return value


def _recent(limit=10):
    query = department_scope(select(ImportBatch), ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    return db.session.execute(query).scalars().all()


def _index(status=200, error=None, kind=None):
    return render_template("admin/uploads/index.html", kinds=KINDS, kind_labels=KIND_LABELS, columns=COLUMNS,
                           departments=_departments() if role_of() == ADMIN else [], batches=_recent(),
                           jobs=jobs.open_jobs(current_user) if role_of() in (ADMIN, CLERK) else [],
                           error=error, selected_kind=kind or request.values.get("kind", "results"),
                           max_bytes=current_app.config.get("MAX_CONTENT_LENGTH")), status


@bp.get("/uploads")
@roles_required(ADMIN, CLERK, AUDITOR)
def uploads():
    return _index()


@bp.get("/uploads/templates/<kind>.<fmt>")
@roles_required(ADMIN, CLERK, AUDITOR)
def upload_template(kind, fmt):
    kind = _kind(kind)
    name = f"{KIND_LABELS[kind]}导入模板"
    if fmt == "csv":
        body, mimetype = template_csv(kind), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, mimetype = template_xlsx(kind), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        abort(404)
    from urllib.parse import quote
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={kind}-template.{fmt}; " \
                                              f"filename*=UTF-8''{quote(name)}.{fmt}"
    return response


@bp.post("/uploads")
@roles_required(ADMIN, CLERK)
def upload_preview():
    kind = _kind(request.form.get("kind"))
    department = _target_department(request.form.get("department_id"))
    if department is None:
        return _index(400, "请选择导入到哪个部门", kind)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(400, "请选择要上传的文件（CSV 或 XLSX）", kind)
    try:
        data = upload.read()
    finally:
        upload.close()  # large uploads are spooled to a temporary file
    filename = _clean_filename(upload.filename)
    preview = build_preview(kind, data, filename, department, clock.today(), actor=current_user)
    job = None
    if preview.ok:  # only a file that may be imported is kept (until confirmed, or for jobs.KEEP)
        job = jobs.store_upload(kind, data, filename, preview.sha256, department, current_user, len(preview.rows))
    return _render_preview(preview, department, 200 if preview.ok else 422, job=job)


def _htmx_status(status: int) -> int:
    # htmx does not swap 4xx answers; the preview with its problems must still be shown.
    return 200 if request.headers.get("HX-Request") else status


def _render_preview(preview, department, status, message=None, job=None):
    return render_template("admin/uploads/preview.html", preview=preview, department=department,
                           counts=preview.counts, message=message, run=job.token if job else "",
                           problem_rows=[r for r in preview.rows if r.problems or r.maskings]), status


def _see_other(target: str):
    """303 to `target`, or HX-Redirect for htmx (which would otherwise swap the target in place)."""
    if request.headers.get("HX-Request"):
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.post("/uploads/confirm")
@roles_required(ADMIN, CLERK)
def upload_confirm():
    kind = _kind(request.form.get("kind"))
    digest = request.form.get("sha256", "")
    department = _target_department(request.form.get("department_id"))
    if department is None:
        abort(400)
    job = jobs.find(request.form.get("run", ""), current_user)
    if job is None or job.sha256 != digest or job.kind != kind or job.department_id != department.id:
        return _index(404, "预览已过期（或文件已被清理），请重新上传文件后再确认", kind)
    owner, started = jobs.start(job, accept_warnings=request.form.get("accept_warnings") == "1",
                                publish=request.form.get("publish") == "1")
    job_url = url_for("admin.upload_job", token=job.token)
    if not started:  # already being imported (a second click, another tab): follow it
        return _see_other(job_url)
    if job.row_count > current_app.config["IMPORT_INLINE_ROWS"]:
        jobs.run_in_background(job.id, owner)
        return _see_other(job_url)
    state, rejection = jobs.run(job.id, owner)
    if state == "rejected":
        return _render_preview(rejection.preview, department, _htmx_status(422), message=str(rejection), job=job)
    db.session.expire_all()
    job = db.session.get(UploadJob, job.id)
    if job.state == "done" and job.batch_id:
        return _see_other(url_for("admin.upload_batch", batch_id=job.batch_id))
    return _see_other(job_url)  # failed (or taken over): its page says what happened


def _own_job(token: str, digest: str | None = None) -> UploadJob:
    if not _TOKEN.match(token or "") or (digest is not None and not _HASH.match(digest or "")):
        abort(404)
    job = jobs.find(token, current_user)
    if job is None or (digest is not None and job.sha256 != digest):
        abort(404)
    jobs.resume_if_stale(job)  # its worker died: this host takes the import over
    return job


@bp.get("/uploads/progress/<digest>/<run>")
@roles_required(ADMIN, CLERK)
def upload_progress(digest, run):
    """Progress of a confirmation running in another request (polled while the confirm form waits)."""
    job = _own_job(run, digest)
    response = Response(render_template("admin/uploads/_progress.html", job=job))
    if job.state == "done" and job.batch_id:
        response.headers["HX-Redirect"] = url_for("admin.upload_batch", batch_id=job.batch_id)
    return response


@bp.get("/uploads/jobs/<token>")
@roles_required(ADMIN, CLERK)
def upload_job(token):
    """An import running as a job: its progress (htmx polls this; without JavaScript the page refreshes
    itself) and, when it ends, its true outcome: the batch page, or why nothing was written."""
    job = _own_job(token)
    batch_url = url_for("admin.upload_batch", batch_id=job.batch_id) if job.state == "done" and job.batch_id else None
    if batch_url and not wants_fragment():
        return redirect(batch_url, 303)
    department = db.session.get(Department, job.department_id)
    template = "admin/uploads/_job.html" if wants_fragment() else "admin/uploads/job.html"
    response = Response(render_template(template, job=job, department=department, kind_labels=KIND_LABELS,
                                        batch_url=batch_url))
    if batch_url:
        response.headers["HX-Redirect"] = batch_url
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/uploads/<int:batch_id>")
@roles_required(ADMIN, CLERK, AUDITOR)
def upload_batch(batch_id):
    query = department_scope(select(ImportBatch).where(ImportBatch.id == batch_id), ImportBatch)
    batch = db.session.execute(query).scalar()
    if batch is None:
        abort(404)
    department = db.session.get(Department, batch.department_id) if batch.department_id else None
    return render_template("admin/uploads/batch.html", batch=batch, department=department, kind_labels=KIND_LABELS)


@bp.get("/uploads/history")
@roles_required(ADMIN, CLERK, AUDITOR)
def upload_history():
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    base = department_scope(select(ImportBatch), ImportBatch)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar()
    batches = db.session.execute(base.order_by(ImportBatch.id.desc()).offset((page - 1) * HISTORY_PER_PAGE)
                                 .limit(HISTORY_PER_PAGE)).scalars().all()
    departments = {d.id: d for d in _departments()}
    return render_template("admin/uploads/history.html", batches=batches, total=total, page=page,
                           per_page=HISTORY_PER_PAGE, kind_labels=KIND_LABELS, departments=departments)
