"""Privacy masking of free text before its public version is stored or indexed (SPEC §6).

`mask_text(text)` finds personal identifiers and replaces each with a masked form that keeps a
hint for the clerk (`4114**********1234`, `138****5678`):

- 18-digit 居民身份证号码 whose GB 11643 check character is valid and whose birth date is real
  (also with full-width digits, spaces or dashes between digits, lower-case x); when the text
  labels it (身份证…) the checksum is not required — a mistyped ID is still personal data;
- 15-digit old ID numbers, only when labelled (身份证…), because 15 digits are also 注册号;
- mainland mobile numbers 1[3-9]x…(11 digits), optionally +86/0086/86, spaced or full-width;
- bank card numbers after 卡号/账号/银行卡, passport/pass numbers after 护照/通行证.

It must stay precise: USCCs, decision numbers (〔2025〕12号), dates and amounts are left alone.
Pure Python, no Flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

ID_CARD = "id_card"
OLD_ID_CARD = "old_id_card"
MOBILE = "mobile"
BANK_CARD = "bank_card"
PASSPORT = "passport"

KIND_LABELS = {
    ID_CARD: "身份证号码",
    OLD_ID_CARD: "15 位旧身份证号码",
    MOBILE: "手机号码",
    BANK_CARD: "银行卡号",
    PASSPORT: "护照/通行证号码",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    original_excerpt_masked: str   # the masked form shown to the clerk (never the original)
    start: int                     # span in the ORIGINAL text
    end: int

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Masked:
    text: str
    findings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.findings)

    def __str__(self) -> str:
        return self.text


# Characters: ASCII and full-width digits; separators people type inside long numbers.
_D = "[0-9\uff10-\uff19]"
_X = "[0-9\uff10-\uff19Xx\uff38\uff58\u00d7]"
_SEP = "[ \u3000\u00a0\\-\uff0d\u2010\u2011\u2012\u2013]?"
_NOT_BEFORE = r"(?<![0-9\uff10-\uff19A-Za-z\uff21-\uff3a\uff41-\uff5a])(?<![0-9\uff10-\uff19][\-\uff0d])"
_NOT_AFTER = r"(?![0-9\uff10-\uff19A-Za-z\uff21-\uff3a\uff41-\uff5a])(?![ \-\uff0d\u3000]?[0-9\uff10-\uff19])"


def _digits(n: int) -> str:
    return _D + ("(?:" + _SEP + _D + ")") + "{" + str(n - 1) + "}"


_ID18 = re.compile(_NOT_BEFORE + "(" + _digits(17) + _SEP + _X + ")" + _NOT_AFTER)
_MOBILE = re.compile(
    r"(?<![0-9\uff10-\uff19A-Za-z+\uff0b])"
    r"((?:(?:\+|\uff0b|00)?(?:86|\uff18\uff16)[ \u3000\-]?)?)"
    "(" + "[1\uff11]" + _SEP + "[3-9\uff13-\uff19]" + "(?:" + _SEP + _D + "){9}" + ")"
    + _NOT_AFTER
)
_ID_LABEL = r"身份证(?:件)?(?:号码|号)?\s*[:：]?\s*"
_LABELLED_ID = re.compile(_ID_LABEL + "(" + _digits(17) + _SEP + _X + "|" + _digits(15) + ")" + _NOT_AFTER)
_BANK = re.compile(r"(?:银行卡|卡号|账号|帐号)(?:号码|号)?\s*[:：]?\s*(" + _digits(12) + "(?:" + _SEP + _D + "){0,7})"
                   + _NOT_AFTER)
_PASSPORT = re.compile(r"(?:护照|通行证)(?:号码|号)?\s*[:：]?\s*([A-Za-z\uff21-\uff3a\uff41-\uff5a]{1,2}"
                       + _digits(7) + "(?:" + _SEP + _D + ")?)" + r"(?![0-9A-Za-z\uff10-\uff19])")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _normalise(raw: str) -> str:
    """Full-width to ASCII, x/×/ｘ to X, separators dropped."""
    out = []
    for ch in raw:
        code = ord(ch)
        if 0xFF10 <= code <= 0xFF19:
            out.append(chr(code - 0xFEE0))
        elif ch in "Xx\uff38\uff58\u00d7":
            out.append("X")
        elif 0xFF21 <= code <= 0xFF5A:
            out.append(chr(code - 0xFEE0).upper())
        elif ch.isalnum():
            out.append(ch.upper())
    return "".join(out)


def id_checksum_ok(number: str) -> bool:
    """GB 11643 check character of an 18-character ID number (normalised)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17]


def _plausible_birth(number: str) -> bool:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1890 <= born.year <= 2100 and number[0] in "12345678"


def _hint(number: str, keep_start: int, keep_end: int) -> str:
    hidden = max(len(number) - keep_start - keep_end, 1)
    return number[:keep_start] + "*" * hidden + (number[-keep_end:] if keep_end else "")


def _candidates(text: str):
    """Yield (start, end, kind, replacement) for every identifier; labelled forms come first."""
    for m in _LABELLED_ID.finditer(text):
        number = _normalise(m.group(1))
        kind = ID_CARD if len(number) == 18 else OLD_ID_CARD
        yield m.start(1), m.end(1), kind, _hint(number, 4, 4 if kind == ID_CARD else 3)
    for m in _BANK.finditer(text):
        number = _normalise(m.group(1))
        yield m.start(1), m.end(1), BANK_CARD, _hint(number, 4, 4)
    for m in _PASSPORT.finditer(text):
        number = _normalise(m.group(1))
        yield m.start(1), m.end(1), PASSPORT, _hint(number, 1, 2)
    for m in _ID18.finditer(text):
        number = _normalise(m.group(1))
        if id_checksum_ok(number) and _plausible_birth(number):
            yield m.start(1), m.end(1), ID_CARD, _hint(number, 4, 4)
    for m in _MOBILE.finditer(text):
        number = _normalise(m.group(2))
        if len(number) == 11:
            yield m.start(2), m.end(2), MOBILE, _hint(number, 3, 4)


def mask_text(text) -> Masked:
    """Return the public version of `text` and what was masked in it."""
    if text is None:
        return Masked("", [])
    text = str(text)
    if not text:
        return Masked(text, [])
    chosen: list[tuple[int, int, str, str]] = []
    for start, end, kind, replacement in _candidates(text):
        if any(start < c_end and c_start < end for c_start, c_end, _, _ in chosen):
            continue  # an earlier (more specific) detector already covers this span
        chosen.append((start, end, kind, replacement))
    if not chosen:
        return Masked(text, [])
    chosen.sort()
    parts, findings, cursor = [], [], 0
    for start, end, kind, replacement in chosen:
        parts.append(text[cursor:start])
        parts.append(replacement)
        findings.append(Finding(kind, replacement, start, end))
        cursor = end
    parts.append(text[cursor:])
    return Masked("".join(parts), findings)


# Every identifier above has at least 7 digits in a row (single separators allowed): text
# without such a run needs no masking (a cheap test before mask_text on big exports).
_SEVEN_DIGITS = re.compile(_digits(7))
_ANY_DIGIT = re.compile(_D)


def may_contain_identifier(text) -> bool:
    text = str(text or "")
    return _ANY_DIGIT.search(text) is not None and _SEVEN_DIGITS.search(text) is not None


def contains_identifier(text) -> bool:
    return mask_text(text).changed
