"""Sign-in, sign-out and sessions.

The login id stored in the session is "user_id:session_version"; bumping the
user's session_version (logout, password change) invalidates every old cookie.
"""
from flask import Blueprint, g

from ..extensions import db, login_manager

bp = Blueprint("auth", __name__, url_prefix="/admin")


@login_manager.user_loader
def load_user(login_id: str):
    from ..models import User

    user_id, _, version = (login_id or "").partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    from .access import unauthorized_response

    return unauthorized_response()


@bp.before_app_request
def _fresh_request_state():
    """Forget per-request caches kept in `g` (the signed-in user, the CSRF token).

    A fresh app context per request makes this a no-op in production; under the
    test client, requests share the test's app context, and a user cached from
    an earlier request (or another client) must never be reused.
    """
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"

from . import views  # noqa: E402,F401
