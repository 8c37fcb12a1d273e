"""Sign-in: per account+address back-off (nobody can lock out others or a named account), bounded
password checks, and the sign-in journal sealed into the audit chain without the chain's lock."""
import os
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select, text, update

import factories as f
from conftest import extract_csrf, make_app
from portal import journal
from portal.auth import accounts, signins, throttle
from portal.domain import signin as rules
from portal.extensions import db as _db
from portal.models import AuditEvent, SigninBackoff, SigninEvent

OFFICE = {"REMOTE_ADDR": "198.51.100.20"}
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


def _attempt(client, username, password, environ=OFFICE):
    token = extract_csrf(client.get("/admin/login", environ_base=environ).get_data(as_text=True))
    return client.post("/admin/login", environ_base=environ,
                       data={"username": username, "password": password, "csrf_token": token})


def _journal(db):
    db.session.rollback()
    rows = db.session.execute(select(SigninEvent).order_by(SigninEvent.outcome, SigninEvent.username,
                                                           SigninEvent.address)).scalars().all()
    return [(r.username, r.address, r.outcome.value, r.attempts) for r in rows]


# --- the rule itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("failures, seconds", [(0, 0), (3, 0), (4, 1), (5, 2), (6, 4), (13, 512), (14, 900),
                                               (60, 900)])
def test_backoff_doubles_after_the_free_failures_up_to_the_cap(failures, seconds):
    assert rules.backoff_seconds(failures, free_failures=3, max_seconds=900) == seconds


def test_backoff_state_runs_out_and_is_forgotten_after_a_day():
    now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    state = rules.backoff(5, now, now, 3, 900)
    assert state.wait_seconds(now) == 2 and state.wait_seconds(now + timedelta(seconds=1)) == 1
    assert state.wait_seconds(now + timedelta(seconds=2)) == 0
    assert rules.backoff(40, now - timedelta(hours=24), now, 3, 900) == rules.Backoff(0, None)


def test_audit_windows_are_quarter_hours():
    at = datetime(2026, 3, 2, 8, 29, 59, tzinfo=timezone.utc)
    assert rules.window_start(at) == datetime(2026, 3, 2, 8, 15, tzinfo=timezone.utc)
    assert rules.window_start(at + timedelta(seconds=1)) == datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)


# --- nobody can lock out others or a named account ------------------------------------------------

def test_five_wrong_guesses_do_not_lock_the_admin_for_its_owner_elsewhere(app, db, client):
    f.user("admin", username="admin")
    db.session.commit()
    statuses = [_attempt(client, "admin", f"guess-{i}", ATTACKER).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    owner = _attempt(app.test_client(), "admin", f.PASSWORD, OFFICE)
    assert owner.status_code == 303 and owner.headers["Location"] == "/admin/"


def test_twenty_random_names_from_one_address_do_not_block_a_real_user_elsewhere(app, db, client):
    f.user("clerk", username="clerk-real")
    db.session.commit()
    statuses = {_attempt(client, f"rnd-{i:02d}-x", "whatever", ATTACKER).status_code for i in range(20)}
    assert statuses == {200}  # each invented name is its own account+address pair: no back-off
    assert _attempt(app.test_client(), "clerk-real", f.PASSWORD, OFFICE).status_code == 303
    # ... nor a real user at the attacker's own address (only the per-address rate limit could).
    assert _attempt(app.test_client(), "clerk-real", f.PASSWORD, ATTACKER).status_code == 303
    # Twenty invented names are ONE journal row for that address: nothing typed there is kept.
    assert ("", "203.0.113.66", "failure", 20) in _journal(db)
    assert not any(name.startswith("rnd-") for name, *_ in _journal(db))


def test_backoff_answers_429_with_the_form_and_retry_after_and_checks_no_password(app, db, client):
    f.user("clerk", username="clerk-b")
    db.session.commit()
    for _ in range(3):
        assert "用户名或密码不正确。" in _attempt(client, "clerk-b", "wrong").get_data(as_text=True)
    fourth = _attempt(client, "clerk-b", "wrong")
    assert fourth.status_code == 200
    assert "用户名或密码不正确。为保护账号，请 1 秒后再试。" in fourth.get_data(as_text=True)
    # A slow machine may take longer than 1 s for the next request: as if six more had failed (64 s).
    db.session.execute(update(SigninBackoff).values(failures=10))
    db.session.commit()
    refused = _attempt(client, "clerk-b", f.PASSWORD)  # even the right password waits its turn
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and 55 <= int(refused.headers["Retry-After"]) <= 64
    assert "该账号从您所在网络登录失败次数过多，请" in html and "分钟后再试。" in html and 'name="password"' in html
    assert client.get("/admin/").status_code == 302
    assert _journal(db) == [("clerk-b", "198.51.100.20", "failure", 4), ("clerk-b", "198.51.100.20", "refused", 1)]


def test_when_the_backoff_has_run_out_the_right_password_works_and_clears_it(app, db, client):
    f.user("clerk", username="clerk-c")
    db.session.commit()
    for _ in range(4):
        _attempt(client, "clerk-c", "wrong")
    db.session.rollback()
    assert db.session.execute(select(SigninBackoff.failures)).scalar() == 4
    # Eight failures, the last 20 s ago: its 16 s back-off has run out.
    db.session.execute(update(SigninBackoff).values(
        failures=8, last_failure_at=datetime.now(timezone.utc) - timedelta(seconds=20)))
    db.session.commit()
    assert _attempt(client, "clerk-c", f.PASSWORD).status_code == 303
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SigninBackoff)).scalar() == 0


def test_an_inactive_account_fails_like_a_wrong_password(app, db, client):
    user = f.user("clerk", username="gone")
    user.active = False
    db.session.commit()
    response = _attempt(client, "gone", f.PASSWORD)
    assert response.status_code == 200 and "用户名或密码不正确" in response.get_data(as_text=True)


def test_every_password_check_slot_busy_means_retry_at_once(app, db, client):
    f.user("clerk", username="clerk-d")
    db.session.commit()
    slots = app.config["SIGNIN_HASH_SLOTS"]
    held = []
    for _ in range(slots):
        holder = throttle.hash_slot(app.instance_path, slots)
        assert holder.__enter__() is True
        held.append(holder)
    try:
        busy = _attempt(client, "clerk-d", f.PASSWORD)
    finally:
        for holder in held:
            holder.__exit__(None, None, None)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "2"
    assert "当前登录请求较多，请稍后再试。" in busy.get_data(as_text=True)
    assert _attempt(client, "clerk-d", f.PASSWORD).status_code == 303  # a slot is free again
    assert _journal(db) == [("clerk-d", "198.51.100.20", "refused", 1), ("clerk-d", "198.51.100.20", "success", 1)]


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread CPU priority (nice) is Linux behaviour")
def test_password_checks_run_in_a_thread_at_the_lowest_cpu_priority(app, db, client, monkeypatch):
    """A flood of guesses gets the CPU only when clerks' requests leave it idle (issue 12 item 4)."""
    f.user("clerk", username="clerk-n")
    db.session.commit()
    seen = []
    check = accounts._matches

    def spy(password_hash, password):
        me = threading.get_native_id()
        seen.append((me, os.getpriority(os.PRIO_PROCESS, me)))
        return check(password_hash, password)

    monkeypatch.setattr(accounts, "_matches", spy)
    request_thread = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, request_thread)
    wrong = _attempt(client, "clerk-n", "not-the-password")
    unknown = _attempt(client, "nobody-here", "whatever-it-is")
    right = _attempt(client, "clerk-n", f.PASSWORD)
    assert wrong.status_code == 200 and "用户名或密码不正确" in wrong.get_data(as_text=True)
    assert unknown.status_code == 200 and "用户名或密码不正确" in unknown.get_data(as_text=True)
    assert right.status_code == 303
    assert len(seen) == 3  # the wrong password, the unknown name's dummy check, the right password
    assert all(thread != request_thread and niceness == accounts.PASSWORD_CHECK_NICENESS for thread, niceness in seen)
    assert os.getpriority(os.PRIO_PROCESS, request_thread) == before  # the request's own thread is untouched


def test_next_with_control_characters_is_refused_before_signing_in(app, db, client):
    # The request edge (portal/security.py) refuses a `next` that is not a plain path on this site.
    f.user("admin", username="admin-n")
    db.session.commit()
    token = extract_csrf(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"username": "admin-n", "password": f.PASSWORD,
                                                 "next": "/admin/\r\nSet-Cookie: x=1", "csrf_token": token})
    assert response.status_code == 400 and "Set-Cookie: x=1" not in str(response.headers)
    assert db.session.execute(select(func.count()).select_from(SigninEvent)).scalar() == 0


# --- the journal and the chain --------------------------------------------------------------------

def test_signing_in_appends_nothing_to_the_chain_until_sealed(app, db, client, runner):
    admin = f.user("admin", username="admin-s")
    db.session.commit()
    _attempt(client, "admin-s", "wrong")
    _attempt(client, "nobody", "wrong", ATTACKER)
    _attempt(client, "admin-s", f.PASSWORD)
    db.session.rollback()
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 0
    assert db.session.get(type(admin), admin.id).last_login_at is not None

    # The window is still open: sealing now changes nothing.
    assert signins.seal(datetime.now(timezone.utc)) == 0
    # Twenty minutes after the window ended it is sealed: ONE event lists its rows (two if the
    # attempts happened to straddle a quarter hour).
    windows = db.session.execute(select(func.count(func.distinct(SigninEvent.window_start)))).scalar()
    later = datetime.now(timezone.utc) + rules.AUDIT_WINDOW + rules.SEAL_GRACE + timedelta(minutes=1)
    assert signins.seal(later) == windows
    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert len(events) == windows and {(e.action, e.actor_name) for e in events} == {("signin_summary", "system")}
    rows = sorted((r["outcome"], r["username"] or "", r["address"], r["attempts"])
                  for e in events for r in e.after["rows"])
    assert rows == [("failure", "", "203.0.113.66", 1), ("failure", "admin-s", "198.51.100.20", 1),
                    ("success", "admin-s", "198.51.100.20", 1)]
    if windows == 1:
        [event] = events
        assert event.after["totals"] == {"success": 1, "failure": 2, "refused": 0}
        assert "成功 1 次，失败 2 次，来自 2 个地址；失败中 1 次使用了不存在的用户名" in event.summary
    sealed = db.session.execute(select(func.count()).select_from(SigninEvent)
                                .where(SigninEvent.sealed_event_id.in_([e.id for e in events]))).scalar()
    assert sealed == 3
    assert signins.seal(later) == 0  # nothing left to seal
    count, _head, problem, _missing = journal.verify_chain()
    assert (count, problem) == (windows, None)


def test_a_sealed_row_is_never_changed(app, db):
    now = datetime.now(timezone.utc)
    signins.record(rules_outcome("failure"), "x", "192.0.2.1", now)
    signins.seal(now + rules.AUDIT_WINDOW + rules.SEAL_GRACE)
    signins.record(rules_outcome("failure"), "x", "192.0.2.1", now)  # a host whose clock lags
    db.session.rollback()
    assert db.session.execute(select(SigninEvent.attempts)).scalar_one() == 1


def rules_outcome(value):
    from portal.models import SigninOutcome

    return SigninOutcome(value)


def test_the_chain_grows_by_one_event_per_window_whatever_the_traffic(app, db):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    for minute in range(0, 45, 3):  # three windows, 15 attempts from 5 addresses
        signins.record(rules_outcome("failure"), "x", f"192.0.2.{minute % 5}", start + timedelta(minutes=minute))
    assert signins.seal(start + timedelta(hours=2)) == 3
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 3


def test_seal_command(app, db, runner):
    signins.record(rules_outcome("success"), "x", "192.0.2.1", datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    result = runner.invoke(args=["signins", "seal"])
    assert result.exit_code == 0, result.output
    assert "已封存 1 个时间窗的登录记录" in result.output and "尚未封存 0 行" in result.output


def test_signin_does_not_wait_for_the_chain_lock(app, db, database_url):
    """A clerk's long write holds the audit chain's lock: sign-in (failed or not) goes on regardless."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the chain lock is a PostgreSQL advisory lock; on SQLite every write shares the one "
                    "database lock (run with TEST_DATABASE_URL to check)")
    f.user("clerk", username="clerk-e")
    db.session.commit()
    engine = create_engine(database_url)
    results = []
    with engine.connect() as clerk:
        clerk.execute(text("SELECT pg_advisory_xact_lock(7301001)"))  # journal._lock_chain's lock

        def sign_in():
            with app.app_context():
                client = app.test_client()
                results.append(_attempt(client, "clerk-e", "wrong").status_code)
                results.append(_attempt(client, "clerk-e", f.PASSWORD).status_code)

        worker = threading.Thread(target=sign_in)
        worker.start()
        worker.join(timeout=30)
        finished = not worker.is_alive()
        clerk.rollback()
    worker.join()
    engine.dispose()
    assert finished and results == [200, 303]


# --- shared state ---------------------------------------------------------------------------------

def test_backoff_in_redis_is_shared_and_the_database_is_not_used(app, db, database_url, instance_dir, redis_url):
    url, prefix = redis_url
    f.user("clerk", username="clerk-r")
    db.session.commit()
    apps = [make_app(database_url, instance_dir, REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix) for _ in range(2)]
    host_a, host_b = (a.test_client() for a in apps)
    for i in range(4):
        assert _attempt(host_a if i % 2 else host_b, "clerk-r", "wrong").status_code == 200
    assert _attempt(host_a, "clerk-r", f.PASSWORD).status_code == 429
    assert _attempt(host_b, "clerk-r", f.PASSWORD).status_code == 429
    assert _attempt(host_b, "clerk-r", f.PASSWORD, ATTACKER).status_code == 303  # elsewhere: fine
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SigninBackoff)).scalar() == 0
    import redis

    client = redis.Redis.from_url(url)
    assert client.keys(f"{prefix}:signin-backoff:*")
    client.close()
    assert ("clerk-r", "198.51.100.20", "refused", 2) in _journal(db)
    for host in apps:
        with host.app_context():
            _db.engine.dispose()


def test_backoff_in_the_database_holds_across_two_apps(app, db, database_url, tmp_path):
    f.user("clerk", username="clerk-t")
    db.session.commit()
    other = make_app(database_url, tmp_path).test_client()
    for i in range(4):
        _attempt(other if i % 2 else app.test_client(), "clerk-t", "wrong")
    assert _attempt(other, "clerk-t", f.PASSWORD).status_code == 429
    with other.application.app_context():
        _db.engine.dispose()


def test_an_old_hash_is_upgraded_at_the_next_sign_in(app, db, client):
    from argon2 import PasswordHasher

    user = f.user("clerk", username="clerk-old")
    user.password_hash = PasswordHasher().hash(f.PASSWORD)  # argon2-cffi's default: 64 MiB, 4 lanes
    db.session.commit()
    assert "m=65536,t=3,p=4" in user.password_hash
    assert _attempt(client, "clerk-old", f.PASSWORD).status_code == 303
    db.session.expire_all()
    assert "m=19456,t=2,p=1" in db.session.get(type(user), user.id).password_hash
    client.post("/admin/logout", data={"csrf_token": extract_csrf(client.get("/admin/login").get_data(as_text=True))})
    assert _attempt(client, "clerk-old", f.PASSWORD).status_code == 303  # the new hash works


def test_hosts_sealing_at_once_seal_each_window_once(app, db, database_url, tmp_path):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    for minute in range(0, 30, 5):
        signins.record(rules_outcome("failure"), "x", "192.0.2.9", start + timedelta(minutes=minute))
    hosts = [make_app(database_url, tmp_path / f"host{i}") for i in range(3)]
    barrier, sealed, errors = threading.Barrier(3), [], []

    def seal_on(host):
        with host.app_context():
            try:
                barrier.wait(10)
                sealed.append(signins.seal(start + timedelta(hours=2)))
            except Exception as exc:  # shown in the assertion below
                errors.append(repr(exc))
            finally:
                _db.session.remove()
                _db.engine.dispose()

    threads = [threading.Thread(target=seal_on, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    db.session.rollback()
    assert errors == [] and sorted(sealed) == [0, 0, 2]
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == 2
    assert journal.verify_chain()[2] is None
