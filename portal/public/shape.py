"""One public shape per record kind (SPEC §6): the single allow-list of public fields.

Every public channel renders a record through `shape(kind, record, now)`: detail pages and
their htmx fragments, `.json`, the streamed `.csv` lists (portal.queries.iter_* build the
same dict from Core rows and pass it through `restrict`), kept versions of corrected records
(`shape_version`), feed entries, the entity page and the draw certificate's entity names.
A field that is not in `FIELDS[kind]` is never public, whatever channel shows it; internal
columns (`party_kind`, `entity_id`, `credit_repair_reason`, `withheld_reason`, an operator's
name …) never reach a public body.

The natural-person rule lives here once (`party_display`): a penalty's natural-person party
appears as surname + 某 (李某); an individual business appears under its business name, never
its operator's personal name (that appears only on the entity's own page, `own_page=True`).

Plain Python, no Flask: `now` is passed in, and the computed fields that need the database in
batches (`disclosure`, `objection`) are passed as `extras` by the caller.
"""
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from ..domain.masking import mask_text, may_contain_identifier
from ..domain.visibility import public_state, task_named_beside_result
from ..models import EntityType

# The allow-list. Order is the order of the JSON keys. Detail-only keys (a task's draw and
# results, a plan's tasks, `previous_versions`) and the computed `disclosure` / `objection`
# are listed too: a key outside this list is dropped by `restrict`, whatever added it.
FIELDS: dict[str, tuple[str, ...]] = {
    "item": ("id", "code", "name", "department_code", "department", "legal_basis", "target_type", "content",
             "method", "kind", "ratio_frequency", "inspector_requirements", "effective_from", "version",
             "previous_versions"),
    "plan": ("id", "url", "year", "title", "department_code", "department", "participants", "approval_date",
             "description", "task_count", "published_at", "corrected_at", "version",
             "tasks", "previous_versions", "disclosure"),
    "task": ("id", "code", "url", "title", "year", "plan_id", "temporary", "surprise", "joint", "department_code",
             "department", "departments", "check_items", "period_start", "period_end", "inspectors_per_target",
             "description", "published_at", "corrected_at", "version",
             "draw", "superseded_draws", "draws", "results", "previous_versions", "disclosure"),
    "result": ("id", "url", "task_code", "task_title", "department_code", "department", "uscc", "entity_name",
               "entity_type", "region_code", "check_items", "inspection_date", "formed_date", "conclusions",
               "remark", "verification_method", "follow_up", "findings", "inspectors", "published_at",
               "corrected_at", "version", "previous_versions", "disclosure", "objection"),
    "penalty": ("id", "url", "decision_no", "uscc", "party_name", "violation_type", "facts", "legal_basis",
                "categories", "fine_amount", "confiscation_amount", "decision_date", "authority",
                "department_code", "department", "task_code", "publicity_end", "published_at", "corrected_at",
                "version", "previous_versions", "disclosure", "objection"),
    # operator_name: an individual business's operator, on the entity's own page only (own_page=True).
    "entity": ("uscc", "url", "name", "entity_type", "region_code", "industry", "registration_status",
               "established_on", "operator_name", "draws", "results", "penalties"),
}
KINDS = tuple(FIELDS)
# Fields that describe the record now rather than its content: a kept version leaves them out.
COMPUTED = ("previous_versions", "disclosure", "objection", "tasks", "draw", "superseded_draws", "draws",
            "results", "task_count")
# Names of internal columns: never a key of any public body (tests walk every channel for them).
INTERNAL = ("party_kind", "entity_id", "credit_repair_reason", "credit_repair_date", "withheld_reason",
            "withdrawal_reason", "restriction_end", "result_id", "department_id", "task_id", "operator_name",
            "legal_representative", "id_card_no", "risk_class", "registered_by_id")

NATURAL_PERSON = "natural_person"
UNNAMED_PERSON = "当事人（自然人）"
# Two-character surnames, so 欧阳明 appears as 欧阳某 (not 欧某).
COMPOUND_SURNAMES = frozenset((
    "欧阳", "太史", "端木", "上官", "司马", "东方", "独孤", "南宫", "万俟", "闻人", "夏侯", "诸葛", "尉迟", "公羊",
    "赫连", "澹台", "皇甫", "宗政", "濮阳", "公冶", "太叔", "申屠", "公孙", "慕容", "仲孙", "钟离", "长孙", "宇文",
    "司徒", "鲜于", "司空", "闾丘", "子车", "亓官", "司寇", "巫马", "公西", "颛孙", "壤驷", "公良", "漆雕", "乐正",
    "宰父", "谷梁", "拓跋", "夹谷", "轩辕", "令狐", "段干", "百里", "呼延", "东郭", "南门", "羊舌", "微生", "梁丘",
    "左丘", "东门", "西门", "南荣", "第五", "呼衍", "单于"))


# ---------------------------------------------------------------- value forms

def iso(value):
    """A date or timestamp as ISO 8601 (a kept version already holds the text)."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def money(value):
    """Yuan with two decimals, as text (None stays None)."""
    if value is None or value == "":
        return None
    try:
        return f"{Decimal(str(value)):.2f}"
    except InvalidOperation:
        return None


def enum_value(value):
    return getattr(value, "value", value)


# ---------------------------------------------------------------- the natural-person rule

def surname_mask(name) -> str:
    """李小红 → 李某, 欧阳明 → 欧阳某; an already anonymous form (张某, 某自然人) stays as it is."""
    text = "".join(str(name or "").split())
    if not text:
        return UNNAMED_PERSON
    if "某" in text:
        return text[:text.index("某") + 1] if text.index("某") > 0 else text
    surname = text[:2] if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else text[0]
    return surname + "某"


def party_display(party_name, party_kind, entity_type=None, entity_name=None) -> str:
    """A penalty's party as every public channel names it (SPEC §6), list rows included."""
    if enum_value(entity_type) == EntityType.INDIVIDUAL.value and entity_name:
        return _masked(entity_name)  # an individual business under its business name, never its operator
    if enum_value(party_kind) == NATURAL_PERSON:
        return surname_mask(party_name)
    return _masked(party_name)


def penalty_party(penalty) -> str:
    entity = penalty.entity
    return party_display(penalty.party_name, penalty.party_kind, entity.entity_type if entity else None,
                         entity.name if entity else None)


# ---------------------------------------------------------------- the shape

# Free text a clerk typed (the public fields of validation.public_fields.PUBLIC_TEXT): stored
# masked whatever path wrote it; masked again here as a second net (a row written before the
# masking rules, a bulk load), on every channel alike.
MASKED_TEXT = {
    "result": ("entity_name", "remark", "verification_method", "follow_up", "findings"),
    "penalty": ("party_name", "violation_type", "facts", "legal_basis", "authority"),
    "plan": ("title", "description"),
    "task": ("title", "description"),
    "item": ("name", "legal_basis", "target_type", "content", "ratio_frequency", "inspector_requirements"),
    "entity": ("name",),
}


def _masked(value):
    if isinstance(value, str):
        # The cheap test first keeps the common case (no long number at all) fast for big CSVs.
        return mask_text(value).text if may_contain_identifier(value) else value
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: (_masked(v) if k == "text" else v) for k, v in value.items()}
    return value


def public_name(name):
    """An entity's name where a record shows it (a drawn list, a task's results, the fairness
    tables): masked again like on the entity's own page and in a result's shape, so a name a bulk
    load stored unmasked reads the same on every channel."""
    return _masked(name)


_ALLOWED = {kind: frozenset(keys) for kind, keys in FIELDS.items()}
_MASKED = {kind: frozenset(MASKED_TEXT.get(kind, ())) for kind in FIELDS}


def restrict(kind: str, data: dict) -> dict:
    """Only the allow-listed keys of `kind`, in the order given, free text masked."""
    allowed, masked = _ALLOWED[kind], _MASKED[kind]
    return {key: (_masked(value) if key in masked else value) for key, value in data.items() if key in allowed}


def shape(kind: str, record, now: datetime, *, extras: dict | None = None, own_page: bool = False) -> dict:
    """The public fields of `record` (a model instance, or a kept version read by `shape_version`).

    `extras`: computed public fields given by the caller (`disclosure`, `objection`, detail-only
    keys); they go through the allow-list like the rest. `own_page`: the entity's own page
    (the only place an individual business's operator name appears)."""
    if kind not in _BUILDERS:
        raise ValueError(f"no public shape for {kind!r}")
    data = _BUILDERS[kind](record, now, own_page) if kind == "entity" else _BUILDERS[kind](record, now)
    if extras:
        data.update(extras)
    return restrict(kind, data)


def _item(item, now) -> dict:
    v = item.current
    return {
        "id": item.id, "code": item.code, "name": v.name,
        "department_code": item.department.code, "department": item.department.name,
        "legal_basis": v.legal_basis, "target_type": v.target_type, "content": v.content, "method": v.method,
        "kind": v.kind, "ratio_frequency": v.ratio_frequency, "inspector_requirements": v.inspector_requirements,
        "effective_from": iso(v.effective_from), "version": v.version,
        "previous_versions": [{"version": old.version, "name": old.name, "effective_from": iso(old.effective_from)}
                              for old in item.versions[:-1]],
    }


def _plan(plan, now) -> dict:
    return {
        "id": plan.id, "url": f"/plans/{plan.id}", "year": plan.year, "title": plan.title,
        "department_code": plan.department.code, "department": plan.department.name,
        "participants": [{"code": d.code, "name": d.name} for d in plan.participants],
        "approval_date": iso(plan.approval_date), "description": plan.description,
        "task_count": getattr(plan, "public_task_count", None),
        "published_at": iso(plan.published_at), "corrected_at": iso(plan.corrected_at), "version": plan.version,
    }


def _task(task, now) -> dict:
    plan = task.plan
    # A plan not (yet) public stays unnamed, as on the task's own page.
    plan_public = plan is not None and public_state("plan", plan, now).is_visible
    return {
        "id": task.id, "code": task.code, "url": f"/tasks/{task.code}", "title": task.title, "year": task.year,
        "plan_id": task.plan_id if plan_public else None, "temporary": task.plan_id is None,
        "surprise": task.surprise, "joint": len(task.departments) > 1,
        "department_code": task.department.code, "department": task.department.name,
        "departments": [{"code": d.code, "name": d.name} for d in task.departments],
        "check_items": [{"department_code": i.department.code, "code": i.code, "name": i.name} for i in task.items],
        "period_start": iso(task.period_start), "period_end": iso(task.period_end),
        "inspectors_per_target": task.inspectors_per_target, "description": task.description,
        "published_at": iso(task.published_at), "corrected_at": iso(task.corrected_at), "version": task.version,
    }


def _result(result, now) -> dict:
    task, entity = result.task, result.entity
    task_public = public_state("task", task, now).is_visible  # a withheld task stays unnamed
    task_named = task_named_beside_result(task, now)  # an embargoed surprise task: title only (SPEC §3)
    return {
        "id": result.id, "url": f"/results/{result.id}",
        "task_code": task.code if task_public else None, "task_title": task.title if task_named else None,
        "department_code": result.department.code, "department": result.department.name,
        "uscc": entity.uscc, "entity_name": entity.name, "entity_type": enum_value(entity.entity_type),
        "region_code": entity.region_code,
        "check_items": [item.name for item in task.items] if task_public else [],
        "inspection_date": iso(result.inspection_date), "formed_date": iso(result.formed_date),
        "conclusions": [{"code": c.code, "label": c.label} for c in result.conclusions],
        "remark": result.remark, "verification_method": result.verification_method,
        "follow_up": result.follow_up,
        "findings": [{"check_item": f.check_item.name if f.check_item else None,
                      "conclusion_code": f.conclusion_code, "text": f.text} for f in result.findings],
        "inspectors": [{"name": i.name, "licence_no": i.licence_no} for i in result.inspectors],
        "published_at": iso(result.published_at), "corrected_at": iso(result.corrected_at),
        "version": result.version,
    }


def _penalty(penalty, now) -> dict:
    task = penalty.task
    task_public = task is not None and public_state("task", task, now).is_visible
    return {
        "id": penalty.id, "url": f"/penalties/{penalty.id}", "decision_no": penalty.decision_no,
        "uscc": penalty.entity.uscc if penalty.entity else None, "party_name": penalty_party(penalty),
        "violation_type": penalty.violation_type, "facts": penalty.facts, "legal_basis": penalty.legal_basis,
        "categories": list(penalty.categories), "fine_amount": money(penalty.fine_amount),
        "confiscation_amount": money(penalty.confiscation_amount),
        "decision_date": iso(penalty.decision_date), "authority": penalty.authority,
        "department_code": penalty.department.code, "department": penalty.department.name,
        "task_code": task.code if task_public else None,
        "publicity_end": iso(penalty.publicity_end),
        "published_at": iso(penalty.published_at), "corrected_at": iso(penalty.corrected_at),
        "version": penalty.version,
    }


def _entity(entity, now, own_page) -> dict:
    data = {
        "uscc": entity.uscc, "url": f"/entities/{entity.uscc}", "name": entity.name,
        "entity_type": enum_value(entity.entity_type), "region_code": entity.region_code,
        "industry": entity.industry, "registration_status": enum_value(entity.registration_status),
        "established_on": iso(entity.established_on),
    }
    if own_page and enum_value(entity.entity_type) == EntityType.INDIVIDUAL.value and entity.operator_name:
        data["operator_name"] = entity.operator_name
    return data


_BUILDERS = {"item": _item, "plan": _plan, "task": _task, "result": _result, "penalty": _penalty,
             "entity": _entity}


# ---------------------------------------------------------------- kept versions

class KeptRecord:
    """A kept version (RecordVersion.data, a `lifecycle.snapshot`) read like the record it was.

    Content fields come from the snapshot; relations follow the snapshot's ids through
    `resolve(what, key)` (what: entity, task, department, check_item, department_code); what
    the snapshot does not hold (publication time, related names) comes from the current record.
    Only `shape` reads it, so a snapshot key outside the allow-list can never be shown.
    """

    _RELATIONS = ("entity", "task", "department", "plan")

    def __init__(self, kind: str, record, data: dict, resolve):
        self._kind, self._record, self._data, self._resolve = kind, record, dict(data or {}), resolve

    def __getattr__(self, name):
        data, record = self._data, self._record
        if name == "current" and self._kind == "item":
            return _Overlay(record.current, data)
        if name in ("departments", "participants") and isinstance(data.get("departments"), list):
            found = [self._resolve("department_code", code) for code in data["departments"]]
            return [d for d in found if d is not None]
        if name == "conclusions" and isinstance(data.get(name), list):
            return [SimpleNamespace(code=c.get("code"), label=c.get("label")) for c in data[name]]
        if name == "inspectors" and isinstance(data.get(name), list):
            return [SimpleNamespace(name=i.get("name"), licence_no=i.get("licence_no")) for i in data[name]]
        if name == "findings" and isinstance(data.get(name), list):
            return [SimpleNamespace(check_item=self._resolve("check_item", f.get("check_item_id"))
                                    if f.get("check_item_id") else None,
                                    conclusion_code=f.get("conclusion_code"), text=f.get("text"))
                    for f in data[name]]
        if name in self._RELATIONS and f"{name}_id" in data:
            key = data[f"{name}_id"]
            if key == getattr(record, f"{name}_id", None):
                return getattr(record, name)
            return self._resolve(name, key) if key is not None else None
        if name in data:
            return data[name]
        return getattr(record, name)


class _Overlay:
    def __init__(self, base, data):
        self._base, self._data = base, data

    def __getattr__(self, name):
        return self._data[name] if name in self._data else getattr(self._base, name)


def shape_version(kind: str, record, data: dict, version: int, now: datetime, resolve) -> dict:
    """The public shape of kept version `version` of `record` (what `?version=N` shows, HTML and
    JSON): the same allow-list and party rule as the current version, without the fields that
    describe the record now (disclosure, objection, versions list, related lists, correction time)."""
    shown = shape(kind, KeptRecord(kind, record, data, resolve), now)
    for key in COMPUTED + ("corrected_at",):
        shown.pop(key, None)
    if "version" in shown:
        shown["version"] = version
    return shown
