"""Operational tables: search change log, calendar overrides, deadline rules, settings, imports, upload jobs."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class SearchChange(db.Model):
    """Change log feeding every host's search index; appended in the writing transaction."""

    __tablename__ = "search_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CalendarOverride(db.Model):
    """An administrator's statement that a date is a holiday or a working day; beats the package data."""

    __tablename__ = "calendar_override"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True, nullable=False)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    note: Mapped[str | None] = mapped_column(String(200))


class DeadlineRule(db.Model):
    """Working days allowed per record kind (plan, draw, result, penalty)."""

    __tablename__ = "deadline_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    working_days: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(String(200))


class Setting(db.Model):
    """Deployment-wide editable settings (e.g. publicity thresholds), as JSON values."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict | list | str | int | None] = mapped_column(JSON)


class ImportBatch(db.Model):
    """One confirmed upload: who, when, which file (hash), what it changed."""

    __tablename__ = "import_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # results/penalties/entities/inspectors
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_name: Mapped[str] = mapped_column(String(80), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    row_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updated_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="committed", nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class UploadJob(db.Model):
    """An uploaded file between preview and import, and the progress of its import.

    Lives in the database, not on one host's disk or memory, so the preview may be shown by one
    host and confirmed on another, and any host can report (or resume) a running import.
    `state`: previewed → queued → running → done | rejected | failed. A running job's owner
    ("host:pid") writes `heartbeat_at` every few seconds; a job whose heartbeat stopped (its worker
    was recycled or killed) is claimed again by whichever host is asked about it. The import and
    the change to `done` commit in the same transaction, so the job never claims an import that did
    not happen, nor misses one that did.
    """

    __tablename__ = "upload_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)  # names the preview in forms/URLs
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(20), default="previewed", nullable=False)
    accept_warnings: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    publish: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    done: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    owner: Mapped[str | None] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    message: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[list | None] = mapped_column(JSON)  # the first problems of a rejected import
