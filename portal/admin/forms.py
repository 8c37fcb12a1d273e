"""Plain form handling for the back office: field definitions, parsing with Chinese messages, masking.

Flask-WTF's CSRFProtect guards every POST; these helpers only turn form data into
values and inline error messages, keeping what the clerk typed on error. Record kinds that
are also imported (results, penalties, entities, inspectors) are validated by the one
validator of portal/validation: `collect` gathers what was typed, `apply_checked` maps the
validator's problems and maskings back onto the form's fields.
"""
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask import abort

from ..domain.dates import parse_date
from ..validation import Checked, public_text


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, date, int, decimal, select, multi, bool
    required: bool = False
    choices: object = None  # list of (value, label) or a callable returning it
    masked: bool = False  # free text shown publicly: ID-card and phone numbers are masked
    help: str = ""
    max_length: int | None = 200
    scoped: bool = False  # a value outside the choices is a forged reference: 403, nothing changes
    placeholder: str = ""

    def options(self):
        opts = self.choices() if callable(self.choices) else (self.choices or [])
        return [(str(v), label) for v, label in opts]


@dataclass
class FormResult:
    values: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    masked: dict = field(default_factory=dict)  # name -> [validation.Masking]
    warnings: dict = field(default_factory=dict)  # name -> message the clerk must confirm (accept_warnings)
    fixes: dict = field(default_factory=dict)  # name -> how to fix the error or warning

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_field(f: Field, form, result: FormResult, public=()) -> None:
    if f.kind == "multi":
        raw = [v for v in form.getlist(f.name) if v != ""]
        result.raw[f.name] = raw
        allowed = {v for v, _ in f.options()}
        bad = [v for v in raw if v not in allowed]
        if bad:
            if f.scoped:
                abort(403)
            result.errors[f.name] = f"{f.label}中有无效的选项，请从列表中选择。"
            return
        if f.required and not raw:
            result.errors[f.name] = f"请至少选择一项{f.label}。"
            return
        result.values[f.name] = raw
        return
    if f.kind == "bool":
        result.raw[f.name] = form.get(f.name) in ("1", "on", "true", "y")
        result.values[f.name] = result.raw[f.name]
        return
    raw = (form.get(f.name) or "")
    raw = raw.strip() if f.kind != "textarea" else raw.strip("\r\n ")
    result.raw[f.name] = raw
    if raw == "":
        if f.required:
            result.errors[f.name] = f"请填写{f.label}。" if f.kind != "select" else f"请选择{f.label}。"
        result.values[f.name] = None
        return
    if f.max_length and f.kind in ("text", "textarea") and len(raw) > f.max_length:
        result.errors[f.name] = f"{f.label}不能超过 {f.max_length} 个字符（现有 {len(raw)} 个）。"
        return
    try:
        if f.kind == "date":
            value = parse_date(raw)
        elif f.kind == "int":
            value = int(raw)
        elif f.kind == "decimal":
            value = Decimal(raw.replace(",", "").replace("，", ""))
            if not value.is_finite() or value < 0:
                raise InvalidOperation
            value = value.quantize(Decimal("0.01"))
        elif f.kind == "select":
            if raw not in {v for v, _ in f.options()}:
                if f.scoped:
                    abort(403)
                raise ValueError(f"请从列表中选择{f.label}。")
            value = raw
        else:
            value = raw
    except InvalidOperation:
        result.errors[f.name] = f"{f.label}应为不小于 0 的金额，例如 5000 或 5000.50。"
        return
    except ValueError as exc:
        message = str(exc)
        if f.kind == "int" and "invalid literal" in message:
            message = f"{f.label}应为整数。"
        result.errors[f.name] = message
        return
    if (f.masked or f.name in public) and isinstance(value, str):
        checked = Checked()
        value = public_text(value, f.name, checked)
        if checked.maskings:
            result.masked[f.name] = checked.maskings
            result.raw[f.name] = value
    result.values[f.name] = value


def parse_form(fields, form, public=()) -> FormResult:
    """Parse every field; the names in `public` are free text a public channel shows: masked."""
    result = FormResult()
    for f in fields:
        parse_field(f, form, result, public)
    return result


def collect(fields, form) -> FormResult:
    """What was submitted, as text or lists, for a form whose values a record validator checks.

    Only the choice fields are checked here: a value outside a scoped field's choices is a forged
    reference (403, nothing changes); one outside other choices is an error message.
    """
    result = FormResult()
    for f in fields:
        if f.kind == "multi":
            raw = [v for v in form.getlist(f.name) if v != ""]
            if any(v not in {o for o, _ in f.options()} for v in raw):
                if f.scoped:
                    abort(403)
                result.errors[f.name] = f"{f.label}中有无效的选项，请从列表中选择。"
        elif f.kind == "bool":
            raw = form.get(f.name) in ("1", "on", "true", "y")
        else:
            raw = (form.get(f.name) or "")
            raw = raw.strip() if f.kind != "textarea" else raw.strip("\r\n ")
            if f.kind == "select" and raw and raw not in {o for o, _ in f.options()}:
                if f.scoped:
                    abort(403)
                result.errors[f.name] = f"请从列表中选择{f.label}。"
        result.raw[f.name] = raw
        result.values[f.name] = raw
    return result


def apply_checked(result: FormResult, checked, field_of: dict) -> None:
    """Put a validator's outcome on the form: values by key, problems and maskings by field name.

    `field_of` maps validator keys to form field names where they differ. A problem about no
    field of the form is shown above it (name "").
    """
    names = set(result.raw)
    result.values = {**checked.defaults, **checked.values}
    for problem in checked.problems:
        name = field_of.get(problem.key, problem.key)
        name = name if name in names else ""
        target = result.errors if problem.is_error else result.warnings
        target[name] = f"{target[name]}；{problem.message}" if name in target else problem.message
        if problem.fix:
            result.fixes.setdefault(name, problem.fix)
    for masking in checked.maskings:
        name = field_of.get(masking.key, masking.key)
        result.masked.setdefault(name, []).append(masking)
        if masking.key in checked.display:
            result.raw[name] = checked.display[masking.key]  # the clerk sees and resubmits the masked text
