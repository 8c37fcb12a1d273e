"""Every change to a directory entity is kept as a version, with who made it and why.

    before = entity_state(entity)           # before changing it (None when creating)
    …apply the change…
    keep_version(entity, before, "更名", actor)

Called by the back-office form and by directory imports, inside their write transaction.
"""
from sqlalchemy import select

from . import clock, journal
from .extensions import db
from .models import Entity, EntityVersion
from .validation.loading import entity_snapshot

BASELINE_REASON = "启用版本记录前的状态"


def entity_state(entity: Entity) -> dict:
    """The entity's directory fields as plain JSON-able data."""
    data = journal._plain(entity_snapshot(entity))
    data["registered_by_id"] = entity.registered_by_id
    return data


def keep_version(entity: Entity, before: dict | None, reason: str, actor=None) -> EntityVersion | None:
    """Store the entity's current state as its next version (nothing when nothing changed)."""
    db.session.flush()
    after = entity_state(entity)
    actor_id, actor_name = journal._actor(actor)
    now = clock.now()
    if before is None:
        entity.version = 1
        version = EntityVersion(entity_id=entity.id, version=1, data=after, changed=sorted(after), at=now,
                                actor_id=actor_id, actor_name=actor_name, reason=reason)
        db.session.add(version)
        return version
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not changed:
        return None
    has_history = db.session.execute(select(EntityVersion.id).where(EntityVersion.entity_id == entity.id)
                                     .limit(1)).first() is not None
    if not has_history:  # an entity from before versions were kept: its earlier state becomes version 1
        db.session.add(EntityVersion(entity_id=entity.id, version=entity.version or 1, data=before, changed=[],
                                     at=entity.created_at or now, actor_id=None, actor_name="system",
                                     reason=BASELINE_REASON))
    entity.version = (entity.version or 1) + 1
    version = EntityVersion(entity_id=entity.id, version=entity.version, data=after, changed=changed, at=now,
                            actor_id=actor_id, actor_name=actor_name, reason=reason)
    db.session.add(version)
    return version
