"""The draw as clerks run it: lock → draw → certificate, checked against an independent draw-v1."""
import json
from collections import Counter

import draw_reference
import factories as f
import pytest
from sqlalchemy import func, select

from portal import draw_service
from portal.domain import draw as algo
from portal.models import (AuditEvent, Draw, DrawAssignment, DrawPoolEntry, DrawSelection, DrawSubstitution,
                           DrawWitness, EntityType, InspectorConflict, RegistrationStatus, RiskClass)


def _setup(db, n_entities=40, n_inspectors=6, strata=None, per_target=2, **task_kw):
    dept = f.department(code="SCJG")
    risks = [RiskClass.A, RiskClass.B, RiskClass.C, RiskClass.D]
    entities = [f.entity(risk=risks[i % 4]) for i in range(n_entities)]
    inspectors = [f.inspector(dept) for _ in range(n_inspectors)]
    task = f.task(dept, strata=strata or [{"stratum": "A", "ratio": "0.1"}, {"stratum": "B", "ratio": "0.2"},
                                          {"stratum": "C", "count": 3}, {"stratum": "D", "ratio": "30%"}],
                  inspectors_per_target={"SCJG": per_target}, **task_kw)
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    return dept, entities, inspectors, task, clerk


def _drawn(db, **kw):
    dept, entities, inspectors, task, clerk = _setup(db, **kw)
    d = draw_service.lock(task, clerk)
    d = draw_service.perform(d, "2025-06-01 福彩3D 123", [("张见证", "县纪委监委派驻纪检组"), "李见证"], clerk)
    return dept, entities, inspectors, task, clerk, d


def test_certificate_matches_independent_implementation_byte_for_byte(db):
    *_, d = _drawn(db)
    cert = json.loads(json.dumps(draw_service.certificate(d), ensure_ascii=False))
    ref = draw_reference.recompute(cert)
    assert cert["algorithm"] == "draw-v1"
    assert ref["pool_hash"] == cert["pool_hash"]
    assert ref["commitment"] == cert["commitment"]
    assert ref["seed"] == cert["seed"]
    assert [{k: s[k] for k in ("stratum", "N", "n")} for s in cert["strata"]] == ref["strata"]
    assert [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]] == ref["selected"]
    # strata: A 10 → ceil(1.0)=1, B 10 → 2, C count 3, D "30%" → 3
    assert {s["stratum"]: (s["N"], s["n"]) for s in cert["strata"]} == {"A": (10, 1), "B": (10, 2), "C": (10, 3),
                                                                       "D": (10, 3)}
    assert cert["strata"][3]["ratio"] == "0.3" and cert["strata"][2]["count"] == 3
    assert [w["name"] for w in cert["witnesses"]] == ["张见证", "李见证"]
    assert cert["witnesses"][0]["organisation"] == "县纪委监委派驻纪检组"
    assert cert["inspectors_per_target"] == {"SCJG": 2}
    assert cert["locked_at"] and cert["drawn_at"] and cert["nonce"]
    assert algo.verify(cert) == []


def test_lock_stores_pool_and_commitment_but_keeps_nonce_secret(db):
    dept, entities, inspectors, task, clerk = _setup(db)
    f.entity(status=RegistrationStatus.CANCELLED)  # never in a pool
    db.session.commit()
    d = draw_service.lock(task, clerk)
    pool = db.session.execute(select(DrawPoolEntry.uscc).where(DrawPoolEntry.draw_id == d.id)).scalars().all()
    assert sorted(pool) == sorted(e.uscc for e in entities)
    cert = draw_service.certificate(d)
    assert cert["nonce"] is None and cert["seed"] is None and cert["selected"] == []
    assert cert["commitment"] == draw_reference.sha256_hex(d.nonce)
    assert cert["pool_hash"] == draw_reference.sha256_hex(
        "".join(sorted(f"{e.uscc}\t{e.risk_class.value}\n" for e in entities)))
    events = db.session.execute(select(AuditEvent.action)).scalars().all()
    assert "draw.lock" in events


def test_scope_filters_and_only_active_entities(db):
    dept = f.department(code="SCJG")
    keep = f.entity(entity_type=EntityType.INDIVIDUAL, region="411421", industry="F52", tags=["食品"])
    f.entity(entity_type=EntityType.ENTERPRISE, region="411421", industry="F52", tags=["食品"])  # wrong type
    f.entity(entity_type=EntityType.INDIVIDUAL, region="411502", industry="F52", tags=["食品"])  # wrong region
    f.entity(entity_type=EntityType.INDIVIDUAL, region="411421", industry="C13", tags=["食品"])  # wrong industry
    f.entity(entity_type=EntityType.INDIVIDUAL, region="411421", industry="F52", tags=["药品"])  # wrong tag
    f.entity(entity_type=EntityType.INDIVIDUAL, region="411421", industry="F", tags=["食品"],
             status=RegistrationStatus.REVOKED)
    t = f.task(dept, scope={"entity_types": ["个体工商户"], "regions": ["411400"], "industries": ["F"],
                            "tags": ["食品"], "statuses": ["存续", "吊销"]})
    db.session.commit()
    assert [m.uscc for m in draw_service.candidate_pool(t)] == [keep.uscc]
    preview = draw_service.pool_preview(t)
    assert preview.total == 1
    assert [(r.stratum, r.population, r.drawn) for r in preview.rows if r.population] == [("B", 1, 1)]


def test_not_enough_inspectors_is_clear_and_stores_nothing(db):
    dept, entities, inspectors, task, clerk = _setup(db, n_inspectors=1)
    d = draw_service.lock(task, clerk)
    before = db.session.execute(select(func.count(AuditEvent.id))).scalar()
    with pytest.raises(draw_service.NotEnoughInspectors, match="符合条件的执法人员"):
        draw_service.perform(d, "123", ["张见证"], clerk)
    db.session.rollback()
    assert db.session.execute(select(func.count(DrawSelection.id))).scalar() == 0
    assert db.session.execute(select(func.count(DrawAssignment.id))).scalar() == 0
    assert db.session.execute(select(func.count(DrawWitness.id))).scalar() == 0
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == before
    stored = db.session.get(Draw, d.id)
    assert stored.drawn_at is None and stored.seed is None


def test_conflicts_and_specialties_are_respected(db):
    dept = f.department(code="SCJG")
    item = f.check_item(dept)
    other_item = f.check_item(dept)
    entities = [f.entity(risk=RiskClass.D) for _ in range(10)]
    general = [f.inspector(dept) for _ in range(3)]  # no declared specialties: eligible for everything
    specialist = f.inspector(dept, specialties=[item])
    wrong = f.inspector(dept, specialties=[other_item])  # declared, but not this task's item
    inactive = f.inspector(dept, active=False)
    for e in entities[:5]:
        db.session.add(InspectorConflict(inspector_id=general[0].id, entity_id=e.id, reason="亲属关系"))
    task = f.task(dept, items=[item], strata=[{"stratum": "D", "ratio": "1"}], inspectors_per_target={"SCJG": 2})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    d = draw_service.perform(draw_service.lock(task, clerk), "entropy", ["见证人"], clerk)
    conflicted = {e.uscc for e in entities[:5]}
    assert len(d.selections) == 10
    for sel in d.selections:
        licences = [a.licence_no for a in sel.assignments]
        eligible = set(sel.eligible["SCJG"])
        assert set(licences) <= eligible
        assert wrong.licence_no not in eligible and inactive.licence_no not in eligible
        assert specialist.licence_no in eligible
        assert (general[0].licence_no in eligible) == (sel.uscc not in conflicted)


def test_load_is_balanced_when_everyone_is_eligible(db):
    *_, d = _drawn(db, n_entities=80, n_inspectors=7, strata=[{"stratum": s, "ratio": "0.5"} for s in "ABCD"])
    load = Counter(a.licence_no for sel in d.selections for a in sel.assignments)
    assert sum(load.values()) == 2 * 40
    assert len(load) == 7 and max(load.values()) - min(load.values()) <= 1


def test_joint_task_takes_inspectors_from_each_department(db):
    lead = f.department(code="SCJG")
    other = f.department(code="WJW")
    entities = [f.entity(risk=RiskClass.D) for _ in range(6)]
    lead_insp = [f.inspector(lead) for _ in range(4)]
    other_insp = [f.inspector(other) for _ in range(3)]
    task = f.task(lead, departments=[lead, other], strata=[{"stratum": "D", "count": 4}],
                  inspectors_per_target={"SCJG": 2, "WJW": 1})
    clerk = f.user("clerk", department=lead)
    db.session.commit()
    d = draw_service.perform(draw_service.lock(task, clerk), "x", ["见证人"], clerk)
    lead_set, other_set = {i.licence_no for i in lead_insp}, {i.licence_no for i in other_insp}
    for sel in d.selections:
        lic = [a.licence_no for a in sel.assignments]
        assert len(lic) == 3 and set(lic[:2]) <= lead_set and lic[2] in other_set
    cert = draw_service.certificate(d)
    assert cert["inspectors_per_target"] == {"SCJG": 2, "WJW": 1}
    assert draw_reference.recompute(cert)["selected"] == [
        {k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]


def test_redraw_needs_reason_and_keeps_the_old_draw(db):
    dept, entities, inspectors, task, clerk, first = _drawn(db)
    with pytest.raises(draw_service.DrawError, match="原因"):
        draw_service.lock(task, clerk)
    db.session.rollback()
    second = draw_service.lock(task, clerk, reason="见证人未到场，经批准重新抽取")
    second = draw_service.perform(second, "another", ["王见证"], clerk)
    draws = db.session.execute(select(Draw).order_by(Draw.sequence)).scalars().all()
    assert [(x.sequence, x.drawn_at is not None) for x in draws] == [(1, True), (2, True)]
    cert1, cert2 = draw_service.certificate(draws[0]), draw_service.certificate(draws[1])
    assert cert1["superseded_by"] == second.id and cert2["supersedes"] == [first.id]
    assert cert2["reason"] == "见证人未到场，经批准重新抽取"
    with pytest.raises(draw_service.DrawError):
        draw_service.perform(draws[0], "again", ["x"], clerk)


def test_substitution_keeps_old_assignment_and_is_on_certificate(db):
    dept, entities, inspectors, task, clerk, d = _drawn(db)
    sel = d.selections[0]
    old = sel.assignments[0].licence_no
    spare = next(i for i in inspectors if i.licence_no not in {a.licence_no for a in sel.assignments})
    with pytest.raises(draw_service.DrawError, match="原因"):
        draw_service.substitute(sel, old, spare.licence_no, "  ", clerk)
    db.session.rollback()
    draw_service.substitute(sel, old, spare.licence_no, "检查员病假", clerk)
    assert db.session.execute(select(func.count(DrawSubstitution.id))).scalar() == 1
    d = db.session.get(Draw, d.id)
    cert = draw_service.certificate(d)
    first = cert["selected"][0]
    assert old in first["inspectors"] and old not in first["current_inspectors"]
    assert spare.licence_no in first["current_inspectors"]
    assert cert["substitutions"][0] | {"at": None} == {"uscc": sel.uscc, "old": old, "new": spare.licence_no,
                                                       "reason": "检查员病假", "actor": clerk.username, "at": None}
    assert algo.verify(cert) == []  # the algorithm's own matching still checks out


def test_draw_verify_command(db, runner, tmp_path):
    *_, d = _drawn(db)
    result = runner.invoke(args=["draw", "verify", str(d.id)])
    assert result.exit_code == 0, result.output
    assert "一致 / match" in result.output
    cert = draw_service.certificate(d)
    good = tmp_path / "cert.json"
    good.write_text(json.dumps(cert, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(args=["draw", "verify", str(good)]).exit_code == 0

    changed = json.loads(json.dumps(cert))
    changed["pool"][0]["uscc"] = changed["pool"][0]["uscc"][:-1] + ("X" if changed["pool"][0]["uscc"][-1] != "X"
                                                                  else "Y")
    assert algo.pool_hash(algo.Candidate(p["uscc"], p["stratum"]) for p in changed["pool"]) != cert["pool_hash"]
    bad = tmp_path / "pool.json"
    bad.write_text(json.dumps(changed), encoding="utf-8")
    result = runner.invoke(args=["draw", "verify", str(bad)])
    assert result.exit_code == 1 and "不一致 / mismatch: pool_hash" in result.output

    wrong_nonce = dict(cert, nonce="0" * 64)
    bad.write_text(json.dumps(wrong_nonce), encoding="utf-8")
    result = runner.invoke(args=["draw", "verify", str(bad)])
    assert result.exit_code == 1 and "不一致 / mismatch: commitment" in result.output

    moved = json.loads(json.dumps(cert))
    moved["selected"][0]["inspectors"] = list(reversed(moved["selected"][0]["inspectors"]))
    bad.write_text(json.dumps(moved), encoding="utf-8")
    result = runner.invoke(args=["draw", "verify", str(bad)])
    assert result.exit_code == 1 and "执法人员匹配不符" in result.output


def test_empty_pool_and_bad_ratio_are_clear_errors(db):
    dept = f.department()
    clerk = f.user("clerk", department=dept)
    t = f.task(dept, scope={"regions": ["990000"]})
    f.entity()
    t2 = f.task(dept, strata=[{"stratum": "B", "ratio": "150%"}])
    db.session.commit()
    with pytest.raises(draw_service.DrawError, match="没有符合条件"):
        draw_service.lock(t, clerk)
    db.session.rollback()
    with pytest.raises(draw_service.DrawError, match="0 与 100%"):
        draw_service.lock(t2, clerk)
    db.session.rollback()
    assert db.session.execute(select(func.count(Draw.id))).scalar() == 0


def test_simultaneous_draw_clicks_make_one_draw(db, app):
    import threading

    dept, entities, inspectors, task, clerk = _setup(db)
    draw_id = draw_service.lock(task, clerk).id
    clerk_id = clerk.id
    outcomes = []
    barrier = threading.Barrier(2)

    def click(entropy):
        with app.app_context():
            from portal.models import User
            d = db.session.get(Draw, draw_id)
            user = db.session.get(User, clerk_id)
            db.session.rollback()
            barrier.wait()
            try:
                draw_service.perform(d, entropy, ["见证人"], user)
                outcomes.append("drawn")
            except draw_service.DrawError as exc:
                outcomes.append(str(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click, args=(e,)) for e in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes)[0] == "drawn" and "已经完成" in sorted(outcomes)[1], outcomes
    db.session.rollback()  # end this session's read snapshot
    assert db.session.execute(select(func.count(DrawWitness.id))).scalar() == 1
