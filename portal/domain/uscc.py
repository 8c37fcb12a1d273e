"""统一社会信用代码 (GB 32100-2015) and the old 15-digit 注册号."""
import re

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_OLD_REG_NO = re.compile(r"^\d{15}$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def normalise(text) -> str:
    """Upper-case, strip spaces and full-width forms."""
    value = str(text or "").strip().upper()
    value = value.translate({0x3000: None, 0x20: None})
    return "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in value)


class CodeProblem(ValueError):
    """A malformed code (error) or a wrong check character (warning the clerk may accept)."""

    def __init__(self, message: str, warning: bool = False):
        super().__init__(message)
        self.warning = warning


def validate(text) -> str:
    """Return the normalised code or raise CodeProblem with a Chinese message and a hint."""
    value = normalise(text)
    if not value:
        raise CodeProblem("统一社会信用代码为空")
    if _SCIENTIFIC.match(value):
        raise CodeProblem(f"“{text}”是科学计数法数字，原代码已被表格软件截断；"
                          "请把该列设置为“文本”格式后重新填写完整的 18 位代码")
    if _OLD_REG_NO.match(value):
        return value
    if len(value) != 18:
        raise CodeProblem(f"“{text}”有 {len(value)} 位；统一社会信用代码应为 18 位（或 15 位注册号）")
    if not _USCC_SHAPE.match(value):
        raise CodeProblem(f"“{text}”含有不允许的字符（不使用 I、O、Z、S、V，第 3-8 位为行政区划数字）")
    expected = check_character(value[:17])
    if value[17] != expected:
        raise CodeProblem(f"“{value}”的校验位应为 {expected}，请核对；如确认无误可忽略此提示", warning=True)
    return value


def is_valid(text) -> bool:
    try:
        validate(text)
        return True
    except CodeProblem:
        return False


def make(registration_dept: str, org_type: str, region: str, body9: str) -> str:
    """Compose a valid USCC from its parts (登记管理部门, 机构类别, 区划, 主体标识码)."""
    first17 = f"{registration_dept}{org_type}{region}{body9}"
    if len(first17) != 17:
        raise ValueError("need 17 characters before the check character")
    return first17 + check_character(first17)
