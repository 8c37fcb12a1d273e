"""Cacheable public pages (SPEC §11): validators from the database, computed before any page is built.

An anonymous GET of a public page sets no cookie and carries `Cache-Control: public,
max-age=PUBLIC_MAX_AGE`, a weak `ETag` and `Last-Modified`; a matching `If-None-Match` (or
`If-Modified-Since`) is answered 304 before the view runs, so a 304 costs one short SQL
statement and no rendering (a feed's 304 does not build the feed).

The validators come from what can change a public page:

- writes: every transaction that changes a table a public page may show raises the counter of
  the single `public_revision` row (session hooks below, whatever the write path: forms, uploads,
  imports, CLI). Sign-in bookkeeping, the search change log and these tables themselves do not.
  The counter is raised at the end of the transaction (an upsert just before COMMIT), so on
  PostgreSQL writers queue on that row only for the moment of their commit, and every commit
  gives a new value, in commit order;
- time: publication rules depend on the China date (publicity periods, embargoes, deadlines) and
  on instants a write may schedule for later (`published_at`/`withdrawn_at` in the future):
  those instants are kept in `public_moment` and the latest one passed is part of the validator;
- the code and settings the process runs (a deploy changes every page);
- the request: path and query string, and the htmx headers that choose page or fragment.

So the ETag of a page changes as soon as anything it could show may have changed; it may also
change when the page did not (any write anywhere changes every ETag), which only costs a cache
miss. Pages that depend on a host's search index (search, a search's feed) get the public
Cache-Control but no validators: another host's index may lag the database for a moment.

Each worker may also keep the rendered pages themselves (config PUBLIC_PAGE_CACHE entries, least
recently used out first; 0: off, as in the tests) under their ETag: a page whose ETag is unchanged
is exactly what a 304 for that ETag would confirm, so the copy is sent without running the view
(bench/province.py prints the throughput with and without it).

Signed-in users (any session cookie) get `no-store` on every page, as do the back office, the
forms that carry a CSRF token and the objection filer's private pages.
"""
import hashlib
import threading
from collections import OrderedDict
from datetime import datetime, timezone

from flask import Flask, current_app, g, request, session
from sqlalchemy import Integer, bindparam, column, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.http import http_date, is_resource_modified

from . import clock
from .config import ROOT
from .database import UTCDateTime
from .domain.dates import CHINA
from .extensions import db

# Tables whose writes never change a public page (bookkeeping of sign-ins, of this module and of
# the search index feed, which follows record writes that are counted anyway).
UNCOUNTED_TABLES = frozenset({"public_revision", "public_moment", "signin_event", "signin_backoff", "search_change",
                              "user", "upload_job"})  # upload_job: an import's progress, not public data
# Columns holding an instant at which a record becomes (or stops being) public.
SCHEDULE_COLUMNS = ("published_at", "withdrawn_at")

# Public endpoints whose content depends on the host's search index, not only on the database.
INDEX_ENDPOINTS = frozenset({"public.search", "public.search_json"})
# Public endpoints that are private to one visitor or carry a form with a CSRF token.
PRIVATE_ENDPOINTS = frozenset({"public.objection_new", "public.credit_repair_new", "public.objection_case"})
# Public endpoints that set their own caching headers (the elder-mode toggle and its per-browser
# stylesheet: they depend on a preference cookie, so no shared cache may keep them).
OWN_HEADERS_ENDPOINTS = frozenset({"public.display", "public.display_css"})
# Request headers that choose what a public URL answers (page or htmx fragment).
VARY_HEADERS = ("HX-Request", "HX-History-Restore-Request", "HX-Boosted")

_DIRTY = "caching.dirty"
_MOMENTS = "caching.moments"


# ---------------------------------------------------------------- writes raise the revision

def _table_of(obj) -> str | None:
    table = getattr(getattr(obj, "__table__", None), "name", None)
    return table


def _counts(table_name: str | None) -> bool:
    return table_name is not None and table_name not in UNCOUNTED_TABLES


def _after_flush(session, _flush_context):
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _counts(_table_of(obj)):
            session.info[_DIRTY] = True
            for column in SCHEDULE_COLUMNS:
                value = getattr(obj, column, None) if hasattr(type(obj), column) else None
                if isinstance(value, datetime):
                    session.info.setdefault(_MOMENTS, set()).add(value)


def _on_execute(state):
    """INSERT/UPDATE/DELETE statements run through the session (bulk loads, derived updates)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table is None or _counts(table):
        state.session.info[_DIRTY] = True


def _before_commit(session):
    if not session.info.get(_DIRTY) and not (session.new or session.dirty or session.deleted):
        return
    session.flush()  # the transaction's last changes are seen too
    if not session.info.pop(_DIRTY, False):
        session.info.pop(_MOMENTS, None)
        return
    now = clock.now()
    future = sorted(m for m in session.info.pop(_MOMENTS, ()) if m.tzinfo is not None and m > now)
    bump(session, now, future)


def _forget(session, *_args):
    session.info.pop(_DIRTY, None)
    session.info.pop(_MOMENTS, None)


def bump(session, now: datetime, moments=()) -> None:
    """Raise the public revision (and keep future moments): one upsert, the last write of a transaction."""
    from .models import PublicMoment, PublicRevision

    if moments:
        session.execute(PublicMoment.__table__.insert(), [{"at": m} for m in moments])
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = PublicRevision.__table__
    stmt = insert(table).values(id=1, counter=1, changed_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.id],
                                               set_={"counter": table.c.counter + 1, "changed_at": now}))


_installed = False


def install_hooks() -> None:
    global _installed
    if _installed:
        return
    event.listen(db.session, "after_flush", _after_flush)
    event.listen(db.session, "before_commit", _before_commit)
    event.listen(db.session, "after_soft_rollback", _forget)
    event.listen(Session, "do_orm_execute", _on_execute)
    _installed = True


# ---------------------------------------------------------------- validators

_code_version: str | None = None


def code_version() -> str:
    """A digest of the code, templates and static files this process serves (computed once)."""
    global _code_version
    if _code_version is None:
        digest = hashlib.sha256()
        for folder in ("portal", "templates", "static"):
            for path in sorted((ROOT / folder).rglob("*")):
                if path.is_file() and path.suffix in (".py", ".html", ".css", ".js", ".txt", ".xml", ".json"):
                    digest.update(str(path.relative_to(ROOT)).encode())
                    digest.update(path.read_bytes())
        _code_version = digest.hexdigest()[:16]
    return _code_version


def settings_version(app: Flask) -> str:
    """A digest of the settings (secrets and addresses of services left out), once per app."""
    version = app.extensions.get("caching.settings")
    if version is None:
        hidden = {"SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "FIXED_NOW"}
        items = sorted((k, repr(v)) for k, v in app.config.items() if k.isupper() and k not in hidden)
        version = hashlib.sha256(repr(items).encode()).hexdigest()[:16]
        app.extensions["caching.settings"] = version
    return version


# Plain text with typed columns: this runs on every public request, and a text statement skips
# most of SQLAlchemy's per-execution statement work (a 304 is meant to cost next to nothing).
_MOMENT = "SELECT max(at) FROM public_moment WHERE at <= :now"
_REVISION_SQL = text(f"SELECT counter, changed_at, ({_MOMENT}) AS passed FROM public_revision WHERE id = 1") \
    .bindparams(bindparam("now", type_=UTCDateTime())) \
    .columns(column("counter", Integer), column("changed_at", UTCDateTime()), column("passed", UTCDateTime()))
_MOMENT_SQL = text(_MOMENT).bindparams(bindparam("now", type_=UTCDateTime())).columns(column("max", UTCDateTime()))


def revision(now: datetime) -> tuple[int, datetime | None, datetime | None]:
    """(counter, last change, latest scheduled moment passed) in one statement; cached per request."""
    cached = g.get("_public_revision")
    if cached is not None and cached[0] == now:
        return cached[1]
    row = db.session.execute(_REVISION_SQL, {"now": now}).first()
    if row is None:  # an emptied table (tests): only moments can say anything
        value = (0, None, db.session.execute(_MOMENT_SQL, {"now": now}).scalar())
    else:
        value = (row[0], row[1], row[2])
    g._public_revision = (now, value)
    return value


def revision_key(now: datetime) -> tuple:
    """What changes whenever public data may have changed: for in-process caches (counts)."""
    counter, changed_at, passed = revision(now)
    return counter, changed_at, passed, now.astimezone(CHINA).date()


def _representation() -> str:
    return "|".join(f"{name}={request.headers.get(name, '')}" for name in VARY_HEADERS)


def validators(now: datetime) -> tuple[str, datetime]:
    """(ETag value, Last-Modified) of the current public request at `now`."""
    counter, changed_at, passed = revision(now)
    today = now.astimezone(CHINA).date()
    key = "|".join((code_version(), settings_version(current_app), str(counter),
                    changed_at.isoformat() if changed_at else "", passed.isoformat() if passed else "",
                    today.isoformat(), request.full_path, _representation()))
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    midnight = datetime(today.year, today.month, today.day, tzinfo=CHINA).astimezone(timezone.utc)
    moments = [m for m in (changed_at, passed, midnight) if m is not None]
    last_modified = max(moments).replace(microsecond=0)
    if last_modified > now:  # never in the future (a fixed demo clock before the last write)
        last_modified = now.replace(microsecond=0)
    return etag, last_modified


# ---------------------------------------------------------------- the request policy

def _anonymous() -> bool:
    """An empty session: nobody signed in, no CSRF token, no flash waiting."""
    return not session


def _policy() -> str | None:
    """'validated', 'public' (no validators) or 'private' for a public GET; None for anything else."""
    if request.blueprint in ("admin", "auth"):
        return "private"  # the back office and its sign-in form (a CSRF token in a cookie)
    if request.method not in ("GET", "HEAD") or request.blueprint != "public" \
            or request.endpoint in OWN_HEADERS_ENDPOINTS:
        return None
    if request.endpoint in PRIVATE_ENDPOINTS or not _anonymous():
        return "private"
    if request.endpoint in INDEX_ENDPOINTS or uses_search_index():
        return "public"
    return "validated"


def uses_search_index() -> bool:
    """Whether the current request is answered from the search index (a search's feed)."""
    return request.endpoint == "public.feed" and (request.view_args or {}).get("kind") == "all" \
        and bool(request.args.get("q", "").strip())


def _before_request():
    # Per-request values (the test client shares one app context between requests).
    for name in ("_public_revision", "_cache_validators", "_page_from_cache"):
        g.pop(name, None)
    policy = _policy()
    g._cache_policy = policy
    if policy != "validated":
        return None
    etag, last_modified = validators(clock.now())
    g._cache_validators = (etag, last_modified)
    if request.headers.get("If-None-Match") or request.headers.get("If-Modified-Since"):
        if not is_resource_modified(request.environ, etag=f'W/"{etag}"', last_modified=last_modified):
            response = current_app.response_class(status=304)
            _public_headers(response)
            return response
    cache = _page_cache() if request.method == "GET" else None
    if cache is not None:
        page = cache.get(etag)
        if page is not None:
            g._page_from_cache = True
            return current_app.response_class(page[0], status=200, headers=page[1])
    return None


# Response headers a cached page is stored without (set again for each request).
_NOT_STORED = frozenset({"set-cookie", "date", "x-request-id", "content-length"})


class PageCache:
    """Rendered pages by ETag, least recently used out first (one per app, i.e. per worker)."""

    def __init__(self, size: int):
        self.size = size
        self._pages: OrderedDict[str, tuple[bytes, list]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, etag: str):
        with self._lock:
            page = self._pages.get(etag)
            if page is not None:
                self._pages.move_to_end(etag)
            return page

    def put(self, etag: str, body: bytes, headers: list) -> None:
        with self._lock:
            self._pages[etag] = (body, headers)
            self._pages.move_to_end(etag)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def _page_cache() -> PageCache | None:
    size = int(current_app.config.get("PUBLIC_PAGE_CACHE") or 0)
    if size <= 0:
        return None
    cache = current_app.extensions.get("public_pages")
    if cache is None or cache.size != size:
        cache = current_app.extensions["public_pages"] = PageCache(size)
    return cache


def _public_headers(response) -> None:
    response.headers["Cache-Control"] = f"public, max-age={int(current_app.config['PUBLIC_MAX_AGE'])}"
    validated = g.get("_cache_validators")
    if validated is not None:
        etag, last_modified = validated
        response.set_etag(etag, weak=True)
        response.headers["Last-Modified"] = http_date(last_modified)


def _after_request(response):
    for name in VARY_HEADERS:
        response.vary.add(name)
    policy = g.get("_cache_policy")
    if policy is None:
        return response
    if policy == "private" or session.modified or (session and session.accessed):
        response.headers["Cache-Control"] = "no-store"
        return response
    if response.status_code == 304:
        return response
    if response.status_code != 200:
        return response
    if policy == "validated":
        _store_page(response)
        _public_headers(response)
    else:
        response.headers["Cache-Control"] = f"public, max-age={int(current_app.config['PUBLIC_MAX_AGE'])}"
    return response


def _store_page(response) -> None:
    """Keep a rendered 200 page for the next request with the same ETag (PUBLIC_PAGE_CACHE)."""
    validated = g.get("_cache_validators")
    if validated is None or g.pop("_page_from_cache", False) or request.method != "GET" \
            or response.is_streamed or response.direct_passthrough:
        return
    cache = _page_cache()
    if cache is not None:
        headers = [(name, value) for name, value in response.headers.items() if name.lower() not in _NOT_STORED]
        cache.put(validated[0], response.get_data(), headers)


def init_app(app: Flask) -> None:
    """Install the write hooks and the request policy (after the rate limits: they count every request)."""
    install_hooks()
    app.before_request(_before_request)
    app.after_request(_after_request)
