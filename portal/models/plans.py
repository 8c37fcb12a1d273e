"""Plans (抽查计划) and tasks (抽查任务), including joint and surprise tasks."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .base import Publishable
from .catalogue import CheckItem
from .directory import Department

plan_department = Table(
    "plan_department", db.metadata,
    Column("plan_id", ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)

task_department = Table(
    "task_department", db.metadata,
    Column("task_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)

task_check_item = Table(
    "task_check_item", db.metadata,
    Column("task_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("check_item_id", ForeignKey("check_item.id"), primary_key=True),
)


def _app_now() -> datetime:
    from .. import clock  # the app's clock (PORTAL_FIXED_NOW honoured), like every other domain date

    return clock.now()


class Plan(Publishable, db.Model):
    __tablename__ = "plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)  # lead
    year: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    approval_date: Mapped[date] = mapped_column(Date, nullable=False)  # the disclosure clock starts here
    description: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department] = relationship(foreign_keys=[department_id])
    # Many-to-many lists in creation order: unordered rows come back in any order on PostgreSQL.
    participants: Mapped[list[Department]] = relationship(secondary=plan_department, order_by="Department.id")
    tasks: Mapped[list["Task"]] = relationship(back_populates="plan", order_by="Task.code")


class Task(Publishable, db.Model):
    """A task; `plan_id` is None for a temporary task (临时任务).

    `scope` filters the pool: {"entity_types": [...], "regions": [...], "industries": [...],
    "tags": [...], "statuses": ["存续"]}. `strata` is a list of
    {"stratum": "D", "ratio": "0.3"} or {"stratum": "A", "count": 5}; ratios are decimal
    strings so the draw computes exactly. `stratify_by` names the entity attribute that
    defines strata (default the credit-risk class); a single stratum "全部" means none.
    `inspectors_per_target` maps department code → number (joint tasks: one entry per
    department). These settings may change until a draw is locked; each Draw keeps its own
    snapshot of them (Draw.snapshot, DrawStratum), which is what its certificate shows.

    `results_complete_at` is when every target of the current draw had a published result
    (None until then). A surprise task stays hidden from the public until that moment or
    the end of its period, whichever comes first (domain.visibility.embargo_lifts_at).
    It is derived data, recomputed by portal.embargo whenever a result or draw changes.
    """

    __tablename__ = "task"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)  # lead
    code: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)  # region + yyyymmdd + 4 digits
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    scope: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    stratify_by: Mapped[str] = mapped_column(String(20), default="risk_class", nullable=False)
    strata: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    surprise: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)  # 突击检查
    inspectors_per_target: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    results_complete_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    # A task added to a plan later runs its own disclosure clock from this date (SPEC §4), so it is
    # taken from the app's clock rather than the server's.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_app_now, nullable=False)

    plan: Mapped[Plan | None] = relationship(back_populates="tasks")
    department: Mapped[Department] = relationship(foreign_keys=[department_id])
    departments: Mapped[list[Department]] = relationship(secondary=task_department,  # all, incl. lead
                                                         order_by="Department.id")
    items: Mapped[list[CheckItem]] = relationship(secondary=task_check_item, order_by="CheckItem.id")
    draws: Mapped[list["Draw"]] = relationship(back_populates="task", order_by="Draw.sequence")  # noqa: F821

    @property
    def is_joint(self) -> bool:
        return len(self.departments) > 1

    @property
    def is_temporary(self) -> bool:
        return self.plan_id is None

    @property
    def current_draw(self):
        """The latest performed draw; earlier ones stay visible as superseded."""
        done = [d for d in self.draws if d.drawn_at is not None]
        return done[-1] if done else None
