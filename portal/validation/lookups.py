"""What validation needs from the database, as plain data (loaded by `loading.py`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class TaskInfo:
    id: int
    code: str
    department_id: int
    department_ids: set
    item_terms: dict = field(default_factory=dict)        # item code → name (read like a vocabulary)
    item_ids_by_code: dict = field(default_factory=dict)  # item code → check item id
    item_ids: set = field(default_factory=set)
    drawn_entity_ids: set = field(default_factory=set)
    drawn_on: date | None = None  # China date of the current draw: nobody was inspected before it
    period_start: date | None = None
    period_end: date | None = None
    title: str = ""


@dataclass
class EntityRef:
    id: int
    name: str
    entity_type: str
    registered_by: int | None = None  # the department that registered it (None: the administrators)


@dataclass
class Existing:
    """A record that already has the natural key of an input row."""

    id: int
    snapshot: dict                        # its values, shaped like a validator's `values`
    status: str | None = None             # draft / published / withdrawn (None: not publishable)
    refused: str = ""                     # why this department may not change it (Chinese), if so
    public_forms: dict = field(default_factory=dict)  # key → the value as public channels show it


@dataclass
class Lookups:
    """Everything the validators read, loaded once per file (or per form)."""

    department_id: int
    department_name: str = ""
    tasks: dict = field(default_factory=dict)              # code (upper) → TaskInfo
    entities: dict = field(default_factory=dict)           # uscc → EntityRef
    inspectors: dict = field(default_factory=dict)         # licence (upper) → (id, department_id, licence)
    conclusions: dict = field(default_factory=dict)        # code → label (active terms)
    follow_ups: dict = field(default_factory=dict)
    penalty_categories: dict = field(default_factory=dict)
    department_items: dict = field(default_factory=dict)   # item code (and upper) → id, for specialties
    result_tasks: dict = field(default_factory=dict)       # this department's result id → its task code
    existing: dict = field(default_factory=dict)           # natural key → Existing
    loaded: list = field(default_factory=list)             # ORM objects held for the commit (not inspected)
