"""批量上传: template download, upload → preview → confirm → result, import history.

The uploaded file is kept under instance/uploads/<sha256> between preview and confirm; the
confirm POST names it by hash and re-validates everything inside the write transaction.
While a large file commits, the page polls /admin/uploads/progress/<sha256>/<run> (htmx, every 1 s); the
committing worker writes its progress next to the stored file (one `run` per confirm form).
"""
import json
import os
import re
import secrets
import tempfile
from pathlib import Path

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import clock
from ..auth.access import ADMIN, AUDITOR, CLERK, department_scope, role_of, roles_required
from ..extensions import db
from ..importers import KIND_LABELS, KINDS, COLUMNS, ImportRejected, build_preview, commit, file_hash
from ..importers import template_csv, template_xlsx
from ..models import Department, ImportBatch
from . import bp

_HASH = re.compile(r"^[0-9a-f]{64}$")
_RUN = re.compile(r"^[0-9a-f]{16}$")
HISTORY_PER_PAGE = 50


def _upload_dir() -> Path:
    path = Path(current_app.instance_path) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


STORED_UPLOAD_SECONDS = 2 * 24 * 3600  # a preview older than this must be uploaded again


def _prune(directory: Path) -> None:
    """Forget stored uploads and progress files nobody confirmed within STORED_UPLOAD_SECONDS."""
    import time

    limit = time.time() - STORED_UPLOAD_SECONDS
    for path in directory.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass  # another worker removed it first


def _store(data: bytes) -> str:
    digest = file_hash(data)
    _prune(_upload_dir())
    target = _upload_dir() / digest
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    else:
        os.utime(target)
    return digest


def _stored(digest: str) -> bytes:
    if not _HASH.match(digest or ""):
        abort(404)
    path = _upload_dir() / digest
    if not path.exists():
        return None
    return path.read_bytes()


def _progress_path(digest: str, run: str) -> Path:
    return _upload_dir() / f"{digest}.{run}.progress.json"


def _write_progress(digest: str, run: str, done: int, total: int, state: str = "running", batch_id=None) -> None:
    if not _RUN.match(run or ""):
        return
    path = _progress_path(digest, run)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"done": done, "total": total, "state": state, "batch_id": batch_id,
                               "user_id": current_user.id}))
    os.replace(tmp, path)


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
    digest = _store(data)
    preview = build_preview(kind, data, filename, department, clock.today(), actor=current_user)
    return _render_preview(preview, department, 200 if preview.ok else 422)


def _htmx_status(status: int) -> int:
    # htmx does not swap 4xx answers; the preview with its problems must still be shown.
    return 200 if request.headers.get("HX-Request") else status


def _render_preview(preview, department, status, message=None):
    return render_template("admin/uploads/preview.html", preview=preview, department=department,
                           counts=preview.counts, message=message, run=secrets.token_hex(8),
                           problem_rows=[r for r in preview.rows if r.problems or r.maskings]), status


@bp.post("/uploads/confirm")
@roles_required(ADMIN, CLERK)
def upload_confirm():
    kind = _kind(request.form.get("kind"))
    digest = request.form.get("sha256", "")
    department = _target_department(request.form.get("department_id"))
    if department is None:
        abort(400)
    data = _stored(digest)
    if data is None:
        return _index(404, "预览已过期（或文件已被清理），请重新上传文件后再确认", kind)
    filename = _clean_filename(request.form.get("filename"))
    accept = request.form.get("accept_warnings") == "1"
    publish = request.form.get("publish") == "1"
    run = request.form.get("run", "")
    total = max(data.count(b"\n"), 1)
    _write_progress(digest, run, 0, total, state="validating")
    try:
        batch = commit(kind, data, filename, department, actor=current_user, accept_warnings=accept, publish=publish,
                       progress=lambda done, all_: _write_progress(digest, run, done, all_))
    except ImportRejected as exc:
        _write_progress(digest, run, 0, total, state="rejected")
        return _render_preview(exc.preview, department, _htmx_status(422), message=str(exc))
    _write_progress(digest, run, batch.row_count, batch.row_count, state="done", batch_id=batch.id)
    target = url_for("admin.upload_batch", batch_id=batch.id)
    if request.headers.get("HX-Request"):
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.get("/uploads/progress/<digest>/<run>")
@roles_required(ADMIN, CLERK)
def upload_progress(digest, run):
    if not _HASH.match(digest) or not _RUN.match(run):
        abort(404)
    path = _progress_path(digest, run)
    state = {"done": 0, "total": 0, "state": "waiting", "batch_id": None, "user_id": current_user.id}
    if path.exists():
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    if state.get("user_id") not in (None, current_user.id):
        abort(404)
    response = Response(render_template("admin/uploads/_progress.html", progress=state))
    if state.get("state") == "done" and state.get("batch_id"):
        response.headers["HX-Redirect"] = url_for("admin.upload_batch", batch_id=state["batch_id"])
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
