"""What the public site's cache validators are computed from (SPEC §11: cacheable public pages).

`PublicRevision` is one row whose counter goes up in every transaction that changes anything a
public page may show; `PublicMoment` keeps the future instants a write scheduled (a publication
set for later), at which public pages change without a write. portal/caching.py keeps both and
reads them in one short statement before any page is built.
"""
from datetime import datetime

from sqlalchemy import DDL, Integer, event
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime
from ..extensions import db


class PublicRevision(db.Model):
    """The single row (id 1): how many public-relevant transactions have committed, and when the last did."""

    __tablename__ = "public_revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PublicMoment(db.Model):
    """A future instant at which public pages change by themselves (e.g. a scheduled publication)."""

    __tablename__ = "public_moment"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


# The row exists from the start (tables made by create_all, as the tests and benches do; the
# migration inserts it too); caching.bump() upserts anyway, so an emptied table is harmless.
event.listen(PublicRevision.__table__, "after_create",
             DDL("INSERT INTO public_revision (id, counter) VALUES (1, 0)"))
