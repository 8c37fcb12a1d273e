"""Audit log (admin + auditor): browse and filter by actor, action, record kind and date; paged."""
from datetime import timedelta

from flask import render_template, request
from sqlalchemy import func, select

from ..auth.access import roles_required
from ..domain.dates import china_midnight, parse_date
from ..extensions import db
from ..models import AuditEvent
from ..web import Page, paging_from_request, wants_fragment
from . import bp


ACTION_LABELS = {
    "create": "新建", "update": "修改", "publish": "发布", "correct": "更正", "withdraw": "撤回", "withhold": "不予公开",
    "credit_repair": "信用修复", "results_first_published": "首次公开结果", "login": "登录", "login_failed": "登录失败",
    "login_blocked": "登录被限制", "logout": "退出登录", "password_change": "修改密码", "user_create": "创建用户",
    "user_update": "修改用户", "import": "批量导入", "lock": "锁定抽取范围", "draw": "抽取", "redraw": "重新抽取",
    "substitute": "更换执法人员", "signin_summary": "登录记录汇总",
    "objection_received": "受理异议/信用修复申请", "objection_claimed": "开始核查", "objection_correcting": "决定更正",
    "objection_decided": "办结异议/信用修复申请",
}


@bp.app_template_filter("action_label")
def action_label(action: str) -> str:
    """Chinese name of a journal action (the code itself when unknown)."""
    label = ACTION_LABELS.get(action)
    return f"{label}（{action}）" if label else action


@bp.get("/audit")
@roles_required("admin", "auditor")
def audit():
    args = request.args
    query = select(AuditEvent)
    errors = {}
    if args.get("actor"):
        query = query.where(AuditEvent.actor_name == args["actor"].strip())
    if args.get("action"):
        query = query.where(AuditEvent.action == args["action"])
    if args.get("kind"):
        query = query.where(AuditEvent.record_kind == args["kind"])
    if (args.get("record") or "").isdigit():
        query = query.where(AuditEvent.record_id == int(args["record"]))
    for name, op in (("from", "ge"), ("to", "lt")):
        if args.get(name):
            try:
                day = parse_date(args[name])
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            moment = china_midnight(day) if op == "ge" else china_midnight(day + timedelta(days=1))
            query = query.where(AuditEvent.at >= moment if op == "ge" else AuditEvent.at < moment)
    paging = paging_from_request(50, 200)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
    events = db.session.execute(query.order_by(AuditEvent.id.desc()).limit(paging.per_page)
                                .offset(paging.offset)).scalars().all()
    actions = db.session.execute(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).scalars().all()
    kinds = db.session.execute(select(AuditEvent.record_kind).where(AuditEvent.record_kind.is_not(None))
                               .distinct().order_by(AuditEvent.record_kind)).scalars().all()
    from .. import journal
    count, head = journal.chain_head()
    template = "admin/audit/_rows.html" if wants_fragment() else "admin/audit/index.html"
    return render_template(template, page=Page(events, total, paging.page, paging.per_page), actions=actions,
                           kinds=kinds, errors=errors, chain_count=count, chain_head=head)
