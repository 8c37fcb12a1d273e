"""Right of reply under gunicorn with several workers (SQLite or PostgreSQL): simultaneous filings all
arrive with distinct receipts; two clerks deciding one case at once leave exactly one decision."""
import http.cookiejar
import io
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import factories as f
from conftest import extract_csrf
from objection_support import PDF
from portal import journal
from portal.extensions import db as _db
from portal.models import AuditEvent, CaseStatus, Objection, Result, Status
from servers import gunicorn_server

# Counters in the server processes' memory, even when REDIS_URL is set (no state left between runs).
ENV = {"PORTAL_FIXED_NOW": "2025-11-20T02:00:00+00:00", "SEARCH_SYNC_ON_COMMIT": "false", "REDIS_URL": ""}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base_url):
        self.base = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect())

    def request(self, path, data=None, content_type=None):
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data, headers=headers),
                                  timeout=120) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")

    def post_form(self, path, fields):
        return self.request(path, urllib.parse.urlencode(fields, doseq=True).encode(),
                            "application/x-www-form-urlencoded")

    def login(self, username):
        _, _, html = self.request("/admin/login")
        status, _, _ = self.post_form("/admin/login", {"username": username, "password": "correct horse 9",
                                                       "csrf_token": extract_csrf(html)})
        assert status == 303


def _all_at_once(jobs):
    barrier, results, errors = threading.Barrier(len(jobs)), [None] * len(jobs), []

    def run(n, job):
        try:
            barrier.wait(timeout=60)
            results[n] = job()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return results


def test_simultaneous_filings_and_decisions(app, database_url, tmp_path):
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept = f.department(code="CC")
    task = f.task(dept)
    results = [f.result(task, f.entity()) for _ in range(5)]
    f.user("clerk", department=dept, username="clerk-one")
    f.user("clerk", department=dept, username="clerk-two")
    _db.session.commit()
    instance = tmp_path / "instance"
    with gunicorn_server(database_url, instance, workers=3, env=ENV) as base_url:
        filers = [Browser(base_url) for _ in results]
        prepared = []
        for browser, record in zip(filers, results):
            path = f"/objections/new?record=result-{record.id}"
            _, _, html = browser.request(path)
            boundary, body = encode_multipart({
                "csrf_token": extract_csrf(html), "relation": "party", "contact_name": "并发测试",
                "contact_mobile": "13811112222", "points": "remark", "affirmed": "1",
                "statement": "结果说明与事实不符，请核实更正。", "attachments": FileStorage(io.BytesIO(PDF), filename="证明.pdf", content_type="application/pdf")})
            prepared.append((browser, path, body, f"multipart/form-data; boundary={boundary}"))
        filed = _all_at_once([lambda p=p: p[0].request(p[1], p[2], p[3]) for p in prepared])
        assert [status for status, _, _ in filed] == [303] * 5, [body[-500:] for _, _, body in filed]
        links = [headers["Location"] for _, headers, _ in filed]
        assert all(re.search(r"/objections/case/[A-Za-z0-9_-]{40,}$", link) for link in links)

        _db.session.rollback()
        case = _db.session.execute(select(Objection).where(Objection.record_id == results[0].id)).scalar_one()
        clerks = {name: Browser(base_url) for name in ("clerk-one", "clerk-two")}
        forms = {}
        for name, browser in clerks.items():
            browser.login(name)
            _, _, html = browser.request(f"/admin/objections/{case.id}")
            forms[name] = extract_csrf(html)
        decided = _all_at_once([
            lambda: clerks["clerk-one"].post_form(f"/admin/objections/{case.id}/decide",
                                                  {"outcome": "maintained", "reason": "维持",
                                                   "csrf_token": forms["clerk-one"]}),
            lambda: clerks["clerk-two"].post_form(f"/admin/objections/{case.id}/decide",
                                                  {"outcome": "withdrawn", "reason": "撤回",
                                                   "csrf_token": forms["clerk-two"]})])
        assert [status for status, _, _ in decided] == [303, 303]
        pages = [clerks[name].request(f"/admin/objections/{case.id}")[2] for name in clerks]
        assert sum("该申请已办结，不能再次处理。" in page for page in pages) == 1
    log = (instance / "gunicorn.log").read_text(errors="replace")
    assert "database is locked" not in log and "Traceback" not in log
    _db.session.rollback()
    cases = _db.session.execute(select(Objection).order_by(Objection.id)).scalars().all()
    assert len(cases) == 5 and len({c.receipt_no for c in cases}) == 5
    assert sorted(c.record_id for c in cases) == sorted(r.id for r in results)
    assert all(len(c.attachments) == 1 and c.attachments[0].data == PDF for c in cases)
    fresh = _db.session.get(Objection, case.id)
    assert fresh.status is CaseStatus.DECIDED
    record = _db.session.get(Result, results[0].id)
    assert (record.status is Status.WITHDRAWN) == (fresh.outcome.value == "withdrawn")
    decisions = _db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "objection_decided", AuditEvent.record_id == case.id)).scalar()
    assert decisions == 1
    assert journal.verify_chain()[2] is None
