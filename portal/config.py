"""Every setting of the portal, declared once with its default.

A setting is an UPPER_CASE attribute of `Config`. A deployment changes it with an environment
variable of the same name (a few keep an older, friendlier name: see ENVIRONMENT_NAMES); the
value is parsed by the type of the default (bool, int, float or str). README.md has one table
row per setting, and tests/test_config.py fails when the two disagree.

Tests and scripts never edit `os.environ`: they pass values to the app factory,
`create_app(TestConfig, DATABASE_URL=…, FIXED_NOW=…)`; `TestConfig` reads no environment at all.

To add a setting: add `NAME = default` with a one-line comment below, add its README row, and
read it as `current_app.config["NAME"]`.
"""
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


class Config:
    """Production-shaped defaults; each may be overridden by the environment."""

    # Whether the environment may override the defaults below (TestConfig: no).
    read_environment = True

    # --- Files and database -------------------------------------------------------------------
    # Folder for the SQLite file, the generated secret key and the search index; empty: ./instance.
    INSTANCE_PATH = ""
    # SQLAlchemy URL; empty: the SQLite file <instance>/portal.db. postgresql:// uses psycopg 3.
    SQLALCHEMY_DATABASE_URI = ""
    # Seconds a SQLite connection waits for another writer before giving up.
    SQLITE_BUSY_TIMEOUT = 30
    # Signs sessions and CSRF tokens; empty: generated once into <instance>/secret_key.
    SECRET_KEY = ""
    # Largest accepted request body (uploads), in bytes.
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024

    # --- Uploads (kept in the database between preview and import: any host may confirm) ------
    # Files of at most this many rows are imported within the confirming request; larger ones
    # run as a job the clerk's page follows (0: every import runs as a job).
    IMPORT_INLINE_ROWS = 2000
    # Seconds without a heartbeat after which a running import counts as dead with its worker
    # (recycled, killed) and is started again by whichever host is next asked about it.
    IMPORT_JOB_STALE_SECONDS = 20

    # --- Search index ------------------------------------------------------------------------
    # This host's Whoosh index (a rebuildable cache); empty: <instance>/search-index.
    SEARCH_INDEX_DIR = ""
    # Seconds to wait for the search index write lock.
    SEARCH_LOCK_TIMEOUT = 10.0
    # Apply the search change log right after each committing request (else only `search sync`).
    SEARCH_SYNC_ON_COMMIT = True
    # Fraction of index writes that fail on purpose: a hook for the consistency tests; keep 0.
    SEARCH_FAIL_RATE = 0.0
    # Most seconds a public search request spends applying pending changes before answering
    # (the rest is left to the writer or `search sync`; answers are re-checked either way). 0: none.
    SEARCH_CATCHUP_SECONDS = 1.0
    # Up to this many matches, every match of a query is re-checked in the database before
    # facets and totals are counted (beyond it: the matches pending changes may affect).
    SEARCH_RECHECK_LIMIT = 2000
    # Processes writing a full rebuild (Whoosh's multi-segment writer); 1: one process.
    SEARCH_BUILD_PROCS = 1
    # Load the search index (segments, columns, facet bitsets) in each gunicorn worker before it
    # takes requests (gunicorn.conf.py post_worker_init), so that no user pays a first search.
    SEARCH_WARM_ON_START = True

    # --- Public site -------------------------------------------------------------------------
    # The site's canonical address: absolute links in feeds and the sitemap are built from it,
    # never from the request's Host header (which a client may forge).
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    # Authority part of feed entry ids (tag:AUTHORITY,…); empty: the host of PUBLIC_BASE_URL.
    FEED_TAG_AUTHORITY = ""
    SITE_NAME = "“双随机、一公开”信息公示平台"
    # Rows per list page, and the most a client may ask for with ?per_page=.
    PER_PAGE_DEFAULT = 20
    PER_PAGE_MAX = 200
    # Seconds a shared cache (or a browser) may keep an anonymous public page without asking
    # again (Cache-Control: public, max-age=…); after that it revalidates with ETag/Last-Modified.
    PUBLIC_MAX_AGE = 60
    # Seconds the public record counts (home page) are kept in memory; 0: computed every time.
    PUBLIC_COUNT_TTL = 30
    # Rows into a list (page × per_page) from which a page starts at its own day (queries._page_ids).
    LIST_DEEP_OFFSET = 5000
    # Rendered public pages each worker keeps, keyed by their ETag (portal/caching.py); 0: off.
    PUBLIC_PAGE_CACHE = 100
    # A fixed "now" (ISO 8601 with offset) for demos and tests; empty: the real clock.
    FIXED_NOW = ""
    # Footer of every page (government sites must show who runs them and their filing numbers);
    # an empty value is left out of the footer.
    SITE_SPONSOR = ""  # 主办单位
    SITE_CONTACT = ""  # 联系方式 (telephone, address or e-mail)
    SITE_ICP_RECORD = ""  # ICP备案号, e.g. 豫ICP备12345678号-1
    SITE_PSB_RECORD = ""  # 公安机关备案号, e.g. 豫公网安备41142102000001号
    # Most URLs in one sitemap file (the sitemaps.org limit); beyond it /sitemap.xml becomes an index.
    SITEMAP_MAX_URLS = 50_000
    # Who changes the shared inspection-target directory: "admins" only, or also the clerks of the
    # department that registered an entity ("registering_department"). See portal/domain/directory.py.
    DIRECTORY_ENTITY_EDITORS = "admins"
    # Right of reply (SPEC §12): working days a department has to decide an objection or a
    # credit-repair application, on the disclosure calendar (SPEC §4).
    OBJECTION_HANDLING_WORKDAYS = 15
    # Largest attachment accepted with an objection (up to 3 files, PDF/JPEG/PNG), in bytes.
    OBJECTION_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    # Credit repair (信用修复): months a penalty must have been public before its party may apply to
    # end publicity early, per publicity class (domain.publicity); 0: that class cannot apply
    # (the 3-month period of 通报批评 / small fines ends by itself).
    CREDIT_REPAIR_MIN_MONTHS_SHORT = 0
    CREDIT_REPAIR_MIN_MONTHS_LONG = 12

    # --- Back office and sign-in -------------------------------------------------------------
    # Send the session cookie over HTTPS only (set true behind TLS).
    SESSION_COOKIE_SECURE = False
    # A back-office session left alone this many seconds must sign in again (0: never).
    ADMIN_IDLE_TIMEOUT_SECONDS = 4 * 3600
    # Consecutive failed sign-ins of one account from one address before back-off starts.
    SIGNIN_FREE_FAILURES = 3
    # Longest back-off, in seconds (it doubles from 1 s with each further failure).
    SIGNIN_BACKOFF_MAX_SECONDS = 900
    # Password checks (argon2, ~25 ms of one core each) one host runs at once; a sign-in finding
    # them all busy is told to retry at once, so a sign-in flood cannot take the CPU from clerks.
    SIGNIN_HASH_SLOTS = 1

    # --- Network and shared services ---------------------------------------------------------
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none).
    TRUSTED_PROXY_HOPS = 0
    # redis://host:port/db for rate-limit counters and sign-in back-off, shared by every worker
    # and host; empty: rate limits in each worker's memory, back-off in the database.
    REDIS_URL = ""
    # Prefix of this portal's keys in Redis (so several sites can share one Redis).
    RATELIMIT_KEY_PREFIX = "portal"

    # --- Rate limits (Flask-Limiter syntax, per client address) ---------------------------------
    # Flask-Limiter's own switch.
    RATELIMIT_ENABLED = True
    RATELIMIT_SIGNIN = "10/minute"
    RATELIMIT_SEARCH = "60/minute"
    RATELIMIT_EXPORT = "20/minute"
    RATELIMIT_OBJECTION = "5/minute;20/day"
    RATELIMIT_OBJECTION_RECORD = "10/hour"

    # --- Logging -----------------------------------------------------------------------------
    # Level of the portal's log (one line per request at INFO; errors with tracebacks).
    LOG_LEVEL = "INFO"


class TestConfig(Config):
    """The test suite's settings: no environment, a fixed secret, no caches, no rate limits
    (tests/test_limits.py turns them on, tests/test_caching.py the page cache)."""

    read_environment = False
    TESTING = True
    SECRET_KEY = "test-secret-key"
    PUBLIC_BASE_URL = "http://localhost"  # where Flask's test client sends its requests
    PUBLIC_COUNT_TTL = 0
    PUBLIC_PAGE_CACHE = 0
    RATELIMIT_ENABLED = False
    LOG_LEVEL = "WARNING"


# Framework choices that are not settings: no deployment should turn these off.
FIXED = {
    "TESTING": False,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
}

# Settings whose environment variable has another name than the setting.
ENVIRONMENT_NAMES = {
    "INSTANCE_PATH": "PORTAL_INSTANCE_PATH",
    "SQLALCHEMY_DATABASE_URI": "DATABASE_URL",
    "MAX_CONTENT_LENGTH": "MAX_UPLOAD_BYTES",
    "FIXED_NOW": "PORTAL_FIXED_NOW",
}


class ConfigError(ValueError):
    """A setting that cannot be used (bad environment value)."""


def setting_names(config_class=Config) -> list[str]:
    """Every setting of `config_class`, in declaration order."""
    names = []
    for klass in reversed(config_class.__mro__):
        names += [n for n in vars(klass) if n.isupper() and n not in names]
    return names


def environment_name(setting: str) -> str:
    return ENVIRONMENT_NAMES.get(setting, setting)


def _parse(raw: str, default, env_name: str):
    if isinstance(default, bool):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{env_name}={raw!r}: expected true or false")
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{env_name}={raw!r}: expected a number") from None
    return raw


def _database_uri(url: str) -> str:
    """postgres:// and postgresql:// mean the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance_path: Path) -> str:
    """Read the secret key from instance/, creating it (mode 600) on first run."""
    path = instance_path / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def load(config_class=Config, overrides: dict | None = None, environ=None) -> dict:
    """The app's settings: defaults, then the environment (if the class reads it), then `overrides`.

    Overrides may use a setting's name or its environment name (`DATABASE_URL=`); other keys
    (Flask's or an extension's own) pass through unchanged. Derived defaults (instance folder,
    database file, secret key, index folder, feed authority) are filled in last.
    """
    environ = os.environ if environ is None else environ
    values = dict(FIXED)
    names = setting_names(config_class)
    values.update({name: getattr(config_class, name) for name in names})
    if config_class.read_environment:
        for name in setting_names(Config):
            env_name = environment_name(name)
            if env_name in environ:
                values[name] = _parse(environ[env_name], getattr(Config, name), env_name)
    by_env_name = {environment_name(n): n for n in names}
    for key, value in (overrides or {}).items():
        values[by_env_name.get(key, key)] = value

    instance = Path(values["INSTANCE_PATH"] or ROOT / "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    values["INSTANCE_PATH"] = str(instance)
    values["SQLALCHEMY_DATABASE_URI"] = _database_uri(values["SQLALCHEMY_DATABASE_URI"]) \
        or f"sqlite:///{instance / 'portal.db'}"
    values["SECRET_KEY"] = values["SECRET_KEY"] or _instance_secret(instance)
    values["SEARCH_INDEX_DIR"] = values["SEARCH_INDEX_DIR"] or str(instance / "search-index")
    base = urlsplit(values["PUBLIC_BASE_URL"])
    if base.scheme not in ("http", "https") or not base.hostname:
        raise ConfigError(f"PUBLIC_BASE_URL={values['PUBLIC_BASE_URL']!r}: expected http(s)://host[:port]")
    values["PUBLIC_BASE_URL"] = values["PUBLIC_BASE_URL"].rstrip("/")
    values["FEED_TAG_AUTHORITY"] = values["FEED_TAG_AUTHORITY"] or base.hostname
    return values
