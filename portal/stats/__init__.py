"""Oversight statistics (issue 13): period reports per department, monthly trends, and the
XLSX/CSV/JSON files journalists and oversight bodies download.

    periods   the reporting period (year, quarter, custom range) from a query string or `2026Q3`
    figures   the figures, counted in the database through the visibility rule
    report    the figures as tables (one definition for page, XLSX, CSV, JSON), cached briefly
    charts    SVG geometry of the trend and department charts
    workbook  the printable XLSX (openpyxl)
    cli       `flask --app wsgi stats report`
"""
from .periods import ALL_TIME, Period, PeriodError, parse_period, parse_quarter_code, quarter_period, year_period
from .report import Report, Table, build, register_table, report_json

__all__ = ["ALL_TIME", "Period", "PeriodError", "parse_period", "parse_quarter_code", "quarter_period", "year_period",
           "Report", "Table", "build", "register_table", "report_json"]
