"""XSS matrix: hostile text stored in every text field renders inert on every channel."""
import re

import pytest

import factories as f
from portal.models import EntityType

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    'hx-get="/admin/logout"',
    'hx-on:click="alert(1)"',
    "javascript:alert(1)",
]
# What must never appear verbatim in HTML (it would be live markup or a live attribute).
DANGEROUS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", 'hx-get="/admin/logout"',
             'hx-on:click="alert(1)"']
LIVE_URL = re.compile(r'(href|src|action|hx-get|hx-post)\s*=\s*["\']?\s*javascript:', re.I)


def _records(db, payload):
    dept = f.department(name="市场监管局" + payload[:20])
    item = f.check_item(dept, name=payload, ratio_frequency=payload, inspector_requirements=payload)
    item.current.content = item.current.legal_basis = item.current.target_type = payload
    plan = f.plan(dept, title="计划" + payload, description=payload)
    task = f.task(dept, plan=plan, title="任务" + payload, description=payload, items=[item])
    ent = f.entity(name="公司" + payload, address=payload, legal_representative=payload, operator_name=payload,
                   entity_type=EntityType.INDIVIDUAL, tags=[payload])
    insp = f.inspector(dept, name=payload[:50])
    f.draw(task, [ent], [insp])
    res = f.result(task, ent, remark=payload, follow_up=payload[:100], verification_method=payload[:100])
    pen = f.penalty(dept, ent, party_name="当事人" + payload, violation_type=payload, facts=payload,
                    decision_no="罚" + payload[:60])
    pen.legal_basis = pen.authority = payload
    db.session.commit()
    return dict(dept=dept, plan=plan, task=task, ent=ent, res=res, pen=pen)


def _assert_inert_html(body, url):
    for bad in DANGEROUS:
        assert bad not in body, (url, bad)
    assert not LIVE_URL.search(body), url


@pytest.mark.parametrize("payload", PAYLOADS)
def test_public_channels_render_payload_inert(app, db, client, set_now, payload):
    set_now("2025-07-01T02:00:00+00:00")
    rows = _records(db, payload)
    html_urls = ["/", "/items", "/plans", f"/plans/{rows['plan'].id}", f"/tasks/{rows['task'].code}", "/results",
                 f"/results/{rows['res'].id}", "/penalties", f"/penalties/{rows['pen'].id}",
                 f"/entities/{rows['ent'].uscc}", "/search?q=alert"]
    for url in html_urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        _assert_inert_html(response.get_data(as_text=True), url)
        fragment = client.get(url, headers={"HX-Request": "true"})
        _assert_inert_html(fragment.get_data(as_text=True), url + " (htmx)")
    for url in ["/items.json", "/plans.json", "/results.json", "/penalties.json", f"/results/{rows['res'].id}.json",
                f"/penalties/{rows['pen'].id}.json", f"/entities/{rows['ent'].uscc}.json", f"/tasks/{rows['task'].code}.json"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "application/json", url
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
    for url in ["/items.csv", "/plans.csv", "/results.csv", "/penalties.csv"]:
        response = client.get(url)
        body = response.get_data(as_text=True)
        response.close()
        assert response.status_code == 200, url
        assert response.mimetype == "text/csv", url
        assert body.startswith("\ufeff"), url
    for url in ["/feeds/all.atom", "/feeds/all.rss", "/feeds/results.atom", f"/entities/{rows['ent'].uscc}/feed.atom"]:
        response = client.get(url)
        if response.status_code == 404 and "public.feed" not in app.view_functions:
            continue
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        # Feed text is XML-escaped: no raw markup element can appear.
        assert "<script>" not in body and "<img " not in body, url


@pytest.mark.parametrize("payload", PAYLOADS)
def test_back_office_renders_payload_inert(app, db, client, login, payload):
    rows = _records(db, payload)
    login(client, f.user("admin"))
    urls = ["/admin/", "/admin/results", f"/admin/results/{rows['res'].id}", "/admin/penalties",
            f"/admin/penalties/{rows['pen'].id}", "/admin/plans", f"/admin/plans/{rows['plan'].id}", "/admin/tasks",
            f"/admin/tasks/{rows['task'].id}", "/admin/entities", f"/admin/entities/{rows['ent'].id}", "/admin/items",
            "/admin/inspectors", "/admin/audit"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_inert_html(response.get_data(as_text=True), url)
