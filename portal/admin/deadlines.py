"""Back office: disclosure warnings, deadline rules, calendar overrides, publicity thresholds,
and the credit-repair action on a penalty."""
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import clock, deadlines, journal
from ..auth.access import ADMIN, READERS, WRITERS, can_edit, get_scoped_or_404, role_of, roles_required
from ..database import write_transaction
from ..domain.dates import parse_date
from ..domain.deadlines import DEFAULT_RULES, RULE_LABELS
from ..domain.publicity import PublicityPolicy
from ..domain.workdays import DATA_LAST_YEAR, PROVISIONAL_LABEL
from ..exports import csv_response
from ..extensions import db, htmx
from ..models import CalendarOverride, DeadlineRule, Department, Penalty, Setting
from ..web import render_page
from . import bp

CSV_HEADER = ["类别", "部门", "记录类型", "记录", "检查对象", "统一社会信用代码", "起算日期", "应公示日期",
              "是否预估", "工作日", "处理链接"]


# --- warnings -------------------------------------------------------------------------------------

def _scope_department_id() -> int | None:
    """Clerks see their own department only; admins and auditors may pick one with ?dept=CODE."""
    if role_of() == "clerk":
        return current_user.department_id or -1
    code = (request.args.get("dept") or "").strip()
    if not code:
        return None
    dept = db.session.execute(select(Department).where(Department.code == code)).scalar()
    return dept.id if dept is not None else -1


@bp.app_template_global("deadline_fix_url")
def fix_url(problem) -> str | None:
    """Where the clerk fixes the problem: the record's edit page, or a new result for a missing one."""
    if problem.category == "missing":
        return url_for("admin.result_new", task_id=problem.task_id, entity_uscc=problem.uscc)
    if problem.kind == "draw":
        return url_for("admin.task_draw", task_id=problem.task_id)
    return url_for(f"admin.{problem.kind}_edit", record_id=problem.record_id)


def current_warnings():
    """Warnings for the signed-in user's scope (used by the dashboard include too)."""
    return deadlines.warnings(_scope_department_id(), now=clock.now())


@bp.app_template_global("deadline_warnings")
def _deadline_warnings_global():
    if not current_user.is_authenticated:
        return None
    return current_warnings()


def _departments():
    if role_of() == "clerk":
        return []
    return db.session.scalars(select(Department).order_by(Department.code)).all()


@bp.get("/deadlines", endpoint="deadlines")
@roles_required(*READERS)
def deadlines_page():
    result = current_warnings()
    return render_page("admin/deadlines/index.html", "admin/deadlines/_problems.html", warnings=result,
                       fix_url=fix_url, departments=_departments(), dept=request.args.get("dept", ""),
                       today=clock.today())


@bp.get("/deadlines/warnings")
@roles_required(*READERS)
def deadline_warnings():
    """The dashboard component alone (htmx refreshes it every minute)."""
    return render_template("admin/deadlines/_warnings.html", deadline_warnings=current_warnings(), fix_url=fix_url)


@bp.get("/deadlines.csv")
@roles_required(*READERS)
def deadlines_csv():
    result = current_warnings()
    rows = [[p.category_label, p.department_name, p.kind_label, p.label, p.entity_name or "", p.uscc or "",
             p.start_date, p.due_date, "是" if p.provisional else "否", p.workdays,
             request.host_url.rstrip("/") + (fix_url(p) or "")] for p in result.all]
    return csv_response(f"deadlines-{clock.today():%Y%m%d}.csv", CSV_HEADER, rows)


# --- deadline rules ------------------------------------------------------------------------------

@bp.route("/deadlines/rules", methods=["GET", "POST"])
@roles_required(*READERS)
def deadline_rules():
    errors = {}
    if request.method == "POST":
        if role_of() != ADMIN:
            abort(403)
        values = {}
        for kind in DEFAULT_RULES:
            raw = (request.form.get(kind) or "").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= 250:
                errors[kind] = "请填写 1 至 250 之间的整数（工作日）。"
            else:
                values[kind] = int(raw)
        if not errors:
            with write_transaction():
                current = {r.record_kind: r for r in db.session.scalars(select(DeadlineRule))}
                before = {k: (current[k].working_days if k in current else DEFAULT_RULES[k]) for k in DEFAULT_RULES}
                for kind, days in values.items():
                    row = current.get(kind)
                    if row is None:
                        db.session.add(DeadlineRule(record_kind=kind, working_days=days, note=RULE_LABELS[kind]))
                    else:
                        row.working_days = days
                journal.record("update", "setting", None, before=before, after=values, summary="修改公示时限规则")
            deadlines.clear_cache()
            flash("公示时限规则已保存，立即生效。")
            return redirect(url_for("admin.deadline_rules"), code=303)
    current = deadlines.rules()
    values = {k: request.form.get(k, current[k]) for k in DEFAULT_RULES} if errors else current
    return render_template("admin/deadlines/rules.html", values=values, errors=errors, labels=RULE_LABELS,
                           defaults=DEFAULT_RULES, can_write=role_of() == ADMIN), (422 if errors else 200)


# --- calendar overrides --------------------------------------------------------------------------

@bp.route("/deadlines/calendar", methods=["GET", "POST"])
@roles_required(*READERS)
def deadline_calendar():
    errors, form = {}, {}
    if request.method == "POST":
        if role_of() != ADMIN:
            abort(403)
        form = {"day": (request.form.get("day") or "").strip(), "is_workday": request.form.get("is_workday", ""),
                "note": (request.form.get("note") or "").strip()[:200]}
        day = None
        try:
            day = parse_date(form["day"])
        except ValueError as exc:
            errors["day"] = str(exc)
        if form["is_workday"] not in ("1", "0"):
            errors["is_workday"] = "请选择“工作日”或“休息日”。"
        if not errors:
            with write_transaction():
                row = db.session.execute(select(CalendarOverride).where(CalendarOverride.day == day)).scalar()
                before = {"day": day, "is_workday": row.is_workday, "note": row.note} if row else None
                if row is None:
                    row = CalendarOverride(day=day)
                    db.session.add(row)
                row.is_workday = form["is_workday"] == "1"
                row.note = form["note"] or None
                db.session.flush()
                journal.record("update" if before else "create", "calendar", row.id, before=before,
                               after={"day": day, "is_workday": row.is_workday, "note": row.note},
                               summary=f"日历调整：{day:%Y-%m-%d} 设为{'工作日' if row.is_workday else '休息日'}")
            deadlines.clear_cache()
            flash(f"已保存：{day:%Y-%m-%d} 为{'工作日' if form['is_workday'] == '1' else '休息日'}，立即生效。")
            return redirect(url_for("admin.deadline_calendar"), code=303)
    rows = db.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day.desc())).all()
    return render_template("admin/deadlines/calendar.html", rows=rows, errors=errors, form=form,
                           data_last_year=DATA_LAST_YEAR, provisional_label=PROVISIONAL_LABEL,
                           can_write=role_of() == ADMIN), (422 if errors else 200)


@bp.post("/deadlines/calendar/<int:override_id>/delete")
@roles_required(ADMIN)
def deadline_calendar_delete(override_id):
    with write_transaction():
        row = db.session.get(CalendarOverride, override_id)
        if row is None:
            abort(404)
        before = {"day": row.day, "is_workday": row.is_workday, "note": row.note}
        journal.record("delete", "calendar", row.id, before=before, summary=f"删除日历调整：{row.day:%Y-%m-%d}")
        db.session.delete(row)
    deadlines.clear_cache()
    flash("已删除日历调整。")
    if htmx:
        response = redirect(url_for("admin.deadline_calendar"), code=303)
        response.headers["HX-Redirect"] = url_for("admin.deadline_calendar")
        return response
    return redirect(url_for("admin.deadline_calendar"), code=303)


# --- publicity thresholds ------------------------------------------------------------------------

_POLICY_FIELDS = ("short_months", "long_years", "small_fine_natural_person", "small_fine_organisation")


@bp.route("/deadlines/publicity", methods=["GET", "POST"])
@roles_required(*READERS)
def publicity_settings():
    errors, changed = {}, None
    policy = deadlines.publicity_policy()
    values = deadlines.policy_to_dict(policy)
    if request.method == "POST":
        if role_of() != ADMIN:
            abort(403)
        values = {name: (request.form.get(name) or "").strip() for name in _POLICY_FIELDS}
        parsed = {}
        for name in ("short_months", "long_years"):
            if not values[name].isdigit() or not 1 <= int(values[name]) <= 120:
                errors[name] = "请填写 1 至 120 之间的整数。"
            else:
                parsed[name] = int(values[name])
        for name in ("small_fine_natural_person", "small_fine_organisation"):
            try:
                amount = Decimal(values[name].replace(",", ""))
                if amount < 0 or not amount.is_finite():
                    raise InvalidOperation
                parsed[name] = amount
            except (InvalidOperation, ValueError):
                errors[name] = "请填写不小于 0 的金额（元）。"
        if not errors:
            new_policy = PublicityPolicy(**parsed)
            with write_transaction():
                row = db.session.get(Setting, deadlines.PUBLICITY_SETTING)
                before = row.value if row is not None else None
                if row is None:
                    row = Setting(key=deadlines.PUBLICITY_SETTING)
                    db.session.add(row)
                row.value = deadlines.policy_to_dict(new_policy)
                journal.record("update", "setting", None, before=before, after=row.value,
                               summary="修改行政处罚公示期限阈值")
                changed = deadlines.recompute_publicity_ends(new_policy)
            flash(f"公示期限阈值已保存，已重新计算 {changed} 条行政处罚的公示截止日期。")
            return redirect(url_for("admin.publicity_settings"), code=303)
    return render_template("admin/deadlines/publicity.html", values=values, errors=errors,
                           can_write=role_of() == ADMIN), (422 if errors else 200)


# --- credit repair (信用修复) ------------------------------------------------------------------------

@bp.route("/penalties/<int:penalty_id>/credit-repair", methods=["GET", "POST"])
@roles_required(*WRITERS)
def penalty_credit_repair(penalty_id):
    from ..lifecycle import LifecycleError, mark_credit_repair

    penalty = get_scoped_or_404(Penalty, penalty_id)
    if not can_edit(penalty):
        abort(403)
    errors = {}
    form = {"date": (request.form.get("date") or "").strip(), "reason": (request.form.get("reason") or "").strip()}
    if request.method == "POST":
        repaired_on = None
        try:
            repaired_on = parse_date(form["date"])
            if repaired_on < penalty.decision_date:
                errors["date"] = f"信用修复日期不能早于处罚决定日期（{penalty.decision_date:%Y-%m-%d}）。"
        except ValueError as exc:
            errors["date"] = str(exc)
        if not form["reason"]:
            errors["reason"] = "请填写信用修复的理由（如：已履行处罚决定并完成信用修复申请）。"
        if not errors:
            try:
                with write_transaction():
                    fresh = db.session.get(Penalty, penalty_id)
                    mark_credit_repair(fresh, repaired_on, form["reason"][:2000])
            except LifecycleError as exc:
                errors["reason"] = str(exc)
            else:
                flash(f"已记录信用修复：自 {repaired_on:%Y-%m-%d} 起停止公示该行政处罚。")
                target = url_for("admin.penalty_edit", record_id=penalty_id)
                if htmx:
                    response = redirect(target, code=303)
                    response.headers["HX-Redirect"] = target
                    return response
                return redirect(target, code=303)
    elif penalty.credit_repair_date is not None:
        form = {"date": penalty.credit_repair_date.isoformat(), "reason": penalty.credit_repair_reason or ""}
    return render_template("admin/deadlines/credit_repair.html", penalty=penalty, form=form, errors=errors,
                           today=clock.today()), (422 if errors else 200)
