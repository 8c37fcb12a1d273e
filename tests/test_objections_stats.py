"""/stats: per department, objections received, share upheld and median handling working days."""
from datetime import date, datetime, timezone

import factories as f
from objection_support import text
from portal import lifecycle
from portal.database import write_transaction
from portal.models import Objection
from portal.objections import domain, service
from portal.objections.queries import department_stats


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=timezone.utc)  # 10:00 in China


FILING = domain.Filing("party", "张三", "13812345678", ("other",), "异议说明，至少十个字。")


def _file(db, kind, record_kind, record, day):
    with write_transaction():
        case, _ = service.file_case(kind, record_kind, db.session.get(type(record), record.id), FILING, [], at(day))
    return case.id


def _decide(db, case_id, outcome, day):
    with write_transaction():
        service.decide(db.session.get(Objection, case_id), outcome, "答复意见", None, at(day))


def test_figures_per_department_for_a_date_range(app, db, client, set_now):
    set_now("2025-12-01T02:00:00+00:00")
    a, b = f.department(code="SA", name="甲局"), f.department(code="SB", name="乙局")
    task_a, task_b = f.task(a), f.task(b)
    results = [f.result(task_a, f.entity()) for _ in range(3)]
    other = f.result(task_b, f.entity())
    penalty = f.penalty(a, f.entity(), fine="200000.00")
    db.session.commit()
    maintained = _file(db, "objection", "result", results[0], date(2025, 11, 3))  # Monday
    _decide(db, maintained, "maintained", date(2025, 11, 10))  # 5 working days
    corrected = _file(db, "objection", "result", results[1], date(2025, 11, 3))
    with write_transaction():
        service.start_correction(db.session.get(Objection, corrected), f.user("admin"), at(date(2025, 11, 4)))
    set_now(at(date(2025, 11, 5)))  # the correction is saved 2 working days after receipt
    with write_transaction():
        lifecycle.correct("result", db.session.get(type(results[1]), results[1].id), {"remark": "更正后的说明"},
                          "根据异议更正")
    _file(db, "objection", "result", results[2], date(2025, 11, 20))  # still open
    _file(db, "objection", "result", results[2], date(2024, 12, 31))  # outside the range
    withdrawn = _file(db, "objection", "result", other, date(2025, 10, 9))
    _decide(db, withdrawn, "withdrawn", date(2025, 10, 10))
    repair = _file(db, "credit_repair", "penalty", penalty, date(2025, 11, 3))
    _decide(db, repair, "approved", date(2025, 11, 4))
    set_now("2025-12-01T02:00:00+00:00")

    rows = department_stats(date(2025, 1, 1), date(2025, 12, 31), at(date(2025, 12, 1)))
    assert [r.as_json() for r in rows] == [
        {"department": "SA", "department_name": "甲局", "objections": 3, "decided": 2, "upheld": 1,
         "share_upheld": 0.5, "median_handling_workdays": 3.5, "credit_repair_applications": 1,
         "credit_repairs_approved": 1},
        {"department": "SB", "department_name": "乙局", "objections": 1, "decided": 1, "upheld": 1,
         "share_upheld": 1.0, "median_handling_workdays": 1.0, "credit_repair_applications": 0,
         "credit_repairs_approved": 0}]
    # The clock: seen from 2025-11-06, the maintained case (decided 11-10) is still open.
    early = department_stats(date(2025, 1, 1), date(2025, 12, 31), at(date(2025, 11, 6)))
    assert [(r.department_code, r.objections, r.decided) for r in early] == [("SA", 2, 1), ("SB", 1, 1)]
    assert [r.objections for r in department_stats(None, None, at(date(2025, 12, 1)), "SA")] == [4]

    # On /stats the figures are one table of the period's report, on the page and in every download.
    page = text(client.get("/stats?year=2025"))
    assert 'id="table-objections"' in page and "甲局" in page and "50.0%" in page and "3.5" in page
    assert "异议成立 = 办结结果为“更正”或“撤回”（“维持”为不成立）" in page
    table = client.get("/stats.json?year=2025").get_json()["tables"]["objections"]
    by_dept = {row["department"]: row for row in table["rows"]}
    assert {k: by_dept["SA"][k] for k in ("objections", "objections_decided", "objections_upheld",
                                          "objections_share_upheld", "objections_median_workdays",
                                          "credit_repair_applications", "credit_repairs_approved")} == {
        "objections": 3, "objections_decided": 2, "objections_upheld": 1, "objections_share_upheld": 0.5,
        "objections_median_workdays": "3.5", "credit_repair_applications": 1, "credit_repairs_approved": 1}
    assert table["total"]["objections"] == 4 and table["total"]["objections_upheld"] == 2
    csv_text = client.get("/stats.csv?year=2025").get_data(as_text=True)
    assert "受理异议（件）" in csv_text.splitlines()[0] and "异议成立率" in csv_text.splitlines()[0]
    quiet = client.get("/stats.json?year=2023").get_json()["tables"]["objections"]
    assert quiet["total"]["objections"] == 0 and quiet["total"]["credit_repair_applications"] == 0
    for body in (page, csv_text, str(table)):
        assert "13812345678" not in body and "张三" not in body
