"""Request/response plumbing shared by every blueprint.

- render_page(): one URL, two renderings: the full page, or just its fragment
  for an htmx request (never for a history-restore request).
- Vary: HX-Request on every response, so caches keep the two apart.
- Paging and query-string helpers so filters stay in the URL.
"""
import math
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from flask import render_template, request

from . import clock
from .domain.dates import CHINA
from .extensions import htmx


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def render_page(page_template: str, fragment_template: str, **context):
    """Render the page, or only `fragment_template` for an htmx request."""
    return render_template(fragment_template if wants_fragment() else page_template, **context)


@dataclass
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def paging_from_request(default_per_page: int = 20, max_per_page: int = 200) -> Paging:
    page = max(1, _int_arg("page", 1))
    per_page = min(max(1, _int_arg("per_page", default_per_page)), max_per_page)
    return Paging(page, per_page)


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


def format_date(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        return value.astimezone(CHINA).strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d")


def format_datetime(value) -> str:
    if value is None:
        return ""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def format_money(value) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


def register(app) -> None:
    app.jinja_env.globals.update(url_with=url_with, site_name=app.config["SITE_NAME"],
                                 clock_now=clock.now)
    app.jinja_env.filters.update(date=format_date, datetime=format_datetime, money=format_money)

    @app.after_request
    def _vary_on_htmx(response):
        response.vary.add("HX-Request")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
