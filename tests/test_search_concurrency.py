"""Eight processes publish at once through the app's code; the index keeps up (SPEC §11)."""
import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import pytest

import factories as f
from portal import search
from portal.extensions import db

NOW = "2026-01-10T02:00:00+00:00"
WORKERS, PER_WORKER = 8, 40


def _publish_many(database_url, instance_dir, index_dir, dept_id, worker, fail_rate):
    """One worker process: its own app, 40 plans each created and published in its own transaction."""
    from portal import create_app, journal, lifecycle
    from portal.config import TestConfig
    from portal.database import write_transaction
    from portal.extensions import db
    from portal.models import Plan

    app = create_app(TestConfig, DATABASE_URL=database_url, INSTANCE_PATH=instance_dir, SEARCH_INDEX_DIR=index_dir,
                     FIXED_NOW=NOW, SEARCH_FAIL_RATE=fail_rate)
    errors = []
    with app.app_context():
        for i in range(PER_WORKER):
            try:
                with write_transaction():
                    plan = Plan(department_id=dept_id, year=2025, title=f"并发发布测试计划 第{worker}组第{i}号",
                                approval_date=date(2025, 3, 3))
                    db.session.add(plan)
                    db.session.flush()
                    journal.record("create", "plan", plan.id)
                    lifecycle.publish("plan", plan)
            except Exception:  # any error a user would have seen
                errors.append(traceback.format_exc())
        db.engine.dispose()
    return errors


def _run_workers(app, database_url, instance_dir, dept_id, fail_rate):
    ctx = multiprocessing.get_context("spawn")
    index_dir = app.config["SEARCH_INDEX_DIR"]
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=ctx) as pool:
        futures = [pool.submit(_publish_many, database_url, str(instance_dir), index_dir, dept_id, w, fail_rate)
                   for w in range(WORKERS)]
        errors = [e for fut in futures for e in fut.result(timeout=600)]
    db.session.rollback()  # end this test's read snapshot so it sees the workers' rows
    return errors


@pytest.fixture
def setup(app, tmp_path, set_now):
    set_now(NOW)
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    dept = f.department(code="BF01", name="并发测试局")
    db.session.commit()
    search.rebuild()
    return dept


@pytest.mark.slow
def test_eight_publishers_all_searchable(app, setup, database_url, instance_dir):
    errors = _run_workers(app, database_url, instance_dir, setup.id, 0)
    assert errors == []
    assert not search.is_behind()  # the writers' after-commit syncs applied everything
    res = search.query("并发发布", filters={"kind": "plan"}, per_page=5)
    assert res.total == WORKERS * PER_WORKER
    assert search.query("第7组第39号").total == 1
    assert search.verify() == []


@pytest.mark.slow
def test_failed_index_writes_are_caught_up_by_sync(app, setup, database_url, instance_dir, runner):
    errors = _run_workers(app, database_url, instance_dir, setup.id, 0.1)
    assert errors == []  # a failed index write never fails the user's request
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    out = runner.invoke(args=["search", "verify"])
    assert out.exit_code == 0, out.output
    assert search.query("并发发布", filters={"kind": "plan"}).total == WORKERS * PER_WORKER

