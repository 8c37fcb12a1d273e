"""A record link built without a format is the HTML page's URL (issue 9 item 1: the .json rule was
registered first, so every link to a plan, task, result, penalty or entity opened raw JSON)."""
import pytest
from flask import url_for


@pytest.mark.parametrize("endpoint, values, html, json", [
    ("public.plan", {"plan_id": 7}, "/plans/7", "/plans/7.json"),
    ("public.task", {"code": "411421202501010001"}, "/tasks/411421202501010001", "/tasks/411421202501010001.json"),
    ("public.result", {"result_id": 7}, "/results/7", "/results/7.json"),
    ("public.penalty", {"penalty_id": 7}, "/penalties/7", "/penalties/7.json"),
    ("public.entity", {"uscc": "91411421MA0000000X"}, "/entities/91411421MA0000000X",
     "/entities/91411421MA0000000X.json"),
    ("public.draw", {"draw_id": 7}, "/draws/7", "/draws/7.json"),
])
def test_links_without_a_format_lead_to_html(app, endpoint, values, html, json):
    with app.test_request_context():
        assert url_for(endpoint, **values) == html
        assert url_for(endpoint, fmt="json", **values) == json
