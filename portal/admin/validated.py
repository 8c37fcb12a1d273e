"""Back-office sections whose forms run the record kind's one validator (portal/validation).

Results, penalties, entities and inspectors are also imported from spreadsheets; their forms
and the importers share one validator, so a limit, a warning, a list separator or a masked
field can never differ between the two paths. A section says which form fields map onto which
validator keys, which department the record is validated for, and turns the checked values into
ORM references; warnings need the clerk's confirmation (accept_warnings) like in the upload preview.
"""
from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from .. import clock
from ..auth.access import role_of
from ..extensions import db
from ..models import Department
from ..validation import validate
from ..validation.loading import load_lookups
from .crud import Section
from .forms import apply_checked, collect


class ValidatedSection(Section):
    validator = ""            # the record kind in portal.validation
    field_keys: dict = {}     # form field name → validator key, where they differ
    section_fields = frozenset({"department_id"})  # form fields the validator does not read

    # --- overridables -------------------------------------------------------------
    def department_for(self, result, record) -> Department | None:
        """The department the record is validated for: the clerk's own, or the one an admin chose."""
        if role_of() == "clerk":
            return db.session.get(Department, current_user.department_id)
        value = result.raw.get("department_id")
        if value and "department_id" not in result.errors and str(value).isdigit():
            return db.session.get(Department, int(value))
        if record is not None and getattr(record, "department_id", None):
            return db.session.get(Department, record.department_id)
        result.errors["department_id"] = "请选择所属部门。"
        return None

    def validator_input(self, result, record) -> dict:
        return {self.field_keys.get(name, name): value for name, value in result.raw.items()
                if name not in self.section_fields}

    def lookups(self, raw, department, record):
        return load_lookups(self.validator, department, usccs=[raw.get("uscc")] if raw.get("uscc") else [],
                            task_codes=[raw["task_code"]] if raw.get("task_code") else [])

    def references(self, result, record, department) -> dict:
        """ORM objects and checks that need the database (e.g. a natural key already taken)."""
        return {"department_id": department.id if department is not None else None}

    # --- plumbing ------------------------------------------------------------------
    def check(self, form, record):
        result = collect(self.fields(record), form)
        department = self.department_for(result, record)
        raw = self.validator_input(result, record)
        lookups = self.lookups(raw, department, record)
        checked = validate(self.validator, raw, lookups, clock.today())
        errors_before = dict(result.errors)
        apply_checked(result, checked, {key: name for name, key in self.field_keys.items()})
        result.errors.update(errors_before)
        refs = self.references(result, record, department) if result.ok else {}
        return result, refs

    def view_validate(self):
        """htmx: run the validator on the form as typed so far; answer one field's message."""
        name = request.args.get("field", "")
        if name not in {f.name for f in self.fields(None)}:
            abort(404)
        result = collect(self.fields(None), request.form)
        department = self.department_for(result, None)
        result.errors.pop("department_id", None)
        raw = self.validator_input(result, None)
        checked = validate(self.validator, raw, self.lookups(raw, department, None), clock.today())
        apply_checked(result, checked, {key: field for field, key in self.field_keys.items()})
        return render_template("admin/crud/_field_message.html", name=name, error=result.errors.get(name),
                               masked=result.masked.get(name), warning=result.warnings.get(name),
                               fix=result.fixes.get(name))
