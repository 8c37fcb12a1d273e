"""Rate limits on the requests that cost the most or invite abuse (Flask-Limiter).

Which requests are limited, per client address (`client_address()`), is decided here:

| rate        | setting               | requests                                                   |
|-------------|-----------------------|------------------------------------------------------------|
| `SIGNIN`    | `RATELIMIT_SIGNIN`    | POST /admin/login                                          |
| `SEARCH`    | `RATELIMIT_SEARCH`    | /search and /search.json (one budget for both)             |
| `EXPORT`    | `RATELIMIT_EXPORT`    | every URL ending in .csv (one budget for all exports)      |
| `OBJECTION` | `RATELIMIT_OBJECTION` | POSTs of views marked `@limits.limited(limits.OBJECTION)`  |
| `OBJECTION_RECORD` | `RATELIMIT_OBJECTION_RECORD` | the same POSTs, counted per record whoever sends them |

A feature marks its own views with the decorator; `init_app` (run after the blueprints are
registered) wraps every limited view with the app's limiter, so views never import Flask-Limiter:

    from portal import limits

    @bp.post("/results/<int:result_id>/objections")
    @limits.limited(limits.OBJECTION)                          # per address, all objection forms
    @limits.limited(OBJECTION_PER_RECORD, key=limits.path_key)   # per record, whoever sends it
    def file_objection(result_id): ...

Counters live in Redis when `REDIS_URL` is set (shared by every worker and host), otherwise in
each worker's memory (fine for one host; several hosts need Redis). If Redis goes away the
limiter falls back to memory rather than failing requests. A refused request gets 429 with
`Retry-After` and a Chinese page (or Chinese JSON for .json URLs).
"""
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from flask import Flask, current_app, jsonify, render_template, request
from flask_limiter import Limiter, RateLimitExceeded


@dataclass(frozen=True)
class Rate:
    """A named limit whose value ("10/minute") comes from the setting `setting`.

    `refusal`, if given, is what a refused person reads; `{limits}` in it becomes the configured
    limit in words ("每分钟最多 5 次、每天最多 20 次").
    """

    name: str
    setting: str
    methods: tuple[str, ...] | None = None
    refusal: str | None = None

    def __call__(self) -> str:
        return current_app.config[self.setting]

    def message(self) -> str | None:
        return self.refusal.format(limits=describe(self())) if self.refusal else None


SIGNIN = Rate("signin", "RATELIMIT_SIGNIN", methods=("POST",))
SEARCH = Rate("search", "RATELIMIT_SEARCH")
EXPORT = Rate("export", "RATELIMIT_EXPORT")
OBJECTION = Rate("objection", "RATELIMIT_OBJECTION", methods=("POST",),
                 refusal="同一网络地址提交过于频繁（{limits}），本次提交未被受理。")
OBJECTION_RECORD = Rate("objection_record", "RATELIMIT_OBJECTION_RECORD", methods=("POST",),
                        refusal="该条信息近期收到的申请过多（{limits}），本次提交未被受理。")

_UNITS = {"second": "秒", "minute": "分钟", "hour": "小时", "day": "天", "month": "月", "year": "年"}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d*)\s*(second|minute|hour|day|month|year)s?\s*$")


def describe(value: str) -> str:
    """A Flask-Limiter limit string in Chinese: "5/minute;20/day" → "每分钟最多 5 次、每天最多 20 次"."""
    parts = []
    for piece in re.split(r"[;,]", value):
        match = _LIMIT.match(piece)
        if not match:
            parts.append(piece.strip())
            continue
        count, multiple, unit = match.groups()
        parts.append(f"每{multiple or ''}{' ' if multiple else ''}{_UNITS[unit]}最多 {count} 次")
    return "、".join(p for p in parts if p)

_CSV_RULE = re.compile(r"\.csv$|\.<any\([^)]*\bcsv\b[^)]*\):\w+>$")


def client_address() -> str:
    """The client's address as the limits see it; an IPv6 client is its /64 network.

    One IPv6 host usually owns a whole /64, so keying on the full address would hand it
    billions of separate budgets. Behind proxies this is right only if TRUSTED_PROXY_HOPS is.
    """
    raw = request.remote_addr or "-"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def path_key() -> str:
    """Key a limit by the requested path (e.g. one record's form), whoever sends it."""
    return request.path


def limited(rate: Rate, key=None):
    """Mark a view to be limited by `rate` (keyed by `key()`, default the client address)."""

    def mark(view):
        view.rate_limits = (*getattr(view, "rate_limits", ()), (rate, key))
        return view

    return mark


def _not_csv() -> bool:
    return not request.path.endswith(".csv")


def _rates_by_endpoint(app: Flask) -> dict:
    """endpoint -> [(rate, key, exempt_when)], from the table above and the marked views."""
    found: dict[str, list] = {}

    def add(endpoint, rate, key=None, exempt_when=None):
        entries = found.setdefault(endpoint, [])
        if all(entry[0] != rate for entry in entries):
            entries.append((rate, key, exempt_when))

    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        for rate, key in getattr(app.view_functions[endpoint], "rate_limits", ()):
            add(endpoint, rate, key)
        if endpoint == "auth.login":
            add(endpoint, SIGNIN)
        if rule.rule == "/search" or rule.rule.startswith("/search."):
            add(endpoint, SEARCH)
        if _CSV_RULE.search(rule.rule):
            add(endpoint, EXPORT, exempt_when=_not_csv)  # the same view may also answer HTML or JSON
    return found


def init_app(app: Flask) -> None:
    """Create this app's limiter and wrap every limited view (call after registering blueprints)."""
    if not app.config["RATELIMIT_ENABLED"]:
        return
    limiter = Limiter(client_address, storage_uri=app.config["REDIS_URL"] or "memory://",
                      strategy="moving-window", key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
                      in_memory_fallback_enabled=True, headers_enabled=False)
    limiter.init_app(app)
    app.extensions["portal_limiter"] = limiter
    app.extensions["portal_limited_endpoints"] = set()
    attach(app)
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    # The spent-budget check runs right after the request id is set, before the CSRF check,
    # the edge checks and Flask-Limiter's own hooks.
    hooks = app.before_request_funcs.setdefault(None, [])
    position = next((i + 1 for i, hook in enumerate(hooks) if hook.__module__ == "portal.logs"), 0)
    hooks.insert(position, _refuse_spent_signin)


def _refuse_spent_signin():
    """A sign-in POST from an address whose budget (RATELIMIT_SIGNIN) is already spent: 429 at once.

    A flood of guesses is nearly all such requests. Answering them with one read of the counter
    (the window's reset time comes with it) and a small page, before the CSRF token is checked,
    Flask-Limiter's hooks run or the full site layout is rendered, keeps their
    cost to the server small, so clerks' requests are not queued behind them. The answer is the
    sign-in form with the reason, without the site's navigation (templates/auth/refused.html).
    """
    if request.method != "POST" or request.endpoint != "auth.login":
        return None
    limiter = current_app.extensions.get("portal_limiter")
    if limiter is None or not limiter.enabled:
        return None
    identifiers = (current_app.config["RATELIMIT_KEY_PREFIX"], client_address(), SIGNIN.name)
    try:
        for item in _parsed(SIGNIN()):
            stats = limiter.limiter.get_window_stats(item, *[i for i in identifiers if i])
            if stats.remaining <= 0:
                seconds = max(1, math.ceil(stats.reset_time - time.time()))
                message = f"登录尝试过于频繁，请 {wait_text(seconds)}后再试。"
                page = render_template("auth/refused.html", message=message, next_url=request.form.get("next", ""),
                                       username=(request.form.get("username") or "").strip()[:80])
                return refusal(message, seconds, html_response=page)
    except Exception:  # the storage is unreachable: Flask-Limiter's own path decides (memory fallback)
        current_app.logger.warning("sign-in budget check failed; falling back to the limiter", exc_info=True)
    return None


_PARSED: dict = {}


def _parsed(value: str) -> list:
    from limits import parse_many

    if value not in _PARSED:
        _PARSED[value] = parse_many(value)
    return _PARSED[value]


def attach(app: Flask) -> None:
    """Wrap the limited views not wrapped yet (init_app does it; call again after adding routes)."""
    limiter = app.extensions.get("portal_limiter")
    if limiter is None:
        return
    done = app.extensions["portal_limited_endpoints"]
    for endpoint, rates in _rates_by_endpoint(app).items():
        if endpoint in done:
            continue
        view = app.view_functions[endpoint]
        for rate, key, exempt_when in rates:
            view = limiter.shared_limit(rate, scope=rate.name, key_func=key or client_address,
                                        methods=list(rate.methods) if rate.methods else None,
                                        exempt_when=exempt_when,
                                        error_message=rate.message if rate.refusal else None)(view)
        app.view_functions[endpoint] = view
        done.add(endpoint)


def retry_after_seconds() -> int:
    """Seconds until the limit that refused this request lets the client in again (≥ 1)."""
    limiter = current_app.extensions.get("portal_limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def wait_text(seconds: int) -> str:
    """"30 秒" / "2 分钟": how long to wait, in words."""
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


def refusal(message: str, retry_after: int, html_response=None):
    """A 429 in the request's format: JSON for .json URLs, else `html_response` or the error page."""
    if request.path.endswith(".json"):
        response = jsonify({"error": {"status": 429, "title": "请求过于频繁", "message": message,
                                      "retry_after": retry_after}})
    elif html_response is not None:
        response = current_app.make_response(html_response)
    else:
        from .web import wants_fragment
        template = "_error_fragment.html" if wants_fragment() else "error.html"
        response = current_app.make_response(render_template(template, code=429, title="请求过于频繁", message=message))
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


# endpoint -> page(message, retry_after) for views whose refusals have a page of their own.
_REFUSAL_PAGES: dict = {}


def refusal_page(*endpoints):
    """Register `page(message, retry_after) -> body` as the refusal of these endpoints' limits."""

    def register(page):
        for endpoint in endpoints:
            _REFUSAL_PAGES[endpoint] = page
        return page

    return register


def too_many_requests(error: RateLimitExceeded):
    seconds = retry_after_seconds()
    described = error.description or ""
    message = described if described and not described.isascii() else f"您的请求过于频繁，请 {wait_text(seconds)}后再试。"
    page = _REFUSAL_PAGES.get(request.endpoint)
    return refusal(message, seconds, html_response=page(message, seconds) if page is not None else None)
