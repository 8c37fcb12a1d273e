"""Sign-in rules: back-off after failed attempts, and the windows sign-ins are audited in.

Plain Python, no Flask: callers pass `now` (aware UTC datetimes).

Back-off is keyed by account AND address: a wrong guess from one address never slows the
account's owner elsewhere, and invented user names never slow a real user. After
`free_failures` consecutive failures the next attempt must wait 1 s, then 2 s, 4 s, … up to
`max_seconds`. A success clears the count; so does a day without failures.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .dates import CHINA

# Failures older than this are forgotten.
FAILURE_MEMORY = timedelta(hours=24)
# Sign-in attempts are counted per window and sealed into the audit chain window by window.
AUDIT_WINDOW = timedelta(minutes=15)
# A window is sealed only this long after it ended, so hosts whose clocks lag a little still
# count their last attempts into it before it is closed.
SEAL_GRACE = timedelta(minutes=5)

OUTCOME_LABELS = {"success": "成功", "failure": "失败", "refused": "被拒绝"}


def backoff_seconds(failures: int, free_failures: int, max_seconds: int) -> int:
    """Seconds to wait after the `failures`-th consecutive failure."""
    extra = failures - free_failures
    if extra <= 0:
        return 0
    return min(max_seconds, 2 ** min(extra - 1, 30))


@dataclass(frozen=True)
class Backoff:
    failures: int
    retry_at: datetime | None

    def wait_seconds(self, now: datetime) -> int:
        """Seconds until the next attempt may be checked (0: now)."""
        if self.retry_at is None or now >= self.retry_at:
            return 0
        return max(1, int((self.retry_at - now).total_seconds() + 0.999))


def backoff(failures: int, last_failure_at: datetime | None, now: datetime, free_failures: int,
            max_seconds: int) -> Backoff:
    """Where an account+address stands, given its stored count and last failure."""
    if last_failure_at is None or failures <= 0 or now - last_failure_at >= FAILURE_MEMORY:
        return Backoff(0, None)
    delay = backoff_seconds(failures, free_failures, max_seconds)
    return Backoff(failures, last_failure_at + timedelta(seconds=delay) if delay else None)


def window_start(at: datetime) -> datetime:
    """Start (UTC) of the audit window holding the instant `at`."""
    at = at.astimezone(timezone.utc)
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    windows = (at - epoch) // AUDIT_WINDOW
    return epoch + windows * AUDIT_WINDOW


def sealable_before(now: datetime) -> datetime:
    """Windows that started before this instant have ended (and had their grace) by `now`."""
    return now - SEAL_GRACE - AUDIT_WINDOW


def window_summary(start: datetime, rows: list[dict]) -> tuple[str, dict]:
    """(summary text, payload) of the audit event that seals one window's sign-in rows.

    `rows` are dicts with username ("" for a name that does not exist), address, outcome,
    attempts, first_at, last_at (datetimes). The payload lists every row, so the chain itself
    holds the evidence; the text is what the audit log shows.
    """
    end = start + AUDIT_WINDOW
    ordered = sorted(rows, key=lambda r: (r["outcome"], r["username"], r["address"]))
    totals = {outcome: sum(r["attempts"] for r in rows if r["outcome"] == outcome) for outcome in OUTCOME_LABELS}
    unknown = sum(r["attempts"] for r in rows if not r["username"] and r["outcome"] == "failure")
    addresses = len({r["address"] for r in rows})
    local_start, local_end = start.astimezone(CHINA), end.astimezone(CHINA)
    parts = [f"{OUTCOME_LABELS[o]} {n} 次" for o, n in totals.items() if n]
    text = (f"登录记录 {local_start:%Y-%m-%d %H:%M}–{local_end:%H:%M}（北京时间）："
            + "，".join(parts) + f"，来自 {addresses} 个地址")
    if unknown:
        text += f"；失败中 {unknown} 次使用了不存在的用户名"
    payload = {
        "window_start": start.isoformat(), "window_end": end.isoformat(), "totals": totals,
        "rows": [{"username": r["username"] or None, "address": r["address"], "outcome": r["outcome"],
                  "attempts": r["attempts"], "first_at": r["first_at"].isoformat(),
                  "last_at": r["last_at"].isoformat()} for r in ordered],
    }
    return text, payload
