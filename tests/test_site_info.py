"""The footer's site information from configuration, and every time shown in China time."""
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

import factories as f
from portal.models import AuditEvent, DrawSubstitution, DrawWitness
from portal.web import format_date, format_datetime

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def text(response):
    return response.get_data(as_text=True)


def footer(html: str) -> str:
    return re.search(r'<footer class="site-footer">(.*?)</footer>', html, re.S).group(1)


def test_the_footer_leaves_out_what_is_not_configured(app, client):
    for key in ("SITE_SPONSOR", "SITE_CONTACT", "SITE_ICP_RECORD", "SITE_PSB_RECORD"):
        app.config[key] = ""
    html = footer(text(client.get("/")))
    assert "主办单位" not in html and "联系方式" not in html and "beian" not in html and 'id="site-info"' not in html


def test_the_footer_shows_sponsor_contact_and_filing_numbers(app, client, db):
    app.config.update(SITE_SPONSOR="民权县市场监督管理局", SITE_CONTACT="电话 0370-0000000",
                      SITE_ICP_RECORD="豫ICP备00000000号-1", SITE_PSB_RECORD="豫公网安备41142102000001号")
    for url in ("/", "/results", "/admin/login", "/does-not-exist"):
        html = footer(text(client.get(url)))
        assert "<li>主办单位：民权县市场监督管理局</li>" in html, url
        assert "<li>联系方式：电话 0370-0000000</li>" in html, url
        assert '<a href="https://beian.miit.gov.cn/" rel="noopener">豫ICP备00000000号-1</a>' in html, url
        assert ('<a href="https://beian.mps.gov.cn/#/query/webSearch?code=41142102000001" rel="noopener">'
                "豫公网安备41142102000001号</a>") in html, url


def test_only_the_configured_numbers_appear(app, client):
    app.config.update(SITE_SPONSOR="", SITE_CONTACT="", SITE_ICP_RECORD="豫ICP备00000000号-1", SITE_PSB_RECORD="")
    html = footer(text(client.get("/")))
    assert "豫ICP备00000000号-1" in html and "beian.mps.gov.cn" not in html and "主办单位" not in html


def test_footer_values_are_escaped(app, client):
    app.config.update(SITE_SPONSOR="<script>alert(1)</script>")
    html = footer(text(client.get("/")))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


# ---------------------------------------------------------------- China time

@pytest.mark.parametrize("value, shown", [
    (datetime(2026, 3, 2, 16, 30, tzinfo=timezone.utc), "2026-03-03 00:30"),
    (datetime(2026, 3, 2, 16, 30), "2026-03-03 00:30"),  # naive: the database stores UTC
    ("2026-03-02T16:30:00+00:00", "2026-03-03 00:30"),  # ISO text in certificate data
    ("2026-03-03T00:30:00+08:00", "2026-03-03 00:30"),
    (None, ""), ("", ""),
])
def test_the_datetime_filter_shows_china_time(value, shown):
    assert format_datetime(value) == shown


def test_the_date_filter_gives_the_china_date_of_an_instant():
    assert format_date(datetime(2026, 3, 2, 16, 30, tzinfo=timezone.utc)) == "2026-03-03"
    assert format_date(date(2026, 3, 2)) == "2026-03-02"
    assert format_date("2026-03-02T16:30:00+00:00") == "2026-03-03"


def test_certificate_substitution_and_witness_times_are_china_time(client, db, set_now):
    set_now("2026-11-23T02:00:00+00:00")
    dept = f.department()
    ent = f.entity()
    a, b = f.inspector(dept), f.inspector(dept)
    task = f.task(dept)
    draw = f.draw(task, [ent], [a])
    draw.witnesses.append(DrawWitness(name="王某", organisation="县纪委监委派驻纪检组",
                                      witnessed_at=datetime(2025, 5, 31, 17, 5, tzinfo=timezone.utc)))
    draw.substitutions.append(DrawSubstitution(selection_id=draw.selections[0].id, old_licence_no=a.licence_no,
                                               new_licence_no=b.licence_no, reason="回避", actor_name="管理员",
                                               at=datetime(2025, 6, 1, 16, 30, tzinfo=timezone.utc)))
    db.session.commit()
    html = text(client.get(f"/draws/{draw.id}"))
    assert "2025-06-02 00:30" in html and "UTC" not in html.split('id="draw-substitutions"')[1].split("</table>")[0]
    assert "县纪委监委派驻纪检组）<span class=\"muted small\">，2025-06-01 01:05 见证</span>" in html
    # The JSON keeps machine-readable UTC instants.
    cert = client.get(f"/draws/{draw.id}.json").get_json()
    assert cert["substitutions"][0]["at"] == "2025-06-01T16:30:00+00:00"


def test_admin_pages_show_china_time(client, db, login):
    login(client, f.user("admin"))
    from portal import journal  # sign-ins are sealed into the chain later (portal/auth/signins.py): write one
    journal.record("vocabulary_update", summary="检查时间显示")
    db.session.commit()
    event = db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert event.action == "vocabulary_update"
    shown = (event.at.astimezone(timezone.utc).replace(tzinfo=None) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert shown in text(client.get("/admin/audit"))
    assert shown in text(client.get("/admin/"))


def test_templates_format_every_time_through_the_filter():
    """A timestamp attribute printed raw would show UTC (or Python's repr): every `…_at` / `.at`
    in a template goes through |datetime or |date."""
    raw = []
    for path in TEMPLATES.rglob("*.html"):
        for expr in re.findall(r"{{(.*?)}}", path.read_text(encoding="utf-8"), re.S):
            if re.search(r"(_at|\.at)\b(?!\s*\()", expr) and not re.search(r"\|\s*(datetime|date)\b", expr):
                raw.append((str(path.relative_to(TEMPLATES)), expr.strip()))
    assert raw == []
