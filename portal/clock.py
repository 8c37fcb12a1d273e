"""The application's clock: real time, or a fixed instant set by configuration.

Domain functions never read the clock; views and commands call now()/today()
and pass the values in.
"""
from datetime import date, datetime, timezone

from flask import current_app, has_app_context

from .domain.dates import china_date


def now() -> datetime:
    fixed = current_app.config.get("FIXED_NOW") if has_app_context() else None
    if fixed:
        value = datetime.fromisoformat(fixed) if isinstance(fixed, str) else fixed
        if value.tzinfo is None:
            raise ValueError("FIXED_NOW must include a UTC offset")
        return value.astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in China (Asia/Shanghai)."""
    return china_date(now())
