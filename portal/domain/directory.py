"""Who may change the inspection-target directory (检查对象名录库).

Every department's draws and published records depend on the shared directory, so a change to
an entity (name, USCC, risk class, status …) is made by the administrators, or, when the
deployment allows it (`DIRECTORY_ENTITY_EDITORS = "registering_department"`), by the clerks of
the department that registered the entity. Entities registered before ownership existed (no
registering department) stay with the administrators. Locked draw pools are snapshots and are
never affected by a directory change.
"""
from __future__ import annotations

ADMINS = "admins"
REGISTERING_DEPARTMENT = "registering_department"
POLICIES = (ADMINS, REGISTERING_DEPARTMENT)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"DIRECTORY_ENTITY_EDITORS must be one of {', '.join(POLICIES)}, not {policy!r}")
    return policy


def may_register(role: str | None, department_id: int | None, policy: str) -> bool:
    """May this user add a new entity to the directory?"""
    if role == "admin":
        return True
    return role == "clerk" and department_id is not None and check_policy(policy) == REGISTERING_DEPARTMENT


def may_change(role: str | None, department_id: int | None, registered_by: int | None, policy: str) -> bool:
    """May this user change an existing entity registered by `registered_by`?"""
    if role == "admin":
        return True
    return (role == "clerk" and check_policy(policy) == REGISTERING_DEPARTMENT
            and department_id is not None and registered_by == department_id)


def refusal(registered_by_name: str | None, policy: str) -> str:
    """Why a clerk may not change an entity (Chinese, for forms and import rows)."""
    if check_policy(policy) == ADMINS:
        return "检查对象名录由管理员维护，部门用户不能新增或修改；请联系管理员"
    if registered_by_name:
        return f"该检查对象由{registered_by_name}登记，只能由登记部门或管理员修改"
    return "该检查对象由管理员维护，只能由管理员修改"
