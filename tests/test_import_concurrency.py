"""Two clerks upload at the same time against gunicorn with several workers (SQLite or PostgreSQL):
every row arrives once, nothing is lost, no "database is locked"."""
import csv
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
from portal.domain.uscc import make
from portal.extensions import db as _db
from portal.models import Entity, ImportBatch, Penalty
from servers import gunicorn_server

ENTITY_HEADERS = ["统一社会信用代码", "名称", "类型", "行政区划代码"]
PENALTY_HEADERS = ["行政处罚决定书文号", "当事人名称", "处罚类别", "处罚决定日期"]


def _csv(headers, rows) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("gbk")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, base_url):
        self.base = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect())

    def request(self, path, data=None, content_type=None):
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")

    def login(self, username, password="correct horse 9"):
        _, _, html = self.request("/admin/login")
        body = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": extract_csrf(html)}).encode()
        status, _, _ = self.request("/admin/login", body, "application/x-www-form-urlencoded")
        assert status == 303

    def upload(self, kind, name, data):
        _, _, html = self.request("/admin/uploads")
        boundary, payload = encode_multipart({"csrf_token": extract_csrf(html), "kind": kind,
                                              "file": FileStorage(io.BytesIO(data), filename=name)})
        status, _, html = self.request("/admin/uploads", payload, f"multipart/form-data; boundary={boundary}")
        assert status == 200, html[-2000:]
        return dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', html))

    def confirm(self, fields):
        body = urllib.parse.urlencode(fields).encode()
        return self.request("/admin/uploads/confirm", body, "application/x-www-form-urlencoded")


def test_two_clerks_upload_at_the_same_time(app, database_url, tmp_path):
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    dept_a, dept_b = f.department(code="CA"), f.department(code="CB")
    f.user("clerk", department=dept_a, username="clerk-a")
    f.user("clerk", department=dept_b, username="clerk-b")
    _db.session.commit()
    usccs = [make("9", "1", "411421", f"MA{i:07d}") for i in range(1, 226)]
    # Overlapping directories: rows 76-150 are in both files (same natural keys, same content: the
    # second department may not change what the first registered, but uploading it unchanged is fine).
    files = {
        "clerk-a": [("entities", "a-entities.csv", _csv(ENTITY_HEADERS, [[u, f"测试公司{i}", "企业", "411421"]
                                                                          for i, u in enumerate(usccs[:150])])),
                    ("penalties", "a-penalties.csv", _csv(PENALTY_HEADERS, [[f"甲罚〔2025〕{i}号", f"当事人{i}", "警告",
                                                                             "2025-05-20"] for i in range(100)]))],
        "clerk-b": [("entities", "b-entities.csv", _csv(ENTITY_HEADERS, [[u, f"测试公司{i}", "企业", "411421"]
                                                                          for i, u in enumerate(usccs[75:], 75)])),
                    ("penalties", "b-penalties.csv", _csv(PENALTY_HEADERS, [[f"乙罚〔2025〕{i}号", f"当事人{i}", "警告",
                                                                             "2025-05-20"] for i in range(100)]))],
    }
    instance = tmp_path / "instance"
    outcomes, errors = {}, []
    # Clerks may register entities in this deployment (the default leaves the directory to administrators).
    with gunicorn_server(database_url, instance, workers=3,
                         env={"DIRECTORY_ENTITY_EDITORS": "registering_department"}) as base_url:
        browsers = {name: Browser(base_url) for name in files}
        for name, browser in browsers.items():
            browser.login(name)
        for round_ in range(2):
            previews = {name: browsers[name].upload(*files[name][round_]) for name in files}
            barrier = threading.Barrier(len(files))

            def go(name):
                try:
                    barrier.wait(timeout=30)
                    outcomes[(name, round_)] = browsers[name].confirm(previews[name])
                except Exception as exc:  # surfaced below
                    errors.append(exc)

            threads = [threading.Thread(target=go, args=(name,)) for name in files]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=180)
        for (name, round_), (status, headers, body) in outcomes.items():
            assert status == 303, (name, round_, status, body[-1500:])
            status, _, page = browsers[name].request(urllib.parse.urlsplit(headers["Location"]).path)
            assert status == 200 and "导入完成" in page
    log = (instance / "gunicorn.log").read_text(errors="replace")
    assert not errors
    assert len(outcomes) == 4
    assert "database is locked" not in log and "Traceback" not in log
    _db.session.rollback()
    assert _db.session.execute(select(func.count()).select_from(Entity)).scalar() == 225
    assert _db.session.execute(select(func.count(func.distinct(Entity.uscc)))).scalar() == 225
    assert _db.session.execute(select(func.count()).select_from(Penalty)).scalar() == 200
    batches = _db.session.execute(select(ImportBatch).order_by(ImportBatch.id)).scalars().all()
    assert len(batches) == 4
    entity_batches = [b for b in batches if b.kind == "entities"]
    # One of the two entity uploads came second: its 75 shared rows were unchanged, never duplicates.
    counts = sorted((b.created_count, b.updated_count, b.unchanged_count) for b in entity_batches)
    assert counts == [(75, 0, 75), (150, 0, 0)]
    owners = dict(_db.session.execute(select(Entity.registered_by_id, func.count()).group_by(Entity.registered_by_id)).all())
    assert sorted(owners.values()) == [75, 150] and set(owners) == {dept_a.id, dept_b.id}
