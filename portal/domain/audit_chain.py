"""Hash chain of audit events (SPEC §7): each event's hash covers its content and the previous hash."""
import hashlib
import json
import re

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


HEAD = re.compile(r"^[0-9a-f]{64}$")


def parse_heads(text: str) -> list[str]:
    """Archived heads from a file: one hash per line (its first word); blank lines and # comments skipped.

    Raises ValueError naming the first line that does not start with a 64-hex-digit hash.
    """
    heads = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word = line.split()[0].lower()
        if not HEAD.match(word):
            raise ValueError(f"第 {number} 行不是 64 位十六进制的链头哈希 / line {number} is not a 64-hex-digit head hash")
        heads.append(word)
    return heads


def find_heads(events, heads) -> dict:
    """Pass (id, prev_hash, hash, fields) through, noting where each archived head occurs.

    Returns a dict head → event id that is filled while `events` is consumed; a head still
    missing once the walk is over is no longer reachable: the events from it back to where the
    chain now ends were deleted (or the whole chain was rewritten).
    """
    wanted = set(heads)
    found = {}

    def walk():
        for event in events:
            if event[2] in wanted and event[2] not in found:
                found[event[2]] = event[0]
            yield event

    return found, walk()
