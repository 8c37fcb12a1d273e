"""The working-day calendar (SPEC §4 golden values)."""
from datetime import date, datetime, timezone

import pytest

from portal import clock
from portal.domain.dates import china_date
from portal.domain.workdays import (DATA_LAST_YEAR, WorkCalendar, add_workdays, is_provisional, is_workday,
                                    workdays_between)


@pytest.mark.parametrize("start", [date(2025, 9, 30), date(2025, 10, 1), date(2025, 10, 4)])
@pytest.mark.parametrize("n, expected", [(1, date(2025, 10, 9)), (5, date(2025, 10, 14)), (20, date(2025, 11, 4))])
def test_golden_deadlines_across_national_day(start, n, expected):
    assert add_workdays(start, n) == (expected, False)


@pytest.mark.parametrize("day", [date(2025, 9, 28), date(2025, 10, 11), date(2026, 2, 14), date(2026, 2, 28)])
def test_make_up_working_days_are_working_days(day):
    assert day.weekday() >= 5  # a weekend day…
    assert is_workday(day)  # …that is a 调休 working day


@pytest.mark.parametrize("day", [date(2025, 10, 1), date(2025, 10, 8), date(2026, 2, 17), date(2025, 10, 12)])
def test_holidays_and_weekends_are_rest_days(day):
    assert not is_workday(day)


def test_beyond_the_package_data_is_provisional_not_an_error():
    assert DATA_LAST_YEAR == 2026
    due, provisional = add_workdays(date(2026, 12, 15), 20)
    assert provisional is True
    # Monday–Friday fallback for 2027: 12 working days left in Dec 2026 (16–31), then 8 in January.
    assert due == date(2027, 1, 12)
    assert is_provisional(date(2027, 1, 4)) and not is_provisional(date(2026, 12, 31))
    assert is_workday(date(2027, 1, 1)) is True  # a guess: Friday; an override corrects it


def test_within_the_data_is_not_provisional():
    assert add_workdays(date(2026, 11, 2), 20) == (date(2026, 11, 30), False)


def test_overrides_take_precedence():
    overrides = {date(2027, 1, 1): False, date(2025, 10, 9): False}
    assert not is_workday(date(2027, 1, 1), overrides)
    assert not is_provisional(date(2027, 1, 1), overrides)
    assert add_workdays(date(2025, 9, 30), 1, overrides) == (date(2025, 10, 10), False)
    assert add_workdays(date(2025, 9, 30), 1, {date(2025, 10, 4): True}) == (date(2025, 10, 4), False)


def test_zero_days_is_the_start_day():
    assert add_workdays(date(2025, 10, 1), 0) == (date(2025, 10, 1), False)


def test_workdays_between_counts_days_after_the_first():
    assert workdays_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert workdays_between(date(2025, 9, 30), date(2025, 11, 4)) == 20
    assert workdays_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert workdays_between(date(2025, 10, 9), date(2025, 10, 9)) == 0
    cal = WorkCalendar()
    for n in (1, 5, 20, 37):
        due, _ = cal.add_workdays(date(2025, 9, 30), n)
        assert cal.workdays_between(date(2025, 9, 30), due) == n


def test_today_is_the_china_date(app, set_now):
    moment = datetime(2026, 3, 2, 16, 30, tzinfo=timezone.utc)
    assert china_date(moment) == date(2026, 3, 3)
    set_now("2026-03-02T16:30:00+00:00")
    assert clock.today() == date(2026, 3, 3)


def test_only_the_calendar_module_imports_chinese_calendar():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "portal"
    importers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if "chinese_calendar" in p.read_text(encoding="utf-8"))
    assert importers == ["domain/workdays.py"]
