"""What every record validator shares: problems, the checked result, and a reader of one input.

An input is a mapping from field key (``"uscc"``, ``"remark"`` …) to what the person gave: a
spreadsheet cell (text, number, date) or a form value (text or list). Only the keys present
are read and returned, so a file without a column leaves that field of an existing record as
it is. Free text that any public channel shows is masked here (SPEC §6), and every masking is
reported, so the clerk sees what was masked whatever the path.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..domain import uscc as uscc_rules
from ..domain.dates import parse_date
from ..domain.masking import mask_text

ERROR, WARNING = "error", "warning"


@dataclass
class Problem:
    key: str            # the field it is about ("" for the record as a whole)
    message: str        # what is wrong, in plain Chinese
    fix: str = ""       # how to fix it
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


@dataclass
class Masking:
    key: str
    label: str    # which kind of identifier (身份证号码, 手机号码 …)
    masked: str   # the masked form kept (never the original)


@dataclass
class Checked:
    """The outcome of validating one input."""

    values: dict = field(default_factory=dict)     # key → validated value, for the keys given
    defaults: dict = field(default_factory=dict)   # inferred values, used only when creating a record
    problems: list = field(default_factory=list)
    maskings: list = field(default_factory=list)
    display: dict = field(default_factory=dict)    # key → text as kept (masked, normalised)
    natural_key: tuple = ()

    @property
    def errors(self) -> list:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def public_text(text, key: str = "", checked: Checked | None = None):
    """The public version of a free-text value: identifiers masked, each masking reported on `checked`."""
    if text is None or text == "":
        return text
    result = mask_text(text)
    if checked is not None:
        for finding in result.findings:
            checked.maskings.append(Masking(key, finding.label, finding.original_excerpt_masked))
    return result.text


# ---------------------------------------------------------------- cells

def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value).strip()


def is_formula(value) -> bool:
    return isinstance(value, str) and value.strip().startswith("=") and len(value.strip()) > 1


def is_number_cell(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


class AmountProblem(ValueError):
    def __init__(self, message, fix=""):
        super().__init__(message)
        self.fix = fix


def parse_amount(value) -> Decimal | None:
    """Yuan with at most two decimals: 5000, 5,000.50, ￥5000, 5000元, full-width digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if is_number_cell(value):
        amount = Decimal(str(value))
    else:
        text = str(value).strip()
        text = text.translate(str.maketrans("０１２３４５６７８９．，", "0123456789.,"))
        text = re.sub(r"^[¥￥]|元$|[,\s]", "", text)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise AmountProblem(f"“{value}”不是金额数字", "只填写数字，如 5000 或 5000.00，不要带单位") from None
    if not amount.is_finite() or amount < 0:
        raise AmountProblem(f"“{value}”不是有效金额", "金额应为不小于 0 的数字")
    if amount != amount.quantize(Decimal("0.01")):
        raise AmountProblem(f"“{value}”超过两位小数", "金额精确到分，最多两位小数")
    if amount >= Decimal("1e12"):
        raise AmountProblem(f"“{value}”金额过大", "请核对金额，单位为元")
    return amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------- the reader

class Reader:
    """Typed access to one input that records problems on `checked` instead of raising."""

    def __init__(self, raw: Mapping, checked: Checked | None = None):
        self._raw = raw
        self.checked = checked if checked is not None else Checked()

    def given(self, key) -> bool:
        return key in self._raw

    def raw(self, key):
        return self._raw.get(key)

    def keys(self):
        return list(self._raw)

    def problem(self, key, message, fix="", severity=ERROR):
        self.checked.problems.append(Problem(key, message, fix, severity))

    def has_problem(self, key) -> bool:
        return any(p.key == key and p.is_error for p in self.checked.problems)

    def _refuse_formula(self, key, value) -> bool:
        if is_formula(value):
            self.problem(key, f"单元格是公式“{cell_text(value)[:40]}”，公式不会被导入",
                         "请复制该列后“选择性粘贴 → 数值”，或直接填写文字")
            return True
        return False

    def text(self, key, required=False, max_length=None, mask=False, label=""):
        """Stripped text or None; `mask` for free text any public channel shows."""
        value = self._raw.get(key)
        if self._refuse_formula(key, value):
            return None
        text = cell_text(value)
        if not text:
            if required:
                self.problem(key, "必填项为空", f"请填写{label}" if label else "请填写此项")
            return None
        if max_length and len(text) > max_length:
            self.problem(key, f"内容过长（{len(text)} 字，最多 {max_length} 字）", "请精简内容")
            return None
        if mask:
            text = public_text(text, key, self.checked)
        self.checked.display[key] = text
        return text

    def date(self, key, required=False, today=None):
        """A date; `today` refuses dates after it (a record of something that already happened)."""
        value = self._raw.get(key)
        if self._refuse_formula(key, value):
            return None
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(key, "必填日期为空", "请填写日期，如 2025-03-07")
            return None
        if is_number_cell(value) and not (19000101 <= value <= 21001231):
            self.problem(key, f"“{cell_text(value)}”是数字而不是日期", "请把单元格设为日期格式，或写成 2025-03-07")
            return None
        try:
            day = parse_date(value if isinstance(value, (date, datetime)) else cell_text(value))
        except ValueError as exc:
            self.problem(key, str(exc), "请写成 2025-03-07、2025/3/7 或 2025年3月7日")
            return None
        if day.year < 1949:
            self.problem(key, f"日期 {day.isoformat()} 过早", "请核对年份")
            return None
        if today is not None and day > today:
            self.problem(key, f"日期 {day.isoformat()} 晚于今天（{today.isoformat()}）", "不能填写未来的日期，请核对")
            return None
        self.checked.display[key] = day.isoformat()
        return day

    def code(self, key, required=True):
        """A USCC (or 15-digit 注册号). A wrong check character is a warning the clerk may accept."""
        value = self._raw.get(key)
        if self._refuse_formula(key, value):
            return None
        if is_number_cell(value):
            self.problem(key, f"“{cell_text(value)}”是数字单元格，长代码已被表格软件截断或改写",
                         "请把该列设为“文本”格式，重新填写完整的 18 位统一社会信用代码")
            return None
        text = cell_text(value)
        if not text:
            if required:
                self.problem(key, "必填项为空", "请填写 18 位统一社会信用代码")
            return None
        try:
            code = uscc_rules.validate(text)
        except uscc_rules.CodeProblem as exc:
            if not exc.warning:
                self.problem(key, str(exc), "请核对代码，18 位，不含字母 I、O、Z、S、V；单元格设为文本格式")
                return None
            self.problem(key, str(exc), "确认无误可勾选“接受警告”后保存", WARNING)
            code = uscc_rules.normalise(text)
        self.checked.display[key] = code
        return code

    def amount(self, key):
        value = self._raw.get(key)
        if self._refuse_formula(key, value):
            return None
        try:
            amount = parse_amount(value)
        except AmountProblem as exc:
            self.problem(key, str(exc), exc.fix)
            return None
        if amount is not None:
            self.checked.display[key] = str(amount)
        return amount

    def list_text(self, key):
        """A list given as a form's several values or as one cell of text (split later by vocabulary)."""
        value = self._raw.get(key)
        if isinstance(value, (list, tuple)):
            return [cell_text(v) for v in value if cell_text(v)]
        if self._refuse_formula(key, value):
            return None
        text = cell_text(value)
        return text or None
