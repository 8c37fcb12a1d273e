"""Every write goes through here: an audit event (hash-chained) and a search change-log row,
in the caller's transaction, so the record, its audit trail and the index feed commit together.
"""
from datetime import date, datetime
from types import SimpleNamespace
from decimal import Decimal

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import insert, select, text

from .database import utcnow
from .domain.audit_chain import GENESIS, event_hash
from .extensions import db
from .models import AuditEvent, SearchChange

# Record kinds that appear on public channels and therefore feed the search index.
INDEXED_KINDS = {"item", "plan", "task", "draw", "result", "penalty", "entity"}


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value
    return value


def event_fields(event: AuditEvent) -> dict:
    """The hashed content of an event (everything but id, prev_hash and hash)."""
    return {
        "at": event.at.isoformat(), "actor_id": event.actor_id, "actor_name": event.actor_name,
        "action": event.action, "record_kind": event.record_kind, "record_id": event.record_id,
        "department_id": event.department_id, "summary": event.summary,
        "before": event.before, "after": event.after,
    }


def _lock_chain(session) -> None:
    """Serialise appends so the chain stays linear (SQLite writes are already serialised)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7301001)"))


def _actor(actor):
    if actor is not None:
        return getattr(actor, "id", None), getattr(actor, "username", None) or str(actor)
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id, current_user.username
    return None, "system"


def record(action: str, record_kind: str | None = None, record_id: int | None = None, *, actor=None,
           before: dict | None = None, after: dict | None = None, summary: str | None = None,
           department_id: int | None = None, index: bool = True) -> AuditEvent:
    """Append an audit event (and a search change for public kinds) to the current transaction."""
    session = db.session
    session.flush()  # make sure new records have ids
    _lock_chain(session)
    actor_id, actor_name = _actor(actor)
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    event = AuditEvent(at=utcnow(), actor_id=actor_id, actor_name=actor_name, action=action,
                       record_kind=record_kind, record_id=record_id, department_id=department_id,
                       summary=summary, before=_plain(before), after=_plain(after), prev_hash=prev or GENESIS)
    event.hash = event_hash(event.prev_hash, event_fields(event))
    session.add(event)
    if index and record_kind in INDEXED_KINDS and record_id is not None:
        session.add(SearchChange(record_kind=record_kind, record_id=record_id))
    return event


def record_many(entries, *, actor=None) -> list[SimpleNamespace]:
    """Append several events at once (bulk imports): the same chain as record(), one head lookup
    and one multi-row INSERT. Returns the events' fields (not ORM objects: they have no id).

    `entries` are dicts with record()'s keyword names (action, record_kind, record_id, before,
    after, summary, department_id, index). Added by IMPORTS: a 10,000-row upload would otherwise
    hold the write lock for one flush + head query per row.
    """
    session = db.session
    session.flush()
    _lock_chain(session)
    actor_id, actor_name = _actor(actor)
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar() or GENESIS
    events = []
    for entry in entries:
        kind, rid = entry.get("record_kind"), entry.get("record_id")
        event = SimpleNamespace(at=utcnow(), actor_id=actor_id, actor_name=actor_name, action=entry["action"],
                                record_kind=kind, record_id=rid, department_id=entry.get("department_id"),
                                summary=entry.get("summary"), before=_plain(entry.get("before")),
                                after=_plain(entry.get("after")), prev_hash=prev)
        event.hash = event_hash(prev, event_fields(event))
        prev = event.hash
        events.append(event)
        if entry.get("index", True) and kind in INDEXED_KINDS and rid is not None:
            session.add(SearchChange(record_kind=kind, record_id=rid))
    if events:
        # One multi-row INSERT (ORM bulk mode): no unit-of-work bookkeeping per event.
        session.execute(insert(AuditEvent), [vars(e) for e in events])
    session.flush()
    return events


def iter_chain(batch: int = 1000):
    """Yield (id, prev_hash, hash, fields) in id order, reading in batches (bounded memory)."""
    last_id = 0
    while True:
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.id > last_id)
                                  .order_by(AuditEvent.id).limit(batch)).scalars().all()
        if not rows:
            return
        for event in rows:
            yield event.id, event.prev_hash, event.hash, event_fields(event)
        last_id = rows[-1].id


def verify_chain(archived_heads=()):
    """(count, head_hash, problem, missing_heads) of the whole chain.

    `problem` is None or (event_id, message) of the first broken link. `missing_heads` lists
    the archived heads (hashes published earlier, e.g. copied from /transparency) that no event
    of the chain carries any more: deleting the latest events leaves an intact but shorter
    chain, which only an outside copy of an earlier head can reveal.
    """
    from .domain.audit_chain import find_heads, first_broken_link

    count = 0
    head = GENESIS

    def counted():
        nonlocal count, head
        for item in iter_chain():
            count += 1
            head = item[2]
            yield item

    found, events = find_heads(counted(), archived_heads)
    problem = first_broken_link(events)
    for _rest in events:  # a broken link stops the check; keep walking to count and find heads
        pass
    missing = [h for h in dict.fromkeys(archived_heads) if h not in found]
    return count, head, problem, missing


# Events counted so far, per database: {database URL: (id, hash, events up to and including id)}.
_COUNTED: dict[str, tuple[int, str, int]] = {}


def chain_head() -> tuple[int, str]:
    """(number of events, hash of the latest event) — shown on /transparency for outside archiving.

    Counting the whole chain per request grows with it (263,000 events: ~7 ms of SQLite per
    /transparency; millions at a province). The chain only grows, so a process keeps the count up to
    the head it last saw and counts only the events after it; if the event it counted to is gone or
    holds another hash (a database emptied or replaced under the process), it counts from scratch.
    Tampering inside the chain is what `flask audit verify` finds, not this figure."""
    from sqlalchemy import func

    head = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    if head is None:
        return 0, GENESIS
    key = db.engine.url.render_as_string(hide_password=True)
    known = _COUNTED.get(key)
    if known is not None and (known[0], known[1]) == (head.id, head.hash):
        return known[2], head.hash
    still_there = known is not None and known[0] <= head.id and db.session.execute(
        select(AuditEvent.hash).where(AuditEvent.id == known[0])).scalar() == known[1]
    if still_there:
        count = known[2] + db.session.execute(select(func.count()).where(AuditEvent.id > known[0])).scalar()
    else:
        count = db.session.execute(select(func.count(AuditEvent.id))).scalar()
    _COUNTED[key] = (head.id, head.hash, count)
    return count, head.hash
