"""Settings from environment variables.

Everything a deployment may change comes from the environment; `instance/` holds
the SQLite file, the generated secret key and the Whoosh index by default.
"""
import os
import secrets
from pathlib import Path


def _instance_secret(instance_path: Path) -> str:
    """Read the secret key from instance/, creating it on first run."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) if not path.exists() else None
        if fd is not None:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _optional_int(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return int(value) if value.strip() else None


class Config:
    """Production-shaped defaults; every value may be overridden by the environment."""

    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # Seconds a SQLite connection waits for a lock before giving up.
    SQLITE_BUSY_TIMEOUT = 30
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 20 * 1024 * 1024))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Dates are China dates whatever the server's zone (SPEC §4).
    TIMEZONE = "Asia/Shanghai"
    # A fixed "now" (ISO 8601) for demos and tests; empty means the real clock.
    FIXED_NOW = os.environ.get("PORTAL_FIXED_NOW", "")
    PER_PAGE_DEFAULT = 20
    PER_PAGE_MAX = 200
    SEARCH_LOCK_TIMEOUT = float(os.environ.get("SEARCH_LOCK_TIMEOUT", 10))
    # Apply the search change log right after each committing request (else: `flask search sync`).
    SEARCH_SYNC_ON_COMMIT = _bool("SEARCH_SYNC_ON_COMMIT", True)
    # Fraction of index writes that fail on purpose: a test hook for the consistency tests only.
    SEARCH_FAIL_RATE = 0.0
    # Authority part of feed entry ids (tag:AUTHORITY,…); empty means the request's host name.
    FEED_TAG_AUTHORITY = os.environ.get("FEED_TAG_AUTHORITY", "")
    REDIS_URL = os.environ.get("REDIS_URL", "")
    SITE_NAME = os.environ.get("SITE_NAME", "“双随机、一公开”信息公示平台")
    # Flask-Limiter counters: Redis when REDIS_URL is set (shared by every worker and host), else memory.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    # Right of reply (SPEC §12): working days a department has to decide an objection or a
    # credit-repair application, on the disclosure calendar (SPEC §4).
    OBJECTION_HANDLING_WORKDAYS = int(os.environ.get("OBJECTION_HANDLING_WORKDAYS", 15))
    # Largest attachment accepted with an objection (up to 3 files, PDF/JPEG/PNG).
    OBJECTION_ATTACHMENT_MAX_BYTES = int(os.environ.get("OBJECTION_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024))
    # Credit repair (信用修复): months a penalty must have been public before its party may apply to
    # end publicity early, per publicity class (domain.publicity). Empty: that class cannot apply
    # (the 3-month period of 通报批评 / small fines ends by itself).
    CREDIT_REPAIR_MIN_MONTHS_SHORT = _optional_int("CREDIT_REPAIR_MIN_MONTHS_SHORT", None)
    CREDIT_REPAIR_MIN_MONTHS_LONG = _optional_int("CREDIT_REPAIR_MIN_MONTHS_LONG", 12)

    def __init__(self, instance_path: str):
        instance = Path(instance_path)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret(instance)
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        self.SQLALCHEMY_DATABASE_URI = url or f"sqlite:///{instance / 'portal.db'}"
        self.SEARCH_INDEX_DIR = os.environ.get("SEARCH_INDEX_DIR") or str(instance / "search-index")


class TestConfig(Config):
    """Used by the test suite: a throwaway instance folder, CSRF still on."""

    TESTING = True
    SQLITE_BUSY_TIMEOUT = 30
    # Fresh rate-limit counters per test app, even when REDIS_URL is set in the environment; a test
    # of the Redis storage passes RATELIMIT_STORAGE_URI explicitly.
    RATELIMIT_STORAGE_URI = "memory://"
