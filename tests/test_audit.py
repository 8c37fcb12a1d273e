"""The hash-chained audit trail: verify command, tamper detection, chain head, browsing."""
from sqlalchemy import select, text

import factories as f
from portal import journal
from portal.database import write_transaction
from portal.models import AuditEvent


def _events(db, n=3):
    db.session.commit()
    with write_transaction():
        for i in range(n):
            journal.record("update", "setting", None, actor="system", summary=f"事件 {i}", after={"i": i})


def test_verify_ok_then_detects_tampered_summary(app, db, runner):
    _events(db, 4)
    ok = runner.invoke(args=["audit", "verify"])
    count, head = journal.chain_head()
    assert ok.exit_code == 0
    assert ok.output.strip() == f"OK: 4 events, head {head}" and count == 4
    third = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id).offset(2)).scalar()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET summary = '篡改' WHERE id = :id"), {"id": third})
    db.session.rollback()  # end the test's read transaction: see the edit like a new process would
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"BROKEN at event {third}" in bad.output and "被篡改" in bad.output


def test_verify_detects_deleted_event(app, db, runner):
    _events(db, 3)
    second = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id).offset(1)).scalar()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": second})
    db.session.rollback()  # end the test's read transaction: see the edit like a new process would
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and f"BROKEN at event {second + 1}" in bad.output


def _head_after(db, n):
    _events(db, n)
    return journal.chain_head()[1]


def test_verify_reports_an_archived_head_the_chain_no_longer_reaches(app, db, runner, tmp_path):
    """Deleting the latest events leaves an intact, shorter chain: only an archived head reveals it."""
    early = _head_after(db, 2)
    published = _head_after(db, 3)  # the head someone copied from /transparency
    ok = runner.invoke(args=["audit", "verify", "--head", published, "--head", early])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == f"OK: 5 events, head {published}, 2 archived head(s) reached"
    last_three = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(3)).scalars().all()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": min(last_three)})
    db.session.rollback()
    assert runner.invoke(args=["audit", "verify"]).output.strip() == f"OK: 2 events, head {early}"  # looks fine alone
    bad = runner.invoke(args=["audit", "verify", "--head", published])
    assert bad.exit_code == 1
    assert bad.output.strip() == (
        f"MISSING HEAD {published}: 审计链中已找不到此前公布的链头，其后的审计记录可能已被删除 / "
        "the chain no longer reaches this archived head: later events may have been deleted")
    heads = tmp_path / "heads.txt"
    heads.write_text(f"# heads copied from /transparency\n{early}  2026-01-01\n\n{published.upper()}\n", encoding="utf-8")
    from_file = runner.invoke(args=["audit", "verify", "--heads", str(heads)])
    assert from_file.exit_code == 1
    assert f"MISSING HEAD {published}" in from_file.output and f"MISSING HEAD {early}" not in from_file.output


def test_verify_refuses_malformed_heads(app, db, runner, tmp_path):
    bad = runner.invoke(args=["audit", "verify", "--head", "abc"])
    assert bad.exit_code == 2 and "not a 64-hex-digit head hash: abc" in bad.output
    heads = tmp_path / "heads.txt"
    heads.write_text("0" * 64 + "\nnot-a-hash\n", encoding="utf-8")
    bad = runner.invoke(args=["audit", "verify", "--heads", str(heads)])
    assert bad.exit_code == 2 and "第 2 行不是 64 位十六进制的链头哈希" in bad.output


def test_verify_names_a_broken_link_and_a_missing_head_together(app, db, runner):
    published = _head_after(db, 3)
    second = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id).offset(1)).scalar()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET hash = :h WHERE id = :id"), {"h": "f" * 64, "id": second + 1})
    db.session.rollback()
    bad = runner.invoke(args=["audit", "verify", "--head", published])
    assert bad.exit_code == 1
    lines = bad.output.strip().splitlines()
    assert lines[0].startswith(f"BROKEN at event {second + 1}: ") and lines[1].startswith(f"MISSING HEAD {published}")


def test_empty_chain_verifies(app, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.startswith("OK: 0 events, head 0000")


def test_audit_log_filters_and_paging(app, db, client, login):
    admin = f.user("admin", username="boss")
    _events(db, 3)
    with write_transaction():  # sign-ins are no longer chain events (tests/test_signin.py): boss acts once
        journal.record("user_update", "user", None, actor=admin, summary="boss 修改用户")
    login(client, admin)
    html = client.get("/admin/audit?action=update").get_data(as_text=True)
    assert "事件 0" in html and "boss 修改用户" not in html
    html = client.get("/admin/audit?actor=boss").get_data(as_text=True)
    assert "boss 修改用户" in html and "事件 0" not in html
    frag = client.get("/admin/audit?per_page=2&page=2", headers={"HX-Request": "true"})
    body = frag.get_data(as_text=True)
    assert frag.status_code == 200 and body.lstrip().startswith('<div id="audit-rows">') and "第 2 / 2 页" in body
    assert "起始日期" in client.get("/admin/audit?from=2025-02-30").get_data(as_text=True)
    assert "不是有效日期" in client.get("/admin/audit?from=2025-02-30").get_data(as_text=True)


def test_writes_are_journaled_with_before_and_after(app, db, client, login, csrf_token):
    clerk = f.user("admin")
    ent = f.entity(name="原名称")
    login(client, clerk)
    r = client.post(f"/admin/entities/{ent.id}", data=dict(
        uscc=ent.uscc, name="新名称", entity_type="企业", region_code="411421", registration_status="存续",
        risk_class="B", change_reason="更名", csrf_token=csrf_token(client)))
    assert r.status_code == 303
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "update")).scalar_one()
    assert event.record_kind == "entity" and event.before["name"] == "原名称" and event.after["name"] == "新名称"
    assert event.actor_name == clerk.username


def test_concurrent_writers_keep_one_linear_chain(app, db, database_url, tmp_path):
    """Two app instances (like two workers) appending at once: no fork, no lost event, chain verifies."""
    import threading

    from conftest import make_app

    apps = [make_app(database_url, tmp_path / f"w{i}") for i in range(2)]
    errors = []

    def work(instance, tag):
        try:
            with instance.app_context():
                for i in range(10):
                    with write_transaction():
                        journal.record("update", "setting", None, actor="system", summary=f"{tag}-{i}")
                from portal.extensions import db as _db
                _db.session.remove()
                _db.engine.dispose()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(a, f"w{i}")) for i, a in enumerate(apps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.rollback()
    count, head, problem, _missing = journal.verify_chain()
    assert problem is None and count == 20
    assert journal.chain_head() == (20, head)


def test_transparency_page_explains_how_to_check_an_archived_head(app, db, client):
    published = _head_after(db, 1)
    page = client.get("/transparency").get_data(as_text=True)
    assert published in page
    assert "flask --app wsgi audit verify --head 链头哈希" in page and "MISSING HEAD" in page
    assert client.get("/transparency.json").get_json()["audit_chain"]["head"] == published


def _true_count(db):
    return db.session.execute(text("SELECT count(*) FROM audit_event")).scalar()


def test_the_chain_count_follows_appends_and_a_database_emptied_under_the_process(app, db, client):
    """chain_head counts only the events after the head it last saw; it stays exact as the chain
    grows and when the events it counted are gone (tables emptied, another database)."""
    _events(db, 3)
    assert journal.chain_head()[0] == 3
    _events(db, 2)
    count, head = journal.chain_head()
    latest = db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    assert (count, head) == (5, latest) == (_true_count(db), latest)
    assert client.get("/transparency.json").get_json()["audit_chain"] == {"events": 5, "head": latest}
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    _events(db, 6)  # SQLite gives ids from 1 again: the counted id holds another event now
    db.session.commit()
    with db.engine.begin() as conn:  # and fewer events than ids: a count carried on would be wrong
        conn.execute(text("DELETE FROM audit_event WHERE id IN (SELECT id FROM audit_event ORDER BY id LIMIT 2)"))
    db.session.rollback()
    assert journal.chain_head()[0] == _true_count(db) == 4
    _events(db, 3)
    assert journal.chain_head()[0] == _true_count(db) == 7
    assert client.get("/transparency.json").get_json()["audit_chain"]["events"] == 7
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    db.session.rollback()
    assert journal.chain_head() == (0, journal.GENESIS)
