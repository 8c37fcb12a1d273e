"""Back office: the queue of objections and credit-repair applications (SPEC §12).

The record's department handles its cases: a clerk sees only their department's cases (404
for any other, by URL, form field or hx-vals), takes one (认领), reads the attachments, and
decides: 维持 with reasons, 更正 (the record's own correction form; the case closes when the
correction is saved), 撤回 (the record is withdrawn through the lifecycle), or for credit repair
准予 / 不予. Admins may decide too; auditors read. Attachments go only to the department's clerks.
"""
from io import BytesIO
from urllib.parse import quote

from flask import abort, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from .. import clock
from ..auth.access import CLERK, READERS, WRITERS, department_scope, role_of, roles_required, scope_criterion
from ..database import write_transaction
from ..domain.dates import china_date
from ..extensions import db
from ..lifecycle import LifecycleError
from ..models import CaseKind, CaseStatus, Objection, ObjectionAttachment, OPEN_STATUSES
from ..objections import domain, service
from ..objections import queries as cases
from ..web import Page, paging_from_request, render_page
from . import bp

STATUS_FILTERS = (("open", "未办结"), ("received", "待核查"), ("in_review", "核查中"), ("correcting", "正在更正"),
                  ("decided", "已办结"), ("all", "全部"))
PER_PAGE = 30


def redirect_303(target: str):
    """303 to `target`; an htmx request gets 204 + HX-Redirect instead (XMLHttpRequest would follow
    a 303 silently and htmx would swap the whole next page into the button)."""
    if request.headers.get("HX-Request"):
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def _scoped(stmt):
    return department_scope(stmt, Objection)


def _case_or_404(case_id: int, for_update: bool = False) -> Objection:
    stmt = _scoped(select(Objection).where(Objection.id == case_id))
    if for_update:
        stmt = stmt.with_for_update()  # PostgreSQL: two clerks deciding at once are serialised
    case = db.session.execute(stmt).scalar()
    if case is None:
        abort(404)
    return case


def _can_act(case: Objection) -> bool:
    return role_of() in WRITERS and (role_of() != CLERK or current_user.department_id == case.department_id)


def _filters(args) -> dict:
    """The queue's filters from the query string; unknown values are a 400 with a Chinese message."""
    values = {"status": args.get("status") or "open", "record_kind": args.get("record_kind") or "",
              "kind": args.get("kind") or "", "overdue": args.get("overdue") or "", "q": (args.get("q") or "").strip()}
    problems = []
    if values["status"] not in dict(STATUS_FILTERS):
        problems.append(f"状态“{values['status']}”无效。")
    if values["record_kind"] not in ("", *domain.RECORD_KINDS):
        problems.append(f"信息类型“{values['record_kind']}”无效。")
    if values["kind"] not in ("", *domain.KIND_LABELS):
        problems.append(f"申请类型“{values['kind']}”无效。")
    if values["overdue"] not in ("", "1"):
        problems.append("“逾期”筛选只能为 1。")
    if problems:
        abort(400, description="筛选条件有误：" + "".join(problems))
    return values


def _query(f: dict):
    stmt = _scoped(select(Objection))
    if f["status"] == "open" or f["overdue"]:
        stmt = stmt.where(Objection.status.in_(OPEN_STATUSES))
    elif f["status"] != "all":
        stmt = stmt.where(Objection.status == CaseStatus(f["status"]))
    if f["record_kind"]:
        stmt = stmt.where(Objection.record_kind == f["record_kind"])
    if f["kind"]:
        stmt = stmt.where(Objection.kind == CaseKind(f["kind"]))
    if f["q"]:
        # A receipt number (YY/XF + date + id) or its trailing id.
        digits = f["q"].upper().removeprefix("YY").removeprefix("XF")[-6:]
        stmt = stmt.where(Objection.id == int(digits)) if digits.isdigit() else stmt.where(Objection.id == -1)
    if f["status"] == "decided":
        return stmt.order_by(Objection.decided_at.desc(), Objection.id.desc())
    return stmt.order_by(Objection.received_at, Objection.id)  # oldest (most urgent) first


@bp.get("/objections", endpoint="objections")
@roles_required(*READERS)
def objection_list():
    f = _filters(request.args)
    paging = paging_from_request(PER_PAGE, 200)
    today = clock.today()
    stmt = _query(f)
    if f["overdue"]:
        rows = [r for r in cases.case_rows(db.session.execute(stmt).scalars().all(), today) if r.state == "overdue"]
        page = Page(rows[paging.offset:paging.offset + paging.per_page], len(rows), paging.page, paging.per_page)
    else:
        total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar()
        found = db.session.execute(stmt.limit(paging.per_page).offset(paging.offset)).scalars().all()
        page = Page(cases.case_rows(found, today), total, paging.page, paging.per_page)
    return render_page("admin/objections/list.html", "admin/objections/_rows.html", page=page, f=f,
                       status_filters=STATUS_FILTERS, d=domain, can_write=role_of() in WRITERS)


@bp.get("/objections/<int:record_id>", endpoint="objection_edit")
@roles_required(*READERS)
def objection_detail(record_id):
    case = _case_or_404(record_id)
    row = cases.case_rows([case], clock.today())[0]
    return render_template("admin/objections/detail.html", case=case, row=row, d=domain,
                           points=dict(domain.point_choices(case.kind.value, case.record_kind)),
                           outcomes=domain.OUTCOMES_BY_KIND[case.kind.value], can_act=_can_act(case),
                           can_download=role_of() == CLERK, errors={})


@bp.post("/objections/claim", endpoint="objection_claim")
@roles_required(*WRITERS)
def objection_claim():
    """认领: the case id comes as a form field (no JS) or hx-vals (htmx); either way it is scoped."""
    raw = request.form.get("case_id", "")
    if not raw.isdigit() or int(raw) >= 2 ** 63:
        abort(404)
    case = _case_or_404(int(raw))
    if not _can_act(case):
        abort(403)
    try:
        with write_transaction():
            service.claim(_case_or_404(case.id, for_update=True), current_user, clock.now())
    except service.CaseError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已认领 {case.receipt_no}，请在 {cases.due_of(case)[0]:%Y-%m-%d} 前办结。", "success")
    return redirect_303(url_for("admin.objection_edit", record_id=case.id))


@bp.post("/objections/<int:case_id>/decide", endpoint="objection_decide")
@roles_required(*WRITERS)
def objection_decide(case_id):
    case = _case_or_404(case_id)
    if not _can_act(case):
        abort(403)
    outcome = request.form.get("outcome", "")
    now = clock.now()
    if outcome == "corrected":
        try:
            with write_transaction():
                service.start_correction(_case_or_404(case_id, for_update=True), current_user, now)
        except service.CaseError as exc:
            flash(str(exc), "error")
            return redirect_303(url_for("admin.objection_edit", record_id=case_id))
        flash(f"请在下面修改该{domain.RECORD_LABELS[case.record_kind]}并填写更正原因后保存更正；"
              f"保存后，{domain.KIND_LABELS[case.kind.value]} {case.receipt_no} 自动办结为“更正”。", "success")
        return redirect_303(url_for(f"admin.{case.record_kind}_edit", record_id=case.record_id))
    reason, problem = domain.parse_reason(request.form.get("reason"),
                                          "答复意见" if outcome != "withdrawn" else "撤回原因")
    if outcome not in domain.OUTCOMES_BY_KIND[case.kind.value]:
        problem = "请选择有效的处理结果。"
    if problem:
        row = cases.case_rows([case], clock.today())[0]
        return render_template("admin/objections/detail.html", case=case, row=row, d=domain,
                               points=dict(domain.point_choices(case.kind.value, case.record_kind)),
                               outcomes=domain.OUTCOMES_BY_KIND[case.kind.value], can_act=True,
                               can_download=role_of() == CLERK, errors={outcome or "form": problem},
                               reason=request.form.get("reason", "")), 422
    try:
        with write_transaction():
            service.decide(_case_or_404(case_id, for_update=True), outcome, reason, current_user, now)
    except (service.CaseError, LifecycleError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"已办结：{domain.OUTCOME_LABELS[outcome]}。申请人可凭查询链接看到答复意见。", "success")
    return redirect_303(url_for("admin.objection_edit", record_id=case_id))


@bp.get("/objections/<int:case_id>/attachments/<int:attachment_id>", endpoint="objection_attachment")
@roles_required(*READERS)
def objection_attachment(case_id, attachment_id):
    """A case's file, to the handling department's clerks only, as a download that no browser
    renders inline or sniffs into another type."""
    attachment = db.session.execute(
        select(ObjectionAttachment).join(Objection, Objection.id == ObjectionAttachment.objection_id)
        .where(ObjectionAttachment.id == attachment_id, ObjectionAttachment.objection_id == case_id,
               scope_criterion(Objection))
        .options(undefer(ObjectionAttachment.data))).scalar()
    if attachment is None:
        abort(404)
    if role_of() != CLERK:
        abort(403, description="附件可能含有个人信息，仅限承办部门的业务人员查看。")
    response = send_file(BytesIO(attachment.data), mimetype=attachment.content_type, etag=False, max_age=0)
    # An ASCII fallback name for old clients, the person's own (Chinese) name for the rest (RFC 6266).
    fallback = f"attachment-{attachment.id}{attachment.filename[attachment.filename.rfind('.'):]}"
    response.headers["Content-Disposition"] = (f'attachment; filename="{fallback}"; '
                                               f"filename*=UTF-8''{quote(attachment.filename)}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.app_template_global("objection_queue")
def objection_queue():
    """Dashboard figures and the most urgent open cases in the signed-in user's scope."""
    if not current_user.is_authenticated:
        return None
    open_ = db.session.execute(_scoped(select(Objection).where(Objection.status.in_(OPEN_STATUSES)))
                               .order_by(Objection.received_at, Objection.id)).scalars().all()
    rows = cases.case_rows(open_, clock.today())
    counts = {"open": len(rows), "received": 0, "overdue": 0, "due_soon": 0}
    for row in rows:
        counts["received"] += row.case.status is CaseStatus.RECEIVED
        if row.state in ("overdue", "due_soon"):
            counts[row.state] += 1
    urgent = sorted(rows, key=lambda r: (r.state != "overdue", r.due_date, r.case.id))[:5]
    return {"counts": counts, "rows": urgent, "d": domain, "today": china_date(clock.now())}
