"""Inspection results (检查结果), penalties (行政处罚) and kept versions of corrected records."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Date, ForeignKey, Integer, Numeric, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .base import Publishable
from .catalogue import CheckItem
from .directory import Department, Entity, Inspector
from .plans import Task

result_inspector = Table(
    "result_inspector", db.metadata,
    Column("result_id", ForeignKey("result.id", ondelete="CASCADE"), primary_key=True),
    Column("inspector_id", ForeignKey("inspector.id"), primary_key=True),
)


class Result(Publishable, db.Model):
    """One target's inspection result in one task. Natural key: (task, entity)."""

    __tablename__ = "result"
    __table_args__ = (UniqueConstraint("task_id", "entity_id"),
                      # Department + year lists, newest first (bench/pages.py: 65 ms → 2 ms at 100k rows).
                      Index("ix_result_department_formed", "department_id", "formed_date", "id"),
                      # The list's order and the publication columns: a page's ids by an index-only
                      # scan, however deep the page (queries._page_ids; /results?page=7500 at 300k rows).
                      Index("ix_result_list_order", "formed_date", "id", "status", "published_at", "withheld",
                            "withdrawn_at"),
                      # A department's feed, newest publication first, with the year's and the publication
                      # rule's columns: an index-only walk that stops after the feed's entries
                      # (/feeds/results.atom?dept=…&year=…: ~32 ms → ~1 ms of SQL at 100k rows).
                      Index("ix_result_department_published", "department_id", "published_at", "id", "formed_date",
                            "status", "withheld", "withdrawn_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), nullable=False, index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), nullable=False, index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    inspection_date: Mapped[date | None] = mapped_column(Date)
    formed_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)  # 检查结果形成日期
    remark: Mapped[str | None] = mapped_column(Text)  # public version, already masked
    verification_method: Mapped[str | None] = mapped_column(String(100))
    follow_up: Mapped[str | None] = mapped_column(String(100))  # 后续处置 label

    task: Mapped[Task] = relationship()
    entity: Mapped[Entity] = relationship()
    department: Mapped[Department] = relationship()
    conclusions: Mapped[list["ResultConclusion"]] = relationship(
        order_by="ResultConclusion.code", cascade="all, delete-orphan")
    findings: Mapped[list["ResultFinding"]] = relationship(order_by="ResultFinding.id",
                                                           cascade="all, delete-orphan")
    inspectors: Mapped[list[Inspector]] = relationship(secondary=result_inspector, order_by="Inspector.id")


class ResultConclusion(db.Model):
    __tablename__ = "result_conclusion"
    __table_args__ = (UniqueConstraint("result_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("result.id", ondelete="CASCADE"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    label: Mapped[str] = mapped_column(String(100), nullable=False)


class ResultFinding(db.Model):
    """A per-item finding (one check item of a joint task, say)."""

    __tablename__ = "result_finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("result.id", ondelete="CASCADE"), nullable=False, index=True)
    check_item_id: Mapped[int | None] = mapped_column(ForeignKey("check_item.id"))
    conclusion_code: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)

    check_item: Mapped[CheckItem | None] = relationship()


class Penalty(Publishable, db.Model):
    """An administrative penalty or other measure. Natural key: decision number.

    `publicity_end` is the last day it may be public (None: never public, e.g. a
    warning only); it is computed from categories and amounts when saved
    (domain.publicity). Credit repair ends publicity early.
    """

    __tablename__ = "penalty"
    # As ix_result_list_order, with the publicity period's columns (visibility_sql.public_clause).
    __table_args__ = (Index("ix_penalty_list_order", "decision_date", "id", "status", "published_at", "withheld",
                            "withdrawn_at", "publicity_end", "credit_repair_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    decision_no: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)  # 决定书文号
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entity.id"), index=True)
    party_name: Mapped[str] = mapped_column(String(200), nullable=False)
    party_kind: Mapped[str] = mapped_column(String(20), default="organisation", nullable=False)  # or natural_person
    violation_type: Mapped[str | None] = mapped_column(String(200))
    facts: Mapped[str | None] = mapped_column(Text)  # public version, already masked
    legal_basis: Mapped[str | None] = mapped_column(Text)
    fine_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    confiscation_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    decision_date: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    authority: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), index=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("result.id"))
    restriction_end: Mapped[date | None] = mapped_column(Date)  # end of a longer restriction period
    publicity_end: Mapped[date | None] = mapped_column(Date, index=True)
    credit_repair_date: Mapped[date | None] = mapped_column(Date)
    credit_repair_reason: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department] = relationship()
    entity: Mapped[Entity | None] = relationship()
    task: Mapped[Task | None] = relationship()
    result: Mapped[Result | None] = relationship()
    category_rows: Mapped[list["PenaltyCategory"]] = relationship(order_by="PenaltyCategory.id",
                                                                  cascade="all, delete-orphan")

    @property
    def categories(self) -> list[str]:
        return [row.category for row in self.category_rows]


class PenaltyCategory(db.Model):
    """One penalty category (行政处罚法 art. 9) of a penalty; rows make filtering portable."""

    __tablename__ = "penalty_category"
    __table_args__ = (UniqueConstraint("penalty_id", "category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    penalty_id: Mapped[int] = mapped_column(ForeignKey("penalty.id", ondelete="CASCADE"), nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(40), nullable=False, index=True)


class RecordVersion(db.Model):
    """A superseded version of a corrected record, kept readable (更正于 …)."""

    __tablename__ = "record_version"
    __table_args__ = (UniqueConstraint("record_kind", "record_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(20), nullable=False)  # plan/task/result/penalty/draw/item
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)  # public fields as they were
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
