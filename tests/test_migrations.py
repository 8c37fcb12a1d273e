"""`flask db upgrade` builds the models' schema from nothing, on SQLite and on PostgreSQL.

If `test_models_match_migrations` fails, someone changed portal/models without a migration.
The lead regenerates the single initial migration (see README, "Changing the schema").
"""
import logging
import os
import uuid
import warnings
from contextlib import contextmanager

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import portal.models  # noqa: F401  (registers every table on db.metadata)
from portal import create_app
from portal import config as portal_config
from portal.extensions import db
from servers import flask_cli

PG_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"


def _psycopg(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """URL of an empty database: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = create_engine(_psycopg(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 (any driver error means "unreachable")
        admin.dispose()
        reason = (f"PostgreSQL at {PG_URL} is unreachable ({type(exc).__name__}: {str(exc).strip()[:200]}); "
                  "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _psycopg(PG_URL)
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _differences(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "compare_server_default": False})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_builds_the_models_schema(empty_database, tmp_path):
    flask_cli(["db", "upgrade"], empty_database, tmp_path / "instance")
    assert _tables(empty_database) == set(db.metadata.tables)
    differences = _differences(empty_database)
    assert differences == [], (
        "portal/models differ from migrations/ — the schema needs a migration (README, 'Changing the schema'):\n"
        + "\n".join(f"  {d!r}" for d in differences))


def test_downgrade_to_base_and_upgrade_again(empty_database, tmp_path):
    with _quiet_alembic_logging(), _app_on(empty_database, tmp_path).app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert _tables(empty_database) == set()
        flask_migrate.upgrade()
        db.engine.dispose()
    assert _tables(empty_database) == set(db.metadata.tables)


def _app_on(url, tmp_path):
    return create_app(portal_config.TestConfig, INSTANCE_PATH=str(tmp_path / "instance"), SQLALCHEMY_DATABASE_URI=url,
                      SECRET_KEY="test-migrations")


@contextmanager
def _quiet_alembic_logging():
    """migrations/env.py calls logging.config.fileConfig(), which disables every existing logger;
    put the logging configuration back afterwards so later tests still see their log records."""
    manager = logging.root.manager
    loggers = {name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
               for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root = (logging.root.level, list(logging.root.handlers))
    try:
        with warnings.catch_warnings():
            # migrations/env.py (Flask-Migrate's template) tries the deprecated db.get_engine() first.
            warnings.filterwarnings("ignore", "'get_engine' is deprecated", DeprecationWarning)
            yield
    finally:
        for name, lg in list(manager.loggerDict.items()):
            if not isinstance(lg, logging.Logger):
                continue
            if name in loggers:
                lg.disabled, lg.level, handlers, lg.propagate = loggers[name]
                lg.handlers[:] = handlers
            else:
                lg.disabled = False
        logging.root.level, logging.root.handlers[:] = root[0], root[1]
