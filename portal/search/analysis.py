"""Text analysis shared by documents and queries: normalisation, runs, n-grams, codes.

Three kinds of terms, chosen so that any fragment people type matches while each document
yields as few postings as possible (Whoosh's writer costs about 20 µs per posting):

- titles (`title_terms`): every character and every bigram of each CJK run or Latin/digit
  word, so a one-character brand or "LK" inside "BULKBANK" matches a title (a longer
  fragment is the AND of its bigrams: "鑫食" does not match "鑫达食品");
- other text (`text_terms`): CJK runs as bigrams, Latin/digit words as trigrams (a query
  fragment of three or more characters is the AND of its grams; a one-character query looks
  at titles only);
- codes (`code_terms`): trigrams of the normalised code (USCC, 文号, task and item codes),
  so any piece of three or more characters matches; a 文号 fragment such as 〔2026〕40号
  matches that decision and not 〔2026〕140号.

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


def ngrams(run: str, k: int) -> list[str]:
    """The overlapping k-grams of a run (the run itself when it is no longer than k)."""
    if len(run) <= k:
        return [run]
    return [run[i:i + k] for i in range(len(run) - k + 1)]


def grams(run: str) -> list[str]:
    """The title terms a query run must all match (see title_terms)."""
    return ngrams(run, 2)


def text_grams(run: str, is_cjk: bool) -> list[str] | None:
    """The text terms a query run must all match, None if text cannot match it (too short)."""
    k = 2 if is_cjk else 3
    if len(run) < k:
        return None
    return ngrams(run, k)


def code_grams(code: str) -> list[str] | None:
    """The code terms a normalised query code must all match, None if too short."""
    return ngrams(code, 3) if len(code) >= 3 else None


def title_terms(text: str) -> Counter:
    counts: Counter = Counter()
    for run in run_texts(text):
        counts.update(run)
        if len(run) > 1:
            counts.update([run[i:i + 2] for i in range(len(run) - 1)])
    return counts


def text_terms(text: str) -> Counter:
    """Term frequencies of a (non-title) text as the index sees it."""
    counts: Counter = Counter()
    for m in _RUN.finditer(normalize(text)):
        cjk, word = m.group(1), m.group(2)
        if cjk is not None:
            counts.update(ngrams(cjk, 2))
        elif len(word) >= 3:
            counts.update(ngrams(word, 3))
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
            counts.update(ngrams(code, 3))
    return counts


def exact_key(text: str) -> str:
    """A title as the "exact title" field holds it."""
    return "".join(normalize(text).split())


def query_terms(q: str) -> list[str]:
    """The whitespace-separated terms of a query (at most ten)."""
    return [t for t in re.split(r"[\s\u3000]+", (q or "").strip()) if t][:10]


class CJKTokenizer(Tokenizer):
    """The Token-based form of `title_terms` (what Whoosh's own query parser would use; GramField
    needs an analyzer, the index is written through `GramField.index`)."""

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
        # Scorable (a per-document length column) although ranking uses tiers and dates, not BM25:
        # Whoosh's writer looks the length up for every posting, and without the column each
        # lookup is a file-system stat.
        super().__init__(analyzer=CJKTokenizer(), phrase=False, field_boost=field_boost, **kwargs)
        self.format = Frequency(field_boost=field_boost)
        self.terms_of = terms

    def index(self, value, **kwargs):
        boost = self.format.field_boost
        return [(term.encode("utf-8"), freq, freq * boost, pack_uint(freq))
                for term, freq in self.terms_of(value).items()]


def title_field(**kwargs) -> GramField:
    return GramField(terms=title_terms, **kwargs)


def code_field(**kwargs) -> GramField:
    return GramField(terms=code_terms, **kwargs)
