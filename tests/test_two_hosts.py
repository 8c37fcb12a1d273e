"""Two app hosts on one PostgreSQL database are interchangeable (SPEC §11, issue 12 item 1).

Host A and host B are two gunicorn servers started as docs/deploy.md section 7 says: the same
DATABASE_URL, REDIS_URL (when TEST_REDIS_URL is set), SECRET_KEY and PUBLIC_BASE_URL, nginx's
TRUSTED_PROXY_HOPS=1, each its own PORTAL_INSTANCE_PATH (own search index). The guide's blocks are
read from the guide and run as written (migrate from A only; B builds its index before it takes
traffic; the timer's commands on both). Then one browser-like client, whose requests land on
either host, checks that:

- an upload previewed on A is confirmed on B, runs as a job there, and A reports its progress and
  outcome; a job whose worker is killed mid-import is taken over by the other host;
- a clerk signed in on A acts on B; signed out on A, the old cookie is refused on B;
- a penalty published on A is found by a search on B within 2 s (B's index catches up from the
  change log in the database before it answers);
- with Redis, rate-limit counters are shared: a limit is reached by requests to both hosts;
- a sign-in window with sign-ins on both hosts is sealed into the audit chain once when both
  hosts' timers run `signins seal` at the same time;
- a graceful reload (HUP) of one host in the middle of all this fails no request.

Runs in CI's PostgreSQL stage (`make test-pg`) and, with Redis, in its Redis stage (`make test-redis`).
Without TEST_DATABASE_URL it is skipped with that reason: several hosts need a shared database server.
"""
import http.cookiejar
import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from servers import ROOT, gunicorn_server, server_env
from test_deploy import guide_blocks

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
DATA = Path(__file__).parent / "data"
PASSWORD = "two-hosts-pass-9"
DECISION_NO = "民市监罚〔2026〕7701号"
CLIENT_ADDRESS = "10.0.0.7"  # what nginx would put in X-Forwarded-For (TRUSTED_PROXY_HOPS=1)

pytestmark = pytest.mark.skipif(not PG_URL, reason="two hosts need one shared PostgreSQL: set TEST_DATABASE_URL "
                                                   "(`make test-pg` and `make test-redis` do; CI runs both)")


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class Browser:
    """One user's browser: a cookie jar shared by both hosts (the load balancer's one site name)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, url, data=None, headers=None, method=None):
        headers = {"X-Forwarded-For": CLIENT_ADDRESS, **(headers or {})}
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8")

    def get(self, url, **kw):
        return self.request(url, **kw)

    def post(self, url, fields: dict, **kw):
        body = urllib.parse.urlencode(fields).encode()
        return self.request(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, **kw)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test looks at every 303 itself


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _run_guide(names, env: dict, instance: Path) -> subprocess.CompletedProcess:
    """Run the guide's blocks as written, in this checkout, with one host's environment."""
    blocks = guide_blocks()
    script = "\n".join(["set -euo pipefail", *[blocks[n].body for n in names]])
    script = script.replace(".venv/bin/", f"{Path(sys.prefix)}/bin/")  # the running interpreter's venv
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=server_env(env["DATABASE_URL"], instance, env))
    assert result.returncode == 0, f"guide blocks {names} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _sync_service_commands() -> list[str]:
    unit = guide_blocks()["/etc/systemd/system/portal-sync.service"].body
    return [line.split("=", 1)[1].replace("/srv/portal/.venv/bin/", f"{Path(sys.prefix)}/bin/")
            for line in unit.splitlines() if line.startswith("ExecStart=")]


def _seed(database_url: str, instance: Path) -> dict:
    """The records the journey needs: a department, its clerk, a drawn task (for the upload) and a
    draft penalty (to publish), written through the models as the back office would."""
    sys.path.insert(0, str(Path(__file__).parent))
    import factories as f
    from portal import create_app
    from portal.config import TestConfig
    from portal.extensions import db
    from test_import_files import DRAWN_AT, corpus

    app = create_app(TestConfig, DATABASE_URL=database_url, INSTANCE_PATH=str(instance / "seed"),
                     SEARCH_INDEX_DIR=str(instance / "seed" / "search-index"), SEARCH_SYNC_ON_COMMIT=False)
    with app.app_context():
        dept = f.department(code="MQ01", name="民权县市场监督管理局")
        entities = [f.entity(uscc=u, name=f"民权县两主机商贸有限公司{i}") for i, u in enumerate(corpus.ENTITY_USCC, 1)]
        inspectors = [f.inspector(dept, licence_no=lic) for lic in corpus.LICENCES]
        task = f.task(dept, code=corpus.TASK)
        f.draw(task, entities[:2], inspectors, drawn_at=DRAWN_AT)
        penalty = f.penalty(dept, entities[2], decision_no=DECISION_NO, publish=False)
        clerk = f.user("clerk", department=dept, username="clerk-two-hosts", password=PASSWORD)
        seeded = {"penalty_id": penalty.id, "clerk": clerk.username}
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return seeded


def _sign_in(browser: Browser, host: str, username: str):
    status, _, html = browser.get(host + "/admin/login")
    assert status == 200
    status, headers, _ = browser.post(host + "/admin/login", {"username": username, "password": PASSWORD,
                                                              "csrf_token": _csrf(html)})
    assert status == 303, f"sign-in on {host} answered {status}"


@pytest.fixture
def database(tmp_path):
    admin = create_engine(_sqlalchemy_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"two_hosts_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urllib.parse.urlsplit(PG_URL)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}", query=""))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if REDIS_URL:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"*{name}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


def test_two_hosts_on_one_postgresql_are_interchangeable(database, tmp_path):
    name = urllib.parse.urlsplit(database).path.lstrip("/")
    # Section 4: the same settings on every host; only the instance folder differs.
    shared = {"DATABASE_URL": database, "SECRET_KEY": uuid.uuid4().hex * 2, "PUBLIC_BASE_URL": "https://gs.example.test",
              "TRUSTED_PROXY_HOPS": "1", "REDIS_URL": REDIS_URL, "RATELIMIT_KEY_PREFIX": name,
              # Every upload runs as a job (that is what may outlive a worker); a dead one is taken over fast.
              "IMPORT_INLINE_ROWS": "0", "IMPORT_JOB_STALE_SECONDS": "3", "LOG_LEVEL": "WARNING",
              "RATELIMIT_EXPORT": "4/minute"}
    instance_a, instance_b = tmp_path / "host-a", tmp_path / "host-b"
    env_a = {**shared, "PORTAL_INSTANCE_PATH": str(instance_a)}
    env_b = {**shared, "PORTAL_INSTANCE_PATH": str(instance_b)}

    # Section 4, from host A only: migrate (and the first administrator).
    _run_guide(["migrate"], {**env_a, "ADMIN_PASSWORD": "two-hosts-admin-1"}, instance_a)
    seeded = _seed(database, tmp_path)
    a_info, b_info = {}, {}
    with ExitStack() as stack:
        host_a = stack.enter_context(gunicorn_server(database, instance_a, workers=2, env=env_a, info=a_info))
        # Section 7: a new host builds and checks its own index before it takes traffic.
        _run_guide(["new-host-index"], env_b, instance_b)
        host_b = stack.enter_context(gunicorn_server(database, instance_b, workers=2, env=env_b, info=b_info))
        browser = Browser()

        # Sign in on A, act on B.
        _sign_in(browser, host_a, seeded["clerk"])
        status, _, html = browser.get(host_b + "/admin/uploads")
        assert status == 200 and "clerk-two-hosts" in _text(html)

        # Preview on A (the file is kept in the database) ...
        token = _csrf(html)  # B's page: the token is signed with the shared SECRET_KEY
        boundary, payload = encode_multipart({
            "csrf_token": token, "kind": "results",
            "file": FileStorage(io.BytesIO((DATA / "results_ok_gbk.csv").read_bytes()), filename="结果.csv")})
        status, _, html = browser.request(host_a + "/admin/uploads", data=payload,
                                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 200 and "数据行： 2 新增： 2" in _text(html).replace("：", "： ").replace("：  ", "： ")
        fields = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', html))
        if "accept_warnings" in html:
            fields["accept_warnings"] = "1"
        assert not list(instance_a.glob("uploads/*")), "the upload must not wait on host A's disk"
        # ... confirmed on B, which runs it as a job; A reports its progress and its outcome, while
        # A is reloaded gracefully (HUP) and no request fails.
        status, headers, _ = browser.post(host_b + "/admin/uploads/confirm", {**fields, "publish": "1"})
        assert status == 303 and headers["Location"] == f"/admin/uploads/jobs/{fields['run']}"
        os.kill(a_info["pid"], signal.SIGHUP)
        statuses, location = [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, headers, html = browser.get(host_a + f"/admin/uploads/jobs/{fields['run']}")
            statuses.append(status)
            if status == 303:
                location = headers["Location"]
                break
            time.sleep(0.2)
        assert set(statuses) <= {200, 303} and location, statuses
        status, _, html = browser.get(host_a + location)
        assert status == 200 and "已导入检查结果文件“结果.csv”：新增 2，更新 0，未变化 0，发布 2" in _text(html)

        # A job whose worker dies mid-import is taken over by the other host. The test holds the
        # import lock so the job is caught inside its transaction, then kills the worker running it.
        engine = create_engine(_sqlalchemy_url(database))
        stack.callback(engine.dispose)
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(7301002)"))
            lock.commit()
            status, headers, _ = browser.post(host_b + "/admin/uploads/confirm", fields)
            assert status == 303
            with engine.connect() as conn:
                owner = None
                for _ in range(100):
                    owner = conn.execute(text("SELECT owner FROM upload_job WHERE token = :t"),
                                         {"t": fields["run"]}).scalar()
                    conn.rollback()
                    if owner:
                        break
                    time.sleep(0.1)
            worker_pid = int(owner.split(":")[1])
            os.kill(worker_pid, signal.SIGKILL)
            lock.execute(text("SELECT pg_advisory_unlock(7301002)"))
            lock.commit()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, headers, html = browser.get(host_a + f"/admin/uploads/jobs/{fields['run']}")
            if status == 303:
                break
            assert status == 200
            time.sleep(0.3)
        assert status == 303, _text(html)[-500:]
        status, _, html = browser.get(host_a + headers["Location"])
        assert "已导入检查结果文件“结果.csv”：新增 0，更新 0，未变化 2" in _text(html)
        with engine.connect() as conn:
            job = conn.execute(text("SELECT state, attempts, owner FROM upload_job WHERE token = :t"),
                               {"t": fields["run"]}).one()
            batches = conn.execute(text("SELECT count(*) FROM import_batch")).scalar()
        assert job.state == "done" and job.attempts == 3 and job.owner != owner  # 1st import, killed, taken over
        assert batches == 2  # the killed attempt wrote nothing

        # Publish on A: a search on B finds it within 2 s.
        hit = f'href="/penalties/{seeded["penalty_id"]}"'
        status, _, html = browser.get(host_b + "/search?" + urllib.parse.urlencode({"q": DECISION_NO}))
        assert status == 200 and hit not in html  # a draft is not public
        status, _, html = browser.get(host_a + f"/admin/penalties/{seeded['penalty_id']}")
        status, headers, _ = browser.post(host_a + f"/admin/penalties/{seeded['penalty_id']}/publish",
                                          {"csrf_token": _csrf(html)})
        assert status == 303
        published = time.monotonic()
        while True:
            status, headers, html = browser.get(host_b + "/search?" + urllib.parse.urlencode({"q": DECISION_NO}))
            # An exact 文号 leads straight to the record once it is public (otherwise: a results page).
            if status == 303 and headers["Location"].endswith(f"/penalties/{seeded['penalty_id']}") or hit in html:
                break
            assert status == 200
            assert time.monotonic() - published < 2, "host B's search did not find the publication within 2 s"
            time.sleep(0.1)
        assert time.monotonic() - published < 2

        # Sign out on A: the same cookie is refused on B.
        old_cookie = browser.cookie_header()
        status, _, html = browser.get(host_b + "/admin/uploads")
        status, _, _ = browser.post(host_a + "/admin/logout", {"csrf_token": _csrf(html)})
        assert status == 303
        status, headers, _ = browser.request(host_b + "/admin/uploads", headers={"Cookie": old_cookie})
        assert status in (302, 303) and "/admin/login" in headers["Location"]

        # With Redis the rate-limit counters are shared: CSV downloads alternate between the hosts
        # and the fifth within the minute is refused, whichever host gets it.
        if REDIS_URL:
            statuses = [browser.get((host_a, host_b)[i % 2] + "/results.csv")[0] for i in range(5)]
            assert statuses == [200, 200, 200, 200, 429], statuses

        # Sign in on B too: one window of sign-ins on both hosts, sealed once by both hosts' timers.
        _sign_in(browser, host_b, seeded["clerk"])
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT window_start, attempts FROM signin_event "
                                     "WHERE username = :u AND outcome = 'success'"), {"u": seeded["clerk"]}).all()
            # One row per window, account, address and outcome: the two sign-ins share one, unless a
            # 15-minute window boundary (they are aligned to the clock) fell between them.
            assert sum(r.attempts for r in rows) == 2 and len(rows) == len({r.window_start for r in rows}), rows
            windows = conn.execute(text("SELECT count(DISTINCT window_start) FROM signin_event")).scalar()
            # The window closes after 15 minutes; move it an hour back instead of waiting.
            conn.execute(text("UPDATE signin_event SET window_start = window_start - interval '1 hour', "
                              "first_at = first_at - interval '1 hour', last_at = last_at - interval '1 hour'"))
        commands = _sync_service_commands()
        assert [c.split(" wsgi ", 1)[1] for c in commands] == ["search sync", "signins seal"]

        def timer(env_instance):
            env, instance = env_instance
            out = []
            for command in commands:
                result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True,
                                        timeout=300, env=server_env(database, instance, env))
                assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
                out.append(result.stdout)
            return out

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(timer, [(env_a, instance_a), (env_b, instance_b)]))
        with engine.connect() as conn:
            sealed = conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'signin_summary'")).scalar()
            unsealed = conn.execute(text("SELECT count(*) FROM signin_event WHERE sealed_event_id IS NULL")).scalar()
        engine.dispose()
        assert (sealed, unsealed) == (windows, 0)  # one summary per window, sealed once by two timers
        # Host A's index is current after its timer ran, like B's.
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "search", "verify"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300,
                                env=server_env(database, instance_a, env_a))
        assert result.returncode == 0, result.stdout + result.stderr
