"""Sign-in, sign-out and change-own-password pages."""
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from .. import journal, limits
from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import SigninOutcome, User
from ..security import safe_next
from . import bp, signins, throttle
from .access import roles_required, unauthorized_response
from .accounts import AccountError, burn_time, check_password, end_sessions, rehashed, set_password


# Seconds a sign-in refused because every password-check slot was busy is told to wait.
BUSY_RETRY_SECONDS = 2


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a user to another site after sign-in."""
    return safe_next(target, url_for("admin.dashboard"))


def _find_user(username: str) -> User | None:
    if not username:
        return None
    user = db.session.execute(select(User).where(User.username == username)).scalar()
    if user is not None:
        db.session.expunge(user)  # keep its loaded fields; the read itself ends now
    db.session.rollback()  # the attempt is recorded in a short transaction of its own
    return user


def _refused(next_url: str, username: str, message: str, retry_after: int):
    """429 with the sign-in form and the reason, and Retry-After."""
    page = render_template("auth/login.html", next_url=next_url, username=username, error=message)
    return limits.refusal(message, retry_after, html_response=page)


@bp.errorhandler(RateLimitExceeded)
def _too_many_signins(_error):
    """The per-address limit on sign-in POSTs (portal/limits.py): answer with the form."""
    seconds = limits.retry_after_seconds()
    return _refused(request.values.get("next", ""), (request.form.get("username") or "").strip()[:80],
                    f"登录尝试过于频繁，请 {limits.wait_text(seconds)}后再试。", seconds)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in. Throttled per account+address (never per account alone: see portal/domain/signin.py)."""
    next_url = request.values.get("next", "")
    if request.method == "GET":
        return render_template("auth/login.html", next_url=next_url, username="", error=None)
    username = (request.form.get("username") or "").strip()[:80]
    password = request.form.get("password") or ""
    address = limits.client_address()
    now = utcnow()  # wall-clock time, not the demo clock: back-off must run out
    store = throttle.backoff_store()
    user = _find_user(username)

    wait = store.state(username, address, now).wait_seconds(now)
    if wait:
        signins.record(SigninOutcome.REFUSED, username, address, now, user)
        return _refused(next_url, username,
                        f"该账号从您所在网络登录失败次数过多，请 {limits.wait_text(wait)}后再试。", wait)
    with throttle.hash_slot(current_app.instance_path, current_app.config["SIGNIN_HASH_SLOTS"]) as free:
        if not free:
            signins.record(SigninOutcome.REFUSED, username, address, now, user)
            return _refused(next_url, username, "当前登录请求较多，请稍后再试。", BUSY_RETRY_SECONDS)
        ok = user is not None and user.active and check_password(user, password)
        if user is None:
            burn_time(password)  # unknown names answer as slowly as known ones

    if not ok:
        state = store.failed(username, address, now)
        signins.record(SigninOutcome.FAILURE, username, address, now, user)
        error = "用户名或密码不正确。"
        wait = state.wait_seconds(now)
        if wait:
            error += f"为保护账号，请 {limits.wait_text(wait)}后再试。"
        return render_template("auth/login.html", next_url=next_url, username=username, error=error), 200
    store.succeeded(username, address)
    signins.record(SigninOutcome.SUCCESS, username, address, now, user, rehashed(user, password))
    login_user(db.session.get(User, user.id))
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
