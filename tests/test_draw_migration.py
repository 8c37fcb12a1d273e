"""The migration of this release on a database built at the previous head (0451fec0e150), with data:
draws get a snapshot from their stored pool and strata, unpublished draws become public, and
tasks get results_complete_at from their published results. SQLite and PostgreSQL."""
import json
from datetime import date, datetime, timezone

import draw_reference
import pytest
from sqlalchemy import MetaData, create_engine, func, select

from portal import create_app
from portal import config as portal_config
from portal.domain import draw as algo
from portal.extensions import db
from servers import flask_cli
from test_migrations import empty_database  # noqa: F401  (fixture: an empty SQLite file or PostgreSQL schema)

OLD_HEAD = "0451fec0e150"
T = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)


def _filler(column):
    """A value for a NOT NULL column the test does not care about."""
    name = type(column.type).__name__.lower()
    if "bool" in name:
        return False
    if "int" in name:
        return 1
    if "datetime" in name or "timestamp" in name:
        return T
    if name == "date":
        return date(2025, 6, 1)
    if "json" in name:
        return {}
    return "x"


def _insert(conn, table, **values):
    for column in table.columns:
        if column.name not in values and not column.nullable and not column.primary_key:
            values[column.name] = _filler(column)
    return conn.execute(table.insert().values(**values)).inserted_primary_key[0]


def _old_world(url):
    """Rows as the previous release wrote them: a published draw, a performed but unpublished redraw,
    a surprise task whose single target has a published result, results_published_at set."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    ids = {}
    with engine.begin() as conn:
        dept = _insert(conn, t["department"], code="SCJG", name="市场监管局", level="县", region_code="411421")
        ents = [_insert(conn, t["entity"], uscc=f"91411421MA0000{i:03d}X", name=f"企业{i}", entity_type="企业",
                        region_code="411421", industry="F52", registration_status="存续",
                        risk_class="ABCD"[i % 4], tags=[]) for i in range(8)]

        def task(code, surprise):
            return _insert(conn, t["task"], department_id=dept, code=code, title=code, year=2025, scope={},
                           stratify_by="risk_class", strata=[], period_start=date(2025, 4, 1),
                           period_end=date(2099, 12, 31), surprise=surprise, inspectors_per_target={"SCJG": 1},
                           results_published_at=T, status="published", published_at=T)

        def draw(task_id, sequence, status, members, entropy):
            """A real draw-v1 draw (so it must still verify after the migration)."""
            usccs = {e: f"91411421MA0000{e - ents[0]:03d}X" for e in members}
            strata = {e: "ABCD"[(e - ents[0]) % 4] for e in members}
            candidates = [algo.Candidate(usccs[e], strata[e]) for e in members]
            nonce = f"{sequence:064x}"
            pool_hash = algo.pool_hash(candidates)
            seed = algo.derive_seed(nonce, pool_hash, entropy)
            rules = [algo.StratumRule(s, ratio="0.5") for s in sorted(set(strata.values()))]
            outcomes, selected = algo.select(candidates, rules, seed)
            draw_id = _insert(conn, t["draw"], task_id=task_id, sequence=sequence, algorithm="draw-v1",
                              pool_hash=pool_hash, commitment=algo.commitment(nonce), nonce=nonce,
                              public_entropy=entropy, seed=seed, inspectors_per_target={}, locked_at=T, drawn_at=T,
                              status=status, published_at=T if status == "published" else None)
            for e in members:
                _insert(conn, t["draw_pool_entry"], draw_id=draw_id, entity_id=e, uscc=usccs[e], stratum=strata[e])
            for o in outcomes:
                _insert(conn, t["draw_stratum"], draw_id=draw_id, stratum=o.stratum, ratio="0.5",
                        population=o.population, drawn=o.drawn)
            by_uscc = {u: e for e, u in usccs.items()}
            for pos, sel in enumerate(selected, 1):
                _insert(conn, t["draw_selection"], draw_id=draw_id, position=pos, entity_id=by_uscc[sel.uscc],
                        uscc=sel.uscc, stratum=sel.stratum, key=sel.key, eligible={})
            return draw_id, [by_uscc[sel.uscc] for sel in selected]

        plain = task("411421202504010001", False)
        ids["published_draw"], _ = draw(plain, 1, "published", ents, "2025-06-01 福彩3D 1 2 3")
        ids["unpublished_redraw"], _ = draw(plain, 2, "draft", ents, "2025-06-02 福彩3D 4 5 6")
        surprise = task("411421202504010002", True)
        ids["surprise_draw"], targets = draw(surprise, 1, "published", ents[:4], "2025-06-01 体彩 7 8 9")
        for e in targets:
            _insert(conn, t["result"], task_id=surprise, entity_id=e, department_id=dept, formed_date=date(2025, 5, 1),
                    status="published", published_at=T)
        ids.update(plain=plain, surprise=surprise)
        ids["pool_rows"] = conn.execute(select(func.count()).select_from(t["draw_pool_entry"])).scalar()
        ids["task_departments"] = conn.execute(select(func.count()).select_from(t["task_department"])).scalar()
    engine.dispose()
    return ids


def test_migration_gives_old_draws_a_snapshot_publishes_them_and_computes_the_embargo(empty_database, tmp_path):
    instance = tmp_path / "instance"
    flask_cli(["db", "upgrade", OLD_HEAD], empty_database, instance)
    ids = _old_world(empty_database)
    flask_cli(["db", "upgrade"], empty_database, instance)

    engine = create_engine(empty_database)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.connect() as conn:
        draws = {row.id: row for row in conn.execute(select(t["draw"]))}
        tasks = {row.id: row for row in conn.execute(select(t["task"]))}
        pool_rows = conn.execute(select(func.count()).select_from(t["draw_pool_entry"])).scalar()
    engine.dispose()
    assert "results_published_at" not in t["task"].c  # replaced by results_complete_at
    snapshot = draws[ids["published_draw"]].snapshot
    snapshot = json.loads(snapshot) if isinstance(snapshot, str) else snapshot
    assert snapshot == {"scope": None, "stratify_by": "risk_class", "source": "migration"}
    # The performed but unpublished redraw is public now (there is no unpublished performed draw).
    assert draws[ids["unpublished_redraw"]].status == "published"
    assert draws[ids["unpublished_redraw"]].published_at is not None
    # The surprise task's only drawn target has a published result: complete at that moment.
    complete = tasks[ids["surprise"]].results_complete_at
    assert complete is not None and complete.replace(tzinfo=timezone.utc) == T
    assert tasks[ids["plain"]].results_complete_at is None  # its current draw's targets have no results
    # Nothing was lost on the way (no table copy, no cascades).
    assert pool_rows == ids["pool_rows"]

    # The app reads the migrated draws: each still recomputes, the certificate shows the snapshot
    # (the scope was not recorded then) and never the task's current settings.
    for draw_id in (ids["published_draw"], ids["unpublished_redraw"], ids["surprise_draw"]):
        out = flask_cli(["draw", "verify", str(draw_id)], empty_database, instance, check=False)
        assert out.returncode == 0 and "一致 / match" in out.stdout, out.stdout + out.stderr
    app = create_app(portal_config.TestConfig, INSTANCE_PATH=str(instance), SQLALCHEMY_DATABASE_URI=empty_database,
                     SECRET_KEY="test-draw-migration")  # real clock: after the migration published the redraw
    with app.app_context():
        client = app.test_client()
        cert = client.get(f"/draws/{ids['published_draw']}.json").get_json()
        assert (cert["scope"], cert["stratify_by"], cert["superseded_by"]) == (
            None, "risk_class", ids["unpublished_redraw"])
        assert draw_reference.recompute(cert)["selected"] == [
            {k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]
        page = client.get(f"/draws/{ids['published_draw']}").get_data(as_text=True)
        assert "锁定时未单独记录" in page and "分层方式：信用风险分类" in page
        assert client.get("/tasks/411421202504010002").status_code == 200  # every target published: lifted
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("step", ["downgrade"])
def test_migration_downgrades_to_the_previous_head(empty_database, tmp_path, step):
    instance = tmp_path / "instance"
    flask_cli(["db", "upgrade", OLD_HEAD], empty_database, instance)
    ids = _old_world(empty_database)
    flask_cli(["db", "upgrade"], empty_database, instance)
    flask_cli(["db", step, OLD_HEAD], empty_database, instance)
    engine = create_engine(empty_database)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        first = conn.execute(select(meta.tables["task"].c.results_published_at)
                             .where(meta.tables["task"].c.id == ids["surprise"])).scalar()
    engine.dispose()
    assert "snapshot" not in meta.tables["draw"].c and "results_complete_at" not in meta.tables["task"].c
    assert first.replace(tzinfo=timezone.utc) == T
