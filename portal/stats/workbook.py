"""The period report as an XLSX workbook formatted for printing (the only module writing XLSX).

One sheet per table and one for the monthly trends, each laid out as a 季度工作统计表 is
filed: a title row, the period, grouped column headers, a bold total row, a note; thin
borders, number formats, column widths, landscape A4 fitted to the page width, the header
rows repeated on every printed page, page numbers in the footer.
"""
import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from ..domain.dates import CHINA
from .report import DEPARTMENT_COLUMNS, INT, MONEY, RATE, TREND_COLUMNS, Column, Report, Table

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS = {INT: "#,##0", MONEY: "#,##0.00", RATE: "0.0%"}
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="E7E6E6")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _text(value) -> str:
    # XML 1.0 forbids control characters; one stray \x0b in a department name must not
    # make the whole workbook unreadable.
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def report_title(report: Report) -> str:
    kind = {"quarter": "季度", "year": "年度"}.get(report.period.kind, "")
    return f"“双随机、一公开”监管{kind}工作统计表"


def period_line(report: Report) -> str:
    period = report.period
    span = ""
    if period.kind in ("year", "quarter"):
        span = f"（{period.start:%Y-%m-%d} 至 {period.end:%Y-%m-%d}）"
    dept = report.figures.total.name if report.figures.dept else "全部部门"
    made = report.now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return f"统计期间：{period.label}{span}　　部门：{dept}　　制表时间：{made}（北京时间）　　仅统计公众可见的信息"


def _sheet(wb: Workbook, report: Report, name: str, title: str, columns: list[Column], groups: list,
           rows: list[list], total: list | None, note: str) -> None:
    ws = wb.create_sheet(_text(name)[:31])
    width = len(columns)
    last = get_column_letter(width)
    ws.append([_text(f"{report_title(report)} · {title}")])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 26
    ws.append([_text(period_line(report))])
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].alignment = Alignment(horizontal="left", vertical="center", wrap_text=True)
    ws.row_dimensions[2].height = 30
    header_top = 3
    if any(group for group, _span in groups):
        ws.append([None] * width)
        ws.append([_text(c.header) for c in columns])
        col = 1
        for group, span in groups:
            if group:
                ws.cell(header_top, col, _text(group))
                if span > 1:
                    ws.merge_cells(start_row=header_top, start_column=col, end_row=header_top, end_column=col + span - 1)
            else:  # an ungrouped column's header spans both header rows
                ws.cell(header_top, col, _text(columns[col - 1].header))
                ws.merge_cells(start_row=header_top, start_column=col, end_row=header_top + 1, end_column=col)
            col += span
        header_bottom = header_top + 1
    else:
        ws.append([_text(c.header) for c in columns])
        header_bottom = header_top
    for r in range(header_top, header_bottom + 1):
        ws.row_dimensions[r].height = 32
        for c in range(1, width + 1):
            cell = ws.cell(r, c)
            cell.font, cell.fill, cell.alignment, cell.border = Font(bold=True), HEADER_FILL, CENTRE, BORDER
    body = rows + ([total] if total is not None else [])
    for index, values in enumerate(body):
        ws.append([_text(v) if isinstance(v, str) else v for v in values])
        r = ws.max_row
        for c, column in enumerate(columns, 1):
            cell = ws.cell(r, c)
            cell.border = BORDER
            if column.kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.kind]
                cell.alignment = Alignment(horizontal="right")
            if total is not None and index == len(body) - 1:
                cell.font = Font(bold=True)
    if note:
        ws.append([_text("说明：" + note)])
        r = ws.max_row
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
        ws.cell(r, 1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = 32
    for c, column in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(c)].width = column.width
    ws.freeze_panes = ws.cell(header_bottom + 1, 3 if columns[:2] == list(DEPARTMENT_COLUMNS) else 2)
    ws.print_title_rows = f"{header_top}:{header_bottom}"
    ws.print_area = f"A1:{last}{ws.max_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _table_sheet(wb: Workbook, report: Report, table: Table) -> None:
    columns = list(DEPARTMENT_COLUMNS) + table.columns
    groups = [("", 1), ("", 1)] + table.header_groups()
    rows = [[code, name] + list(values) for code, name, values in table.rows]
    total = ["合计", report.figures.total.name] + list(table.total)
    _sheet(wb, report, table.title, table.title, columns, groups, rows, total, table.note)


def _trend_sheet(wb: Workbook, report: Report) -> None:
    columns = [Column("month", "月份", "text", width=12)] + list(TREND_COLUMNS)
    rows = [[m.month.label] + [getattr(m, c.key) for c in TREND_COLUMNS] for m in report.figures.trends]
    _sheet(wb, report, "月度趋势", "近24个月月度趋势", columns, [("", 1)] * len(columns), rows, None,
           "按检查结果形成日期、行政处罚决定日期所在月份统计，不受上方统计期间限制；按时公示率含检查结果和行政处罚。")


def workbook_bytes(report: Report) -> bytes:
    """The report as an .xlsx file."""
    wb = Workbook()
    wb.remove(wb.active)
    for table in report.tables:
        _table_sheet(wb, report, table)
    _trend_sheet(wb, report)
    wb.properties.title = report_title(report)
    wb.properties.creator = "portal"
    wb.properties.created = datetime(2000, 1, 1) if report.now is None else report.now.replace(tzinfo=None)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
