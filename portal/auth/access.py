"""Who may do what: role checks for views and department scoping IN the queries.

- admin: everything; auditor: reads everything, writes nothing; clerk: only
  their department's records (joint tasks and plans: where the department takes part).
"""
from functools import wraps
from urllib.parse import urlencode, urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import false, or_, select, true

ADMIN, CLERK, AUDITOR = "admin", "clerk", "auditor"
WRITERS = (ADMIN, CLERK)
READERS = (ADMIN, CLERK, AUDITOR)


def role_of(user=None) -> str | None:
    user = current_user if user is None else user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user.role, "value", user.role)


def login_url(next_url: str | None = None) -> str:
    next_url = next_url if next_url is not None else request.full_path.rstrip("?")
    if request.headers.get("HX-Request") and request.headers.get("HX-Current-URL"):
        # Come back to the page the user was on, not to the fragment or POST URL htmx called.
        current = urlsplit(request.headers["HX-Current-URL"])
        next_url = current.path + ("?" + current.query if current.query else "")
    return url_for("auth.login") + "?" + urlencode({"next": next_url})


def unauthorized_response():
    """Anonymous (or expired) session: 302 to the login page, or HX-Redirect for htmx."""
    target = login_url()
    if request.headers.get("HX-Request"):
        response = redirect(target)
        response.status_code = 401
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def roles_required(*roles):
    """Require a signed-in user with one of `roles` (strings or Role members); none given = any role."""
    wanted = {getattr(r, "value", r) for r in roles}

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return unauthorized_response()
            if wanted and role_of() not in wanted:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = frozenset(wanted)
        return wrapped

    return decorator


def user_department_id(user=None):
    user = current_user if user is None else user
    return getattr(user, "department_id", None)


def scope_criterion(model, user=None):
    """SQL criterion limiting `model` rows to what `user` may see in the back office."""
    from ..models import AuditEvent, Draw, ImportBatch, Plan, Task, plan_department, task_department

    role = role_of(user)
    if role in (ADMIN, AUDITOR):
        return true()
    if role != CLERK:
        return false()
    dept = user_department_id(user)
    if dept is None:
        return false()
    if model is Task:
        return or_(Task.department_id == dept,
                   Task.id.in_(select(task_department.c.task_id).where(task_department.c.department_id == dept)))
    if model is Plan:
        return or_(Plan.department_id == dept,
                   Plan.id.in_(select(plan_department.c.plan_id).where(plan_department.c.department_id == dept)))
    if model is Draw:
        return Draw.task_id.in_(select(Task.id).where(scope_criterion(Task, user)))
    if model in (AuditEvent, ImportBatch) or hasattr(model, "department_id"):
        return model.department_id == dept
    # Shared directories without an owner (entities): every clerk may read them.
    return true()


def department_scope(query, model, user=None):
    """Limit a Select (or Query) over `model` to the current user's records."""
    return query.where(scope_criterion(model, user))


def _record_department_ids(record) -> set:
    from ..models import Draw, Plan, Task

    if isinstance(record, (Task, Plan)):
        ids = {record.department_id}
        ids.update(d.id for d in (record.departments if isinstance(record, Task) else record.participants))
        return ids
    if isinstance(record, Draw):
        return _record_department_ids(record.task)
    dept = getattr(record, "department_id", None)
    return {dept} if dept is not None else set()


def can_read(record, user=None) -> bool:
    role = role_of(user)
    if role in (ADMIN, AUDITOR):
        return True
    if role != CLERK:
        return False
    if not hasattr(record, "department_id") and not hasattr(record, "task"):
        return True  # shared directory (entities)
    return user_department_id(user) in _record_department_ids(record)


def can_edit(record, user=None) -> bool:
    """Admins edit everything, auditors nothing, clerks their own department's records only."""
    role = role_of(user)
    if role == ADMIN:
        return True
    if role != CLERK:
        return False
    from ..models import Plan, Task

    dept = user_department_id(user)
    if isinstance(record, (Task, Plan)):
        # A joint task or plan is edited by its lead department; participants read it.
        return record.department_id == dept
    if not hasattr(record, "department_id") and not hasattr(record, "task"):
        return True  # shared directory (entities)
    return dept in _record_department_ids(record)


def get_scoped_or_404(model, record_id, user=None):
    """Load one record the user may read; 404 otherwise (a forged id learns nothing)."""
    from ..extensions import db

    row = db.session.execute(
        department_scope(select(model).where(model.id == record_id), model, user)).scalar()
    if row is None:
        abort(404)
    return row


def require_edit(record, user=None):
    if not can_edit(record, user):
        abort(403)
    return record
