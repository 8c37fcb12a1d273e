"""Option lists for back-office forms, limited to what the current user may use."""
from flask_login import current_user
from sqlalchemy import select

from ..auth.access import department_scope, role_of
from ..extensions import db
from ..models import CheckItem, Department, Plan, Task, VocabularyKind
from ..validation.loading import vocabulary


def departments():
    query = select(Department).order_by(Department.code)
    if role_of() == "clerk":
        query = query.where(Department.id == current_user.department_id)
    return [(d.id, f"{d.name}（{d.code}）") for d in db.session.execute(query).scalars()]


def all_departments():
    return [(d.id, f"{d.name}（{d.code}）") for d in
            db.session.execute(select(Department).order_by(Department.code)).scalars()]


def tasks():
    rows = db.session.execute(department_scope(select(Task), Task).order_by(Task.code.desc())).scalars()
    return [(t.id, f"{t.code} {t.title}") for t in rows]


def plans():
    rows = db.session.execute(department_scope(select(Plan), Plan).order_by(Plan.year.desc(), Plan.id.desc())).scalars()
    return [(p.id, f"{p.year} {p.title}") for p in rows]


def check_items():
    rows = db.session.execute(department_scope(select(CheckItem), CheckItem).order_by(CheckItem.code)).scalars()
    return [(i.id, f"{i.code} {i.name}") for i in rows]


def terms(kind: VocabularyKind, include=()):
    """(code, label) of a vocabulary's active terms (plus `include`, codes the record already uses):
    the same vocabulary the validators read (portal/validation/loading.py)."""
    return list(vocabulary(kind, include).items())


def labels(kind: VocabularyKind):
    """Options whose value is the label (for fields stored as labels, like follow-up or categories)."""
    return [(label, label) for _code, label in terms(kind)]
