"""The query engine: bitsets over immutable segments, tiers, facets, re-checks, highlighting.

Whoosh's own collectors score, sort and facet one document at a time in Python, far too slow
for "有限公司" over a million records. Segments are immutable, so each term's postings become
a bitset (a Python int) once per segment and stay cached; a query is then a few big-int
ANDs/ORs, totals and facet counts are popcounts, and only the page of hits shown is ordered
document by document.

Ranking: an exact title (or exact code) first, then documents whose codes contain what was
typed (a 文号 fragment, a piece of a USCC, a task-code prefix), then everything typed found in
the title, then elsewhere; within each tier records with publications come before directory
entries without, then the newest first. sort="date": newest first.
"""
from __future__ import annotations

import heapq
from array import array
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from .analysis import code_grams, exact_key, grams, norm_code, query_terms, runs, text_grams
from .documents import KINDS, REF_MASK, REF_SHIFT, ts
from .whoosh_compat import column_values, is_segment, raw_postings

FACETS = ("kind", "dept", "year", "conclusion", "category", "industry")

_BITS: OrderedDict = OrderedDict()  # (segment, field, term) → bitset of the segment's postings
_BITS_MAX = 1024  # at 1M documents a bitset is at most 125 KB: ≤ 128 MB per process
_SEG_DATA: dict[tuple, object] = {}  # segment → (dates, docnums newest first) / facet values / keys
_cache_lock = threading.Lock()


def _seg_key(reader) -> tuple:
    # Segment ids are random per segment (and per index generation): a stable cache key.
    return (reader.segment().segment_id(),)


def _ids_to_bits(ids) -> int:
    buf = bytearray()
    for d in ids:
        i = d >> 3
        if i >= len(buf):
            buf.extend(b"\0" * (i - len(buf) + 1 + (len(buf) >> 1)))
        buf[i] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


def _leaf_term_bits(reader, fieldname: str, text) -> int:
    key = _seg_key(reader) + (fieldname, text)
    with _cache_lock:
        bits = _BITS.get(key)
        if bits is not None:
            _BITS.move_to_end(key)
            return bits
    bits = _ids_to_bits(raw_postings(reader, fieldname, text))
    with _cache_lock:
        _BITS[key] = bits
        while len(_BITS) > _BITS_MAX:
            _BITS.popitem(last=False)
    return bits


_NONZERO = re.compile(rb"[^\x00]")


def positions(bits: int) -> list[int]:
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    out = []
    for m in _NONZERO.finditer(data):
        i = m.start()
        byte = data[i]
        while byte:
            low = byte & -byte
            out.append(i * 8 + low.bit_length() - 1)
            byte ^= low
    return out


class Bits:
    """Bitset algebra over the segments of one searcher (global docnum = offset + local)."""

    def __init__(self, searcher, purged_until: int = 0):
        self.searcher = searcher
        self.purged_until = purged_until
        self.leaves = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()
                       if is_segment(sub.reader())]
        live = 0
        for reader, offset in self.leaves:
            n = reader.doc_count_all()
            seg = (1 << n) - 1
            if reader.has_deletions():
                seg &= ~_ids_to_bits(reader.segment().deleted_docs())
            live |= seg << offset
        self.live = live

    def term(self, fieldname: str, text: str) -> int:
        out = 0
        for reader, offset in self.leaves:
            bits = _leaf_term_bits(reader, fieldname, text)
            if bits:
                out |= bits << offset
        return out & self.live

    def all_of(self, fieldname: str, texts: list[str]) -> int:
        out = None
        for text in texts:
            bits = self.term(fieldname, text)
            out = bits if out is None else out & bits
            if not out:
                return 0
        return out or 0

    def hidden(self, now: datetime) -> int:
        """Documents outside their public window at `now`: show_from > now or hide_at <= now.

        Walks the full-precision numeric terms from the boundary: both sets are small (sync
        deletes documents whose window ended up to PURGED_UNTIL, so only later ends are walked;
        few records are published ahead of time), so this is cheap.
        """
        now_ts = ts(now)
        start = self.purged_until + 1 if self.purged_until < now_ts else 0
        out = 0
        for reader, offset in self.leaves:
            seg = 0
            for fname, tbytes in reader.terms_from("show_from", now_ts + 1):
                if fname != "show_from" or tbytes[:1] != b"\x00":
                    break
                seg |= _leaf_term_bits(reader, "show_from", tbytes)
            hide = reader.schema["hide_at"]
            limit = hide.to_bytes(now_ts)
            for fname, tbytes in reader.terms_from("hide_at", start):
                if fname != "hide_at" or tbytes[:1] != b"\x00" or tbytes > limit:
                    break
                seg |= _leaf_term_bits(reader, "hide_at", tbytes)
            if seg:
                out |= seg << offset
        return out

    def values(self, fieldname: str) -> list[str]:
        """Every term of a facet field (cached per immutable segment)."""
        out = set()
        for reader, _offset in self.leaves:
            key = _seg_key(reader) + ("__values__", fieldname)
            vals = _SEG_DATA.get(key)
            if vals is None:
                vals = _SEG_DATA[key] = [v.decode() if isinstance(v, bytes) else str(v)
                                         for v in reader.lexicon(fieldname)]
            out.update(vals)
        return sorted(out)

    def _locate(self, docnums: list[int]):
        """(reader, offset, local docnum) of each docnum (ascending input)."""
        i = 0
        leaves = self.leaves
        for d in docnums:
            while i + 1 < len(leaves) and d >= leaves[i + 1][1]:
                i += 1
            reader, offset = leaves[i]
            yield reader, offset, d - offset

    def dates_for(self, docnums: list[int]) -> dict[int, int]:
        """Date of each docnum (ascending input), read from the per-segment columns."""
        return {offset + local: self._seg_data(reader)[0][local] for reader, offset, local in self._locate(docnums)}

    def keys_for(self, docnums: list[int]) -> dict[int, str]:
        """The `key` ("kind:id") of each docnum (ascending input), from the `ref` column (cached per
        segment; stored fields would cost a decode per document)."""
        out = {}
        for reader, offset, local in self._locate(docnums):
            refs = self._refs(reader)
            ref = refs[local]
            out[offset + local] = f"{KINDS[ref >> REF_SHIFT]}:{ref & REF_MASK}"
        return out

    def _refs(self, reader):
        key = _seg_key(reader) + ("__refs__",)
        refs = _SEG_DATA.get(key)
        if refs is None:
            refs = _SEG_DATA[key] = array("q", column_values(reader, "ref"))
        return refs

    def _seg_data(self, reader):
        key = _seg_key(reader)
        data = _SEG_DATA.get(key)
        if data is None:
            dates = column_values(reader, "date")
            order = sorted(range(len(dates)), key=dates.__getitem__, reverse=True)
            data = _SEG_DATA[key] = (dates, order)
            if len(_SEG_DATA) > 1024:
                _SEG_DATA.pop(next(iter(_SEG_DATA)))
        return data

    def newest(self, bits: int, count: int, skip: int = 0) -> list[int]:
        """Up to `count` docnums of `bits`, newest first, after skipping `skip`."""
        want = skip + count
        if want <= 0 or not bits:
            return []
        if bits.bit_count() <= 4000:
            dates = self.dates_for(positions(bits))
            docs = sorted(dates, key=lambda d: (-dates[d], d))
            return docs[skip:want]
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")

        def stream(dates, order, offset):
            return ((-dates[d], offset + d) for d in order)

        streams = [stream(*self._seg_data(reader), offset) for reader, offset in self.leaves]
        out = []
        for _neg, d in heapq.merge(*streams):
            if d >> 3 < len(data) and data[d >> 3] >> (d & 7) & 1:
                out.append(d)
                if len(out) >= want:
                    break
        return out[skip:]


@dataclass
class IndexAnswer:
    """What the index alone says about a query (before the database re-check)."""

    total: int
    stored: list[dict]
    counts: dict[str, dict[str, int]]
    exact: bool
    matched: int = 0  # the bitset of every matching document
    bits: Bits | None = None


def looks_like_code(token: str) -> bool:
    """Worth a look in the codes: has a digit, or a 文号 bracket/号."""
    code = norm_code(token)
    return len(code) >= 2 and (any(ch.isdigit() for ch in code) or "〔" in code)


def match_bits(b: Bits, terms: list[str], visible: int) -> tuple[int, int, int]:
    """(matched, in_title, in_codes) bitsets of the query terms (each term must match)."""
    matched, title_bits, code_bits = visible, visible, visible
    any_code = False
    for token in terms:
        token_runs = [(is_cjk, run) for is_cjk, run, _s in runs(token)]
        token_match, token_title = 0, 0
        if token_runs:
            token_match, token_title = matched, matched
            for is_cjk, run in token_runs:
                in_title = b.all_of("tgrams", grams(run))
                token_title &= in_title
                text_terms = text_grams(run, is_cjk)
                token_match &= in_title | (b.all_of("bgrams", text_terms) if text_terms else 0)
                if not token_match:
                    break
        in_codes = 0
        code = norm_code(token)
        if looks_like_code(token) and code_grams(code):
            in_codes = b.all_of("cgrams", code_grams(code)) & matched
            any_code = True
            if in_codes and ("〔" in code or "〕" in code):
                token_match = token_title = 0  # a 文号 fragment that names decisions: only those
        matched &= token_match | in_codes
        title_bits &= token_title
        code_bits &= in_codes
        if not matched:
            break
    return matched, title_bits & matched, (code_bits & matched) if any_code else 0


def search_index(searcher, q: str, *, filters: dict, sort: str, page: int, per_page: int, now: datetime,
                 facets: bool = True, purged_until: int = 0) -> IndexAnswer | None:
    """Run a query against an open Whoosh searcher (no Flask, no database: the benchmark uses it too)."""
    terms = query_terms(q)
    if not terms and not filters:
        return None
    b = Bits(searcher, purged_until)
    visible = b.live & ~b.hidden(now)
    for name, value in filters.items():
        visible &= b.term(name, str(value))
    code = norm_code(q) if len(terms) == 1 else None
    exact = False
    title_bits = code_bits = 0
    if code and any(ch.isdigit() for ch in code):
        exact_code = b.term("codes", code) & visible
        if exact_code:
            matched, exact = exact_code, True
    if not exact:
        if terms:
            if not any(True for token in terms for _ in runs(token)) and not any(looks_like_code(t) for t in terms):
                return None  # punctuation only: nothing to look for
            matched, title_bits, code_bits = match_bits(b, terms, visible)
        else:
            matched = visible
    total = matched.bit_count()
    skip, want = (page - 1) * per_page, per_page
    if sort == "date" or not terms or exact:
        docnums = b.newest(matched, want, skip)
    else:
        exact_bits = b.term("exact", exact_key(q)) & matched
        published = b.term("published", "1")
        rest = matched & ~exact_bits
        tiers = [exact_bits]
        for base in (code_bits & rest, title_bits & rest & ~code_bits, rest & ~title_bits & ~code_bits):
            tiers += [base & published, base & ~published]
        docnums = []
        for tier in tiers:
            size = tier.bit_count()
            if skip >= size:
                skip -= size
                continue
            part = b.newest(tier, want, skip)
            docnums += part
            want -= len(part)
            skip = 0
            if want <= 0:
                break
    stored = [searcher.stored_fields(d) for d in docnums]
    counts = facet_counts(b, matched) if facets else {}
    return IndexAnswer(total, stored, counts, exact, matched, b)


def facet_counts(b: Bits, matched: int) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    if not matched:
        return counts
    for name in FACETS:
        for value in b.values(name):
            if value:
                c = (matched & b.term(name, value)).bit_count()
                if c:
                    counts[name][value] = c
    return counts


