"""A small engine for the back-office sections: list, create, edit, lifecycle actions.

Each section (results, penalties, …) describes its fields and how values map onto
its model; this module registers the routes on the admin blueprint, checks roles
and department scope, runs every write in one `write_transaction()` with a journal
event, and answers 303 (or HX-Redirect for htmx).
"""
from abc import ABC, abstractmethod
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import journal, lifecycle
from ..auth.access import READERS, WRITERS, can_edit, department_scope, get_scoped_or_404, role_of, roles_required
from ..database import write_transaction
from ..extensions import db
from ..web import Page, paging_from_request
from . import bp
from ..validation import Checked, public_text
from ..validation.public_fields import PUBLIC_TEXT
from .forms import parse_form

STATUS_LABELS = {"draft": "草稿", "published": "已发布", "withdrawn": "已撤回"}


def redirect_303(target: str):
    response = redirect(target, code=303)
    if request.headers.get("HX-Request"):
        response.headers["HX-Redirect"] = target
    return response


def flash_masked(what: str, text: str) -> None:
    """Tell the clerk what was masked in a reason that lifecycle actions publish (they mask it too)."""
    checked = Checked()
    public_text(text, "", checked)
    if checked.maskings:
        found = "；".join(f"{m.label} {m.masked}" for m in checked.maskings)
        flash(f"{what}中的个人信息已遮蔽后公开：{found}", "info")


def forbid_foreign_department(form=None) -> None:
    """A clerk may not post another department's id (form field or hx-vals): 403, nothing changes."""
    form = request.form if form is None else form
    if role_of() != "clerk":
        return
    for key in ("department_id", "department"):
        if key in form and form.get(key) not in ("", str(current_user.department_id),
                                                  getattr(current_user.department, "code", None)):
            abort(403)


STATUS_CHOICES = [("draft", "草稿"), ("published", "已发布"), ("withdrawn", "已撤回")]
STATUS_FILTER = ("status", "状态", STATUS_CHOICES)  # list filter of every publishable section


class Section(ABC):
    kind = ""  # journal record kind
    model = None
    url = ""  # /admin/<url>
    singular = ""  # endpoint prefix, e.g. "result"
    title = ""
    publishable = True
    admin_only = False
    per_page = 30

    # --- overridables -------------------------------------------------------------
    def fields(self, record=None):
        return []

    def list_query(self, args):
        return select(self.model)

    def order(self):
        return (self.model.id.desc(),)

    def filter_status(self, query, args):
        """The lifecycle-status filter (STATUS_FILTER) of a publishable section's list."""
        if args.get("status") in {value for value, _ in STATUS_CHOICES}:
            query = query.where(self.model.status == args["status"])
        return query

    def columns(self):
        """[(label, callable(record) -> str)] for the list table (escaped by the template)."""
        return []

    def filters(self):
        """[(name, label, options or None)] shown above the list (GET form)."""
        return []

    def form_values(self, record) -> dict:
        return {f.name: getattr(record, f.name, None) for f in self.fields(record)}

    def validate(self, result, record):
        """Cross-field checks and reference lookups; return extra values (e.g. resolved objects)."""
        return {}

    def check(self, form, record):
        """Parse and validate a submitted form: (FormResult, refs). Sections whose records are also
        imported override this to run the one validator of portal/validation."""
        result = parse_form(self.fields(record), form, public=PUBLIC_TEXT.get(self.kind, ()))
        refs = self.validate(result, record) if result.ok else {}
        return result, refs

    def may_create(self) -> bool:
        """May the signed-in user create a record here (besides the section's write roles)?"""
        return True

    def may_edit(self, record) -> bool:
        """May the signed-in user change this record? Department scope by default."""
        return can_edit(record)

    def after_write(self, record, before, form, created: bool):
        """Called inside the write transaction after a create or a draft update (e.g. keep a version)."""

    @abstractmethod
    def create(self, values, refs):
        """Build the new record from validated values (added to the session by the caller)."""

    @abstractmethod
    def update(self, record, values, refs):
        """Apply validated values to an existing record."""

    def changes(self, record, values, refs) -> dict:
        """For a published record: the changes passed to lifecycle.correct()."""
        return {k: v for k, v in values.items() if k in {c.key for c in self.model.__table__.columns}}

    def label(self, record) -> str:
        return f"#{record.id}"

    def department_id(self, record):
        return getattr(record, "department_id", None)

    def extra_context(self, record):
        return {}

    def check_field(self, name, value) -> str | None:
        """Extra single-field check for inline (htmx) validation; a Chinese message or None."""
        if name in ("uscc", "entity_uscc"):
            from ..domain import uscc as uscc_mod
            from ..models import Entity
            try:
                code = uscc_mod.validate(value)
            except uscc_mod.CodeProblem as exc:
                return str(exc)
            if name == "entity_uscc" and db.session.execute(select(Entity.id).where(Entity.uscc == code)).first() is None:
                return f"名录库中没有统一社会信用代码为 {code} 的检查对象。"
        return None

    def defaults(self) -> dict:
        """Initial form values for a new record."""
        return {}

    def snapshot(self, record) -> dict:
        return lifecycle.snapshot(self.kind, record) if self.kind in lifecycle.KINDS else journal._plain(
            {c.key: getattr(record, c.key) for c in self.model.__table__.columns if c.key not in ("created_at", "updated_at")})

    # --- plumbing ------------------------------------------------------------------
    @property
    def read_roles(self):
        return ("admin",) if self.admin_only else READERS

    @property
    def write_roles(self):
        return ("admin",) if self.admin_only else WRITERS

    def scoped(self, query):
        return department_scope(query, self.model)

    def get(self, record_id):
        return get_scoped_or_404(self.model, record_id)

    def templates(self, name):
        return [f"admin/{self.url}/{name}.html", f"admin/crud/{name}.html"]

    def render_form(self, record, result=None, status=200, reason_error=None):
        fields = self.fields(record)
        raw = result.raw if result else ({f.name: _display(getattr(self, "_raw_value", None), f, v)
                                          for f, v in ((f, self.form_values(record).get(f.name)) for f in fields)}
                                         if record is not None else dict(self.defaults()))
        context = dict(section=self, record=record, fields=fields, raw=raw,
                       errors=result.errors if result else {}, masked=result.masked if result else {},
                       warnings=result.warnings if result else {}, fixes=result.fixes if result else {},
                       reason_error=reason_error, status_labels=STATUS_LABELS,
                       editable=self.may_create() if record is None else self.may_edit(record),
                       withhold_reasons=lifecycle.WITHHOLD_REASONS)
        if record is not None:
            context.update(self.extra_context(record))
        return render_template(self.templates("edit"), **context), status

    # --- views ---------------------------------------------------------------------
    def view_list(self):
        query = self.scoped(self.list_query(request.args))
        paging = paging_from_request(self.per_page, 200)
        total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar()
        rows = db.session.execute(query.order_by(*self.order()).limit(paging.per_page)
                                  .offset(paging.offset)).scalars().all()
        page = Page(rows, total, paging.page, paging.per_page)
        template = self.templates("_rows") if request.headers.get("HX-Request") and \
            not request.headers.get("HX-History-Restore-Request") else self.templates("list")
        return render_template(template, section=self, page=page, status_labels=STATUS_LABELS)

    def export_options(self):
        """Loader options for the CSV export: the relationships `columns()` reads, loaded in batches."""
        return ()

    def view_export(self):
        """The user's scoped list (same filters) as CSV: a clerk exports only their department's rows.

        The rows are read inside the generator: a streamed body outlives the request's database
        session, so objects loaded before returning would be detached (DetachedInstanceError on
        the first lazy relationship).
        """
        from ..exports import csv_response

        query = self.scoped(self.list_query(request.args)).order_by(*self.order()).options(*self.export_options())
        columns = self.columns()
        header = ["记录编号"] + [label for label, _ in columns] + (["状态"] if self.publishable else [])

        def cells():
            rows = db.session.execute(query.execution_options(yield_per=500)).scalars()
            for row in rows:
                yield [row.id] + [getter(row) for _, getter in columns] + (
                    [STATUS_LABELS[row.status.value] + ("（不予公开）" if row.withheld else "")]
                    if self.publishable else [])

        return csv_response(f"{self.url}.csv", header, cells())

    def _must_confirm(self, result) -> bool:
        """Show the form again (200) when something was masked or a warning is not yet accepted."""
        return bool(result.masked) or (bool(result.warnings) and request.form.get("accept_warnings") != "1")

    def view_new(self):
        if not self.may_create():
            abort(403)
        if request.method == "GET":
            return self.render_form(None)
        forbid_foreign_department()
        result, refs = self.check(request.form, None)
        if not result.ok:
            return self.render_form(None, result, 422)
        if self._must_confirm(result):
            return self.render_form(None, result, 200)  # show what was masked or needs confirming
        with write_transaction():
            record = self.create(result.values, refs)
            db.session.flush()
            self.after_write(record, None, request.form, created=True)
            journal.record("create", self.kind, record.id, after=self.snapshot(record),
                           department_id=self.department_id(record), summary=f"新建{self.title} {self.label(record)}")
        flash(f"已保存{self.title}“{self.label(record)}”（草稿，尚未公开）。" if self.publishable
              else f"已保存{self.title}“{self.label(record)}”。", "success")
        return redirect_303(url_for(f"admin.{self.singular}_edit", record_id=record.id))

    def view_edit(self, record_id):
        record = self.get(record_id)
        if request.method == "GET":
            return self.render_form(record)
        if not self.may_edit(record):
            abort(403)
        forbid_foreign_department()
        result, refs = self.check(request.form, record)
        status = getattr(getattr(record, "status", None), "value", None)
        reason = (request.form.get("correction_reason") or "").strip()
        reason_error = None
        if self.publishable and status == "published" and not reason:
            reason_error = "该记录已公开，修改将作为“更正”公示，请填写更正原因。"
        if self.publishable and status == "withdrawn":
            abort(409)
        if not result.ok or reason_error:
            return self.render_form(record, result, 422, reason_error)
        if self._must_confirm(result):
            return self.render_form(record, result, 200)
        with write_transaction():
            record = self.get(record_id)
            if self.publishable and status == "published":
                lifecycle.correct(self.kind, record, self.changes(record, result.values, refs), reason)
            else:
                before = self.snapshot(record)
                self.update(record, result.values, refs)
                db.session.flush()
                self.after_write(record, before, request.form, created=False)
                after = self.snapshot(record)
                changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
                journal.record("update", self.kind, record.id, before={k: before.get(k) for k in changed},
                               after={k: after.get(k) for k in changed}, department_id=self.department_id(record),
                               summary=f"修改{self.title} {self.label(record)}")
        flash("已更正并保留原版本。" if status == "published" else "已保存修改。", "success")
        if status == "published":
            flash_masked("更正原因", reason)
        return redirect_303(url_for(f"admin.{self.singular}_edit", record_id=record_id))

    def view_action(self, record_id, action):
        record = self.get(record_id)
        if not self.may_edit(record):
            abort(403)
        if not self.publishable or action not in ("publish", "withdraw", "withhold"):
            abort(404)
        reason = (request.form.get("reason") or "").strip()
        try:
            with write_transaction():
                record = self.get(record_id)
                if action == "publish":
                    lifecycle.publish(self.kind, record)
                elif action == "withdraw":
                    lifecycle.withdraw(self.kind, record, reason)
                else:
                    lifecycle.withhold(self.kind, record, reason)
        except lifecycle.LifecycleError as exc:
            flash(str(exc), "error")
        else:
            flash({"publish": "已发布，公众现在可以看到该记录。", "withdraw": "已撤回，公开页面仅保留撤回说明。",
                   "withhold": "已决定不予公开，该记录不会出现在任何公开渠道。"}[action], "success")
            if action == "withdraw":
                flash_masked("撤回原因", reason)
        return redirect_303(url_for(f"admin.{self.singular}_edit", record_id=record_id))

    def view_validate(self):
        """htmx: validate one field on change and return its inline message."""
        name = request.args.get("field", "")
        fields = {f.name: f for f in self.fields(None)}
        if name not in fields:
            abort(404)
        result = parse_form([fields[name]], request.form, public=PUBLIC_TEXT.get(self.kind, ()))
        if not result.errors.get(name) and result.values.get(name) is not None:
            message = self.check_field(name, result.values[name])
            if message:
                result.errors[name] = message
        return render_template("admin/crud/_field_message.html", name=name, error=result.errors.get(name),
                               masked=result.masked.get(name))

    def register(self):
        s = self
        read, write = s.read_roles, s.write_roles
        bp.add_url_rule(f"/{s.url}", s.url, roles_required(*read)(lambda: s.view_list()), methods=["GET"])
        bp.add_url_rule(f"/{s.url}.csv", f"{s.singular}_export", roles_required(*read)(lambda: s.view_export()),
                        methods=["GET"])
        bp.add_url_rule(f"/{s.url}/new", f"{s.singular}_new", roles_required(*write)(lambda: s.view_new()),
                        methods=["GET", "POST"])
        bp.add_url_rule(f"/{s.url}/validate", f"{s.singular}_validate",
                        roles_required(*write)(lambda: s.view_validate()), methods=["POST"])

        def edit(record_id):
            if request.method == "POST" and role_of() not in write:
                abort(403)
            return s.view_edit(record_id)

        bp.add_url_rule(f"/{s.url}/<int:record_id>", f"{s.singular}_edit", roles_required(*read)(edit),
                        methods=["GET", "POST"])
        if s.publishable:
            bp.add_url_rule(f"/{s.url}/<int:record_id>/<action>", f"{s.singular}_action",
                            roles_required(*write)(lambda record_id, action: s.view_action(record_id, action)),
                            methods=["POST"])
        return s


def _display(_unused, f, value):
    """A stored value as the text a form field shows."""
    if value is None:
        return [] if f.kind == "multi" else ""
    if f.kind == "multi":
        return [str(v) for v in value]
    if f.kind == "bool":
        return bool(value)
    if f.kind == "date":
        return value.isoformat()
    return str(getattr(value, "value", value))
