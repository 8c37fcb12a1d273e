"""Column helpers and the publication lifecycle shared by every public record."""
import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow


def enum_column(enum_cls, **kw):
    # Stored as plain strings with a CHECK constraint: identical on SQLite and PostgreSQL.
    return Enum(enum_cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, **kw)


class Status(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Publishable(Timestamps):
    """Lifecycle draft → published → (corrected) → (withdrawn); see domain.visibility.

    `withheld` (不予公开) keeps a record off every public channel for good; the
    legal reason stays internal. Corrections keep the old version in RecordVersion.
    """

    status: Mapped[Status] = mapped_column(enum_column(Status, name="status"), default=Status.DRAFT,
                                           nullable=False, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    withheld: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    withheld_reason: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    corrected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

