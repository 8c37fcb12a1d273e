"""Right of reply in Chromium, at 1366 px and 390 px: an anonymous visitor files an objection with a
PDF on a published result and gets a receipt; the record shows the pending badge on its page, JSON and
feed; the department's clerk decides 更正 and corrects the record; the public page shows the
correction and the outcome; the status link shows each step. Screenshots in tests/artifacts/."""
import re

import pytest

from servers import ROOT

PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
PHONE = "13700001111"
PENDING = "当事人已提出异议，正在核查（2026-11-23 受理）"  # the live server's clock is 2026-11-23


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def _fresh_result(page) -> dict:
    """A published result without any objection yet (each run of the journey takes another one)."""
    items = page.request.get("/results.json?per_page=100").json()["items"]
    free = [i for i in items if i["objection"] is None]
    assert free, "the demo has no published result without an objection"
    return free[0]


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_objection_filed_pending_corrected_and_followed(page, screenshot, log_in, width, height):
    page.set_viewport_size({"width": width, "height": height})
    shot = lambda name: screenshot(f"objection-{width}-{name}")  # noqa: E731
    item = _fresh_result(page)
    rid, dept = item["id"], item["department_code"]

    # 1. The visitor reads the result and opens the objection form from it.
    page.goto(f"/results/{rid}")
    assert item["entity_name"] in page.locator("h1").inner_text()
    assert page.locator(".objection-notice").count() == 0
    page.click("#object-link")
    page.wait_for_url(re.compile(rf"/objections/new\?record=result-{rid}$"))
    assert page.locator("h1").inner_text() == "提出异议"
    assert item["entity_name"] in page.locator("dl.fields").inner_text()
    _no_sideways_scroll(page, width)

    # 2. Fills it in, attaches a PDF, submits; gets a receipt number and the private status link.
    page.check("input[name=relation][value=party]")
    page.fill("#contact_name", "浏览器测试联系人")
    page.fill("#contact_mobile", PHONE)
    page.check("input[name=points][value=conclusion]")
    page.fill("#statement", "检查当日我单位已提交完整台账，检查结论与事实不符，请核实后更正。")
    page.set_input_files("#attachments", files=[{"name": "整改证明.pdf", "mimeType": "application/pdf",
                                                  "buffer": PDF}])
    page.check("input[name=affirmed]")
    shot("1-form")
    with page.expect_navigation(url=re.compile(r"/objections/case/[A-Za-z0-9_-]{40,}$")):
        page.click("#objection-form button[type=submit]")
    status_url = page.url
    receipt = page.locator("#receipt-no").inner_text()
    assert re.fullmatch(r"YY20261123\d{6}", receipt)
    assert f"已受理您的异议，受理编号 {receipt}" in page.locator(".flashes").inner_text()
    assert page.locator("#case-status").inner_text() == "已受理，待核查"
    assert "整改证明.pdf" in page.locator("#case-facts").inner_text()
    assert PHONE not in page.content() and "137****1111" in page.content()
    _no_sideways_scroll(page, width)
    shot("2-receipt")

    # 3. The record now shows the pending badge on its page, its JSON and the feed.
    page.goto(f"/results/{rid}")
    assert page.locator(".objection-notice").inner_text().strip() == PENDING
    _no_sideways_scroll(page, width)
    shot("3-pending")
    assert page.request.get(f"/results/{rid}.json").json()["objection"] == {
        "status": "pending", "received": "2026-11-23", "decided": None, "outcome": None, "text": PENDING}
    feed = page.request.get("/feeds/results.atom").text()
    entry = feed[feed.index(f"/results/{rid}\""):]
    assert PENDING in entry[:entry.index("</entry>")]
    for channel in (f"/results/{rid}", f"/results/{rid}.json", "/results.csv", "/feeds/all.rss"):
        body = page.request.get(channel).text()
        assert PHONE not in body and "整改证明" not in body and "浏览器测试联系人" not in body, channel

    # 4. The clerk of the result's department finds it on the dashboard and reads the attachment.
    log_in(f"clerk-{dept.lower()}")
    page.goto("/admin/")
    panel = page.locator("#objection-panel")
    assert receipt in panel.inner_text()
    shot("4-dashboard")
    page.click(f"#objection-panel a:has-text('{receipt}')")
    page.wait_for_url(re.compile(r"/admin/objections/\d+$"))
    assert PHONE in page.locator("#case-facts").inner_text()
    href = page.locator("ul.attachments a").get_attribute("href")
    download = page.request.get(href)
    assert download.ok and download.body() == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    shot("5-case")

    # 5. 更正: the result's own correction form opens; saving the correction closes the case.
    page.click("#decide-corrected")
    page.wait_for_url(re.compile(rf"/admin/results/{rid}$"))
    assert "自动办结为“更正”" in page.locator(".flashes").inner_text()
    page.fill("#f-remark", "经复核，该单位台账完整，原结果说明有误，予以更正。")
    page.fill("#f-correction_reason", "根据当事人异议核查更正")
    shot("6-correction-form")
    with page.expect_navigation():
        page.click("#record-form button[type=submit]")
    assert "已更正并保留原版本" in page.locator(".flashes").inner_text()

    # 6. The public page shows the correction and the outcome.
    page.goto(f"/results/{rid}")
    notice = page.locator(".objection-notice").inner_text().strip()
    assert notice == "当事人提出的异议已核查办结：已更正（2026-11-23 办结）"
    assert "更正于 2026-11-23" in page.locator(".notice[role=note]").nth(1).inner_text()
    assert "经复核，该单位台账完整" in page.locator("dl.fields").inner_text()
    _no_sideways_scroll(page, width)
    shot("7-corrected")

    # 7. The status link shows each step, to anyone holding it (a fresh, signed-out browser).
    other = page.context.browser.new_context(base_url=page.url.split("/admin")[0].split("/results")[0],
                                             viewport={"width": width, "height": height}, locale="zh-CN")
    filer = other.new_page()
    filer.goto(status_url)
    steps = filer.locator("#case-steps").inner_text()
    for step in ("已受理", "决定更正，正在更正该信息", "已办结：更正", "答复意见：根据当事人异议核查更正"):
        assert step in steps
    assert filer.locator("#case-status").inner_text() == "已办结：更正"
    _no_sideways_scroll(filer, width)
    filer.screenshot(path=str(ROOT / "tests" / "artifacts" / f"objection-{width}-8-status.png"), full_page=True)
    other.close()


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_badges_in_lists_and_entity_page_and_credit_repair_to_tombstone(page, screenshot, log_in, width, height):
    """The demo's open objections show in list rows and on the entity page (with its objection form);
    a party applies for credit repair of an eligible penalty, the clerk approves, the page becomes a
    tombstone that says why; /stats shows the department's objection figures."""
    page.set_viewport_size({"width": width, "height": height})
    shot = lambda name: screenshot(f"credit-repair-{width}-{name}")  # noqa: E731

    # List rows and the entity page carry the badge of the demo's pending objections.
    items = page.request.get("/results.json?per_page=200").json()["items"]
    pending = next(i for i in items if i["objection"] and i["objection"]["status"] == "pending")
    page.goto(f"/results?q={pending['uscc']}")
    row = page.locator("#results-list tbody tr").filter(has_text=pending["entity_name"]).first
    assert f"异议核查中（{pending['objection']['received']} 受理）" in row.inner_text()
    _no_sideways_scroll(page, width)
    shot("1-list-badge")
    page.goto(f"/entities/{pending['uscc']}")
    assert f"异议核查中（{pending['objection']['received']} 受理）" in page.locator("main").inner_text()
    page.select_option("#objection-record", f"result-{pending['id']}")
    with page.expect_navigation(url=re.compile(rf"/objections/new\?record=result-{pending['id']}$")):
        page.click("#entity-objection-form button[type=submit]")
    assert page.locator("h1").inner_text() == "提出异议"

    # An eligible penalty offers credit repair (demo clock 2026-11-23: published a year or more ago).
    eligible = None
    for item in page.request.get("/penalties.json?per_page=200").json()["items"]:
        html = page.request.get(f"/penalties/{item['id']}").text()
        if 'id="credit-repair-link"' in html:
            eligible = item
            break
    assert eligible is not None, "the demo has no penalty eligible for credit repair"
    page.goto(f"/penalties/{eligible['id']}")
    shot("2-penalty")
    page.click("#credit-repair-link")
    assert page.locator("h1").inner_text() == "申请信用修复"
    page.check("input[name=relation][value=agent]")
    page.fill("#contact_name", "信用修复代理人")
    page.fill("#contact_mobile", "13600002222")
    for box in page.locator("input[name=points]").all():
        box.check()
    page.fill("#statement", "当事人已于规定期限内缴清全部罚款并完成整改，申请提前停止公示。")
    page.check("input[name=affirmed]")
    _no_sideways_scroll(page, width)
    shot("3-form")
    with page.expect_navigation(url=re.compile(r"/objections/case/")):
        page.click("#objection-form button[type=submit]")
    receipt = page.locator("#receipt-no").inner_text()
    assert receipt.startswith("XF20261123")
    status_url = page.url

    # The department's clerk approves it from the queue.
    log_in(f"clerk-{eligible['department_code'].lower()}")
    page.goto("/admin/objections?kind=credit_repair")
    assert receipt in page.locator("#objection-queue").inner_text()
    shot("4-queue")
    # 认领 from the queue row (htmx posts the case id as hx-vals, then follows HX-Redirect).
    row = page.locator("#objection-queue tbody tr").filter(has_text=receipt)
    with page.expect_navigation(url=re.compile(r"/admin/objections/\d+$")):
        row.locator("button:has-text('认领')").click()
    assert page.locator("#case-status").inner_text() == "核查中"
    assert "已认领" in page.locator(".flashes").inner_text()
    page.fill("#reason-approved", "已缴清罚款、完成整改，符合信用修复条件。")
    shot("5-decide")
    with page.expect_navigation():
        page.click("#decide-approved")
    assert "已办结：准予信用修复" in page.locator("#case-status").inner_text()

    # The public record is now a tombstone that says it ended by credit repair.
    page.goto(f"/penalties/{eligible['id']}")
    tombstone = page.locator(".tombstone").inner_text()
    assert "该信息已于 2026-11-23 停止公示" in tombstone and "当事人已完成信用修复" in tombstone
    assert eligible["decision_no"] not in page.locator("main").inner_text()
    assert page.request.get(f"/penalties/{eligible['id']}.json").json()["ended_by"] == "credit_repair"
    _no_sideways_scroll(page, width)
    shot("6-tombstone")
    page.goto(status_url)
    assert "已办结：准予信用修复" in page.locator("#case-steps").inner_text()

    # /stats shows the objection figures per department.
    page.goto("/stats")
    table = page.locator("#table-objections")
    assert table.count() == 1
    assert "当事人异议" in table.inner_text() and "成立率" in table.inner_text()
    table.scroll_into_view_if_needed()
    _no_sideways_scroll(page, width)
    screenshot(f"credit-repair-{width}-7-stats", full_page=False)
