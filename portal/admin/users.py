"""Users (admin only): list, create, change role/department/active, reset password (ends sessions)."""
from flask import abort, flash, render_template, request, url_for
from sqlalchemy import select

from .. import journal
from ..auth.accounts import AccountError, ROLE_LABELS, create_user, end_sessions, resolve_department, set_password
from ..auth.access import roles_required
from ..database import write_transaction
from ..extensions import db
from ..models import Department, Role, User
from . import bp
from .crud import redirect_303


def _user_after(user):
    return {"username": user.username, "display_name": user.display_name, "role": user.role.value,
            "department_id": user.department_id, "active": user.active}


def _departments():
    return db.session.execute(select(Department).order_by(Department.code)).scalars().all()


@bp.get("/users")
@roles_required("admin")
def users():
    rows = db.session.execute(select(User).order_by(User.username)).scalars().all()
    return render_template("admin/users/list.html", users=rows, role_labels=ROLE_LABELS)


def _form_errors(form, creating):
    errors = {}
    role = form.get("role", "")
    if role not in ROLE_LABELS:
        errors["role"] = "请选择角色。"
    dept = None
    if form.get("department_id"):
        try:
            dept = resolve_department(int(form["department_id"]))
        except (AccountError, ValueError):
            errors["department_id"] = "未知部门。"
    if role == "clerk" and dept is None and "department_id" not in errors:
        errors["department_id"] = "业务人员必须指定所属部门。"
    return errors, dept


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    errors, form = {}, request.form
    if request.method == "POST":
        errors, dept = _form_errors(form, True)
        if not errors:
            try:
                with write_transaction():
                    user = create_user(form.get("username", ""), form.get("password", ""), form["role"], dept,
                                       form.get("display_name") or None)
                    db.session.flush()
                    journal.record("user_create", "user", user.id, after=_user_after(user),
                                   department_id=user.department_id, summary=f"创建用户 {user.username}", index=False)
            except AccountError as exc:
                errors["username" if "用户名" in str(exc) else "password"] = str(exc)
            else:
                flash(f"已创建用户 {user.username}。", "success")
                return redirect_303(url_for("admin.users"))
    return render_template("admin/users/edit.html", user=None, form=form, errors=errors, departments=_departments(),
                           role_labels=ROLE_LABELS), (422 if errors else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id):
    user = db.session.get(User, user_id) or abort(404)
    errors = {}
    form = request.form if request.method == "POST" else {
        "role": user.role.value, "department_id": str(user.department_id or ""), "display_name": user.display_name or "",
        "active": "1" if user.active else ""}
    if request.method == "POST":
        errors, dept = _form_errors(form, False)
        new_password = form.get("password") or ""
        if not errors:
            try:
                with write_transaction():
                    user = db.session.get(User, user_id)
                    before = _user_after(user)
                    user.role, user.department = Role(form["role"]), dept
                    user.display_name = form.get("display_name") or None
                    user.active = form.get("active") == "1"
                    if new_password:
                        set_password(user, new_password)
                    elif before["role"] != user.role.value or before["active"] != user.active or \
                            before["department_id"] != (dept.id if dept else None):
                        end_sessions(user)  # rights changed: sign in again
                    after = _user_after(user)
                    journal.record("user_update", "user", user.id, before=before,
                                   after={**after, "password_reset": bool(new_password)}, department_id=user.department_id,
                                   summary=f"修改用户 {user.username}" + ("（重置密码）" if new_password else ""),
                                   index=False)
            except AccountError as exc:
                errors["password"] = str(exc)
            else:
                flash("已保存；该用户需要重新登录。", "success")
                return redirect_303(url_for("admin.users"))
    return render_template("admin/users/edit.html", user=user, form=form, errors=errors, departments=_departments(),
                           role_labels=ROLE_LABELS), (422 if errors else 200)
