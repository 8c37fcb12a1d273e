"""The check-item list (随机抽查事项清单) and the editable vocabularies."""
import enum
from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import Publishable, enum_column
from .directory import Department


class CheckItem(Publishable, db.Model):
    """A matter a department may inspect. Its content lives in versions; old ones stay readable."""

    __tablename__ = "check_item"
    __table_args__ = (UniqueConstraint("department_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)

    department: Mapped[Department] = relationship()
    versions: Mapped[list["CheckItemVersion"]] = relationship(
        back_populates="item", order_by="CheckItemVersion.version", cascade="all, delete-orphan")

    @property
    def current(self) -> "CheckItemVersion":
        return self.versions[-1]

    @property
    def name(self) -> str:
        return self.current.name


class CheckItemVersion(db.Model):
    __tablename__ = "check_item_version"
    __table_args__ = (UniqueConstraint("check_item_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    check_item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(Text)  # 抽查依据
    target_type: Mapped[str | None] = mapped_column(String(200))  # 抽查对象
    content: Mapped[str | None] = mapped_column(Text)  # 抽查内容
    method: Mapped[str | None] = mapped_column(String(100))  # 实地检查/书面检查/网络监测/…
    kind: Mapped[str] = mapped_column(String(10), default="一般", nullable=False)  # 重点/一般
    ratio_frequency: Mapped[str | None] = mapped_column(String(200))
    inspector_requirements: Mapped[str | None] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    change_note: Mapped[str | None] = mapped_column(Text)

    item: Mapped[CheckItem] = relationship(back_populates="versions")


class VocabularyKind(str, enum.Enum):
    CONCLUSION = "conclusion"
    FOLLOW_UP = "follow_up"
    PENALTY_CATEGORY = "penalty_category"
    VIOLATION_TYPE = "violation_type"


class VocabularyTerm(db.Model):
    """Admin-editable code lists (结论、后续处置、处罚类别…)."""

    __tablename__ = "vocabulary_term"
    __table_args__ = (UniqueConstraint("kind", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[VocabularyKind] = mapped_column(enum_column(VocabularyKind, name="vocabulary_kind"), nullable=False)
    code: Mapped[str] = mapped_column(String(20), nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # e.g. for penalty categories: {"light": true} marks 通报批评 for publicity periods.
    attributes: Mapped[dict] = mapped_column(JSON, default=dict, nullable=False)
