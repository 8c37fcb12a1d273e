"""Hash chain of audit events (SPEC §7): each event's hash covers its content and the previous hash."""
import hashlib
import json

GENESIS = "0" * 64


def canonical(event: dict) -> str:
    """The exact text hashed for one event: sorted-key JSON of its fields (without id and hash)."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(fields)}".encode("utf-8")).hexdigest()


def first_broken_link(events) -> tuple[int, str] | None:
    """Walk (id, prev_hash, hash, fields) in id order; return (id, problem) of the first bad link."""
    expected_prev = GENESIS
    for event_id, prev_hash, stored_hash, fields in events:
        if prev_hash != expected_prev:
            return event_id, f"事件 {event_id} 的前序哈希与上一事件不符"
        if event_hash(prev_hash, fields) != stored_hash:
            return event_id, f"事件 {event_id} 的内容与其哈希不符（记录可能被篡改）"
        expected_prev = stored_hash
    return None
