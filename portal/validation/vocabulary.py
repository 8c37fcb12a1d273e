"""One way to split a list and to read a vocabulary term, for forms and spreadsheets alike.

Lists are separated by 、 ， , ； ; / or white space. A vocabulary term is matched by its code
(any case) or its exact label, and labels may themselves contain a separator (C03
“公示信息隐瞒真实情况、弄虚作假”): the longest run of pieces that names a term wins.
"""
from __future__ import annotations

import re

from ..models.directory import EntityType, RegistrationStatus, RiskClass

SEPARATORS = re.compile(r"([、，,；;/\s]+)")

ENTITY_TYPES = tuple(t.value for t in EntityType)
REGISTRATION_STATUSES = tuple(s.value for s in RegistrationStatus)
RISK_CLASSES = {c.value: c.value for c in RiskClass} | {"低": "A", "一般": "B", "较高": "C", "高": "D"}
PARTY_KINDS = {"organisation": "organisation", "natural_person": "natural_person",
               "法人或其他组织": "organisation", "单位": "organisation", "自然人": "natural_person"}
YES = ("是", "在岗", "1", "Y", "y", "true", "on")
NO = ("否", "不在岗", "0", "N", "n", "false")


def split_list(value) -> list[str]:
    """Items of a list given as several values or as one text; blanks dropped, order kept."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in SEPARATORS.split(str(value))[::2] if part.strip()]


def match_terms(value, terms: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """Read vocabulary terms from a list or a text. `terms` maps code → label.

    Returns ([(code, label)] without duplicates, in the order given; [pieces naming no term]).
    """
    by_code = {code.upper(): (code, label) for code, label in terms.items()}
    by_label = {label: (code, label) for code, label in terms.items()}

    def lookup(text):
        text = text.strip()
        return by_code.get(text.upper()) or by_label.get(text)

    found, unknown = [], []

    def add(term):
        if term not in found:
            found.append(term)

    if isinstance(value, (list, tuple)):
        for item in value:
            term = lookup(str(item))
            if term:
                add(term)
            elif str(item).strip():
                unknown.append(str(item).strip())
        return found, unknown
    parts = SEPARATORS.split(str(value or ""))  # pieces at even indexes, their separators between
    pieces = parts[::2]
    i = 0
    while i < len(pieces):
        if not pieces[i].strip():
            i += 1
            continue
        for j in range(len(pieces), i, -1):  # the longest run that names a term
            term = lookup("".join(parts[2 * i:2 * j - 1]))
            if term:
                add(term)
                i = j
                break
        else:
            unknown.append(pieces[i].strip())
            i += 1
    return found, unknown
