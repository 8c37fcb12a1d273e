"""The directory-ownership migration upgrades a database that already holds entities and the
records that reference them (SQLite enforces foreign keys: the entity table is not copied)."""
import flask_migrate
from sqlalchemy import create_engine, text

from portal.extensions import db

from test_migrations import _app_on, _quiet_alembic_logging, empty_database  # noqa: F401 (fixture)

INITIAL = "0451fec0e150"


def test_upgrade_keeps_existing_entities_with_the_administrators(empty_database, tmp_path):  # noqa: F811
    with _quiet_alembic_logging(), _app_on(empty_database, tmp_path).app_context():
        flask_migrate.upgrade(revision=INITIAL)
        engine = create_engine(empty_database)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO department (id, code, name, level, region_code) "
                              "VALUES (1, 'MQ', '民权县市场监督管理局', 'COUNTY', '411421')"))
            conn.execute(text("INSERT INTO entity (id, uscc, name, entity_type, region_code, registration_status, "
                              "risk_class, tags, created_at, updated_at) VALUES (7, '91411421MA00000017', "
                              "'民权县测试商贸有限公司', 'ENTERPRISE', '411421', 'ACTIVE', 'B', '[]', "
                              "'2025-01-01 00:00:00', '2025-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO inspector (id, department_id, name, licence_no, active, created_at, "
                              "updated_at) VALUES (1, 1, '检查员', '4114210001', true, '2025-01-01 00:00:00', "
                              "'2025-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO inspector_conflict (id, inspector_id, entity_id) VALUES (1, 1, 7)"))
        flask_migrate.upgrade()
        with engine.connect() as conn:
            row = conn.execute(text("SELECT uscc, registered_by_id, version FROM entity")).one()
            conflicts = conn.execute(text("SELECT entity_id FROM inspector_conflict")).scalars().all()
        engine.dispose()
        db.engine.dispose()
    assert tuple(row) == ("91411421MA00000017", None, 1)
    assert conflicts == [7]
