"""Open-data writers: JSON list envelopes and streamed CSV (UTF-8 with BOM, formula-safe)."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

from flask import Response, jsonify, stream_with_context

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Text for one CSV cell; a leading = + - @ or tab is neutralised with a quote (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, (date, Decimal, int, float)):
        return str(value)
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_response(filename: str, header: list[str], rows) -> Response:
    """Stream `rows` (iterables of cells) as a CSV download, beginning with a UTF-8 BOM."""

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        yield "\ufeff"
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(cell) for cell in row])
            if buffer.tell() > 16384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


def json_list(items: list, total: int, page: int, per_page: int, **extra) -> Response:
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page, **extra})


def json_value(value):
    """JSON-safe conversion of dates, datetimes and decimals."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
