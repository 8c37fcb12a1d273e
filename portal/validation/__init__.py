"""One validator per record kind, used by every path that writes it (SPEC §9).

    checked = validate("result", {"task_code": …, "uscc": …, "remark": …}, lookups, today)

The back-office forms, the upload preview/commit and `flask import` all call `validate`; each
only maps its own field names or column headers onto the keys. The validators are plain
Python: `lookups` (plain data, see `lookups.py`) is loaded from the database by `loading.py`.
Free text that any public channel shows is masked inside the validator (`core.public_text`),
so no path can store it unmasked, and the maskings come back for the clerk to see.
"""
from __future__ import annotations

from datetime import date

from .core import ERROR, WARNING, Checked, Masking, Problem, Reader, public_text
from .directory import validate_entity, validate_inspector
from .lookups import EntityRef, Existing, Lookups, TaskInfo
from .penalties import validate_penalty
from .results import validate_result

VALIDATORS = {"result": validate_result, "penalty": validate_penalty, "entity": validate_entity,
              "inspector": validate_inspector}


def validate(kind: str, raw, lookups: Lookups, today: date) -> Checked:
    """Validate one input (a mapping of field key → value as given) of a record kind."""
    reader = Reader(raw)
    VALIDATORS[kind](reader, lookups, today)
    return reader.checked


__all__ = ["ERROR", "WARNING", "Checked", "EntityRef", "Existing", "Lookups", "Masking", "Problem", "Reader",
           "TaskInfo", "VALIDATORS", "public_text", "validate"]
