"""Sign-in, sign-out and change-own-password pages."""
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from .. import journal
from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import User
from ..security import safe_next
from . import bp, throttle
from .access import roles_required, unauthorized_response
from .accounts import AccountError, burn_time, check_password, end_sessions, set_password


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a user to another site after sign-in."""
    return safe_next(target, url_for("admin.dashboard"))


def _remote_addr() -> str | None:
    return request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.values.get("next", "")
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, username="", error=None)
    username = (request.form.get("username") or "").strip()[:80]
    password = request.form.get("password") or ""
    now = utcnow()
    if throttle.is_blocked(username, _remote_addr(), now, current_app.config):
        with write_transaction():
            journal.record("login_blocked", "user", None, actor=username or "anonymous",
                           summary=f"登录被限制（失败次数过多）：{username}", index=False)
        return render_template("auth/login.html", next_url=next_url, username=username,
                               error="登录失败次数过多，请 15 分钟后再试。"), 429
    user = db.session.execute(select(User).where(User.username == username)).scalar() if username else None
    ok = user is not None and user.active and check_password(user, password)
    if user is None:
        burn_time(password)
    with write_transaction():
        if user is not None:
            user = db.session.get(User, user.id)
        throttle.record_attempt(username or "-", _remote_addr(), ok, now)
        if ok:
            user.last_login_at = now
            journal.record("login", "user", user.id, actor=user, summary=f"{user.username} 登录",
                           department_id=user.department_id, index=False)
        else:
            journal.record("login_failed", "user", user.id if user else None, actor=username or "anonymous",
                           summary=f"登录失败：{username}", index=False)
    if not ok:
        return render_template("auth/login.html", next_url=next_url, username=username,
                               error="用户名或密码不正确。"), 200
    login_user(user)
    session.permanent = False
    return redirect(_safe_next(next_url), code=303)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        with write_transaction():
            user = db.session.get(User, current_user.id)
            end_sessions(user)  # every copy of the old cookie stops working
            journal.record("logout", "user", user.id, actor=user, summary=f"{user.username} 退出登录",
                           department_id=user.department_id, index=False)
    logout_user()
    session.clear()
    flash("您已安全退出。", "info")
    response = redirect(url_for("auth.login"), code=303)
    if request.headers.get("HX-Request"):
        response.headers["HX-Redirect"] = url_for("auth.login")
    return response


@bp.route("/password", methods=["GET", "POST"])
@roles_required()
def change_password():
    errors = {}
    if request.method == "POST":
        old = request.form.get("old_password") or ""
        new = request.form.get("new_password") or ""
        confirm = request.form.get("confirm_password") or ""
        user = db.session.get(User, current_user.id)
        if not check_password(user, old):
            errors["old_password"] = "当前密码不正确。"
        if new != confirm:
            errors["confirm_password"] = "两次输入的新密码不一致。"
        if not errors:
            try:
                with write_transaction():
                    user = db.session.get(User, current_user.id)
                    set_password(user, new)
                    journal.record("password_change", "user", user.id, actor=user,
                                   summary=f"{user.username} 修改了密码", department_id=user.department_id,
                                   index=False)
            except AccountError as exc:
                errors["new_password"] = str(exc)
            else:
                # This browser continues with the new session version; every other session ends.
                login_user(db.session.get(User, user.id))
                flash("密码已修改，其他设备上的登录已失效。", "success")
                return redirect(url_for("admin.dashboard"), code=303)
    return render_template("auth/password.html", errors=errors), (422 if errors else 200)


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    message = "页面已过期或缺少安全校验（CSRF），请刷新页面后重试。"
    if request.path.endswith(".json"):
        return {"error": {"status": 400, "title": "安全校验失败", "message": message}}, 400
    return render_template("error.html", code=400, title="安全校验失败", message=message), 400


def _unauthorized():
    return unauthorized_response()
