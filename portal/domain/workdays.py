"""Chinese working days: the only module that imports `chinese_calendar`.

A working day is Monday–Friday minus public holidays plus make-up working days
(调休), as published by the State Council and packaged by `chinesecalendar`.
Administrator overrides (date → is_workday) beat the package. Beyond the years
the package has data for, Monday–Friday is assumed and the answer is marked
provisional ("按常规工作日预估") instead of failing.

"N working days after D" counts from the day after D. We never call the
package's `find_workday`, whose counting differs by one when D is a rest day.
"""
from datetime import date, timedelta
from typing import Mapping

import chinese_calendar
from chinese_calendar import constants as _cc_constants

PROVISIONAL_LABEL = "按常规工作日预估"

# Years the package has data for (2004–2026 for chinesecalendar 1.11).
DATA_FIRST_YEAR = min(d.year for d in _cc_constants.holidays)
DATA_LAST_YEAR = max(d.year for d in _cc_constants.holidays)

ONE_DAY = timedelta(days=1)
Overrides = Mapping[date, bool]


def has_data(day: date) -> bool:
    return DATA_FIRST_YEAR <= day.year <= DATA_LAST_YEAR


def is_provisional(day: date, overrides: Overrides | None = None) -> bool:
    """True when the package has no data for `day` and no override settles it."""
    if overrides and day in overrides:
        return False
    return not has_data(day)


def is_workday(day: date, overrides: Overrides | None = None) -> bool:
    if overrides and day in overrides:
        return bool(overrides[day])
    if has_data(day):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


class WorkCalendar:
    """A calendar with fixed overrides; memoises per-day answers (use one per request)."""

    def __init__(self, overrides: Overrides | None = None):
        self.overrides = dict(overrides or {})
        self._workday: dict[date, bool] = {}
        self._added: dict[tuple[date, int], tuple[date, bool]] = {}

    def is_workday(self, day: date) -> bool:
        value = self._workday.get(day)
        if value is None:
            value = self._workday[day] = is_workday(day, self.overrides)
        return value

    def is_provisional(self, day: date) -> bool:
        return is_provisional(day, self.overrides)

    def add_workdays(self, start: date, n: int) -> tuple[date, bool]:
        """The n-th working day after `start` (n ≥ 0) and whether any counted day was guessed."""
        if n < 0:
            raise ValueError("n must be ≥ 0")
        key = (start, n)
        cached = self._added.get(key)
        if cached is not None:
            return cached
        day, provisional, counted = start, False, 0
        while counted < n:
            day += ONE_DAY
            provisional = provisional or self.is_provisional(day)
            if self.is_workday(day):
                counted += 1
        self._added[key] = (day, provisional)
        return day, provisional

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: how many working days after `a` the day `b` is (negative if b < a)."""
        if b < a:
            return -self.workdays_between(b, a)
        count, day = 0, a
        while day < b:
            day += ONE_DAY
            if self.is_workday(day):
                count += 1
        return count


def add_workdays(start: date, n: int, overrides: Overrides | None = None) -> tuple[date, bool]:
    """The n-th working day after `start`, counting from the day after; (date, provisional)."""
    return WorkCalendar(overrides).add_workdays(start, n)


def workdays_between(a: date, b: date, overrides: Overrides | None = None) -> int:
    """Working days in (a, b]; negative when b is before a."""
    return WorkCalendar(overrides).workdays_between(a, b)
