"""Request/response plumbing shared by every blueprint.

- render_page(): one URL, two renderings: the full page, or just its fragment
  for an htmx request (never for a history-restore request).
- Vary: HX-Request on every response, so caches keep the two apart.
- Paging and query-string helpers so filters stay in the URL.
- The Jinja filters that show dates and times: always China time (Asia/Shanghai).
"""
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for
from markupsafe import Markup, escape

from . import clock
from .domain.dates import CHINA
from .errors import BadInput
from .extensions import htmx
from .security import MAX_DB_INT


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def render_page(page_template: str, fragment_template: str, **context):
    """Render the page, or only `fragment_template` for an htmx request."""
    return render_template(fragment_template if wants_fragment() else page_template, **context)


@dataclass
class Paging:
    page: int
    per_page: int
    count: bool = True  # False: only the rows (Page.total is None), e.g. the home page's latest five

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(args, name: str, label: str, default: int, errors: list) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) < 1:
        errors.append(f"{label}“{raw}”不正确，应为正整数。")
        return default
    return int(raw)


def parse_paging(args, default_per_page: int = 20, max_per_page: int = 200) -> Paging:
    """`page` and `per_page` from a query string; anything else than a page that exists in
    principle is a BadInput with a Chinese message (a page past the last one is just empty)."""
    errors: list[str] = []
    page = _positive_int(args, "page", "页码", 1, errors)
    per_page = _positive_int(args, "per_page", "每页条数", default_per_page, errors)
    if per_page > max_per_page:
        errors.append(f"每页条数不能超过 {max_per_page}。")
        per_page = default_per_page
    if (page - 1) * per_page > MAX_DB_INT:
        errors.append(f"页码“{page}”超出范围。")
        page = 1
    if errors:
        raise BadInput(*errors)
    return Paging(page, per_page)


def paging_from_request(default_per_page: int = 20, max_per_page: int = 200) -> Paging:
    return parse_paging(request.args, default_per_page, max_per_page)


@dataclass
class Page:
    """One page of a list: what every representation (HTML, JSON, fragment) renders."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def url_with(**changes) -> str:
    """The current path with query arguments changed (None removes one). Resets page unless given."""
    args = request.args.to_dict(flat=False)
    if "page" not in changes:
        args.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    query = urlencode([(k, v) for k, values in args.items() for v in values])
    return request.path + ("?" + query if query else "")


_MARK = "1234567"  # valid for every converter (int or string) the public URLs use


def url_prefix(endpoint: str, name: str) -> str:
    """The URL of `endpoint` up to its argument `name`, which must end it: a list builds it once
    per page and each row's link is prefix + value (a url_for call per row costs ~0.1 ms)."""
    url = url_for(endpoint, **{name: _MARK})
    if not url.endswith(_MARK):
        raise ValueError(f"{endpoint}: {name} does not end the URL")
    return url[:-len(_MARK)]


def china_time(value) -> datetime | None:
    """An instant in China time: aware datetimes, naive ones (the database stores UTC) or
    ISO 8601 text (JSON-shaped data such as a draw certificate); None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CHINA)


def format_date(value) -> str:
    """`|date`: a date as YYYY-MM-DD; an instant as its China date."""
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value).strftime("%Y-%m-%d")  # a public dict's date
    return china_time(value).strftime("%Y-%m-%d")


def format_datetime(value) -> str:
    """`|datetime`: every time a person reads, in China time (YYYY-MM-DD HH:MM)."""
    moment = china_time(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def format_money(value) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


def _inspector_html(name, licence_no) -> str:
    """One inspector as the drawn lists write it, escaped: 张三（<span class="mono">A123</span>）.
    Plain escape and an f-string: Markup.format runs a Python formatter, ~5 µs a call."""
    return f'{escape(name)}（<span class="mono">{escape(licence_no)}</span>）'


def format_inspectors(pairs) -> Markup:
    """`|inspectors`: (name, licence_no) pairs as the drawn lists write them, joined by 、 (one
    call per row instead of a Jinja loop: the task page's drawn list has ~120 rows)."""
    return Markup("、".join(_inspector_html(name, licence_no) for name, licence_no in pairs))


def format_assignments(assignments) -> Markup:
    """`|assignments`: a draw certificate's assignments (its `selected[…].assignments` dicts) as
    `|inspectors` writes them, a replaced inspector struck through (one call per drawn entity
    instead of a Jinja loop: a certificate lists ~130 entities)."""
    return Markup("、".join(
        f'<del title="已更换">{_inspector_html(a["name"], a["licence_no"])}</del>' if a["replaced"]
        else _inspector_html(a["name"], a["licence_no"]) for a in assignments))


# The public-security filing (公安机关互联网站安全管理服务平台) looks a number up by its digits.
PSB_LOOKUP = "https://beian.mps.gov.cn/#/query/webSearch?code={code}"


def site_footer() -> dict:
    """Who runs the site and its filing numbers, from configuration (empty ones are left out)."""
    config = current_app.config
    psb = (config.get("SITE_PSB_RECORD") or "").strip()
    code = "".join(ch for ch in psb if ch.isascii() and ch.isdigit())
    return {"sponsor": (config.get("SITE_SPONSOR") or "").strip(),
            "contact": (config.get("SITE_CONTACT") or "").strip(),
            "icp": (config.get("SITE_ICP_RECORD") or "").strip(),
            "psb": psb, "psb_url": PSB_LOOKUP.format(code=code) if code else ""}


def _public_name(name) -> str:
    """`|public_name`: an entity's name as public channels show it (shape.public_name)."""
    from .public.shape import public_name  # portal.public imports this module

    return public_name(name)


def register(app) -> None:
    app.jinja_env.globals.update(url_with=url_with, url_prefix=url_prefix, site_name=app.config["SITE_NAME"],
                                 clock_now=clock.now, site_footer=site_footer)
    app.jinja_env.filters.update(date=format_date, datetime=format_datetime, money=format_money,
                                 inspectors=format_inspectors, assignments=format_assignments,
                                 public_name=_public_name)

    @app.after_request
    def _vary_on_htmx(response):
        response.vary.add("HX-Request")
        return response
