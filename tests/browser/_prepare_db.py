"""Helper run in a subprocess by tests/browser/conftest.py (env: DATABASE_URL, PORTAL_INSTANCE_PATH, …).

    python tests/browser/_prepare_db.py check-schema   # after `flask db upgrade`
    python tests/browser/_prepare_db.py seed           # small data set when `demo load` is unavailable

check-schema: if the models have changed since the migration was written (tests/test_migrations.py
reports that as a failure), rebuild the schema from the models so browser tests exercise today's code.
"""
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


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


def seed(app, db):
    """A few departments, entities, tasks and 45 published results: enough for paging and filters."""
    import factories as f

    from portal.database import write_transaction

    with write_transaction():
        depts = [f.department(code=f"SJ{i}", name=name) for i, name in
                 enumerate(["民权县市场监督管理局", "民权县卫生健康委员会", "民权县生态环境分局"], 1)]
        plan = f.plan(depts[0], year=2026, title="2026年度双随机抽查工作计划", approval=date(2026, 3, 2))
        ents = [f.entity() for _ in range(45)]
        for d_i, dept in enumerate(depts):
            task = f.task(dept, plan=plan if d_i == 0 else None, period=(date(2026, 4, 1), date(2026, 9, 30)))
            for e_i, ent in enumerate(ents[d_i * 15:(d_i + 1) * 15]):
                conclusion = ("C01", "未发现问题") if e_i % 3 else ("C02", "发现问题已责令改正")
                f.result(task, ent, formed=date(2026, 5, 1) + timedelta(days=e_i), conclusions=(conclusion,),
                         at=datetime(2026, 5, 20, 2, 0, tzinfo=timezone.utc) + timedelta(hours=e_i))
        f.penalty(depts[0], ents[0], decided=date(2026, 6, 1), publicity_end=date(2029, 6, 1))


def main(action):
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    with app.app_context():
        {"check-schema": check_schema, "seed": seed}[action](app, db)


if __name__ == "__main__":
    main(sys.argv[1])
