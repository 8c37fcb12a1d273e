"""Public draw certificates: /draws/<id>, .json, pool.txt; the verification script; why was I drawn."""
import hashlib
import json
import re
import subprocess
import sys
from datetime import date, datetime
from html import unescape

import draw_reference
import factories as f
from sqlalchemy import select

from portal import draw_service
from portal.models import Draw, Inspector, RiskClass

NOW = "2025-06-10T02:00:00+00:00"


def _public_draw(db, set_now, surprise=False, n_entities=30, id_card="410101199001011234"):
    set_now(NOW)
    dept = f.department(code="SCJG")
    entities = [f.entity(risk=[RiskClass.A, RiskClass.B, RiskClass.C, RiskClass.D][i % 4]) for i in range(n_entities)]
    for _ in range(5):
        f.inspector(dept, id_card_no=id_card)
    task = f.task(dept, surprise=surprise, strata=[{"stratum": s, "ratio": "0.3"} for s in "ABCD"],
                  inspectors_per_target={"SCJG": 2})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    d = draw_service.lock(task, clerk)
    d = draw_service.perform(d, "20250601-双色球-03 07 12 19 25 31+09", [("赵见证", "纪检组")], clerk)
    return dept, entities, task, clerk, d


def test_certificate_page_and_json(db, client, set_now):
    dept, entities, task, clerk, d = _public_draw(db, set_now)
    page = client.get(f"/draws/{d.id}")
    assert page.status_code == 200
    html = unescape(page.get_data(as_text=True))
    for text in ("抽取凭证", d.pool_hash, d.commitment, d.nonce, d.seed, "赵见证", "如何自行核验", task.code):
        assert text in html
    assert "410101199001011234" not in html
    cert = client.get(f"/draws/{d.id}.json").get_json()
    for key in ("algorithm", "task", "pool", "pool_hash", "commitment", "nonce", "public_entropy", "seed", "strata",
                "inspectors_per_target", "selected", "substitutions", "witnesses", "locked_at", "drawn_at"):
        assert key in cert, key
    assert cert["task"] == task.code and len(cert["pool"]) == 30
    assert "410101199001011234" not in json.dumps(cert)
    ref = draw_reference.recompute(cert)
    assert ref["selected"] == [{k: s[k] for k in ("uscc", "stratum", "key", "inspectors")} for s in cert["selected"]]
    pool = client.get(f"/draws/{d.id}/pool.txt")
    assert pool.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert hashlib.sha256(pool.data).hexdigest() == d.pool_hash


def test_script_shown_on_the_page_verifies_the_json(db, client, set_now, tmp_path):
    *_, d = _public_draw(db, set_now)
    html = client.get(f"/draws/{d.id}").get_data(as_text=True)
    script = unescape(re.search(r'<pre class="code" id="verify-script"[^>]*><code>(.*?)</code></pre>', html, re.S).group(1))
    # The same program is a download (a link with `download`), byte for byte what the page shows.
    assert 'href="/draws/verify_draw.py" download="verify_draw.py"' in html
    download = client.get("/draws/verify_draw.py")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/x-python; charset=utf-8"
    assert download.headers["Content-Disposition"] == 'attachment; filename="verify_draw.py"'
    assert download.get_data(as_text=True) == script
    (tmp_path / "verify_draw.py").write_bytes(download.data)
    (tmp_path / "draw.json").write_bytes(client.get(f"/draws/{d.id}.json").data)
    out = subprocess.run([sys.executable, "verify_draw.py", "draw.json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert [line.split()[-1] for line in lines if line] == ["True"] * 5, out.stdout
    tampered = json.loads((tmp_path / "draw.json").read_text(encoding="utf-8"))
    tampered["nonce"] = "f" * 64
    (tmp_path / "draw.json").write_text(json.dumps(tampered), encoding="utf-8")
    out = subprocess.run([sys.executable, "verify_draw.py", "draw.json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert "commitment False" in out.stdout


def test_a_surprise_tasks_draws_stay_hidden_until_every_target_has_a_published_result(db, client, set_now):
    from portal import lifecycle
    from portal.database import write_transaction
    from portal.models import Result

    dept, entities, task, clerk, d = _public_draw(db, set_now, surprise=True)
    for url in (f"/draws/{d.id}", f"/draws/{d.id}.json", f"/draws/{d.id}/pool.txt", f"/tasks/{task.code}"):
        assert client.get(url).status_code == 404, url
    targets = [s.entity for s in d.selections]
    results = [f.result(task, e, formed=date(2025, 6, 5), publish=False) for e in targets]
    db.session.commit()
    ids = [r.id for r in results]
    for n, result_id in enumerate(ids, 1):
        with write_transaction():
            lifecycle.publish("result", db.session.get(Result, result_id), actor=clerk)
        expected = 200 if n == len(ids) else 404  # the last one lifts the embargo
        assert client.get(f"/draws/{d.id}").status_code == expected, n
        assert client.get(f"/tasks/{task.code}").status_code == expected, n
    assert client.get("/draws/999999").status_code == 404


def test_a_locked_draw_is_public_at_once_with_its_hashes_and_pool(db, client, set_now):
    set_now(NOW)
    dept = f.department(code="SCJG")
    entities = [f.entity(risk=RiskClass.D) for _ in range(6)]
    task = f.task(dept, strata=[{"stratum": "D", "count": 2}], inspectors_per_target={"SCJG": 1})
    f.inspector(dept)
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    locked = draw_service.lock(task, clerk)
    page = client.get(f"/draws/{locked.id}")
    assert page.status_code == 200
    html = unescape(page.get_data(as_text=True))
    assert "尚未抽取" in html and locked.pool_hash in html and locked.commitment in html
    assert locked.nonce not in html and 'id="draw-selected"' not in html
    cert = client.get(f"/draws/{locked.id}.json").get_json()
    assert (cert["status"], cert["nonce"], cert["seed"], cert["selected"]) == ("locked", None, None, [])
    assert cert["commitment"] == locked.commitment and len(cert["pool"]) == 6
    pool = client.get(f"/draws/{locked.id}/pool.txt")
    assert hashlib.sha256(pool.data).hexdigest() == locked.pool_hash
    task_page = unescape(client.get(f"/tasks/{task.code}").get_data(as_text=True))
    assert locked.pool_hash in task_page and locked.commitment in task_page and "待见证人在场抽取" in task_page
    listed = client.get(f"/tasks/{task.code}.json").get_json()["draws"]
    assert [(x["sequence"], x["status"], x["pool_hash"], x["commitment"]) for x in listed] == [
        (1, "locked", locked.pool_hash, locked.commitment)]
    assert all(e.uscc not in client.get(f"/entities/{e.uscc}").get_data(as_text=True).split("被抽中的抽查任务")[1]
               .split("检查结果")[0] for e in entities)  # nobody is drawn yet


def test_redraw_keeps_both_visible_with_notices(db, client, set_now):
    dept, entities, task, clerk, first = _public_draw(db, set_now)
    second = draw_service.lock(task, clerk, reason="候选名单遗漏新登记主体")
    second = draw_service.perform(second, "x", ["钱见证"], clerk)
    old = client.get(f"/draws/{first.id}").get_data(as_text=True)
    assert "已被第 2 次抽取取代" in old and "候选名单遗漏新登记主体" in old
    assert f"/draws/{second.id}" in old
    new = client.get(f"/draws/{second.id}").get_data(as_text=True)
    assert "第 2 次抽取" in new and "候选名单遗漏新登记主体" in new and f"/draws/{first.id}" in new
    cert = client.get(f"/draws/{first.id}.json").get_json()
    assert (cert["superseded_by"], cert["superseded_by_sequence"], cert["superseded_reason"]) == (
        second.id, 2, "候选名单遗漏新登记主体")
    task_page = client.get(f"/tasks/{task.code}").get_data(as_text=True)
    assert "已被第 2 次抽取取代，原因：候选名单遗漏新登记主体" in task_page
    listed = client.get(f"/tasks/{task.code}.json").get_json()["draws"]
    assert [(x["sequence"], x["status"], x["superseded_by"]) for x in listed] == [
        (1, "drawn", {"id": second.id, "sequence": 2, "reason": "候选名单遗漏新登记主体"}), (2, "drawn", None)]


def test_substitution_is_public_with_actor_and_reason(db, client, set_now):
    dept, entities, task, clerk, d = _public_draw(db, set_now)
    sel = d.selections[0]
    current = {a.licence_no for a in sel.assignments}
    spare = next(i for i in db.session.execute(select(Inspector)).scalars() if i.licence_no not in current)
    draw_service.substitute(sel, sel.assignments[0].licence_no, spare.licence_no, "原检查人员回避", clerk)
    html = client.get(f"/draws/{d.id}").get_data(as_text=True)
    assert "原检查人员回避" in html and clerk.username in html and "<del" in html


def test_certificate_escapes_inspector_names_and_strikes_through_a_replaced_one(db, client, set_now):
    """The drawn list's inspectors are one |assignments call per entity: escaped like Jinja output,
    a replaced inspector inside <del>, the substitute after it."""
    set_now(NOW)
    dept = f.department(code="SCJG")
    entity = f.entity(risk=RiskClass.D)
    f.inspector(dept, name="<b>丁</b>检查员"), f.inspector(dept, name="戊检查员")  # both are matched
    task = f.task(dept, strata=[{"stratum": "D", "count": 1}], inspectors_per_target={"SCJG": 2})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    d = draw_service.perform(draw_service.lock(task, clerk), "x", ["赵见证"], clerk)
    sel = d.selections[0]
    assert sorted(a.name for a in sel.assignments) == ["<b>丁</b>检查员", "戊检查员"]
    first, second = sorted(sel.assignments, key=lambda a: a.position)
    spare = f.inspector(dept, name="己检查员")
    db.session.commit()
    draw_service.substitute(sel, first.licence_no, spare.licence_no, "原检查人员回避", clerk)

    html = client.get(f"/draws/{d.id}").get_data(as_text=True)
    assert "<b>丁</b>" not in html

    def shown(a):
        name = a.name.replace("<", "&lt;").replace(">", "&gt;")
        return f'{name}（<span class="mono">{a.licence_no}</span>）'
    cell = (f'<td data-label="执法人员"><del title="已更换">{shown(first)}</del>、{shown(second)}、'
            f'己检查员（<span class="mono">{spare.licence_no}</span>）</td>')
    assert cell in html
    cert = client.get(f"/draws/{d.id}.json").get_json()
    assert cert["selected"][0]["current_inspectors"] == [second.licence_no, spare.licence_no]
    assert cert["selected"][0]["inspectors"] == [first.licence_no, second.licence_no]
    assert cert["substitutions"][0]["uscc"] == entity.uscc


def test_why_drawn_leaves_out_a_draw_of_an_embargoed_surprise_task(db, client, set_now):
    """why_drawn's statement joins Task itself; the draw's visibility still follows its own task."""
    from portal import lifecycle
    from portal.database import write_transaction
    from portal.models import Result

    dept, entities, task, clerk, d = _public_draw(db, set_now, surprise=True)
    drawn = [s.entity for s in d.selections]
    now = datetime.fromisoformat(NOW)
    assert draw_service.why_drawn(drawn[0], now) == []
    assert f"/draws/{d.id}" not in client.get(f"/entities/{drawn[0].uscc}").get_data(as_text=True)
    results = [f.result(task, e, formed=date(2025, 6, 5), publish=False) for e in drawn]
    db.session.commit()
    for result in results:
        with write_transaction():
            lifecycle.publish("result", db.session.get(Result, result.id), actor=clerk)
    assert [r.draw.id for r in draw_service.why_drawn(drawn[0], now)] == [d.id]
    assert f"/draws/{d.id}" in client.get(f"/entities/{drawn[0].uscc}").get_data(as_text=True)


def test_certificate_page_states_the_size_of_pool_txt_with_chinese_strata(db, client, set_now):
    """The page counts the pool and the bytes of pool.txt in SQL (it does not read the lines):
    the stratum 全部 is 6 bytes in UTF-8, not 2 characters."""
    set_now(NOW)
    dept = f.department(code="SCJG")
    for _ in range(7):
        f.entity()
    f.inspector(dept)
    task = f.task(dept, stratify_by="none", strata=[{"stratum": "全部", "count": 2}], inspectors_per_target={"SCJG": 1})
    clerk = f.user("clerk", department=dept)
    db.session.commit()
    d = draw_service.perform(draw_service.lock(task, clerk), "x", ["赵见证"], clerk)
    pool = client.get(f"/draws/{d.id}/pool.txt").data
    assert pool.decode("utf-8").count("\t全部\n") == 7 and hashlib.sha256(pool).hexdigest() == d.pool_hash
    html = client.get(f"/draws/{d.id}").get_data(as_text=True)
    assert f"7 户（<a href=\"/draws/{d.id}/pool.txt\">下载名单原文 pool.txt</a>，{len(pool)} 字节）" in html
    assert draw_service.pool_summary(d.id) == draw_service.PoolSummary(7, len(pool))
    assert client.get(f"/draws/{d.id}.json").get_json()["pool_size"] == 7


def test_why_drawn_helper_ranks_within_stratum(db, client, set_now):
    dept, entities, task, clerk, d = _public_draw(db, set_now)
    d = db.session.get(Draw, d.id)
    by_stratum = {}
    for sel in d.selections:
        by_stratum.setdefault(sel.stratum, []).append(sel)
    for stratum, sels in by_stratum.items():
        for rank, sel in enumerate(sorted(sels, key=lambda s: s.key), 1):
            reasons = draw_service.why_drawn(sel.entity, datetime.fromisoformat(NOW))
            assert [(r.draw.id, r.stratum, r.rank, r.ratio) for r in reasons] == [(d.id, stratum, rank, "0.3")]
    not_drawn = next(e for e in entities if e.id not in {s.entity_id for s in d.selections})
    assert draw_service.why_drawn(not_drawn, datetime.fromisoformat(NOW)) == []
    first = min((s for s in d.selections if s.stratum == d.selections[0].stratum), key=lambda s: s.key)
    page = client.get(f"/entities/{first.uscc}")  # PUBLIC's entity page includes our fragment
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="why-drawn"' in html and f"/draws/{d.id}" in html and f"第 1 / " in html


def test_url_for_without_format_builds_the_html_urls(app):
    from flask import url_for
    with app.test_request_context():
        assert url_for("public.draw", draw_id=5) == "/draws/5"
        assert url_for("public.draw", draw_id=5, fmt="json") == "/draws/5.json"
        assert url_for("public.transparency") == "/transparency"


def test_withdrawn_draw_shows_a_tombstone_only(db, client, set_now):
    from portal import lifecycle
    from portal.database import write_transaction

    dept, entities, task, clerk, d = _public_draw(db, set_now)
    with write_transaction():
        lifecycle.withdraw("draw", db.session.get(Draw, d.id), "抽取范围设置错误", actor=clerk)
    html = client.get(f"/draws/{d.id}").get_data(as_text=True)
    assert "撤回" in html and "抽取范围设置错误" in html and d.pool_hash not in html
    assert client.get(f"/draws/{d.id}.json").get_json() == {
        "kind": "draw", "id": d.id, "status": "withdrawn", "withdrawn_on": "2025-06-10", "reason": "抽取范围设置错误"}
    assert client.get(f"/draws/{d.id}/pool.txt").status_code == 404
    assert draw_service.why_drawn(d.selections[0].entity, datetime.fromisoformat(NOW)) == []
