"""/transparency: audit chain head, algorithm, and fairness counted over public draws only."""
from datetime import date, datetime, timezone

import factories as f
from sqlalchemy import select

from portal.journal import chain_head
from portal.models import AuditEvent, RiskClass


def _world(db):
    dept = f.department(code="SCJG")
    a, b, c, hidden_e = (f.entity(risk=RiskClass.B) for _ in range(4))
    i1 = f.inspector(dept, name="王检查", licence_no="41142100001", id_card_no="410101199001011234")
    i2 = f.inspector(dept, name="李检查", licence_no="41142100002")
    t1, t2, t3 = f.task(dept), f.task(dept), f.task(dept)
    surprise = f.task(dept, surprise=True, period=(date(2026, 10, 1), date(2026, 12, 31)))
    when = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    f.draw(t1, [a, b], inspectors=[i1, i2], drawn_at=when)
    f.draw(t2, [a, c], inspectors=[i1], drawn_at=when)
    old = f.draw(t3, [a], inspectors=[i2], drawn_at=when)  # superseded: does not count
    f.draw(t3, [b], inspectors=[i2], drawn_at=when, sequence=2)
    f.draw(surprise, [hidden_e, a], inspectors=[i1], drawn_at=when)  # hidden: results not published
    f.draw(f.task(dept), [c], inspectors=[i1], drawn_at=when, publish=False)  # draft: does not count
    f.draw(f.task(dept), [c], inspectors=[i1], drawn_at=datetime(2020, 1, 1, tzinfo=timezone.utc))  # too old
    db.session.commit()
    return a, b, c, i1, i2, old


def test_fairness_counts_public_in_force_draws_of_three_years(db, client, set_now):
    set_now("2026-11-23T02:00:00+00:00")
    a, b, c, i1, i2, old = _world(db)
    data = client.get("/transparency.json").get_json()["fairness"]
    assert data["draws"] == 3 and data["superseded_draws"] == 1
    # a: t1, t2 → 2; b: t1, t3#2 → 2; c: t2 → 1
    assert data["times_drawn_histogram"] == [{"times": 0, "entities": 0}, {"times": 1, "entities": 1},
                                             {"times": 2, "entities": 2}]
    assert data["max_times_drawn"] == 2
    assert data["inspector_assignments"] == [{"name": "王检查", "licence_no": "41142100001", "assignments": 4},
                                             {"name": "李检查", "licence_no": "41142100002", "assignments": 3}]
    assert {(p["licence_no"], p["uscc"], p["times"]) for p in data["repeated_pairs"]} == {
        ("41142100001", a.uscc, 2), ("41142100002", b.uscc, 2)}


def test_page_shows_chain_head_algorithm_and_no_private_data(db, client, set_now):
    set_now("2026-11-23T02:00:00+00:00")
    _world(db)
    page = client.get("/transparency")
    html = page.get_data(as_text=True)
    count, head = chain_head()
    assert page.status_code == 200
    assert head in html and "审计链" in html and "draw-v1" in html and "HMAC-SHA256" in html
    assert "<svg" in html and "单个主体最多被抽中 <strong>2</strong> 次" in html
    assert "王检查" in html and "41142100001" in html and "410101199001011234" not in html
    assert client.get("/transparency.json").get_json()["audit_chain"] == {"events": count, "head": head}


def test_chain_head_follows_new_events(db, client):
    before = client.get("/transparency.json").get_json()["audit_chain"]
    from portal import journal
    from portal.database import write_transaction
    with write_transaction():
        journal.record("test", summary="x")
    after = client.get("/transparency.json").get_json()["audit_chain"]
    assert after["events"] == before["events"] + 1
    assert after["head"] == db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc())).scalars().first()


def test_kept_fairness_follows_a_new_draw_and_the_end_of_an_embargo(db, client, set_now):
    """The fairness figures are kept per worker under the public revision (transparency.fairness_cached)."""
    set_now("2026-12-31T15:59:00+00:00")  # 23:59 on 2026-12-31 in China: the surprise task is still embargoed
    _world(db)
    assert client.get("/transparency.json").get_json()["fairness"]["draws"] == 3
    set_now("2026-12-31T16:00:00+00:00")  # 2027-01-01 in China: its period is over, its draw public
    assert client.get("/transparency.json").get_json()["fairness"]["draws"] == 4
    f.draw(f.task(f.department(code="WJW")), [f.entity()], drawn_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
    db.session.commit()  # a new public draw: a new revision
    assert client.get("/transparency.json").get_json()["fairness"]["draws"] == 5
