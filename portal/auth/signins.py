"""The sign-in journal: every checked sign-in attempt is counted, then sealed into the audit chain.

SPEC §7 wants logins audited, but the audit chain is append-only and serialised: appending one
event per attempt would make every sign-in (and every failed guess of a flood) wait for the
chain's lock behind clerks' writes, and grow the chain without bound. So:

1. A sign-in adds 1 to its row in `signin_event` (one per account, address, outcome and
   15-minute window) with one atomic upsert of its own: no chain lock, no BEGIN IMMEDIATE.
   Invented user names count as "" per address, so a flood is a handful of rows.
2. `flask --app wsgi signins seal` (every few minutes, from the same timer as `search sync`)
   appends ONE audit event per closed window, whose payload lists that window's rows, and marks
   the rows sealed. From then on the chain holds the evidence and `audit verify` covers it.

The chain therefore grows by at most 96 events a day, whatever the traffic.
"""
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update

from .. import journal
from ..database import write_transaction
from ..domain.signin import sealable_before, window_start, window_summary
from ..extensions import db
from ..models import SigninEvent, SigninOutcome, User
from .throttle import insert_for, run_alone

SEAL_ACTION = "signin_summary"


def record(outcome: SigninOutcome, username: str, address: str, now: datetime, user: User | None = None,
           new_password_hash: str | None = None) -> None:
    """Count one attempt. `user` is the account it named (None: no such user, stored as "").

    A success also stamps the user's last sign-in (and stores `new_password_hash`, an upgraded
    hash of the same password) in the same short transaction.
    """
    insert = insert_for(db.session)
    name = user.username if user is not None else ""
    stmt = insert(SigninEvent).values(window_start=window_start(now), username=name, address=address[:64],
                                      outcome=outcome.value, attempts=1, first_at=now, last_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SigninEvent.window_start, SigninEvent.username, SigninEvent.address, SigninEvent.outcome],
        set_={"attempts": SigninEvent.attempts + 1, "last_at": stmt.excluded.last_at},
        # A sealed row is evidence in the chain: never changed (only a host whose clock lags by
        # more than SEAL_GRACE could still be counting into a sealed window).
        where=SigninEvent.sealed_event_id.is_(None))
    statements = [stmt]
    if outcome is SigninOutcome.SUCCESS and user is not None:
        changes = {"last_login_at": now}
        if new_password_hash:
            changes["password_hash"] = new_password_hash
        statements.append(update(User).where(User.id == user.id).values(**changes))
    run_alone(*statements)


def seal(now: datetime) -> int:
    """Append one audit event per closed window of unsealed rows; return how many were appended."""
    before = sealable_before(now)
    with write_transaction():
        # FOR UPDATE: hosts sealing at once take turns, and the later one no longer sees the rows
        # the earlier one sealed (SQLite's BEGIN IMMEDIATE serialises them anyway).
        rows = db.session.execute(select(SigninEvent).where(SigninEvent.sealed_event_id.is_(None),
                                                            SigninEvent.window_start <= before)
                                  .order_by(SigninEvent.window_start, SigninEvent.id)
                                  .with_for_update()).scalars().all()
        windows = defaultdict(list)
        for row in rows:
            windows[row.window_start].append(row)
        for start, members in windows.items():
            text, payload = window_summary(start, [
                {"username": r.username, "address": r.address, "outcome": r.outcome.value,
                 "attempts": r.attempts, "first_at": r.first_at, "last_at": r.last_at} for r in members])
            event = journal.record(SEAL_ACTION, "signin", None, actor="system", after=payload, summary=text,
                                   index=False)
            db.session.flush()
            for row in members:
                row.sealed_event_id = event.id
    return len(windows)


def unsealed_count() -> int:
    from sqlalchemy import func

    return db.session.execute(select(func.count(SigninEvent.id))
                              .where(SigninEvent.sealed_event_id.is_(None))).scalar() or 0
