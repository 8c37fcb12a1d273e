"""Open-data writers: formula-safe CSV cells, BOM, streaming, and the JSON envelope."""
import csv
import io
from datetime import date
from decimal import Decimal

import pytest

import factories as f
from portal.exports import safe_cell
from portal.models import EntityType
from portal.public.datasets import LISTS, PENALTIES, RESULTS


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+86 10", "'+86 10"), ("-5", "'-5"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
    ("正常文本", "正常文本"), ("a=b", "a=b"), (None, ""), (True, "是"), (Decimal("12.50"), "12.50"),
    (date(2025, 3, 7), "2025-03-07"), (7, "7"),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_every_dataset_has_unique_chinese_csv_headers():
    for ds in LISTS:
        header = ds.csv_header
        assert len(header) == len(set(header)), ds.kind
        assert all(label and not label.isascii() for label in header), ds.kind


def test_csv_is_streamed_with_every_matching_row(app, client, db, set_now, monkeypatch):
    from portal import queries
    monkeypatch.setattr(queries, "STREAM_BATCH", 10)  # several batches, each with its side queries
    set_now("2025-07-01T02:00:00+00:00")
    dept = f.department()
    task = f.task(dept)
    for i in range(45):
        f.result(task, f.entity(name=f"@企业{i:02d}"))
    db.session.commit()
    response = client.get("/results.csv?per_page=5&page=3")
    assert response.is_streamed
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff记录编号,")
    rows = body.rstrip("\r\n").split("\r\n")[1:]
    assert len(rows) == 45  # paging does not apply to CSV: all matching rows
    assert all(",'@企业" in row for row in rows)
    assert [row.split(",")[3] for row in rows] == [f"'@企业{i:02d}" for i in range(44, -1, -1)]
    assert response.headers["Content-Disposition"] == "attachment; filename=results.csv"


def test_json_list_envelope_pages(app, client, db, set_now):
    set_now("2025-07-01T02:00:00+00:00")
    dept = f.department()
    for i in range(3):
        f.penalty(dept, f.entity())
    db.session.commit()
    data = client.get("/penalties.json?per_page=2&page=2").get_json()
    assert list(data) == ["items", "total", "page", "per_page"] or set(data) == {"items", "total", "page", "per_page"}
    assert (data["total"], data["page"], data["per_page"], len(data["items"])) == (3, 2, 2, 1)
    too_many = client.get("/penalties.json?per_page=1000")
    assert too_many.status_code == 400 and "每页条数不能超过 200" in too_many.get_json()["error"]["message"]


def test_streamed_rows_equal_the_json_items(app, client, db, set_now):
    """CSV rows come from a faster Core path; they must say exactly what the JSON items say."""
    set_now("2025-07-01T02:00:00+00:00")
    dept = f.department()
    item = f.check_item(dept)
    task = f.task(dept, items=[item])
    hidden_task = f.task(dept, withheld=True)
    shop = f.entity(entity_type=EntityType.INDIVIDUAL, operator_name="李四")
    inspector = f.inspector(dept)
    r = f.result(task, shop, conclusions=(("C02", "未按规定公示应当公示的信息"), ("C05", "发现问题已责令改正")))
    r.inspectors = [inspector]
    f.result(hidden_task, f.entity())
    f.penalty(dept, shop, party_name="李四", categories=("警告", "罚款"), task=task)
    f.penalty(dept, None, party_name="王五", task=hidden_task, confiscation_amount=None)
    db.session.commit()
    for url, dataset in (("/results", RESULTS), ("/penalties", PENALTIES)):
        items = client.get(url + ".json").get_json()["items"]
        csv_lines = client.get(url + ".csv").get_data().decode("utf-8-sig").rstrip("\r\n").split("\r\n")[1:]
        expected = []
        for item_json in items:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(c) for c in dataset.csv_row(item_json)])
            expected.append(buffer.getvalue().rstrip("\r\n"))
        assert csv_lines == expected, url
    assert "李四" not in client.get("/penalties.csv").get_data(as_text=True)
