"""`flask demo load`: the small data set loads, is realistic, has every special case, and is deterministic."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal.demo.generator import AS_OF, fingerprint
from portal.demo.vocabulary import CONCLUSIONS, ensure_default_vocabularies
from portal.domain import draw as drawlib
from portal.domain import uscc as uscc_mod
from portal.domain.visibility import Visibility, public_state
from portal.models import (AuditEvent, CheckItem, Department, Draw, DrawSubstitution, Entity, Inspector,
                           InspectorConflict, Penalty, Plan, RecordVersion, Result, ResultConclusion, Task, User,
                           VocabularyKind, VocabularyTerm, task_department)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # the browser tests' PORTAL_FIXED_NOW


def load(runner, *args):
    result = runner.invoke(args=["demo", "load", "--size", "small", "--no-index", *args])
    assert result.exit_code == 0, result.output
    return result


def clear(db):
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def count(db, model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def weekdays_between(a: date, b: date) -> int:
    n, day = 0, a
    while day < b:
        day += timedelta(days=1)
        n += day.weekday() < 5
    return n


@pytest.fixture
def demo(runner, db):
    out = load(runner)
    assert "已载入演示数据" in out.output
    return db


def test_small_demo_directories(demo):
    db = demo
    assert count(db, Department) == 4
    codes = set(db.session.execute(select(Department.code)).scalars())
    assert {"411421-SCJG", "411421-YJGL", "411421-WSJK", "411421-NYNC"} == codes
    assert count(db, CheckItem) >= 12
    entities = db.session.execute(select(Entity)).scalars().all()
    assert len(entities) == 300
    assert all(uscc_mod.is_valid(e.uscc) and len(e.uscc) == 18 for e in entities)
    assert {e.entity_type.value for e in entities} == {"企业", "个体工商户", "农民专业合作社", "其他"}
    assert {e.registration_status.value for e in entities} == {"存续", "吊销", "注销", "迁出"}
    assert {e.risk_class.value for e in entities} == {"A", "B", "C", "D"}
    individuals = [e for e in entities if e.entity_type.value == "个体工商户"]
    assert individuals and all(e.operator_name for e in individuals)
    assert all(e.industry and len(e.industry) == 1 for e in entities)
    inspectors = db.session.execute(select(Inspector)).scalars().all()
    assert len(inspectors) == 16
    assert any(not p.active for p in inspectors)
    for p in inspectors:
        first17 = p.id_card_no[:17]
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        assert p.id_card_no[17] == "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]
    assert count(db, InspectorConflict) >= 1
    terms = dict(db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label)
                                    .where(VocabularyTerm.kind == VocabularyKind.CONCLUSION)).all())
    assert terms == dict(CONCLUSIONS)


def test_small_demo_plans_tasks_and_draws_verify(demo):
    db = demo
    assert {2025, 2026} <= set(db.session.execute(select(Plan.year)).scalars())
    tasks = db.session.execute(select(Task)).scalars().all()
    assert any(t.plan_id is None for t in tasks)  # temporary task
    joint = db.session.execute(select(task_department.c.task_id).group_by(task_department.c.task_id)
                               .having(func.count() > 1)).scalars().all()
    assert joint
    surprise = [t for t in tasks if t.surprise]
    assert {public_state("task", t, NOW).is_visible for t in surprise} == {True, False}  # lifted and embargoed
    for t in tasks:
        assert len(t.code) == 18 and t.code.startswith("411421")
    from portal.draw_service import certificate
    draws = db.session.execute(select(Draw).order_by(Draw.id)).scalars().all()
    assert draws and all(d.drawn_at and d.witnesses and "期" in d.public_entropy for d in draws)
    for d in draws:
        cert = certificate(d)
        assert cert["selected"], d.task.code
        assert drawlib.verify(cert) == [], d.task.code
        assert all(s["eligible"] for s in cert["selected"])
    redrawn = [d for d in draws if d.sequence == 2]
    assert redrawn and redrawn[0].reason
    assert count(db, DrawSubstitution) == 1


def test_small_demo_results_and_penalties_special_cases(demo):
    db = demo
    results = db.session.execute(select(Result)).scalars().all()
    codes = set(db.session.execute(select(ResultConclusion.code)).scalars())
    assert "C01" in codes and len(codes) >= 3
    withheld = [r for r in results if r.withheld]
    assert withheld and all(r.withheld_reason for r in withheld)
    withdrawn = [r for r in results if r.status.value == "withdrawn"]
    assert withdrawn and all(r.withdrawal_reason and r.withdrawn_at for r in withdrawn)
    corrected = [r for r in results if r.corrected_at]
    assert corrected and all(r.version == 2 for r in corrected)
    assert count(db, RecordVersion, RecordVersion.record_kind == "result") == len(corrected)
    drafts = [r for r in results if r.published_at is None]
    assert drafts
    late = [r for r in results if r.published_at and weekdays_between(r.formed_date, r.published_at.date()) > 30]
    assert late
    assert all(r.inspectors for r in results)
    # Most drawn targets have a result.
    selected = sum(len(d.current_draw.selections) for d in db.session.execute(select(Task)).scalars()
                   if d.current_draw)
    assert len(results) >= 0.8 * selected
    penalties = db.session.execute(select(Penalty)).scalars().all()
    states = {p.decision_no: public_state("penalty", p, NOW) for p in penalties}
    assert any(s.is_tombstone and s.reason.value == "publicity_ended" for s in states.values())
    assert any(s.is_tombstone and s.reason.value == "credit_repaired" for s in states.values())
    assert any(s.is_tombstone and s.reason.value == "withdrawn" for s in states.values())
    assert any(s.is_visible for s in states.values())
    assert any(p.withheld and p.withheld_reason for p in penalties)
    assert any(p.publicity_end is None for p in penalties)  # warning only: never public
    assert any(p.corrected_at for p in penalties)
    assert any(p.published_at is None for p in penalties)
    assert all(p.decision_no.endswith("号") and "〔" in p.decision_no for p in penalties)
    assert len({p.decision_no for p in penalties}) == len(penalties)
    # Published records are never in the future of the demo's "now".
    for model in (Result, Penalty, Plan, Task, Draw):
        latest = db.session.execute(select(func.max(model.published_at))).scalar()
        assert latest < NOW and latest.date() <= AS_OF


def test_small_demo_visibility_of_special_tasks(demo):
    db = demo
    from portal import embargo

    tasks = db.session.execute(select(Task).where(Task.surprise.is_(True))).scalars().all()
    # The demo's bulk load computed the embargo column as the write paths would.
    assert embargo.compute([t.id for t in tasks]) == {t.id: t.results_complete_at for t in tasks}
    states = {t.period_end < AS_OF: public_state("task", t, NOW).visibility for t in tasks}
    assert states == {True: Visibility.VISIBLE, False: Visibility.HIDDEN}
    # The embargoed one has a result public on its own (SPEC §3), its task and list still hidden.
    embargoed = next(t for t in tasks if t.period_end >= AS_OF)
    alone = [r for r in db.session.execute(select(Result).where(Result.task_id == embargoed.id)).scalars()
             if public_state("result", r, NOW).is_visible]
    assert len(alone) == 1 and embargoed.results_complete_at is None
    # Every draw is public from its lock (no unpublished performed draw).
    assert all(d.status.value == "published" and d.published_at == d.locked_at
               for d in db.session.execute(select(Draw)).scalars())
    for r in db.session.execute(select(Result).where(Result.withheld.is_(True))).scalars():
        assert public_state("result", r, NOW).visibility is Visibility.HIDDEN


def test_demo_users_audit_event_and_if_empty(demo, runner):
    db = demo
    from portal.auth.accounts import check_password
    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    assert check_password(users["admin"], "admin-demo-2025")
    assert check_password(users["auditor"], "auditor-demo-2025")
    clerk = users["clerk-411421-scjg"]
    assert clerk.role.value == "clerk" and clerk.department.code == "411421-SCJG"
    assert check_password(clerk, "clerk-demo-2025")
    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert events[-1].action == "demo_load" and "检查对象 300" in events[-1].summary
    # Per-record history before the summary: every result has its create event, every published one
    # its publish event, and the chain verifies.
    by_kind = {}
    for e in events[:-1]:
        by_kind.setdefault((e.record_kind, e.action), set()).add(e.record_id)
    results = db.session.execute(select(Result)).scalars().all()
    assert by_kind[("result", "create")] == {r.id for r in results}
    assert by_kind[("result", "publish")] == {r.id for r in results if r.published_at is not None}
    assert by_kind[("penalty", "credit_repair")] and by_kind[("result", "correct")] and by_kind[("result", "withdraw")]
    assert len(by_kind[("entity", "create")]) == 300
    assert {a for k, a in by_kind if k == "objection"} == {"objection_received", "objection_claimed",
                                                           "objection_correcting", "objection_decided"}
    moments = [e.after["at"] for e in events[:-1]]
    assert moments == sorted(moments)  # in the order things happened
    from portal import journal
    assert journal.verify_chain()[2] is None
    again = runner.invoke(args=["demo", "load", "--size", "small", "--if-empty", "--no-index"])
    assert again.exit_code == 0 and "跳过" in again.output
    refused = runner.invoke(args=["demo", "load", "--size", "small", "--no-index"])
    assert refused.exit_code != 0 and "已有" in refused.output
    assert count(db, Department) == 4


def test_small_demo_has_objections_in_every_state(demo):
    from portal.models import Objection
    from portal.objections import objection_status_many
    from portal.objections.queries import case_rows

    db = demo
    cases = db.session.execute(select(Objection).order_by(Objection.id)).scalars().all()
    states = {(c.kind.value, c.status.value, c.outcome.value if c.outcome else None) for c in cases}
    assert {("objection", "received", None), ("objection", "in_review", None),
            ("objection", "decided", "maintained"), ("objection", "decided", "corrected"),
            ("objection", "decided", "withdrawn"), ("credit_repair", "decided", "approved"),
            ("credit_repair", "received", None), ("credit_repair", "decided", "refused")} <= states
    rows = case_rows(cases, AS_OF)
    assert {r.state for r in rows} >= {"overdue", "due_soon", "ok", "decided"}
    for c in cases:
        record = db.session.get(Result if c.record_kind == "result" else Penalty, c.record_id)
        assert c.department_id == record.department_id and c.received_at >= record.published_at
        if c.outcome is not None and c.outcome.value == "corrected":
            assert record.corrected_at == c.decided_at
        if c.outcome is not None and c.outcome.value == "withdrawn":
            assert record.status.value == "withdrawn"
        if c.outcome is not None and c.outcome.value == "approved":
            assert record.credit_repair_date is not None
    pending = [c for c in cases if c.kind.value == "objection" and c.status.value != "decided"]
    for c in pending:
        status = objection_status_many(c.record_kind, [db.session.get(Result, c.record_id)], NOW)[c.record_id]
        assert status["status"] == "pending"


def test_same_seed_same_data(runner, db):
    load(runner, "--seed", "7")
    first = fingerprint(db.session)
    ids = db.session.execute(select(Result.id).order_by(Result.id).limit(3)).scalars().all()
    clear(db)
    load(runner, "--seed", "7")
    assert fingerprint(db.session) == first
    assert db.session.execute(select(Result.id).order_by(Result.id).limit(3)).scalars().all() == ids
    clear(db)
    load(runner, "--seed", "8")
    assert fingerprint(db.session) != first


def test_default_vocabularies_are_idempotent(app, db):
    assert ensure_default_vocabularies() > 0
    db.session.commit()
    total = count(db, VocabularyTerm)
    term = db.session.execute(select(VocabularyTerm).where(VocabularyTerm.code == "C01")).scalar_one()
    term.label = "未发现问题（已编辑）"
    db.session.commit()
    assert ensure_default_vocabularies() == 0
    db.session.commit()
    assert count(db, VocabularyTerm) == total
    assert db.session.get(VocabularyTerm, term.id).label == "未发现问题（已编辑）"
    kinds = set(db.session.execute(select(VocabularyTerm.kind)).scalars())
    assert {VocabularyKind.CONCLUSION, VocabularyKind.FOLLOW_UP, VocabularyKind.PENALTY_CATEGORY} <= kinds


def test_rows_added_after_the_load_get_fresh_ids(demo):
    """The load chooses ids itself; PostgreSQL sequences must move past them."""
    db = demo
    import factories
    before = db.session.execute(select(func.max(Entity.id))).scalar()
    dept = db.session.execute(select(Department).limit(1)).scalar_one()
    ent = factories.entity()
    result = factories.result(db.session.execute(select(Task).limit(1)).scalar_one(), ent)
    factories.penalty(dept, ent, decision_no="民市监罚〔2026〕9999号")
    db.session.commit()
    assert ent.id > before and result.id is not None
