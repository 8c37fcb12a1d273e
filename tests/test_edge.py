"""The request edge (portal/security.py), probed from outside on every route of the url_map.

Integers beyond 2^63 − 1 (record ids, page, per_page, ?version=), NUL characters in the path,
any query parameter or any form field, and unsafe `?next=` must answer 400/404 with a Chinese
message and write nothing, on SQLite and on PostgreSQL (TEST_DATABASE_URL), whoever asks:
anonymous, a clerk or an administrator. Every response carries the security headers.
"""
import json
import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select
from werkzeug.routing import AnyConverter, IntegerConverter

import factories as f
from conftest import extract_csrf
from portal.database import write_transaction
from portal.extensions import db as _db
from portal.models import CalendarOverride, Result, VocabularyKind, VocabularyTerm
from portal.objections import domain as objection_domain
from portal.objections import service as objection_service

BIG = 2 ** 63  # one past the largest integer either database stores
LARGEST = 2 ** 31 - 1  # the largest id: SQLAlchemy's Integer is a 32-bit INTEGER on PostgreSQL
PAST_ID = 2 ** 31
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def world(db):
    dept = f.department(code="SCJGJ", name="民权县市场监督管理局")
    clerk = f.user("clerk", department=dept, username="clerk-edge")
    admin = f.user("admin", username="admin-edge")
    ent = f.entity(name="民权县诚信商贸有限公司")
    insp = f.inspector(dept)
    item = f.check_item(dept, code="SC01")
    plan = f.plan(dept)
    task = f.task(dept, plan=plan, items=[item])
    draw = f.draw(task, [ent], [insp])
    result = f.result(task, ent)
    penalty = f.penalty(dept, ent)
    term = VocabularyTerm(kind=VocabularyKind.CONCLUSION, code="C01", label="未发现问题")
    override = CalendarOverride(day=date(2027, 1, 4), is_workday=False, note="测试")
    db.session.add_all([term, override])
    db.session.commit()
    with write_transaction():  # an objection to the result, so the objection routes have a case
        filing = objection_domain.Filing("party", "张三", "13812345678", ("other",), "异议说明，至少十个字。")
        case, _token = objection_service.file_case("objection", "result", db.session.get(Result, result.id),
                                                   filing, [], datetime(2025, 7, 1, 2, tzinfo=timezone.utc))
    return {"dept": dept, "clerk": clerk, "admin": admin, "entity": ent, "inspector": insp, "item": item,
            "plan": plan, "task": task, "draw": draw, "result": result, "penalty": penalty, "term": term,
            "override": override, "objection": case}


# ---------------------------------------------------------------- building URLs from the url_map

_RECORD_OF_ENDPOINT = {"item": "item", "plan": "plan", "task": "task", "result": "result", "penalty": "penalty",
                       "entity": "entity", "inspector": "inspector", "objection": "objection"}
_INT_ARGS = {"plan_id": "plan", "task_id": "task", "draw_id": "draw", "result_id": "result", "penalty_id": "penalty",
             "user_id": "clerk", "term_id": "term", "override_id": "override", "case_id": "objection"}
_TEXT_ARGS = {"action": "publish", "digest": "0" * 64, "run": "1", "section": "plans"}


def _value(rule, name, world):
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        if name == "record_id":
            singular = rule.endpoint.split(".", 1)[1].split("_", 1)[0]
            return world[_RECORD_OF_ENDPOINT[singular]].id
        record = world.get(_INT_ARGS.get(name, ""))
        return record.id if record is not None else 1
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if name == "code":
        return world["task"].code
    if name == "uscc":
        return world["entity"].uscc
    if name == "kind":
        return "results" if "upload" in rule.endpoint else "all"
    if name == "fmt":
        return "csv" if "upload" in rule.endpoint else "atom"
    return _TEXT_ARGS.get(name, "x")


def _url(rule, world, **override) -> str:
    values = {name: override.get(name, _value(rule, name, world)) for name in rule._converters}
    return rule.build(values, append_unknown=False)[1]


def _rules(app, method):
    return [r for r in app.url_map.iter_rules() if method in r.methods and r.endpoint != "static"]


def _is_admin(rule) -> bool:
    return rule.rule.startswith("/admin") and rule.endpoint != "auth.login"


def _int_args(rule):
    return [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]


def _text(response) -> str:
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    return response.get_data(as_text=True)


def _row_counts() -> dict:
    _db.session.rollback()
    return {t.name: _db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in _db.metadata.sorted_tables}


def _assert_refused(response, where, status=(400,)):
    assert response.status_code in status, (where, response.status_code)
    body = _text(response)
    assert CHINESE.search(body), (where, body[:200])


@pytest.fixture
def as_admin(client, world, login):
    login(client, world["admin"])
    return client


# ---------------------------------------------------------------- integers beyond 64 bits

def test_the_int_converter_stops_at_the_database_limit(app):
    rules = [r for r in app.url_map.iter_rules() if _int_args(r)]
    assert len(rules) > 25
    for rule in rules:
        for name in _int_args(rule):
            assert rule._converters[name].max == LARGEST, rule.rule


def test_form_values_past_their_column_are_refused(app, world, client, login):
    """An id or year one past what PostgreSQL's INTEGER holds, in a form, never reaches the database."""
    login(client, world["admin"])
    token = extract_csrf(_text(client.get("/admin/plans/new")))
    before = _row_counts()
    for field, value in (("year", PAST_ID), ("department_id", PAST_ID), ("participants", BIG)):
        data = {"csrf_token": token, "title": "2030年度计划", "year": "2030", "department_id": str(world["dept"].id),
                "approval_date": "2030-01-02", field: str(value)}
        response = client.post("/admin/plans/new", data=data)
        _assert_refused(response, field)
        assert f"“{field}”的数值超出范围" in _text(response)
    assert _row_counts() == before


def test_record_ids_past_the_id_columns_are_not_found_on_every_route(app, world, as_admin):
    """Every route with an <int:…> segment, public and admin, GET and POST (with a valid CSRF token)."""
    token = extract_csrf(_text(as_admin.get("/admin/")))
    before = _row_counts()
    checked = 0
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            for name in _int_args(rule):
                for value in (PAST_ID, BIG, 10 ** 30, LARGEST):
                    url = _url(rule, world, **{name: value})
                    data = {"csrf_token": token} if method == "POST" else None
                    response = as_admin.open(url, method=method, data=data)
                    _assert_refused(response, (method, url), status=(404,) if value != LARGEST else (404, 400, 403))
                    response.close()
                    checked += 1
    assert checked > 100
    assert _row_counts() == before


NUMERIC_QUERIES = [f"page={BIG}", f"per_page={BIG}", f"version={BIG}", f"page={10 ** 40}", f"version=-{BIG}",
                   f"version={PAST_ID}", f"year={PAST_ID}", f"record={PAST_ID}", f"plan={PAST_ID}",
                   f"task_id={PAST_ID}", f"version=%EF%BC%99{'9' * 20}"]


@pytest.mark.parametrize("query", NUMERIC_QUERIES)
def test_numbers_past_their_column_in_the_query_are_refused_on_every_get_route(app, world, as_admin, query):
    before = _row_counts()
    for rule in _rules(app, "GET"):
        url = _url(rule, world) + "?" + query
        response = as_admin.get(url)
        _assert_refused(response, url)
        assert "超出范围" in _text(response), url
        response.close()
    assert _row_counts() == before


def test_a_page_whose_offset_overflows_is_refused_on_every_list(app, world, as_admin):
    """page × per_page beyond 2^63 while each fits: the lists say so instead of overflowing."""
    lists = ["/items", "/plans", "/tasks", "/results", "/penalties", "/search?q=测试", "/admin/audit",
             "/admin/results", "/admin/penalties", "/admin/plans", "/admin/tasks", "/admin/items",
             "/admin/entities", "/admin/inspectors"]
    for path in lists:
        for suffix in ("", ".json", ".csv") if not path.startswith(("/admin", "/search")) else ("",):
            sep = "&" if "?" in path else "?"
            url = f"{path}{suffix}{sep}page={2 ** 62}&per_page=200"
            response = as_admin.get(url)
            assert response.status_code == 400, (url, response.status_code)
            assert "页码" in _text(response), url


def test_kept_versions_and_pool_text_with_huge_numbers(client, world):
    """The detail routes named in the security probe, anonymous."""
    ids = {"plans": world["plan"].id, "results": world["result"].id, "penalties": world["penalty"].id}
    for kind, record_id in ids.items():
        for version in (PAST_ID, BIG, 10 ** 25):
            for suffix in ("", ".json"):
                response = client.get(f"/{kind}/{record_id}{suffix}?version={version}")
                _assert_refused(response, (kind, version, suffix))
                if suffix == ".json":
                    assert response.get_json()["error"]["status"] == 400
        assert client.get(f"/{kind}/{BIG}").status_code == 404
        assert client.get(f"/{kind}/{BIG}.json").status_code == 404
    assert client.get(f"/tasks/{world['task'].code}?version={BIG}").status_code == 400
    assert client.get(f"/draws/{BIG}/pool.txt").status_code == 404
    assert client.get(f"/draws/{BIG}.json").status_code == 404
    assert client.get(f"/draws/{world['draw'].id}/pool.txt").status_code == 200


# ---------------------------------------------------------------- NUL characters

def _nul_path(rule, world):
    """The rule's URL with a NUL inside a text segment (or appended to the path)."""
    text_args = [n for n, conv in rule._converters.items() if not isinstance(conv, (IntegerConverter, AnyConverter))]
    if text_args:
        return _url(rule, world, **{text_args[0]: "a\x00b"}).replace("\x00", "%00")
    url = _url(rule, world)
    return url + "%00" if not url.endswith("/") else url + "x%00"


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_nul_in_the_path_or_the_query_is_refused_on_every_route(app, world, client, login, who):
    if who == "admin":
        login(client, world["admin"])
    before = _row_counts()
    for rule in _rules(app, "GET"):
        if who == "anonymous" and _is_admin(rule):
            continue
        base = _url(rule, world)
        for url in (base + "?q=%E6%B5%8B%00%E8%AF%95", base + "?dept=SCJGJ%00", base + "?utm_source%00=x",
                    _nul_path(rule, world)):
            response = client.get(url)
            _assert_refused(response, url)
            assert "空字符" in _text(response), url
            response.close()
    assert _row_counts() == before


def _form_fields(client, url) -> list[str]:
    """Field names of the form(s) on the page at `url` (GET), if there is one."""
    response = client.get(url)
    if response.status_code != 200 or "text/html" not in response.content_type:
        response.close()
        return []
    names = re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', _text(response))
    return sorted({n for n in names if n not in ("csrf_token", "q")})


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_nul_in_any_form_field_is_refused_and_nothing_is_written(app, world, client, login, role):
    login(client, world[role])
    token = extract_csrf(_text(client.get("/admin/")))
    before = _row_counts()
    posted = 0
    for rule in _rules(app, "POST"):
        if rule.endpoint in ("auth.login", "auth.logout"):
            continue
        url = _url(rule, world)
        fields = _form_fields(client, url) or ["name", "reason", "department_id"]
        for field in fields:
            response = client.post(url, data={"csrf_token": token, field: "正常内容\x00"})
            _assert_refused(response, (url, field))
            assert "空字符" in _text(response), (url, field)
            response.close()
            posted += 1
        # A NUL in a field name, and in an uploaded file's name.
        response = client.post(url, data={"csrf_token": token, "x\x00": "1"})
        _assert_refused(response, (url, "name"))
        assert _row_counts() == before, url
    assert posted > 60
    assert client.get("/admin/").status_code == 200  # still signed in: nothing changed the session


def test_nul_in_the_login_name_or_password_is_refused_without_an_audit_event(app, world, client):
    before = _row_counts()
    for data in ({"username": "admin-edge\x00", "password": f.PASSWORD}, {"username": "admin-edge", "password": "a\x00"},
                 {"username": "admin-edge", "password": f.PASSWORD, "next": "/admin/\x00"}):
        token = extract_csrf(_text(client.get("/admin/login")))
        response = client.post("/admin/login", data={**data, "csrf_token": token})
        _assert_refused(response, data)
    assert _row_counts() == before  # no login, no login_failed event, no throttle row
    assert client.get("/admin/").status_code == 302


def test_nul_in_an_uploaded_file_name_or_cell_is_refused(app, world, client, login):
    import io

    login(client, world["clerk"])
    token = extract_csrf(_text(client.get("/admin/uploads")))
    before = _row_counts()
    header = "任务编号,统一社会信用代码,检查对象名称,检查事项,检查日期,检查结果,结果说明,结果形成日期,后续处置,执法人员\r\n"
    good = f"{world['task'].code},{world['entity'].uscc},{world['entity'].name},SC01,2025-05-08,C01,无,2025-05-10,无需后续处置,{world['inspector'].licence_no}\r\n"
    # Past the first 4 KB (where a NUL already marks a binary file) so the CSV reader sees it.
    bad = good.replace(",无,", ",结果\x00说明,")
    data = (header + good * 40 + bad).encode("utf-8")
    assert data.index(b"\x00") > 4096
    response = client.post("/admin/uploads", data={"csrf_token": token, "kind": "results",
                                                   "file": (io.BytesIO(data), "results.csv")},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 400, 422)
    assert "第 42 行第 7 列（结果说明）含有不可见的空字符（NUL）" in _text(response)
    response = client.post("/admin/uploads", data={"csrf_token": token, "kind": "results",
                                                   "file": (io.BytesIO(header.encode()), "a\x00.csv")},
                           content_type="multipart/form-data")
    _assert_refused(response, "filename")
    assert _row_counts() == before


def test_the_import_command_refuses_a_nul_cell(app, world, runner, tmp_path):
    path = tmp_path / "penalties.csv"
    rows = "".join(f"民市监罚〔2025〕{i}号,,张三\r\n" for i in range(1, 201))
    data = ("行政处罚决定书文号,统一社会信用代码,当事人名称\r\n" + rows + "民市监罚〔2025〕999号,,张\x00三\r\n").encode()
    assert data.index(b"\x00") > 4096
    path.write_bytes(data)
    before = _row_counts()
    result = runner.invoke(args=["import", "penalties", str(path), "--department", "SCJGJ"])
    assert result.exit_code != 0
    assert "第 202 行第 3 列（当事人名称）含有不可见的空字符（NUL）" in result.output
    assert _row_counts() == before


# ---------------------------------------------------------------- next, headers

@pytest.mark.parametrize("target", ["/admin/%0d%0aSet-Cookie:%20x=1", "/admin/%0aLocation:%20https://evil.example",
                                    "https://evil.example/", "//evil.example", "/%09/evil.example", "/%5Cevil.example",
                                    "%2F%2Fevil.example"])
def test_unsafe_next_is_refused_on_the_login_page(client, target):
    response = client.get(f"/admin/login?next={target}")
    _assert_refused(response, target)
    assert "只能是本站的页面地址" in _text(response)
    assert "Location" not in response.headers


def test_a_local_next_still_works(client):
    assert client.get("/admin/login?next=/admin/results%3Fpage%3D2").status_code == 200
    response = client.get("/admin/results?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=%2Fadmin%2Fresults%3Fpage%3D2"


def test_security_headers_on_every_kind_of_response(client, world):
    for url in ("/", "/results.json", "/results.csv", "/nope", "/results?year=x", "/admin/login",
                f"/draws/{world['draw'].id}/pool.txt", "/static/css/portal.css", "/sitemap.xml"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        response.close()


def test_no_inline_script_style_or_eval_in_templates():
    """What the CSP forbids must not be in the markup: no <script> without src, no <style>,
    no style="", no on*= handlers, no hx-on / js: / trigger filters (htmx would need eval)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    problems = []
    for path in root.rglob("*.html"):
        source = re.sub(r"{#.*?#}", "", path.read_text(encoding="utf-8"), flags=re.S)  # Jinja comments
        for pattern in (r"<script(?![^>]*\bsrc=)", r"<style", r"\sstyle=", r"\son[a-z]+=", r"hx-on", r"js:",
                        r"javascript:", r'hx-trigger="[^"]*\['):
            if re.search(pattern, source):
                problems.append((str(path.relative_to(root)), pattern))
    assert problems == []
    base = (root / "base.html").read_text(encoding="utf-8")
    assert '"includeIndicatorStyles":false' in base and '"allowEval":false' in base
