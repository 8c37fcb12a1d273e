"""Helper run in a subprocess by tests/browser/conftest.py (env: DATABASE_URL, PORTAL_INSTANCE_PATH, …).

    python tests/browser/_prepare_db.py check-schema   # after `flask db upgrade`

check-schema: if the models have changed since the migration was written (tests/test_migrations.py
reports that as a failure), rebuild the schema from the models so browser tests exercise today's code.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]


def check_schema(app, db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    if diff:
        print(f"models differ from the migration ({len(diff)} changes); rebuilding the schema from the "
              "models for browser tests", file=sys.stderr)
        db.drop_all()
        db.create_all()


def main(action):
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    with app.app_context():
        {"check-schema": check_schema}[action](app, db)


if __name__ == "__main__":
    main(sys.argv[1])
