"""Load the demo data set: vocabularies, generated rows, demo users, the per-record audit trail."""
import time

from sqlalchemy import func, select

from .. import journal
from ..database import write_transaction
from ..extensions import db
from ..models import Department
from . import catalog
from .audit import demo_events
from .generator import DemoBuilder
from .vocabulary import ensure_default_vocabularies

DEMO_PASSWORDS = {"admin": "admin-demo-2025", "auditor": "auditor-demo-2025", "clerk": "clerk-demo-2025"}


class DatabaseNotEmpty(RuntimeError):
    pass


def has_departments() -> bool:
    return (db.session.execute(select(func.count(Department.id))).scalar() or 0) > 0


def demo_users(session) -> list[str]:
    """admin, auditor and one clerk per department (`clerk-<department code in lower case>`)."""
    from ..auth.accounts import create_user
    from ..models import User

    existing = set(session.execute(select(User.username)).scalars())
    made = []
    wanted = [("admin", "admin", None, "系统管理员"), ("auditor", "auditor", None, "县纪委监委派驻纪检组")]
    for dept in session.execute(select(Department).order_by(Department.code)).scalars():
        wanted.append((f"clerk-{dept.code.lower()}", "clerk", dept, f"{dept.short_name or dept.name}信息员"))
    for username, role, dept, display in wanted:
        if username in existing:
            continue
        create_user(username, DEMO_PASSWORDS[role], role, department=dept, display_name=display)
        made.append(username)
    return made


def load(seed: int, size: str, *, with_users: bool = True) -> dict:
    """Generate and insert the data set in one all-or-nothing transaction; return a summary."""
    started = time.monotonic()
    with write_transaction() as session:
        if has_departments():
            raise DatabaseNotEmpty("数据库中已有部门数据，演示数据只能载入空数据库")
        ensure_default_vocabularies(session)
        summary = DemoBuilder(session, seed, size).build()
        summary["users"] = demo_users(session) if with_users else []
        events = journal.record_many(demo_events(session))  # per-record history, oldest first
        summary["events"] = len(events)
        rows = summary["rows"]
        text = (f"载入演示数据（{catalog.COUNTY}，规模 {size}，种子 {seed}）：部门 {rows.get('department', 0)}、"
                f"检查对象 {rows.get('entity', 0)}、执法人员 {rows.get('inspector', 0)}、计划 {rows.get('plan', 0)}、"
                f"任务 {rows.get('task', 0)}、抽取 {rows.get('draw', 0)}、检查结果 {rows.get('result', 0)}、"
                f"行政处罚 {rows.get('penalty', 0)}、异议和信用修复申请 {rows.get('objection', 0)}、"
                f"用户 {len(summary['users'])}、逐条审计事件 {summary['events']}")
        journal.record("demo_load", summary=text, index=False)
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def rebuild_search_index() -> dict | None:
    """The search index is a cache: rebuild it from the database (when search is installed)."""
    try:
        from .. import search
    except ImportError:
        return None
    return search.rebuild()
