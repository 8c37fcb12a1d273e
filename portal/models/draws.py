"""Draw records (抽取记录) of the verifiable draw-v1 (SPEC §5).

A draw is locked (pool stored and hashed, nonce committed), then drawn (public
entropy → seed → keys → selection and inspector assignments). Nothing is ever
deleted: a redraw is a new Draw with `reason`, a substitution is a row.

No draw-shopping (SPEC §5 item 7): a Draw is published when it is locked, so its
pool_hash and commitment are public before the public entropy exists, and its drawn
list the moment it is performed; there is no unpublished performed draw. What the
draw used is kept with it, taken at lock: `snapshot` (scope and stratification),
the DrawStratum rows (ratios or counts) and `inspectors_per_target`.
"""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .base import Publishable
from .directory import Department, Entity, Inspector


class Draw(Publishable, db.Model):
    __tablename__ = "draw"
    __table_args__ = (UniqueConstraint("task_id", "sequence"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), nullable=False, index=True)
    sequence: Mapped[int] = mapped_column(Integer, default=1, nullable=False)  # 1 = first draw, 2+ = redraws
    reason: Mapped[str | None] = mapped_column(Text)  # why a redraw was needed
    algorithm: Mapped[str] = mapped_column(String(20), default="draw-v1", nullable=False)
    pool_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    commitment: Mapped[str] = mapped_column(String(64), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)  # secret until drawn
    public_entropy: Mapped[str | None] = mapped_column(String(500))
    seed: Mapped[str | None] = mapped_column(String(64))
    inspectors_per_target: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
    # {"scope": {...} | None, "stratify_by": "risk_class" | None, "source": "lock" | "migration"};
    # None values: not recorded (draws locked before snapshots existed; see the migration, which
    # gives every existing draw one; the column is nullable only so it could be added in place).
    snapshot: Mapped[dict | None] = mapped_column(JSON, default=dict, nullable=True)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    task: Mapped["Task"] = relationship(back_populates="draws")  # noqa: F821
    pool: Mapped[list["DrawPoolEntry"]] = relationship(order_by="DrawPoolEntry.uscc", cascade="all, delete-orphan")
    strata: Mapped[list["DrawStratum"]] = relationship(order_by="DrawStratum.stratum", cascade="all, delete-orphan")
    selections: Mapped[list["DrawSelection"]] = relationship(order_by="DrawSelection.position",
                                                             cascade="all, delete-orphan")
    witnesses: Mapped[list["DrawWitness"]] = relationship(order_by="DrawWitness.id", cascade="all, delete-orphan")
    substitutions: Mapped[list["DrawSubstitution"]] = relationship(order_by="DrawSubstitution.id",
                                                                   cascade="all, delete-orphan")


class DrawPoolEntry(db.Model):
    __tablename__ = "draw_pool_entry"
    __table_args__ = (UniqueConstraint("draw_id", "uscc"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), nullable=False)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), nullable=False)
    uscc: Mapped[str] = mapped_column(String(18), nullable=False)
    stratum: Mapped[str] = mapped_column(String(40), nullable=False)


class DrawStratum(db.Model):
    __tablename__ = "draw_stratum"
    __table_args__ = (UniqueConstraint("draw_id", "stratum"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), nullable=False)
    stratum: Mapped[str] = mapped_column(String(40), nullable=False)
    ratio: Mapped[str | None] = mapped_column(String(20))  # exact decimal text
    count: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer, nullable=False)  # N
    drawn: Mapped[int | None] = mapped_column(Integer)  # n


class DrawSelection(db.Model):
    __tablename__ = "draw_selection"
    # ix_draw_selection_rank: an entity's key rank within its stratum (draw_service.why_drawn, the
    # entity page) counts the stratum's smaller keys in the index instead of reading the draw's rows.
    __table_args__ = (UniqueConstraint("draw_id", "entity_id"),
                      Index("ix_draw_selection_rank", "draw_id", "stratum", "key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # order by key
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), nullable=False, index=True)
    uscc: Mapped[str] = mapped_column(String(18), nullable=False)
    stratum: Mapped[str] = mapped_column(String(40), nullable=False)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    eligible: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)  # dept code → licence numbers

    entity: Mapped[Entity] = relationship()
    draw: Mapped[Draw] = relationship(viewonly=True)  # read-side link (entity pages list selections)
    assignments: Mapped[list["DrawAssignment"]] = relationship(order_by="DrawAssignment.position",
                                                               cascade="all, delete-orphan")


class DrawAssignment(db.Model):
    """An inspector matched to a drawn entity. A substituted one is kept with `replaced_at` set."""

    __tablename__ = "draw_assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    selection_id: Mapped[int] = mapped_column(ForeignKey("draw_selection.id", ondelete="CASCADE"),
                                              nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), nullable=False, index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False)
    licence_no: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inspector: Mapped[Inspector] = relationship()
    department: Mapped[Department] = relationship()


class DrawWitness(db.Model):
    __tablename__ = "draw_witness"
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    organisation: Mapped[str | None] = mapped_column(String(100))  # e.g. 县纪委监委派驻纪检组
    witnessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class DrawSubstitution(db.Model):
    __tablename__ = "draw_substitution"
    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), nullable=False)
    selection_id: Mapped[int] = mapped_column(ForeignKey("draw_selection.id"), nullable=False)
    old_licence_no: Mapped[str] = mapped_column(String(40), nullable=False)
    new_licence_no: Mapped[str] = mapped_column(String(40), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_name: Mapped[str] = mapped_column(String(80), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
