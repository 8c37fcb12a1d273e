"""Bounded cost per request (issue 12 item 3): SQL statements per public page type and feed.

Every statement the database driver runs for one anonymous request is counted with SQLAlchemy's
cursor event (no mocks), on a small world and on one with twenty times more records shown on each
page; both stay within the bound and the larger never needs more statements than the smaller
(no query per row). Search pages and a search's feed are counted too: each world gets its own
search index, filled by the same after-commit sync as in production. /stats (issue 11) is
measured elsewhere.
"""
import gc
import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

import factories as f

NOW = "2026-01-10T02:00:00+00:00"
BOUND = 15
T0 = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)


def build(db, n: int) -> dict:
    """A world where every list, detail page and feed shows about `n` rows of each kind."""
    dept = f.department(code="SJ01", name="民权县市场监督管理局")
    other = f.department(code="NY02", name="民权县农业农村局")
    items = [f.check_item(dept) for _ in range(n)]
    plan = f.plan(dept, title="2025年度双随机抽查计划")
    plan.participants = [dept, other]
    ent = f.entity(name="民权县鑫达食品有限公司")  # drawn, inspected and penalised in every task
    inspectors = [f.inspector(dept), f.inspector(dept)]
    first_task = first_draw = None
    for i in range(n):
        task = f.task(dept, plan=plan, items=items[:3], departments=[dept, other], title=f"专项抽查{i}")
        task.published_at = T0 + timedelta(minutes=i)
        targets = [ent] + [f.entity() for _ in range(2)]
        draw = f.draw(task, targets, inspectors=inspectors)
        for j, target in enumerate(targets):
            f.result(task, target, at=T0 + timedelta(hours=1, minutes=i * 3 + j),
                     conclusions=(("C01", "未发现问题"), ("C05", "发现问题已责令改正")))
        f.penalty(dept, ent, categories=("罚款", "警告"), at=T0 + timedelta(hours=2, minutes=i), task=task)
        f.penalty(other, None, party_name=f"当事人{i}", at=T0 + timedelta(hours=3, minutes=i))
        f.plan(other, year=2024, title=f"2024年度第{i}批抽查计划")  # the plans list and CSV grow too
        first_task, first_draw = first_task or task, first_draw or draw
    db.session.flush()
    # Objections to the oldest records: a feed brings those back as updated entries.
    from portal.models import Objection, Penalty, Result
    from portal.models.objections import CaseKind, CaseStatus, Outcome, Relation

    for i, (kind, model) in enumerate((("result", Result), ("penalty", Penalty)) * n):
        record = db.session.execute(select(model).order_by(model.id).offset(i // 2).limit(1)).scalar()
        decided = i % 4 < 2
        db.session.add(Objection(
            kind=CaseKind.OBJECTION, record_kind=kind, record_id=record.id, department_id=record.department_id,
            token_hash=f"{i:064x}", relation=Relation.PARTY, contact_name="张三", contact_mobile="13800000000",
            points=["facts"], statement="事实有误", received_at=T0 + timedelta(days=30, minutes=i),
            status=CaseStatus.DECIDED if decided else CaseStatus.RECEIVED,
            decided_at=T0 + timedelta(days=31, minutes=i) if decided else None,
            outcome=Outcome.MAINTAINED if decided else None))
    db.session.commit()
    return {"plan": plan, "task": first_task, "draw": first_draw, "entity": ent,
            "result": first_task.results[0] if hasattr(first_task, "results") else None}


def urls(world, db) -> dict[str, str]:
    from sqlalchemy import select

    from portal.models import Penalty, Result

    result_id = db.session.execute(select(Result.id).where(Result.entity_id == world["entity"].id)
                                   .order_by(Result.id)).scalars().first()
    penalty_id = db.session.execute(select(Penalty.id).where(Penalty.entity_id == world["entity"].id)
                                    .order_by(Penalty.id)).scalars().first()
    uscc = world["entity"].uscc
    return {
        "home": "/",
        "items": "/items?per_page=200", "plans": "/plans?per_page=200", "tasks": "/tasks?per_page=200",
        "results": "/results?per_page=200", "penalties": "/penalties?per_page=200",
        "results fragment": "/results?per_page=200&page=1",
        "items.json": "/items.json?per_page=200", "plans.json": "/plans.json?per_page=200",
        "tasks.json": "/tasks.json?per_page=200", "results.json": "/results.json?per_page=200",
        "penalties.json": "/penalties.json?per_page=200",
        "plan": f"/plans/{world['plan'].id}", "plan.json": f"/plans/{world['plan'].id}.json",
        "task": f"/tasks/{world['task'].code}", "task.json": f"/tasks/{world['task'].code}.json",
        "result": f"/results/{result_id}", "result.json": f"/results/{result_id}.json",
        "penalty": f"/penalties/{penalty_id}", "penalty.json": f"/penalties/{penalty_id}.json",
        "entity": f"/entities/{uscc}", "entity.json": f"/entities/{uscc}.json",
        "draw": f"/draws/{world['draw'].id}", "draw.json": f"/draws/{world['draw'].id}.json",
        "feed all": "/feeds/all.atom", "feed plans": "/feeds/plans.atom", "feed tasks": "/feeds/tasks.rss",
        "feed results": "/feeds/results.atom", "feed penalties": "/feeds/penalties.rss",
        "feed of a department": "/feeds/penalties.atom?dept=SJ01&year=2025",
        "entity feed": f"/entities/{uscc}/feed.atom",
        # Search: every record names the entity or the county, so a page holds 100 hits.
        "search": "/search?q=民权县&per_page=100", "search fragment": "/search?q=民权县&per_page=100&page=1",
        "search.json": "/search.json?q=民权县&per_page=100", "search feed": "/feeds/all.atom?q=民权县",
        "data": "/data", "transparency": "/transparency", "sitemap": "/sitemap.xml",
        # CSV exports stream every row: their statements must not grow with the rows either.
        "items.csv": "/items.csv", "plans.csv": "/plans.csv", "tasks.csv": "/tasks.csv",
        "results.csv": "/results.csv", "penalties.csv": "/penalties.csv",
    }


def count_statements(app, db, world) -> dict[str, tuple[int, int]]:
    """{page: (status, statements)} for one anonymous request each (after one warm-up request)."""
    client = app.test_client(use_cookies=False)
    statements = []

    def collect(_conn, _cursor, sql, *_args):
        statements.append(sql)

    counts = {}
    pages = urls(world, db)
    world.clear()
    db.session.remove()
    for name, url in pages.items():
        headers = {"HX-Request": "true"} if name.endswith("fragment") else {}
        client.get(url, headers=headers)
        # The test client shares the test's app context, hence its session: start the measured
        # request with an empty identity map, as a request in production does.
        db.session.remove()
        gc.collect()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", collect)
        try:
            response = client.get(url, headers=headers, buffered=True)  # a streamed CSV is read whole
        finally:
            event.remove(db.engine, "before_cursor_execute", collect)
        counts[name] = (response.status_code, len(statements))
        if os.environ.get("SQL_COUNT_DEBUG") == name:  # SQL_COUNT_DEBUG=draw pytest -s …: see the statements
            print(name, *(" ".join(sql.split())[:200] for sql in statements), sep="\n  ")
    return counts


@pytest.fixture
def measured(app, db, set_now, tmp_path):
    set_now(NOW)

    def measure(n):
        # A new index per world: the emptied tables start their change log again from 1.
        app.config["SEARCH_INDEX_DIR"] = str(tmp_path / f"search-index-{n}")
        world = build(db, n)
        counts = count_statements(app, db, world)
        shown = len(app.test_client().get("/search.json?q=民权县&per_page=100").get_json()["items"])
        return counts, shown
    return measure


def test_public_pages_and_feeds_run_a_bounded_number_of_statements(app, db, measured):
    few, few_hits = measured(2)
    # Start again from empty tables with twenty times as many records on every page.
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    many, many_hits = measured(40)
    # The search pages showed many hits, a full page of 100 in the larger world.
    assert few_hits >= 10 and many_hits == 100, (few_hits, many_hits)
    report = "\n".join(f"{name:22} {few[name][1]:3} → {many[name][1]:3}" for name in few)
    for name in few:
        assert few[name][0] == 200 and many[name][0] == 200, f"{name}: {few[name][0]}, {many[name][0]}"
        assert max(few[name][1], many[name][1]) <= BOUND, f"{name}: over {BOUND} statements\n{report}"
        assert many[name][1] <= few[name][1], f"{name} grows with the rows shown\n{report}"
    print("\nSQL statements per request (2 → 40 records of each kind):\n" + report)
