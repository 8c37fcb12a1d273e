"""China dates and the date formats people type into forms and spreadsheets."""
import calendar
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def china_date(moment: datetime) -> date:
    """The calendar date in China at an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(CHINA).date()


def china_midnight(day: date) -> datetime:
    """The aware UTC instant at which `day` begins in China."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).astimezone(timezone.utc)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(text) -> date:
    """Parse 2025-03-07, 2025/3/7, 2025年3月7日, 20250307 or a date/datetime value.

    Raises ValueError with a Chinese message when the text is not a real date.
    """
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    value = str(text or "").strip()
    value = value.translate(str.maketrans("０１２３４５６７８９／－．", "0123456789/-."))
    # Spreadsheet cells often carry a midnight time part: "2025-03-07 00:00:00".
    value = re.sub(r"[T\s]+0{1,2}:00(:00)?$", "", value)
    value = re.sub(r"\s+", "", value)
    if not value:
        raise ValueError("日期为空")
    for pattern in _DATE_PATTERNS:
        m = pattern.match(value)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return date(y, mo, d)
            except ValueError:
                raise ValueError(f"“{text}”不是有效日期（{y}年没有{mo}月{d}日）") from None
    raise ValueError(f"“{text}”不是可识别的日期，请写成 2025-03-07、2025/3/7 或 2025年3月7日")


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end (3 months after 11-30 is 02-28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def days_between(a: date, b: date) -> int:
    return (b - a).days


ONE_DAY = timedelta(days=1)
