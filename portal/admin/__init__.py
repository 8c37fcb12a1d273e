"""Back office (/admin): one module per section, all on this blueprint.

Every route here requires a signed-in user (checked before any view runs);
views add role checks with `portal.auth.access.roles_required`. Other teams
register their sections with `from portal.admin import bp` and an import line below.
"""
import time

from flask import Blueprint, current_app, session
from flask_login import current_user, logout_user

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_login():
    from ..auth.access import unauthorized_response

    if not current_user.is_authenticated:
        return unauthorized_response()
    # Idle timeout: a back-office session left alone expires (wall-clock time, not the demo clock).
    idle = current_app.config.get("ADMIN_IDLE_TIMEOUT_SECONDS", 4 * 3600)
    now = time.time()
    last = session.get("_seen")
    if idle and last is not None and now - float(last) > idle:
        logout_user()
        session.clear()
        return unauthorized_response()
    session["_seen"] = now
    return None


@bp.after_request
def _no_store(response):
    # Back-office pages carry internal data: never cache them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


from . import dashboard  # noqa: E402,F401
from . import results, penalties, plans, directory, users, vocabularies, audit  # noqa: E402,F401
from . import deadlines  # noqa: E402,F401
from . import uploads  # noqa: E402,F401
from . import draws  # noqa: E402,F401
from . import objections  # noqa: E402,F401
