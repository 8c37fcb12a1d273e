"""/sitemap.xml lists exactly what the visibility rule shows in full, checked against
domain.visibility.public_state record by record (never a tombstone or a hidden record)."""
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest

import factories as f
from portal.domain.visibility import public_state
from portal.models import Status

NOW = "2026-11-23T02:00:00+00:00"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
BASE = "http://localhost"
FIXED = ["/", "/items", "/plans", "/tasks", "/results", "/penalties", "/stats", "/data", "/transparency"]


def _withdraw(record, when=datetime(2026, 1, 5, tzinfo=timezone.utc)):
    record.status, record.withdrawn_at, record.withdrawal_reason = Status.WITHDRAWN, when, "信息有误"
    return record


@pytest.fixture
def world(db, set_now):
    set_now(NOW)
    dept = f.department(code="SCJGJ", name="民权县市场监督管理局")
    insp = f.inspector(dept)
    e = {name: f.entity(name=f"民权县{name}商贸有限公司") for name in
         ("result", "penalty", "drawn", "ended", "draft", "embargo", "nothing", "surprise_result", "uninspected")}
    plans = {"public": f.plan(dept), "draft": f.plan(dept, publish=False), "withheld": f.plan(dept, withheld=True),
             "withdrawn": _withdraw(f.plan(dept)),
             "future_withdrawal": _withdraw(f.plan(dept), datetime(2027, 1, 1, tzinfo=timezone.utc))}
    normal = f.task(dept, plan=plans["public"], code="411421202504010001")
    # Under embargo: one drawn target is still to be inspected and the period runs past NOW (SPEC §3).
    embargoed = f.task(dept, surprise=True, code="411421202610010002", period=(date(2026, 10, 1), date(2026, 12, 31)))
    # Lifted: its only drawn target has a published result.
    lifted = f.task(dept, surprise=True, code="411421202504010003")
    tasks = {"normal": normal, "embargoed": embargoed, "lifted": lifted,
             "draft": f.task(dept, publish=False, code="411421202504010004"),
             "withdrawn": _withdraw(f.task(dept, code="411421202504010005"))}
    draws = {"normal": f.draw(normal, [e["drawn"]], [insp]), "embargoed": f.draw(embargoed, [e["embargo"], e["uninspected"]], [insp]),
             "lifted": f.draw(lifted, [e["surprise_result"]], [insp]),
             "unpublished": f.draw(normal, [e["nothing"]], publish=False, sequence=2)}
    corrected = f.result(normal, e["result"])
    corrected.corrected_at, corrected.version = datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc), 2
    results = {"corrected": corrected, "draft": f.result(normal, e["draft"], publish=False),
               "withdrawn": _withdraw(f.result(normal, e["nothing"])),
               "surprise": f.result(embargoed, e["embargo"]),  # public on its own before the embargo lifts
               "lifted": f.result(lifted, e["surprise_result"])}
    penalties = {"public": f.penalty(dept, e["penalty"]),
                 "ended": f.penalty(dept, e["ended"], publicity_end=date(2026, 1, 1)),
                 "repaired": f.penalty(dept, e["ended"], credit_repair_date=date(2026, 3, 1)),
                 "warning_only": f.penalty(dept, e["ended"], categories=("警告",), fine=None, publicity_end=None),
                 "withheld": f.penalty(dept, e["ended"], withheld=True),
                 "no_entity": f.penalty(dept, None, party_name="李某某")}
    db.session.commit()
    return {"plans": plans, "tasks": tasks, "draws": draws, "results": results, "penalties": penalties,
            "entities": e}


def _urls(xml_bytes) -> dict:
    root = ET.fromstring(xml_bytes)
    assert root.tag == f"{{{NS['s']}}}urlset"
    return {u.find("s:loc", NS).text: (u.find("s:lastmod", NS).text if u.find("s:lastmod", NS) is not None else None)
            for u in root.findall("s:url", NS)}


def _expected(world) -> set:
    now = datetime.fromisoformat(NOW)
    kinds = {"plans": ("plan", lambda r: r.id), "tasks": ("task", lambda r: r.code), "draws": ("draw", lambda r: r.id),
             "results": ("result", lambda r: r.id), "penalties": ("penalty", lambda r: r.id)}
    urls = {BASE + path for path in FIXED}
    for section, (kind, key) in kinds.items():
        urls |= {f"{BASE}/{section}/{key(r)}" for r in world[section].values() if public_state(kind, r, now).is_visible}
    # Entity pages with something public: a visible result, penalty or drawn list.
    with_public = {r.entity for kind in ("results", "penalties")
                   for r in world[kind].values() if r.entity and public_state(kind[:-1] if kind == "results" else
                                                                              "penalty", r, now).is_visible}
    with_public |= {s.entity for d in world["draws"].values() if public_state("draw", d, now).is_visible
                    for s in d.selections}
    return urls | {f"{BASE}/entities/{ent.uscc}" for ent in with_public}


def test_the_sitemap_lists_exactly_the_public_records(client, world):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.content_type == "application/xml; charset=utf-8"
    urls = _urls(response.get_data())
    assert set(urls) == _expected(world)
    e, r = world["entities"], world
    # Spelled out, so the test does not only agree with itself:
    for hidden in (f"/plans/{r['plans']['draft'].id}", f"/plans/{r['plans']['withdrawn'].id}",
                   f"/tasks/{r['tasks']['embargoed'].code}", f"/draws/{r['draws']['embargoed'].id}",
                   f"/draws/{r['draws']['unpublished'].id}", f"/results/{r['results']['withdrawn'].id}",
                   f"/penalties/{r['penalties']['ended'].id}", f"/penalties/{r['penalties']['repaired'].id}",
                   f"/penalties/{r['penalties']['warning_only'].id}", f"/entities/{e['ended'].uscc}",
                   f"/entities/{e['draft'].uscc}", f"/entities/{e['nothing'].uscc}"):
        assert BASE + hidden not in urls, hidden
    for shown in (f"/plans/{r['plans']['future_withdrawal'].id}", f"/tasks/{r['tasks']['lifted'].code}",
                  f"/results/{r['results']['surprise'].id}", f"/entities/{e['embargo'].uscc}",
                  f"/entities/{e['drawn'].uscc}", f"/penalties/{r['penalties']['no_entity'].id}"):
        assert BASE + shown in urls, shown


def test_lastmod_is_the_latest_publication_or_correction_in_china_time(client, world):
    urls = _urls(client.get("/sitemap.xml").get_data())
    corrected = world["results"]["corrected"]
    assert urls[f"{BASE}/results/{corrected.id}"] == "2026-02-03T12:05:06+08:00"
    assert urls[f"{BASE}/entities/{corrected.entity.uscc}"] == "2026-02-03T12:05:06+08:00"
    assert urls[f"{BASE}/plans/{world['plans']['public'].id}"] == "2025-06-01T10:00:00+08:00"
    assert urls[f"{BASE}/"] is None


def test_every_sitemap_url_answers_200_html(client, world):
    for url in _urls(client.get("/sitemap.xml").get_data()):
        response = client.get(url[len(BASE):])
        assert response.status_code == 200 and response.content_type.startswith("text/html"), url


def test_over_the_limit_the_sitemap_becomes_an_index_of_parts(app, client, world):
    app.config["SITEMAP_MAX_URLS"] = 4
    index = ET.fromstring(client.get("/sitemap.xml").get_data())
    assert index.tag == f"{{{NS['s']}}}sitemapindex"
    parts = [loc.text for loc in index.findall("s:sitemap/s:loc", NS)]
    assert parts[:3] == [f"{BASE}/sitemaps/pages-1.xml", f"{BASE}/sitemaps/pages-2.xml", f"{BASE}/sitemaps/pages-3.xml"]
    found = {}
    for part in parts:
        response = client.get(part[len(BASE):])
        assert response.status_code == 200, part
        urls = _urls(response.get_data())
        assert 1 <= len(urls) <= 4, part
        assert not set(urls) & set(found), part
        found.update(urls)
    assert set(found) == _expected(world)
    for missing in ("/sitemaps/plans-99.xml", "/sitemaps/nope-1.xml", "/sitemaps/plans-0.xml"):
        assert client.get(missing).status_code == 404, missing


def test_robots_txt_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == f"User-agent: *\nDisallow: /admin/\nSitemap: {BASE}/sitemap.xml\n"
