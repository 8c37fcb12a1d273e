"""Publicity periods (SPEC §3): a penalty is on every public channel through its last day and
only a tombstone afterwards; the same after credit repair. Follows from the date at query time."""
import json
from datetime import date
from decimal import Decimal

import pytest

import factories as f
from conftest import extract_csrf
from portal import deadlines, search
from portal.domain.publicity import PublicityPolicy, publicity_end
from portal.models import AuditEvent, Penalty, Setting

DECISION_NO = "民市监罚〔2025〕8801号"
FACTS = "经查，当事人销售超过保质期的食品共计十二箱。"
PARTY = "民权县公示期测试商贸有限公司"


@pytest.fixture
def short_penalty(app, db, set_now):
    # The index purges expired documents when it syncs: build it at a time the penalty is public.
    set_now("2025-06-02T02:00:00+00:00")
    dept = f.department(code="SCJ", name="民权县市场监督管理局")
    ent = f.entity(name=PARTY)
    p = f.penalty(dept, ent, decision_no=DECISION_NO, categories=("罚款",), fine="5000.00",
                  decided=date(2025, 5, 20), publicity_end=None, facts=FACTS)
    p.publicity_end = deadlines.penalty_publicity_end(p)
    db.session.commit()
    search.rebuild()
    return p


def channels(client, p) -> dict[str, bool]:
    """Whether the penalty's content is visible on each public channel."""
    uscc = p.entity.uscc
    seen = {
        "page": FACTS in client.get(f"/penalties/{p.id}").get_data(as_text=True),
        "page.json": client.get(f"/penalties/{p.id}.json").get_json().get("facts") == FACTS,
        "list": DECISION_NO in client.get("/penalties").get_data(as_text=True),
        "list.json": any(item.get("decision_no") == DECISION_NO
                         for item in client.get("/penalties.json").get_json()["items"]),
        "list.csv": DECISION_NO in client.get("/penalties.csv").get_data(as_text=True),
        "entity": DECISION_NO in client.get(f"/entities/{uscc}").get_data(as_text=True),
        "entity.json": DECISION_NO in json.dumps(client.get(f"/entities/{uscc}.json").get_json(), ensure_ascii=False),
        "search": client.get("/search.json", query_string={"q": "超过保质期的食品共计十二箱"}).get_json()["total"] > 0,
        "feed": DECISION_NO in client.get("/feeds/penalties.atom").get_data(as_text=True),
        "stats": client.get("/stats.json").get_json()["total"]["penalties"] == 1,
    }
    return seen


def test_three_month_period_is_computed_from_the_policy(short_penalty):
    assert short_penalty.publicity_end == date(2025, 8, 19)


def test_penalty_is_public_everywhere_on_its_last_day(short_penalty, client, set_now):
    set_now("2025-08-19T15:59:00+00:00")  # 23:59 on 2025-08-19 in China
    seen = channels(client, short_penalty)
    assert seen == {k: True for k in seen}


def test_penalty_is_only_a_tombstone_the_day_after(short_penalty, client, set_now):
    set_now("2025-08-19T16:00:00+00:00")  # 00:00 on 2025-08-20 in China
    seen = channels(client, short_penalty)
    assert seen == {k: False for k in seen}
    page = client.get(f"/penalties/{short_penalty.id}").get_data(as_text=True)
    assert "该信息已于 2025-08-20 停止公示" in page
    assert PARTY not in page and "5,000.00" not in page


def test_credit_repair_ends_publicity_on_its_date(app, db, client, login, set_now):
    dept = f.department(code="SCJ", name="民权县市场监督管理局")
    ent = f.entity(name=PARTY)
    p = f.penalty(dept, ent, decision_no=DECISION_NO, fine="150000.00", decided=date(2025, 5, 20),
                  publicity_end=date(2028, 5, 19), facts=FACTS)
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    set_now("2025-08-20T02:00:00+00:00")
    login(client, clerk)
    form = client.get(f"/admin/penalties/{p.id}/credit-repair")
    assert form.status_code == 200 and DECISION_NO in form.get_data(as_text=True)
    token = extract_csrf(form.get_data(as_text=True))
    bad = client.post(f"/admin/penalties/{p.id}/credit-repair", data={"date": "2025-09-01", "reason": "",
                                                                      "csrf_token": token})
    assert bad.status_code == 422 and "请填写信用修复的理由" in bad.get_data(as_text=True)
    ok = client.post(f"/admin/penalties/{p.id}/credit-repair",
                     data={"date": "2025/9/1", "reason": "当事人已履行处罚决定，申请信用修复", "csrf_token": token})
    assert ok.status_code == 303
    db.session.expire_all()
    stored = db.session.get(Penalty, p.id)
    assert (stored.credit_repair_date, stored.credit_repair_reason) == (date(2025, 9, 1), "当事人已履行处罚决定，申请信用修复")
    assert db.session.query(AuditEvent).filter_by(action="credit_repair", record_id=p.id).count() == 1
    client.post("/admin/logout", data={"csrf_token": token})
    search.rebuild()

    set_now("2025-08-31T15:59:00+00:00")  # last public moment
    seen = channels(client, stored)
    assert seen == {k: True for k in seen}
    set_now("2025-08-31T16:00:00+00:00")  # 2025-09-01 in China
    seen = channels(client, stored)
    assert seen == {k: False for k in seen}
    assert "该信息已于 2025-09-01 停止公示" in client.get(f"/penalties/{p.id}").get_data(as_text=True)


@pytest.mark.parametrize("role, status", [("clerk", 404), ("auditor", 403)])
def test_credit_repair_is_refused_to_other_departments_and_auditors(app, db, client, login, role, status):
    p = f.penalty(f.department(), f.entity())
    login(client, f.user(role))  # a clerk of another department, or an auditor (reads only)
    assert client.get(f"/admin/penalties/{p.id}/credit-repair").status_code == status


@pytest.mark.parametrize("categories, fine, party, expected", [
    (("警告",), None, "organisation", None),  # warning only: never published
    (("通报批评",), None, "organisation", date(2025, 8, 19)),
    (("警告", "罚款"), "9999.99", "natural_person", date(2025, 8, 19)),
    (("罚款",), "10000", "natural_person", date(2028, 5, 19)),
    (("罚款",), "99999", "organisation", date(2025, 8, 19)),
    (("罚款",), "100000", "organisation", date(2028, 5, 19)),
    (("罚款", "没收违法所得"), "100", "organisation", date(2028, 5, 19)),
    (("吊销许可证件",), None, "organisation", date(2028, 5, 19)),
])
def test_default_publicity_periods(categories, fine, party, expected):
    fine = Decimal(fine) if fine else None
    assert publicity_end(categories, fine, None, party, date(2025, 5, 20)) == expected


def test_restriction_longer_than_three_years_wins():
    assert publicity_end(("限制从业",), None, None, "natural_person", date(2025, 5, 20),
                         restriction_end=date(2030, 5, 19)) == date(2030, 5, 19)


def test_changing_thresholds_recomputes_stored_ends(app, db, client, login):
    dept = f.department()
    p = f.penalty(dept, f.entity(), categories=("罚款",), fine="50000.00", decided=date(2025, 5, 20),
                  publicity_end=date(2025, 8, 19))
    admin = f.user("admin")
    db.session.commit()
    login(client, admin)
    page = client.get("/admin/deadlines/publicity")
    assert page.status_code == 200
    token = extract_csrf(page.get_data(as_text=True))
    response = client.post("/admin/deadlines/publicity", data={
        "short_months": "3", "long_years": "3", "small_fine_natural_person": "10000",
        "small_fine_organisation": "20000", "csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Penalty, p.id).publicity_end == date(2028, 5, 19)
    assert db.session.get(Setting, "publicity_policy").value["small_fine_organisation"] == "20000"
    assert deadlines.publicity_policy() == PublicityPolicy(small_fine_organisation=Decimal("20000"))
    assert "已重新计算 1 条" in client.get("/admin/deadlines/publicity").get_data(as_text=True)
