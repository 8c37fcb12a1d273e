"""Back-office accounts, sign-in attempts (aggregated, for the audit) and sign-in back-off."""
import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .base import Timestamps, enum_column
from .directory import Department


class Role(str, enum.Enum):
    ADMIN = "admin"
    CLERK = "clerk"
    AUDITOR = "auditor"


class User(UserMixin, Timestamps, db.Model):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[Role] = mapped_column(enum_column(Role, name="role"), nullable=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Bumped on logout and password change: older session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active


class SigninOutcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    REFUSED = "refused"  # not checked: back-off, or the host's password checks were all busy


class SigninEvent(db.Model):
    """Sign-in attempts, aggregated: one row per account, address, outcome and window, with a count.

    Written by sign-in without the audit chain's lock; `flask --app wsgi signins seal` appends
    one audit event per closed window that carries these rows (portal/auth/signins.py).
    A user name that does not exist is stored as "" so a flood of invented names is one row
    per address, and nothing a visitor typed into the name field is kept.
    """

    __tablename__ = "signin_event"
    __table_args__ = (UniqueConstraint("window_start", "username", "address", "outcome"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    username: Mapped[str] = mapped_column(String(80), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[SigninOutcome] = mapped_column(enum_column(SigninOutcome, name="signin_outcome"), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The audit event that sealed this row into the hash chain (None until then).
    sealed_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_event.id"), index=True)


class SigninBackoff(db.Model):
    """Consecutive failed sign-ins of one account from one address (when Redis is not configured)."""

    __tablename__ = "signin_backoff"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
