"""The request edge: what every request must satisfy and what every response carries.

- `<int:…>` URL segments are bounded to what the id columns hold on every engine: a larger
  id is simply not a record (404) instead of an overflow deep in the driver (500).
- Bad bytes are refused once, here, before any view runs: a NUL character in the path,
  a query or form name or value, or an uploaded file's name (PostgreSQL refuses NUL in
  text, SQLite would store it), and integers too large for their column in the parameters
  that carry numbers (ids, versions, years, paging). The answer is a Chinese 400 and
  nothing is written.
- Security headers on every response: a Content-Security-Policy that allows only our own
  (vendored) scripts and styles, no inline code and no eval, and forbids framing (with
  X-Frame-Options for browsers that predate `frame-ancestors`).
- `safe_next()`: where to go after sign-in; only same-site relative paths.
"""
import re
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from .errors import BadInput

# A signed 64-bit integer: SQLite's INTEGER, PostgreSQL's BIGINT and LIMIT/OFFSET (paging).
MAX_DB_INT = 2 ** 63 - 1
# SQLAlchemy's Integer (every id, version and year column) is a 32-bit INTEGER on PostgreSQL.
MAX_INTEGER_COLUMN = 2 ** 31 - 1

# Query and form parameters that carry integers somewhere in the portal, with the largest value
# their column or clause takes: paging (an OFFSET), kept versions, years, record ids in filters
# and forms. Names ending in `_id` are ids too.
NUMERIC_PARAMS = {"page": MAX_DB_INT, "per_page": MAX_DB_INT,
                  **dict.fromkeys(("version", "year", "record", "plan", "inspectors_per_target", "participants",
                                   "departments", "items", "specialties"), MAX_INTEGER_COLUMN)}

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",  # the vendored htmx and static/js only: no inline <script>, no eval
    "style-src 'self'",  # static/css only: no <style>, no style="" (htmx's own is switched off)
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",  # nobody may frame the publish/withdraw buttons (clickjacking)
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` that only matches what an id column can hold on every engine."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_INTEGER_COLUMN, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def exceeds(value: str, limit: int) -> bool:
    """Whether `value` is written as an integer (as `int()` would read it) beyond ±`limit`."""
    text = value.strip().replace("_", "")
    if text[:1] in ("+", "-"):
        text = text[1:]
    if not text or not text.isdecimal():
        return False
    text = text.lstrip("0") or "0"
    return len(text) > len(str(limit)) or int(text) > limit


def _numeric_limit(name: str) -> int | None:
    return NUMERIC_PARAMS.get(name, MAX_INTEGER_COLUMN if name.endswith("_id") else None)


def request_problem() -> str | None:
    """What is wrong with the current request at the edge, as a Chinese sentence (None: nothing)."""
    if "\x00" in request.path:
        return "网址中含有不允许的空字符（NUL），请检查链接。"
    sources = [("网址参数", request.args)]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        sources.append(("表单", request.form))
    for where, values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return f"{where}“{name.replace(chr(0), '')}”中含有不允许的空字符（NUL），请删除后重试。"
            limit = _numeric_limit(name)
            if limit is not None and exceeds(value, limit):
                return f"{where}“{name}”的数值超出范围，请填写一个合理的数字。"
            if name == "next" and value and not is_safe_next(value):
                return "登录后要打开的地址不正确：只能是本站的页面地址。"
    if request.method in ("POST", "PUT", "PATCH"):
        for name, upload in request.files.items(multi=True):
            if "\x00" in name or "\x00" in (upload.filename or ""):
                return "上传文件的文件名中含有不允许的空字符（NUL），请重命名文件后再上传。"
    return None


_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


def is_safe_next(target: str) -> bool:
    """Whether `target` (a `?next=` after sign-in) is a path on this site.

    Refused: other sites (`//host`, `https://…`), backslashes (browsers read `/\\host` as
    `//host`), and any control character or space: browsers drop tabs and line breaks
    from URLs (so `/<TAB>/host` becomes `//host`), and CR/LF would split the Location header.
    """
    if not target.startswith("/") or target.startswith("//") or _CONTROL.search(target):
        return False
    parts = urlsplit(target)
    return not (parts.scheme or parts.netloc)


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default`."""
    return target if target and is_safe_next(target) else default


def init_app(app: Flask) -> None:
    """Install the converter (before any blueprint adds rules), the edge check and the headers."""
    app.url_map.converters["int"] = DatabaseIntConverter

    @app.before_request
    def _refuse_bad_input():
        problem = request_problem()
        if problem:
            raise BadInput(problem)

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
