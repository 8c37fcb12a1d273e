"""Downloadable templates: Chinese headers and one example row, as CSV (UTF-8 with BOM) or XLSX."""
import csv
import io

from ..domain.uscc import make
from .columns import COLUMNS, EXAMPLES
from .reading import write_xlsx

EXAMPLE_USCC = make("9", "1", "411421", "MA0000001")


def _example(kind):
    return [EXAMPLE_USCC if value == "91411421MA0000001X" else value for value in EXAMPLES[kind]]


def template_csv(kind: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS[kind]])
    writer.writerow(_example(kind))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def template_xlsx(kind: str) -> bytes:
    return write_xlsx([c.header for c in COLUMNS[kind]], [_example(kind)], sheet_title="导入模板")
