"""Right of reply, public side (SPEC §12): file an objection or a credit-repair application about
a published result or penalty, then follow it through a private status link.

    GET/POST /objections/new?record=result-12      异议 (also penalty-N)
    GET/POST /credit-repair/new?record=penalty-5   信用修复申请 (eligible penalties only)
    GET      /objections/case/<token>              the filer's status page (token = the only key)

Forms work without JavaScript (multipart POST → 303); htmx posts the same form in place.
Submissions are rate-limited per address and per record (portal/limits.py: OBJECTION, OBJECTION_RECORD).
"""
import re

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for

from .. import clock, limits, queries
from ..database import write_transaction
from ..domain.visibility import Visibility, public_state
from ..objections import domain, files, service
from ..objections import queries as cases
from . import bp

_RECORD = re.compile(r"^(result|penalty)-(\d{1,18})$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
FORM_KINDS = {"objection": "public.objection_new", "credit_repair": "public.credit_repair_new"}


def _record_key() -> str:
    """Submissions about one record count together, whoever sends them (limits.OBJECTION_RECORD)."""
    return "record:" + (request.args.get("record") or "")[:40]


@limits.refusal_page("public.objection_new", "public.credit_repair_new")
def _refused(message: str, retry: int):
    """The refusal in place of the form (htmx) or as a page of its own."""
    fragment = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    template = "public/objections/_refused.html" if fragment else "public/objections/refused.html"
    return render_template(template, message=message, retry=retry)


def _public_record(kind: str):
    """(record kind, record) named by ?record=…, which the public may see now; 404 otherwise."""
    match = _RECORD.match(request.args.get("record") or "")
    if not match:
        abort(404, description="请从检查结果或行政处罚的详情页进入异议申请。")
    record_kind, record_id = match.group(1), int(match.group(2))
    if kind == domain.CREDIT_REPAIR and record_kind != "penalty":
        abort(404, description="信用修复申请只适用于行政处罚信息。")
    getter = queries.get_result if record_kind == "result" else queries.get_penalty
    detail = getter(record_id, clock.now()) if record_id < 2 ** 63 else None
    if detail is None or not detail.state.is_visible:
        abort(404, description="该信息不存在或已不在公示中，无法在线提出申请。")
    return record_kind, detail.record


def _form_context(kind, record_kind, record, values=None, errors=None, eligibility=None):
    return dict(kind=kind, record_kind=record_kind, record=record, values=values or {}, errors=errors or {},
                points=domain.point_choices(kind, record_kind), relations=domain.RELATION_LABELS,
                labels=domain.KIND_LABELS, record_labels=domain.RECORD_LABELS, eligibility=eligibility,
                action=url_for(FORM_KINDS[kind], record=f"{record_kind}-{record.id}"),
                max_mb=current_app.config["OBJECTION_ATTACHMENT_MAX_BYTES"] / 1024 / 1024,
                max_files=domain.MAX_ATTACHMENTS, workdays=cases.handling_workdays())


def _render_form(context, status=200):
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render_template("public/objections/_form.html", **context), status
    return render_template("public/objections/new.html", **context), status


def _read_attachments(errors: dict) -> list:
    """Checked attachments from the upload; messages for refused ones go to errors["attachments"]."""
    uploads = [f for f in request.files.getlist("attachments") if f and f.filename]
    if len(uploads) > domain.MAX_ATTACHMENTS:
        errors["attachments"] = f"最多上传 {domain.MAX_ATTACHMENTS} 个附件（本次选择了 {len(uploads)} 个）。"
        return []
    limit = current_app.config["OBJECTION_ATTACHMENT_MAX_BYTES"]
    accepted, problems = [], []
    for upload in uploads:
        try:
            accepted.append(files.check_attachment(upload.filename, upload.stream.read(limit + 1), limit))
        except files.AttachmentRefused as exc:
            problems.append(str(exc))
    if problems:
        errors["attachments"] = "".join(problems)
    return accepted


def _submit(kind: str):
    record_kind, record = _public_record(kind)
    now = clock.now()
    eligibility = cases.credit_repair_eligibility(record, now) if kind == domain.CREDIT_REPAIR else None
    if request.method == "GET":
        return _render_form(_form_context(kind, record_kind, record, eligibility=eligibility))
    if eligibility is not None and not eligibility.eligible:
        return _render_form(_form_context(kind, record_kind, record, eligibility=eligibility,
                                          errors={"form": eligibility.reason}), 400)
    form = request.form
    filing, errors = domain.parse_filing(
        kind, record_kind, relation=form.get("relation"), contact_name=form.get("contact_name"),
        contact_mobile=form.get("contact_mobile"), points=form.getlist("points"), statement=form.get("statement"),
        affirmed=form.get("affirmed") == "1")
    attachments = _read_attachments(errors)
    if errors:
        values = {"relation": form.get("relation", ""), "contact_name": form.get("contact_name", ""),
                  "contact_mobile": form.get("contact_mobile", ""), "points": form.getlist("points"),
                  "statement": form.get("statement", ""), "affirmed": form.get("affirmed") == "1"}
        return _render_form(_form_context(kind, record_kind, record, values, errors, eligibility), 400)
    with write_transaction():
        case, token = service.file_case(kind, record_kind, record, filing, attachments, now)
        receipt = case.receipt_no
    flash(f"已受理您的{domain.KIND_LABELS[kind]}，受理编号 {receipt}。请保存本页链接，凭链接查询办理进度。", "success")
    target = url_for("public.objection_case", token=token)
    if request.headers.get("HX-Request"):
        # XMLHttpRequest follows a 303 by itself (htmx would swap the status page into the form):
        # tell htmx to navigate instead.
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


@bp.route("/objections/new", methods=["GET", "POST"])
@limits.limited(limits.OBJECTION)
@limits.limited(limits.OBJECTION_RECORD, key=_record_key)
def objection_new():
    return _submit(domain.OBJECTION)


@bp.route("/credit-repair/new", methods=["GET", "POST"])
@limits.limited(limits.OBJECTION)
@limits.limited(limits.OBJECTION_RECORD, key=_record_key)
def credit_repair_new():
    return _submit(domain.CREDIT_REPAIR)


@bp.get("/objections/case/<token>")
def objection_case(token):
    """The filer's private page: every step of the case. The token in the URL is the only key."""
    case = cases.case_by_token(token) if _TOKEN.match(token) else None
    if case is None:
        abort(404, description="查询链接无效：没有与该链接对应的申请。请核对链接是否完整（受理后显示的完整地址）。")
    record = service.load_record(case)
    # The record is named only while the public may still see it (or its tombstone).
    state = public_state(case.record_kind, record, clock.now()) if record is not None else None
    record_public = state is not None and state.visibility is not Visibility.HIDDEN
    due, provisional = cases.due_of(case)
    response = make_response(render_template(
        "public/objections/case.html", case=case, record=record if record_public else None, record_state=state,
        due=due, provisional=provisional, d=domain, mobile=domain.mask_mobile(case.contact_mobile),
        points=dict(domain.point_choices(case.kind.value, case.record_kind))))
    # Private: never cached, never indexed, and the token never leaks through a Referer header.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
