"""Right of reply (SPEC §12): objections (异议) and credit-repair applications (信用修复申请).

Both are filed by the public about one published result or penalty, handled by the record's
department under a working-day deadline, and decided once. Contact details, the statement
and the attachments are never public; only the status of objections is (portal.objections).
"""
import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from ..database import UTCDateTime
from ..domain.dates import china_date
from ..extensions import db
from .base import Timestamps, enum_column
from .directory import Department


class CaseKind(str, enum.Enum):
    OBJECTION = "objection"  # 异议: the record is wrong
    CREDIT_REPAIR = "credit_repair"  # 信用修复申请: end a penalty's publicity early


class Relation(str, enum.Enum):
    PARTY = "party"  # 本单位 (the party itself)
    AGENT = "agent"  # 委托代理人


class CaseStatus(str, enum.Enum):
    RECEIVED = "received"  # 已受理, nobody has taken it yet
    IN_REVIEW = "in_review"  # a clerk took it (核查中)
    CORRECTING = "correcting"  # decided 更正; open until the record's correction is saved
    DECIDED = "decided"  # 已办结 (outcome set)


class Outcome(str, enum.Enum):
    MAINTAINED = "maintained"  # 维持
    CORRECTED = "corrected"  # 更正
    WITHDRAWN = "withdrawn"  # 撤回
    APPROVED = "approved"  # 准予信用修复
    REFUSED = "refused"  # 不予信用修复


OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.IN_REVIEW, CaseStatus.CORRECTING)


class Objection(Timestamps, db.Model):
    """One objection or credit-repair application about one result or penalty.

    Reachable publicly only through its status link: the token is shown once and only its
    SHA-256 is stored. `department_id` is the record's department when filed (the scope of
    the clerks who handle it).
    """

    __tablename__ = "objection"
    __table_args__ = (Index("ix_objection_record", "record_kind", "record_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CaseKind] = mapped_column(enum_column(CaseKind, name="case_kind"), nullable=False)
    record_kind: Mapped[str] = mapped_column(String(20), nullable=False)  # result / penalty
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    relation: Mapped[Relation] = mapped_column(enum_column(Relation, name="relation"), nullable=False)
    contact_name: Mapped[str] = mapped_column(String(50), nullable=False)  # never public
    contact_mobile: Mapped[str] = mapped_column(String(20), nullable=False)  # never public
    points: Mapped[list] = mapped_column(JSON, nullable=False)  # codes of the points objected to / grounds
    statement: Mapped[str] = mapped_column(Text, nullable=False)  # never public
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, name="case_status"), nullable=False,
                                               default=CaseStatus.RECEIVED, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    correcting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome, name="outcome"))
    decision_reason: Mapped[str | None] = mapped_column(Text)  # told to the filer, not public

    department: Mapped[Department] = relationship()
    claimed_by = relationship("User", foreign_keys=[claimed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    attachments: Mapped[list["ObjectionAttachment"]] = relationship(
        order_by="ObjectionAttachment.position", cascade="all, delete-orphan", back_populates="objection")

    @property
    def receipt_no(self) -> str:
        """受理编号, e.g. YY20261123000042 (异议) or XF… (信用修复): China date of receipt + id."""
        prefix = "YY" if self.kind is CaseKind.OBJECTION else "XF"
        return f"{prefix}{china_date(self.received_at):%Y%m%d}{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ObjectionAttachment(db.Model):
    """A file sent with a case (PDF/JPEG/PNG, type from its content), kept in the database (SPEC §11)."""

    __tablename__ = "objection_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("objection.id", ondelete="CASCADE"), nullable=False,
                                              index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    filename: Mapped[str] = mapped_column(String(120), nullable=False)  # cleaned; extension matches content
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)  # detected from the bytes
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))

    objection: Mapped[Objection] = relationship(back_populates="attachments")
