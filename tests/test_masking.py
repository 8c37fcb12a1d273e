"""Privacy masking of free text (SPEC §6)."""
import pytest

from portal.domain.masking import ID_CARD, MOBILE, OLD_ID_CARD, BANK_CARD, PASSPORT, id_checksum_ok, mask_text
from portal.domain.uscc import make

ID = "11010519491231002X"  # GB 11643 example number, checksum valid


def test_checksum():
    assert id_checksum_ok(ID)
    assert not id_checksum_ok("110105194912310021")


@pytest.mark.parametrize("raw", [
    ID,
    ID.lower(),
    "110105 1949 1231 002X",
    "110105-19491231-002x",
    "１１０１０５１９４９１２３１００２Ｘ",
    "１１０１０５　１９４９１２３１　００２ｘ",
])
def test_id_card_variants(raw):
    result = mask_text(f"当事人张三，身份证{raw}，住所某地")
    assert result.text == "当事人张三，身份证1101**********002X，住所某地"
    [finding] = result.findings
    assert finding.kind == ID_CARD
    assert finding.original_excerpt_masked == "1101**********002X"
    assert result.text.count("*") == 10


def test_unlabelled_id_needs_checksum_and_birth_date():
    assert mask_text(f"号码{ID}。").text == "号码1101**********002X。"
    assert mask_text("号码110105194912310021。").findings == []
    assert mask_text("号码110105194913310024。").findings == []  # month 13


def test_labelled_id_masked_even_with_bad_checksum():
    assert mask_text("身份证号：110105194912310021").text == "身份证号：1101**********0021"


def test_old_15_digit_only_when_labelled():
    result = mask_text("身份证号码：110105491231002")
    assert result.text == "身份证号码：1101********002"
    assert result.findings[0].kind == OLD_ID_CARD
    assert mask_text("注册号110105491231002").findings == []


@pytest.mark.parametrize("raw,prefix", [
    ("13812345678", ""), ("138 1234 5678", ""), ("138-1234-5678", ""),
    ("１３８１２３４５６７８", ""), ("+86 13812345678", "+86 "), ("+8613812345678", "+86"),
    ("0086-138-1234-5678", "0086-"),
])
def test_mobile_variants(raw, prefix):
    result = mask_text(f"联系电话：{raw}。")
    assert result.text == f"联系电话：{prefix}138****5678。"
    assert [f.kind for f in result.findings] == [MOBILE]


def test_positions_point_into_the_original():
    text = "甲13812345678乙"
    [finding] = mask_text(text).findings
    assert text[finding.start:finding.end] == "13812345678"


def test_bank_card_and_passport_when_labelled():
    result = mask_text("银行卡号 6222 0212 3456 7890 123，护照号E12345678")
    assert result.text == "银行卡号 6222***********0123，护照号E******78"
    assert [f.kind for f in result.findings] == [BANK_CARD, PASSPORT]


@pytest.mark.parametrize("text", [
    "统一社会信用代码91330100MA2H3Y4X5B",
    make("9", "1", "330100", "000000001"),
    make("9", "1", "110105", "194912310"),
    "市监处罚〔2025〕123号",
    "杭市监罚字〔2025〕第00123号",
    "罚款100000元，没收违法所得13800元",
    "罚款138000000元",  # 9 digits
    "检查日期 2025-03-07、2025/3/7、2025年3月7日、20250307",
    "注册号330100000012345",
    "订单号1381234567890",
    "任务编号330100202503070001",
    "座机0571-88888888",
    "",
])
def test_precise_no_false_positives(text):
    result = mask_text(text)
    assert result.text == text
    assert result.findings == []


def test_multiple_findings_in_order_and_none():
    result = mask_text(f"身份证{ID}，手机13912345678，又13612345678")
    assert [f.kind for f in result.findings] == [ID_CARD, MOBILE, MOBILE]
    assert "13912345678" not in result.text and ID not in result.text
    assert mask_text(None).text == ""
