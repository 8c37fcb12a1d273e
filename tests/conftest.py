"""Test API: `app`, `client`, `db_session`, `now` control, and a real database.

The suite runs on SQLite by default. Set TEST_DATABASE_URL to a PostgreSQL URL
to run it there instead: each run gets a fresh schema, dropped afterwards.
"""
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db as _db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def _pg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A database for this test run: a temp SQLite file, or a fresh PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = _pg_url(PG_URL)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def _schema(database_url, instance_dir):
    app = make_app(database_url, instance_dir)
    with app.app_context():
        _db.create_all()
        _db.engine.dispose()
    yield


def make_app(database_url, instance_dir, **overrides):
    """The app on `database_url` with TestConfig (which reads no environment); overrides win."""
    settings = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance_dir),
                "SEARCH_INDEX_DIR": str(Path(instance_dir) / "search-index")}
    settings.update(overrides)
    return create_app(TestConfig, **settings)


@pytest.fixture
def app(request, _schema, database_url, instance_dir):
    """A fresh app on the shared test schema; every table is emptied after the test.

    `@pytest.mark.app_config(KEY=value, …)` on a test (or module) sets settings for its app,
    e.g. `RATELIMIT_ENABLED=True` (TestConfig turns rate limits off).
    """
    settings = {}
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        settings.update(marker.kwargs)
    app = make_app(database_url, instance_dir, **settings)
    with app.app_context():
        yield app
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        _db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def set_now(app):
    """set_now("2026-03-02T16:30:00+00:00") fixes the app's clock for the rest of the test."""

    def _set(value):
        if isinstance(value, datetime):
            value = value.isoformat()
        app.config["FIXED_NOW"] = value
        return datetime.fromisoformat(value).astimezone(timezone.utc)

    return _set


@pytest.fixture
def db(app):
    return _db


def extract_csrf(html: str) -> str:
    """The CSRF token from a rendered page (hidden input or the hx-headers on <body>)."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'X-CSRFToken&#34;: &#34;([^&]+)&#34;', html) \
        or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    if not match:
        raise AssertionError("no CSRF token on the page")
    return match.group(1)


@pytest.fixture
def csrf_token():
    """csrf_token(client) -> a valid token for the client's session (reads the login page)."""

    def _token(client):
        return extract_csrf(client.get("/admin/login").get_data(as_text=True))

    return _token


@pytest.fixture
def login(db):
    """login(client, user, password="correct horse 9"): sign in through the real form; returns the response.

    Commits the session first so the user row is visible to the request.
    """

    def _login(client, user, password="correct horse 9"):
        db.session.commit()
        token = extract_csrf(client.get("/admin/login").get_data(as_text=True))
        response = client.post("/admin/login", data={"username": user.username, "password": password,
                                                     "csrf_token": token})
        assert response.status_code == 303, f"login failed: {response.status_code}"
        return response

    return _login


@pytest.fixture
def redis_url():
    """A Redis URL for tests of the shared stores (TEST_REDIS_URL, set by `make test-redis`), and a
    key prefix of this test's own; its keys are deleted afterwards."""
    if not REDIS_URL:
        pytest.skip("Redis case: set TEST_REDIS_URL (e.g. `make test-redis`) to run it against Redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # unreachable Redis while TEST_REDIS_URL is set is a failure, not a skip
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield REDIS_URL, prefix
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
