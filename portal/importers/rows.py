"""Spreadsheet rows → the record validators (portal/validation) → a plan per row.

`plan_rows(kind, table, lookups, today)` maps the file's headers onto field keys, validates each
row with the same validator the back-office form uses, and turns its problems into the preview's
table (行号, 列名, 问题, 如何修改). `decide_actions` then says new / updated / unchanged per row.
Plain Python: the caller loads `Lookups` from the database.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..validation import ERROR, WARNING, Lookups, validate
from .columns import COLUMNS, RECORD_KIND, header_of, match_headers

__all__ = ["ERROR", "WARNING", "Lookups", "Masking", "Problem", "RowPlan", "decide_actions", "plan_rows"]

# Validated values that come from a column of another name.
VALUE_COLUMNS = {"task_id": "task_code", "entity_id": "uscc", "item_ids": "items"}


@dataclass
class Problem:
    row: int | None
    column: str
    message: str
    fix: str = ""
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


@dataclass
class Masking:
    column: str
    label: str
    masked: str


@dataclass
class RowPlan:
    number: int
    key: tuple = ()
    values: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)  # inferred values used only for a new record
    display: dict = field(default_factory=dict)   # column header → text shown in the preview (masked)
    action: str = "new"                           # new / updated / unchanged
    existing_id: int | None = None
    changed_fields: list = field(default_factory=list)
    previous: dict = field(default_factory=dict)  # the existing record's values (for the audit "before")
    problems: list = field(default_factory=list)
    maskings: list = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def has_warnings(self) -> bool:
        return any(not p.is_error for p in self.problems)


def column_of(kind: str, key: str) -> str:
    return header_of(kind, VALUE_COLUMNS.get(key, key))


def plan_rows(kind: str, table, lookups: Lookups, today) -> tuple[list, list]:
    """Validate every row; return (file-level problems, row plans). Then call decide_actions()."""
    mapping, missing, unknown, _ignored = match_headers(kind, table.headers)
    file_problems = []
    if missing:
        file_problems.append(Problem(1, "、".join(missing), f"缺少必填列：{'、'.join(missing)}",
                                     "请使用下载的模板，不要修改第一行的列名"))
        return file_problems, []
    for header in unknown:
        file_problems.append(Problem(1, header, f"无法识别的列“{header}”，该列将被忽略",
                                     "如需导入请使用模板中的列名", WARNING))
    if not table.rows:
        file_problems.append(Problem(None, "", "文件只有表头，没有数据行", "请在表头下面逐行填写数据"))
        return file_problems, []
    record_kind = RECORD_KIND[kind]
    plans, seen = [], {}
    for number, cells in table.rows:
        raw = {key: (cells[index] if index < len(cells) else None) for key, index in mapping.items()}
        checked = validate(record_kind, raw, lookups, today)
        plan = RowPlan(number=number, key=checked.natural_key, values=checked.values, defaults=checked.defaults,
                       display={header_of(kind, k): v for k, v in checked.display.items()},
                       problems=[Problem(number, header_of(kind, p.key) if p.key else "", p.message, p.fix,
                                         p.severity) for p in checked.problems],
                       maskings=[Masking(header_of(kind, m.key), m.label, m.masked) for m in checked.maskings])
        if plan.key and not plan.has_errors:
            first = seen.get(plan.key)
            if first is not None:
                plan.problems.append(Problem(number, _key_header(kind), f"与第 {first} 行重复（同一{_key_label(kind)}）",
                                             "删除重复的行，或合并为一行"))
            else:
                seen[plan.key] = number
        plans.append(plan)
    return file_problems, plans


def decide_actions(kind: str, plans: list, lookups: Lookups, may_add: str = "") -> None:
    """Once `lookups.existing` is loaded: new, updated or unchanged for every valid row.

    `may_add` is a Chinese refusal when the importing user may not add new records of this kind.
    """
    for plan in plans:
        if not plan.has_errors:
            _decide_action(kind, plan, lookups, may_add)


def _key_header(kind):
    return {"results": "任务编号、统一社会信用代码", "penalties": "行政处罚决定书文号", "entities": "统一社会信用代码",
            "inspectors": "执法证号"}[kind]


def _key_label(kind):
    return {"results": "任务和检查对象", "penalties": "决定书文号", "entities": "统一社会信用代码",
            "inspectors": "执法证号"}[kind]


def _decide_action(kind: str, plan: RowPlan, lookups: Lookups, may_add: str) -> None:
    found = lookups.existing.get(plan.key)
    if found is None:
        plan.action = "new"
        if may_add:
            plan.problems.append(Problem(plan.number, _key_header(kind), may_add, "删除此行，或请管理员导入"))
        return
    plan.existing_id = found.id
    plan.previous = found.snapshot
    for key, shown in found.public_forms.items():
        # The value as public channels show it (e.g. an individual business under its trade name)
        # means "unchanged": a department's own open-data file can be uploaded back as it is.
        if key in plan.values and plan.values[key] == shown:
            plan.values[key] = found.snapshot.get(key)
    changed = [name for name, value in plan.values.items() if found.snapshot.get(name) != value]
    plan.changed_fields = changed
    if not changed:
        plan.action = "unchanged"
        # Nothing is written: a warning about content already stored (accepted when it was) is moot.
        plan.problems = [p for p in plan.problems if p.is_error]
        return
    plan.action = "updated"
    if found.refused:
        plan.problems.append(Problem(plan.number, _key_header(kind), found.refused, "请联系该记录所属部门或管理员处理"))
    elif found.status == "withdrawn":
        plan.problems.append(Problem(plan.number, _key_header(kind), "该记录已撤回，不能通过导入修改",
                                     "删除此行；如需重新公开请联系管理员"))
    elif found.status == "published":
        plan.problems.append(Problem(
            plan.number, "、".join(changed_headers(kind, changed)),
            "该记录已公开，导入将作为“更正”处理：公开页面显示“更正于…”，原版本保留",
            "确认无误可接受警告后导入；否则删除此行", WARNING))


def changed_headers(kind, names):
    headers = []
    for name in names:
        header = column_of(kind, name)
        if header not in headers:
            headers.append(header)
    return headers


def template_columns(kind):
    return [c.header for c in COLUMNS[kind]]
