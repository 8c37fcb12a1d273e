"""The two directories (两库) and the departments that own them."""
import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .base import Timestamps, enum_column


class Level(str, enum.Enum):
    PROVINCE = "省"
    CITY = "市"
    COUNTY = "县"


class EntityType(str, enum.Enum):
    ENTERPRISE = "企业"
    INDIVIDUAL = "个体工商户"
    COOPERATIVE = "农民专业合作社"
    OTHER = "其他"


class RegistrationStatus(str, enum.Enum):
    ACTIVE = "存续"
    REVOKED = "吊销"
    CANCELLED = "注销"
    MOVED_OUT = "迁出"


class RiskClass(str, enum.Enum):
    """Credit-risk class (信用风险分类)."""

    A = "A"  # 低
    B = "B"  # 一般
    C = "C"  # 较高
    D = "D"  # 高


RISK_LABELS = {"A": "低", "B": "一般", "C": "较高", "D": "高"}


class Department(db.Model):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    short_name: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[Level] = mapped_column(enum_column(Level, name="level"), nullable=False)
    region_code: Mapped[str] = mapped_column(String(6), nullable=False)

    def __repr__(self):
        return f"<Department {self.code}>"


class Entity(Timestamps, db.Model):
    """An inspection target (检查对象). `operator_name` is personal data for 个体工商户."""

    __tablename__ = "entity"
    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True, nullable=False)  # or 15-digit 注册号
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    entity_type: Mapped[EntityType] = mapped_column(enum_column(EntityType, name="entity_type"), nullable=False)
    region_code: Mapped[str] = mapped_column(String(6), nullable=False, index=True)
    industry: Mapped[str | None] = mapped_column(String(8), index=True)  # GB/T 4754 section letter or code
    registration_status: Mapped[RegistrationStatus] = mapped_column(
        enum_column(RegistrationStatus, name="registration_status"), default=RegistrationStatus.ACTIVE,
        nullable=False, index=True)
    risk_class: Mapped[RiskClass] = mapped_column(enum_column(RiskClass, name="risk_class"),
                                                  default=RiskClass.B, nullable=False)
    tags: Mapped[list] = mapped_column(JSON, default=list, nullable=False)
    address: Mapped[str | None] = mapped_column(String(300))
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    operator_name: Mapped[str | None] = mapped_column(String(100))  # 个体工商户 经营者: own page only
    established_on: Mapped[date | None] = mapped_column(Date)
    # 登记部门: the department whose clerks registered the entity (None: the administrators). Who may
    # change it is decided by portal/domain/directory.py; every change is an EntityVersion.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)

    registered_by: Mapped[Department | None] = relationship()
    versions: Mapped[list["EntityVersion"]] = relationship(back_populates="entity", order_by="EntityVersion.version",
                                                           cascade="all, delete-orphan")

    def __repr__(self):
        return f"<Entity {self.uscc}>"


class EntityVersion(db.Model):
    """One state of a directory entity, kept with who changed it, when and why.

    Version n holds the entity's fields right after its n-th recorded change. An entity that
    existed before versions were kept gets its earlier state as version 1 on its first change.
    """

    __tablename__ = "entity_version"
    __table_args__ = (UniqueConstraint("entity_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id", ondelete="CASCADE"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)
    changed: Mapped[list] = mapped_column(JSON, default=list, nullable=False)  # field keys changed by this version
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_name: Mapped[str] = mapped_column(String(100), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)

    entity: Mapped[Entity] = relationship(back_populates="versions")


inspector_specialty = Table(
    "inspector_specialty", db.metadata,
    Column("inspector_id", ForeignKey("inspector.id", ondelete="CASCADE"), primary_key=True),
    Column("check_item_id", ForeignKey("check_item.id", ondelete="CASCADE"), primary_key=True),
)


class Inspector(Timestamps, db.Model):
    """执法检查人员. Only `name` and `licence_no` may ever be public."""

    __tablename__ = "inspector"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    licence_no: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)  # 执法证号
    gender: Mapped[str | None] = mapped_column(String(2))
    id_card_no: Mapped[str | None] = mapped_column(String(18))  # internal only, never public
    enforcement_field: Mapped[str | None] = mapped_column(String(100))
    post: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    department: Mapped[Department] = relationship()
    specialties: Mapped[list["CheckItem"]] = relationship(secondary=inspector_specialty,  # noqa: F821
                                                          order_by="CheckItem.id")
    conflicts: Mapped[list["InspectorConflict"]] = relationship(back_populates="inspector",
                                                                cascade="all, delete-orphan")

    def __repr__(self):
        return f"<Inspector {self.licence_no}>"


class InspectorConflict(db.Model):
    """A declared conflict of interest: this inspector must not inspect this entity."""

    __tablename__ = "inspector_conflict"
    __table_args__ = (UniqueConstraint("inspector_id", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id", ondelete="CASCADE"), nullable=False)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), nullable=False, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    declared_on: Mapped[date | None] = mapped_column(Date)

    inspector: Mapped[Inspector] = relationship(back_populates="conflicts")
    entity: Mapped[Entity] = relationship()
