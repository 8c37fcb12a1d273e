"""Server-rendered SVG charts: the geometry is computed here, templates/public/stats/_charts.html draws it.

Sized for a phone first: every chart's viewBox is 340 units wide with 13-unit text, so on a
390 px screen (358 px of content) labels render at 13–14 px and nothing scrolls sideways;
wider screens scale the drawing up. No inline styles or scripts (the Content-Security-Policy
allows only our stylesheet): colours are classes in static/css/portal.css, sizes are SVG
presentation attributes. Every chart has a text summary (<desc>) and a data table beneath.
"""
import math
from dataclasses import dataclass, field

from .figures import Figures

WIDTH = 340
FONT = 13
SEGMENT_CLASSES = 12  # .seg-0 … .seg-11 in portal.css


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    sub: str = ""  # a second line (the year under January)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str = "bar"


@dataclass
class TrendChart:
    key: str
    title: str
    kind: str  # "bar" (counts) or "line" (rates)
    unit: str  # the table's value header
    height: int
    left: float
    top: float
    plot_width: float
    plot_height: float
    bars: list = field(default_factory=list)
    path: str = ""
    points: list = field(default_factory=list)  # (x, y, title)
    y_ticks: list = field(default_factory=list)
    x_ticks: list = field(default_factory=list)
    summary: str = ""
    rows: list = field(default_factory=list)  # (month label, value text) for the data table

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 4, 6, 8 × 10^k not below `value` (2 for 0 or 1): counts, so the
    axis's middle tick (half of it) is a whole number too."""
    if value <= 2:
        return 2
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 8, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def _count(value) -> str:
    return f"{value:,.0f}" if value is not None else "—"


def _percent(value) -> str:
    return f"{value * 100:.1f}%" if value is not None else "—"


def trend_chart(key: str, title: str, months: list, values: list, kind: str, unit: str,
                fmt=None) -> TrendChart:
    """Month-by-month chart of `values` (None = no data that month): bars or a line."""
    rate = kind == "line"
    fmt = fmt or (_percent if rate else _count)
    left, top, right, bottom_space, height = 48.0, 12.0, 6.0, 40.0, 200
    chart = TrendChart(key, title, kind, unit, height, left, top, WIDTH - left - right, height - top - bottom_space)
    top_value = 1.0 if rate else nice_ceiling(max([v for v in values if v is not None] or [0]))
    step = chart.plot_width / max(1, len(months))

    def y_of(value):
        return round(chart.bottom - chart.plot_height * (value / top_value), 2)

    for fraction in (0, 0.5, 1):
        value = top_value * fraction
        chart.y_ticks.append(Tick(y_of(value), f"{value * 100:.0f}%" if rate else _count(value)))
    segments, current = [], []
    for i, (month, value) in enumerate(zip(months, values)):
        centre = left + step * (i + 0.5)
        if month.month in (1, 4, 7, 10):  # a quarter's first month; the year under January (and the first tick)
            chart.x_ticks.append(Tick(round(centre, 2), f"{month.month}月",
                                      str(month.year) if month.month == 1 or not chart.x_ticks else ""))
        label = f"{month.label}：{fmt(value)}"
        chart.rows.append((month.label, fmt(value)))
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        if rate:
            point = (round(centre, 2), y_of(value), label)
            chart.points.append(point)
            current.append(point)
        else:
            bar_width = step * 0.7
            y = y_of(value)
            chart.bars.append(Bar(round(centre - bar_width / 2, 2), y, round(bar_width, 2),
                                  round(chart.bottom - y, 2), label))
    if current:
        segments.append(current)
    chart.path = " ".join("M" + " L".join(f"{x} {y}" for x, y, _ in seg) for seg in segments)
    known = [(m, v) for m, v in zip(months, values) if v is not None]
    if known:
        peak = max(known, key=lambda mv: mv[1])
        chart.summary = (f"{title}，{months[0].label}至{months[-1].label}，共 {len(months)} 个月。"
                         f"最近一个月（{months[-1].label}）{fmt(values[-1])}；最高为 {peak[0].label} {fmt(peak[1])}。"
                         "逐月数字见下方数据表。")
    else:
        chart.summary = f"{title}：{months[0].label}至{months[-1].label}没有可统计的公开信息。"
    return chart


def trend_charts(figures: Figures) -> list[TrendChart]:
    months = [m.month for m in figures.trends]
    t = figures.trends
    return [
        trend_chart("results", "每月检查户次", months, [m.results for m in t], "bar", "检查（户次）"),
        trend_chart("problem-rate", "每月发现问题率", months, [m.problem_rate for m in t], "line", "发现问题率"),
        trend_chart("penalties", "每月行政处罚件数", months, [m.penalties for m in t], "bar", "行政处罚（件）"),
        trend_chart("on-time", "每月按时公示率（检查结果和行政处罚）", months, [m.on_time_rate for m in t], "line",
                    "按时公示率"),
    ]


@dataclass
class DepartmentBar:
    name: str
    label_y: float
    bar_y: float
    segments: list  # Bar
    value: str


@dataclass
class DepartmentChart:
    key: str
    title: str
    summary: str
    rows: list  # DepartmentBar
    height: float
    plot_width: float = 268.0
    legend: list = field(default_factory=list)  # (css class, text)

    @property
    def width(self) -> int:
        return WIDTH


ROW_HEIGHT, BAR_HEIGHT = 44.0, 16.0


def on_time_chart(figures: Figures) -> DepartmentChart:
    """Each department's on-time rate over all record kinds: a bar per department, name above it."""
    chart = DepartmentChart("department-on-time", "各部门按时公示率", "", [], 0)
    parts = []
    for i, f in enumerate(figures.departments):
        t = f.on_time
        label_y = 8 + i * ROW_HEIGHT + FONT
        bar_y = label_y + 6
        segments = []
        if t.rate is not None:
            css = "bar-ok" if t.rate >= 0.9 else ("bar-warn" if t.rate >= 0.6 else "bar-bad")
            segments.append(Bar(0, bar_y, round(chart.plot_width * t.rate, 2), BAR_HEIGHT,
                                f"{f.name}：{_percent(t.rate)}（{t.on_time}/{t.judged}）", css))
            parts.append(f"{f.name} {_percent(t.rate)}（{t.on_time}/{t.judged}）")
        else:
            parts.append(f"{f.name} 无可判定记录")
        chart.rows.append(DepartmentBar(f.name, label_y, bar_y, segments, _percent(t.rate)))
    chart.height = 8 + len(figures.departments) * ROW_HEIGHT
    chart.summary = "；".join(parts) + "。"
    return chart


def conclusion_chart(figures: Figures) -> DepartmentChart:
    """Each department's conclusion mix as one stacked bar (shares of its conclusions)."""
    css = {code: f"seg-{i % SEGMENT_CLASSES}" for i, (code, _) in enumerate(figures.conclusions)}
    chart = DepartmentChart("department-conclusions", "各部门检查结论构成", "", [], 0)
    parts = []
    for i, f in enumerate(figures.departments):
        label_y = 8 + i * ROW_HEIGHT + FONT
        bar_y = label_y + 6
        total = sum(f.conclusions.values())
        segments, offset, described = [], 0.0, []
        for code, label in figures.conclusions:
            count = f.conclusions.get(code, 0)
            if not count:
                continue
            width = chart.plot_width * count / total
            segments.append(Bar(round(offset, 2), bar_y, round(width, 2), BAR_HEIGHT,
                                f"{code} {label}：{count} 户次（{count / total * 100:.1f}%）", css[code]))
            described.append(f"{code} {count}")
            offset += width
        chart.rows.append(DepartmentBar(f.name, label_y, bar_y, segments, _count(total)))
        parts.append(f"{f.name}（{total}）：" + ("、".join(described) if described else "无"))
    chart.height = 8 + len(figures.departments) * ROW_HEIGHT
    chart.summary = "；".join(parts) + "。"
    chart.legend = [(css[code], f"{code} {label}") for code, label in figures.conclusions
                    if figures.total.conclusions.get(code)]
    return chart
