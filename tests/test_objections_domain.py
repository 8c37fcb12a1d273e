"""Right of reply rules as plain Python: filings, attachments, deadlines, public status, credit repair."""
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest

from objection_support import EXE, PDF, PNG
from portal.domain.publicity import LONG, NONE, SHORT, PublicityPolicy, publicity_class
from portal.domain.workdays import WorkCalendar
from portal.objections import domain
from portal.objections.files import AttachmentRefused, check_attachment, clean_filename


def china(day: date, hour=10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=timezone.utc)


def parse(**kw):
    values = dict(relation="party", contact_name="张三", contact_mobile="13812345678", points=["remark"],
                  statement="结果说明中的日期与事实不符，请核实。", affirmed=True)
    values.update(kw)
    return domain.parse_filing("objection", "result", **values)


def test_a_complete_filing_is_cleaned():
    filing, errors = parse(contact_name=" 张三\x00 ", contact_mobile="+86 138-1234-5678", points=["remark", "remark"])
    assert errors == {}
    assert filing == domain.Filing("party", "张三", "13812345678", ("remark",), "结果说明中的日期与事实不符，请核实。")


@pytest.mark.parametrize("field, value, message", [
    ("relation", "boss", "请选择您与当事人的关系"),
    ("contact_name", "  ", "请填写联系人姓名"),
    ("contact_name", "名" * 51, "不能超过 50 个字"),
    ("contact_mobile", "12345", "请填写 11 位手机号码"),
    ("contact_mobile", "23812345678", "请填写 11 位手机号码"),
    ("points", [], "请至少勾选一项"),
    ("points", ["facts"], "所选事项无效"),  # a penalty point on a result
    ("statement", "太短", "至少 10 个字"),
    ("statement", "字" * 2001, "不能超过 2000 个字"),
    ("affirmed", False, "请确认所填信息真实"),
])
def test_each_missing_or_wrong_field_has_a_chinese_message(field, value, message):
    filing, errors = parse(**{field: value})
    assert filing is None and message in errors[field]


def test_credit_repair_needs_every_condition_affirmed():
    all_grounds = [code for code, _ in domain.CREDIT_REPAIR_GROUNDS]
    filing, errors = domain.parse_filing("credit_repair", "penalty", relation="agent", contact_name="李四",
                                         contact_mobile="13912345678", points=all_grounds[:-1],
                                         statement="已缴清罚款并完成整改，申请提前停止公示。", affirmed=True)
    assert filing is None and "同时符合下列全部条件" in errors["points"]
    filing, errors = domain.parse_filing("credit_repair", "penalty", relation="agent", contact_name="李四",
                                         contact_mobile="13912345678", points=all_grounds,
                                         statement="已缴清罚款并完成整改，申请提前停止公示。", affirmed=True)
    assert errors == {} and filing.points == tuple(all_grounds)


def test_mobile_numbers_are_normalised_and_masked():
    assert domain.normalise_mobile("１３８ １２３４ ５６７８") == "13812345678"
    assert domain.normalise_mobile("0086-13812345678") == "13812345678"
    assert domain.normalise_mobile("010-12345678") is None
    assert domain.mask_mobile("13812345678") == "138****5678"


def test_attachment_type_comes_from_the_content_not_the_name():
    pdf = check_attachment("证明.pdf", PDF, 10_000)
    assert (pdf.filename, pdf.content_type, pdf.size) == ("证明.pdf", "application/pdf", len(PDF))
    # A PNG called .pdf is stored as what it is.
    png = check_attachment("照片.pdf", PNG, 10_000)
    assert (png.filename, png.content_type) == ("照片.png", "image/png")
    with pytest.raises(AttachmentRefused, match="不是 PDF、JPEG 或 PNG 文件（识别为 application/x-msdownload）"):
        check_attachment("营业执照.pdf", EXE, 10_000)  # an executable renamed .pdf
    with pytest.raises(AttachmentRefused, match="不是 PDF、JPEG 或 PNG"):
        check_attachment("说明.pdf", "这是一段文字".encode(), 10_000)
    with pytest.raises(AttachmentRefused, match="不是完整的 PDF"):
        check_attachment("截断.pdf", PDF[:40], 10_000)
    with pytest.raises(AttachmentRefused, match=r"超过大小限制（每个文件最大 9 KB）"):
        check_attachment("大文件.pdf", PDF + b"0" * 10_000, 10_000)
    with pytest.raises(AttachmentRefused, match="空文件"):
        check_attachment("空.pdf", b"", 10_000)


def test_attachment_names_lose_paths_and_header_breaking_characters():
    assert clean_filename("C:\\Users\\张三\\证明\r\n材料.PDF", ".pdf") == "证明_材料.pdf"
    assert clean_filename("../../etc/passwd", ".png") == "passwd.png"
    assert clean_filename("", ".jpg") == "附件.jpg"
    assert len(clean_filename("长" * 300 + ".pdf", ".pdf")) == 100


def test_handling_deadline_counts_working_days_on_the_disclosure_calendar():
    cal = WorkCalendar()
    # Golden values of SPEC §4: 20 working days after 2025-09-30 is 2025-11-04 (National Day week skipped).
    assert domain.handling_due(china(date(2025, 9, 30), 16), 20, cal) == (date(2025, 11, 4), False)
    assert domain.handling_due(china(date(2025, 9, 30)), 15, cal) == (date(2025, 10, 28), False)
    # A filing late in the evening UTC is already the next China day.
    late = datetime(2025, 9, 29, 17, 30, tzinfo=timezone.utc)  # 2025-09-30 01:30 in China
    assert domain.handling_due(late, 15, cal) == (date(2025, 10, 28), False)
    # Beyond the holiday data: Monday–Friday, marked provisional.
    due, provisional = domain.handling_due(china(date(2026, 12, 20)), 15, cal)
    assert provisional and due == date(2027, 1, 8)


@dataclass
class Case:
    kind: str
    received_at: datetime
    decided_at: datetime | None = None
    outcome: str | None = None


def test_public_status_follows_the_clock():
    received, decided = china(date(2025, 11, 3)), china(date(2025, 11, 20))
    cases = [Case("objection", received, decided, "corrected")]
    assert domain.public_status(cases, china(date(2025, 11, 2))) == (None, None)
    status, changed = domain.public_status(cases, china(date(2025, 11, 10)))
    assert status == {"status": "pending", "received": "2025-11-03", "decided": None, "outcome": None,
                      "text": "当事人已提出异议，正在核查（2025-11-03 受理）"}
    assert changed == received
    status, changed = domain.public_status(cases, china(date(2025, 11, 21)))
    assert status == {"status": "decided", "received": "2025-11-03", "decided": "2025-11-20", "outcome": "corrected",
                      "text": "当事人提出的异议已核查办结：已更正（2025-11-20 办结）"}
    assert changed == decided


def test_an_open_objection_outranks_an_earlier_decision_and_credit_repair_is_not_shown():
    cases = [Case("objection", china(date(2025, 9, 1)), china(date(2025, 9, 10)), "maintained"),
             Case("objection", china(date(2025, 10, 8)), None, None),
             Case("credit_repair", china(date(2025, 10, 9)), None, None)]
    status, changed = domain.public_status(cases, china(date(2025, 10, 20)))
    assert status["status"] == "pending" and status["received"] == "2025-10-08"
    assert changed == china(date(2025, 10, 8))
    assert domain.public_status(cases[2:], china(date(2025, 10, 20))) == (None, None)


def test_publicity_class_is_the_rule_publicity_end_uses():
    policy = PublicityPolicy()
    assert publicity_class(["警告"], None, None, "organisation", policy) == NONE
    assert publicity_class(["罚款"], 5000, None, "organisation", policy) == SHORT
    assert publicity_class(["罚款"], 200000, None, "organisation", policy) == LONG
    assert publicity_class(["通报批评"], None, None, "natural_person", policy) == SHORT
    assert publicity_class(["吊销许可证件"], None, None, "organisation", policy) == LONG


def test_credit_repair_eligibility_by_publicity_class():
    rules = {SHORT: None, LONG: 12}
    published = date(2025, 6, 1)
    early = domain.credit_repair_eligibility(LONG, published, date(2026, 5, 31), False, rules)
    assert not early.eligible and early.reason == "自公示之日起满 12 个月（2026-06-01 起）方可申请信用修复。"
    assert domain.credit_repair_eligibility(LONG, published, date(2026, 6, 1), False, rules).eligible
    short = domain.credit_repair_eligibility(SHORT, published, date(2026, 6, 1), False, rules)
    assert not short.eligible and "期满后自动停止公示" in short.reason
    assert domain.credit_repair_eligibility(SHORT, published, date(2025, 7, 1), False, {SHORT: 1}).eligible
    assert not domain.credit_repair_eligibility(LONG, published, date(2027, 1, 1), True, rules).eligible
    assert not domain.credit_repair_eligibility(NONE, published, date(2027, 1, 1), False, rules).eligible
