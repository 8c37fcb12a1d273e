"""Lifecycle actions from the back office, as the public sees them."""
from datetime import datetime, timezone

import factories as f


def test_publish_correct_withdraw_withhold_seen_publicly(app, db, client, login, csrf_token, set_now):
    set_now("2025-06-10T02:00:00+00:00")
    dept = f.department()
    task = f.task(dept, surprise=True)
    ent, ent2 = f.entity(), f.entity()
    f.draw(task, [ent, ent2], drawn_at=datetime(2025, 4, 1, 2, 0, tzinfo=timezone.utc))
    draft = f.result(task, ent, publish=False, remark="草稿说明")
    other = f.result(task, ent2, publish=False, remark="另一条")
    login(client, f.user("clerk", dept))
    assert client.get(f"/results/{draft.id}").status_code == 404  # drafts are invisible
    assert client.get(f"/tasks/{task.code}").status_code == 404  # surprise task hidden until results are public
    assert client.post(f"/admin/results/{draft.id}/publish", data={"csrf_token": csrf_token(client)}).status_code == 303
    page = client.get(f"/results/{draft.id}")
    assert page.status_code == 200 and "草稿说明" in page.get_data(as_text=True)
    # One of the two drawn targets published: the result stands alone, the surprise task stays hidden (SPEC §3).
    assert client.get(f"/tasks/{task.code}").status_code == 404
    # Correction: new text public, old version kept.
    form = dict(task_id=task.id, entity_uscc=ent.uscc, formed_date="2025-05-10", conclusions=["C01"],
                remark="更正后的说明", correction_reason="笔误", csrf_token=csrf_token(client))
    assert client.post(f"/admin/results/{draft.id}", data=form).status_code == 303
    html = client.get(f"/results/{draft.id}").get_data(as_text=True)
    assert "更正后的说明" in html and "更正" in html
    # Withdrawal: tombstone with the reason.
    assert client.post(f"/admin/results/{draft.id}/withdraw",
                       data={"reason": "检查结果有误已撤销", "csrf_token": csrf_token(client)}).status_code == 303
    html = client.get(f"/results/{draft.id}").get_data(as_text=True)
    assert "检查结果有误已撤销" in html and "更正后的说明" not in html
    # Withheld: never public, even once published.
    assert client.post(f"/admin/results/{other.id}/withhold",
                       data={"reason": "商业秘密", "csrf_token": csrf_token(client)}).status_code == 303
    r = client.post(f"/admin/results/{other.id}/publish", data={"csrf_token": csrf_token(client)},
                    follow_redirects=True)
    assert "不予公开" in r.get_data(as_text=True)
    assert client.get(f"/results/{other.id}").status_code == 404
    assert client.get(f"/tasks/{task.code}").status_code == 404  # a withheld result never lifts the embargo
    set_now("2025-06-30T16:00:00+00:00")  # 2025-07-01 00:00 in China: the task's period has ended
    assert client.get(f"/tasks/{task.code}").status_code == 200
    assert "商业秘密" not in client.get("/results").get_data(as_text=True)
