"""Text analysis shared by documents and queries: normalisation, runs, n-grams, codes.

CJK text is indexed as every 1-, 2- and 3-character gram (a fragment of one to three
characters is a single term; a longer fragment is the AND of its overlapping trigrams);
Latin letters and digits the same way, so "LKBANK" is found inside "BULKBANK" and any
piece of a USCC inside the code. Codes (USCC, 文号, task and item codes) are also indexed
whole (exact lookup) and as n-grams of their normalised form (`code_grams`), so a 文号
fragment such as 〔2026〕40号 matches the decision number and not 〔2026〕140号.

`GramField` turns text into its terms directly (no Token objects: the rebuild's hot path).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from whoosh import fields
from whoosh.analysis import Token, Tokenizer
from whoosh.formats import Frequency
from whoosh.system import pack_uint

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"([{_CJK}]+)|([0-9a-z]+)")
_CODE_JUNK = re.compile(r"[\s\u3000]+")
_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "【": "〔", "】": "〕", "(": "〔", ")": "〕", "［": "〔", "］": "〕",
                           "（": "〔", "）": "〕"})
MAX_GRAM = 3


def normalize(text: str) -> str:
    """Full-width to half-width, lower case: what both documents and queries go through."""
    return unicodedata.normalize("NFKC", text or "").lower()


def runs(text: str):
    """(is_cjk, run, start) for each CJK run or Latin/digit word of normalised text."""
    for m in _RUN.finditer(normalize(text)):
        yield (m.group(1) is not None), m.group(0), m.start()


def run_texts(text: str) -> list[str]:
    return _RUN_TEXT.findall(normalize(text))


_RUN_TEXT = re.compile(f"[{_CJK}]+|[0-9a-z]+")


def all_grams(run: str) -> list[str]:
    """Every 1-, 2- and 3-character gram of a run (the terms a document is indexed under)."""
    n = len(run)
    out = list(run)
    out += [run[i:i + 2] for i in range(n - 1)]
    out += [run[i:i + 3] for i in range(n - 2)]
    return out


def grams(run: str) -> list[str]:
    """The index terms a query run must all match (see all_grams)."""
    if len(run) <= MAX_GRAM:
        return [run]
    return [run[i:i + MAX_GRAM] for i in range(len(run) - MAX_GRAM + 1)]


def text_terms(text: str) -> Counter:
    """Term frequencies of a text as the index sees it."""
    counts: Counter = Counter()
    for run in run_texts(text):
        counts.update(all_grams(run))
    return counts


def norm_code(text: str) -> str:
    """How codes (USCC, 文号, task and item codes) are compared: NFKC, no spaces, upper case,
    with the usual bracket variants of 文号 unified to 〔〕."""
    value = _CODE_JUNK.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    return value.translate(_BRACKETS)


def code_terms(codes: str) -> Counter:
    """Terms of the comma-separated normalised codes of a document (every 1–3-gram)."""
    counts: Counter = Counter()
    for code in (codes or "").split(","):
        if code:
            counts.update(all_grams(code))
    return counts


def exact_key(text: str) -> str:
    """A title as the "exact title" field holds it."""
    return "".join(normalize(text).split())


def query_terms(q: str) -> list[str]:
    """The whitespace-separated terms of a query (at most ten)."""
    return [t for t in re.split(r"[\s\u3000]+", (q or "").strip()) if t][:10]


class CJKTokenizer(Tokenizer):
    """The Token-based form of `text_terms` (Whoosh's query side and highlighting use it)."""

    def __eq__(self, other):
        return type(self) is type(other)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for _is_cjk, run, start in runs(value):
            n = len(run)
            pieces = [(run[i:i + k], start + i, start + i + k) for k in (1, 2, 3) for i in range(n - k + 1)]
            for text, s, e in pieces:
                t.text = text
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = text
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char + s, start_char + e
                pos += 1
                yield t


class GramField(fields.TEXT):
    """A TEXT field whose terms are computed in one pass (`terms` function), frequencies kept.

    Overrides the documented `FieldType.index()` hook: (term bytes, frequency, weight, encoded value)
    for each distinct term, which is what Whoosh's writer consumes.
    """

    def __init__(self, terms=text_terms, field_boost: float = 1.0, **kwargs):
        super().__init__(analyzer=CJKTokenizer(), phrase=False, field_boost=field_boost, **kwargs)
        self.format = Frequency(field_boost=field_boost)
        self.terms_of = terms

    def index(self, value, **kwargs):
        boost = self.format.field_boost
        return [(term.encode("utf-8"), freq, freq * boost, pack_uint(freq))
                for term, freq in self.terms_of(value).items()]


def code_field(**kwargs) -> GramField:
    return GramField(terms=code_terms, **kwargs)
