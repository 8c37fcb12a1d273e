"""Reporting periods of the oversight statistics: a year, a quarter, a custom range, or all time.

Plain Python (no Flask, no database). Departments report each quarter (before 10 April,
10 July and 10 October for the previous quarter) and sum up the year; journalists pick
any range. A period is inclusive of both ends and counted in China dates.
"""
import re
from dataclasses import dataclass
from datetime import date, timedelta

from ..domain.dates import parse_date

QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
FIRST_YEAR, LAST_YEAR = 1990, 2100
_QUARTER_CODE = re.compile(r"^\s*(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])\s*$")


class PeriodError(ValueError):
    """An unusable period in the query string; `messages` are Chinese sentences for the user."""

    def __init__(self, messages: list[str]):
        super().__init__("；".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Period:
    kind: str  # "all", "year", "quarter" or "range"
    start: date | None = None  # first day (None: open)
    end: date | None = None  # last day (None: open)
    year: int | None = None
    quarter: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.year}年度"
        if self.kind == "quarter":
            return f"{self.year}年{QUARTER_NAMES[self.quarter]}"
        if self.kind == "range":
            start = self.start.isoformat() if self.start else "最早"
            end = self.end.isoformat() if self.end else "至今"
            return f"{start} 至 {end}"
        return "全部时间"

    @property
    def slug(self) -> str:
        """A file-name friendly name: 2026Q3, 2026, 20260101-20260315, all."""
        if self.kind == "year":
            return str(self.year)
        if self.kind == "quarter":
            return f"{self.year}Q{self.quarter}"
        if self.kind == "range":
            return (f"{self.start:%Y%m%d}" if self.start else "") + "-" + (f"{self.end:%Y%m%d}" if self.end else "")
        return "all"

    def query_args(self) -> dict[str, str]:
        """The query-string arguments that select this period (for links and downloads)."""
        if self.kind == "year":
            return {"year": str(self.year)}
        if self.kind == "quarter":
            return {"year": str(self.year), "quarter": str(self.quarter)}
        if self.kind == "range":
            args = {}
            if self.start:
                args["from"] = self.start.isoformat()
            if self.end:
                args["to"] = self.end.isoformat()
            return args
        return {}

    def list_args(self) -> dict[str, str]:
        """The same period as `from`/`to` filters of the public lists (/results, /penalties)."""
        args = {}
        if self.start:
            args["from"] = self.start.isoformat()
        if self.end:
            args["to"] = self.end.isoformat()
        return args

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def overlaps(self, first: date, last: date) -> bool:
        return (self.end is None or first <= self.end) and (self.start is None or last >= self.start)


ALL_TIME = Period("all")


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31), year=year)


def quarter_period(year: int, quarter: int) -> Period:
    first_month = 3 * (quarter - 1) + 1
    start = date(year, first_month, 1)
    end = (date(year + 1, 1, 1) if quarter == 4 else date(year, first_month + 3, 1)) - timedelta(days=1)
    return Period("quarter", start, end, year=year, quarter=quarter)


def range_period(start: date | None, end: date | None) -> Period:
    return Period("range", start, end) if start or end else ALL_TIME


def parse_quarter_code(text: str) -> Period:
    """`2026Q3` (also 2026-Q3, 2026q3) → the third quarter of 2026."""
    match = _QUARTER_CODE.match(text or "")
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise PeriodError([f"季度“{text}”格式不正确，应写成 2026Q3（年份 + Q + 1 至 4）。"])
    return quarter_period(int(match.group(1)), int(match.group(2)))


def parse_period(args) -> Period:
    """The period chosen by `year`, `quarter`, `from`, `to` (any mapping of str → str).

    year alone → that year; year + quarter (1–4) → that quarter; from and/or to → a custom
    range; nothing → all time. Raises PeriodError (Chinese messages) on anything else.
    """
    errors: list[str] = []
    raw_year = (args.get("year") or "").strip()
    raw_quarter = (args.get("quarter") or "").strip().upper().removeprefix("Q")
    year = quarter = None
    if raw_year:
        if raw_year.isdigit() and FIRST_YEAR <= int(raw_year) <= LAST_YEAR:
            year = int(raw_year)
        else:
            errors.append(f"年度“{raw_year}”不正确，请填写四位年份，例如 2026。")
    if raw_quarter:
        if raw_quarter in ("1", "2", "3", "4"):
            quarter = int(raw_quarter)
        else:
            errors.append(f"季度“{args.get('quarter')}”不正确，应为 1、2、3 或 4。")
        if not raw_year:
            errors.append("选择季度时请同时选择年度。")
    dates = {}
    for name, label in (("from", "起始日期"), ("to", "截止日期")):
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                dates[name] = parse_date(raw)
            except ValueError as exc:
                errors.append(f"{label}：{exc}")
    if dates and (raw_year or raw_quarter):
        errors.append("自定义起止日期与年度、季度只能选择一种，请清除其中一种。")
    if "from" in dates and "to" in dates and dates["from"] > dates["to"]:
        errors.append("起始日期不能晚于截止日期。")
    if errors:
        raise PeriodError(errors)
    if quarter:
        return quarter_period(year, quarter)
    if year:
        return year_period(year)
    return range_period(dates.get("from"), dates.get("to"))


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        nxt = date(self.year + 1, 1, 1) if self.month == 12 else date(self.year, self.month + 1, 1)
        return nxt - timedelta(days=1)


def last_months(today: date, count: int = 24) -> list[Month]:
    """The `count` calendar months ending with today's month, oldest first."""
    index = today.year * 12 + today.month - 1
    return [Month(i // 12, i % 12 + 1) for i in range(index - count + 1, index + 1)]
