"""The query engine: bitsets over immutable segments, tiers, facets, re-checks, highlighting.

Whoosh's own collectors score, sort and facet one document at a time in Python, far too slow
for "有限公司" over a million records. Segments are immutable, so each term's postings become
a bitset once per segment and stay cached; a query is then a few big-int ANDs/ORs, totals and
facet counts are popcounts, and only the page of hits shown is ordered document by document.

Slots, not docnums: inside each segment a document's bit is its *date rank* (newest first,
ties by docnum), and each segment's slots start on a byte boundary. So
  - "the newest N of a match" is a merge of the segments' set bits in byte order (bytes scanned at
    C speed): N + segments steps, whatever the size of the match;
  - a whole-index bitset is the per-segment bitsets' bytes joined (one pass, no shifting).
`Bits.docnums(slots)` maps slots back to Whoosh docnums (stored fields); `keys_for` to keys.

Memory is bounded: per-segment term bitsets and whole-index term bitsets are two LRU caches
with a byte budget each (_SEG_BUDGET, _VIEW_BUDGET); per-segment columns (date ranks, refs) are
arrays of a few bytes per document.

Ranking: an exact title (or exact code) first, then documents whose codes contain what was
typed (a 文号 fragment, a piece of a USCC, a task-code prefix), then everything typed found in
the title, then elsewhere; within each tier records with publications come before directory
entries without, then the newest first. sort="date": newest first.
"""
from __future__ import annotations

import heapq
import re
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from itertools import islice, repeat

from .analysis import code_grams, exact_key, grams, norm_code, query_terms, runs, text_grams
from .documents import KINDS, REF_MASK, REF_SHIFT, ts
from .whoosh_compat import column_values, is_segment, raw_postings

FACETS = ("kind", "dept", "year", "conclusion", "category", "industry")

# Byte budgets of the two bitset caches (per process). A whole-index bitset is at most one bit
# per document: 165 KB at 1.3M documents, so _VIEW_BUDGET holds ~200 of them (the ~60 facet
# values of the province benchmark, the common query grams); the per-segment bitsets let a new
# view (after a sync adds a segment) be assembled without decoding postings again.
_SEG_BUDGET = 32 << 20
_VIEW_BUDGET = 32 << 20
_INFO_MAX = 4096  # per-segment columns kept (a view has one per segment; old views' age out)
_cache_lock = threading.Lock()
_NONZERO = re.compile(rb"[^\x00]")
_FLAG_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
NO_END = 2 ** 63


class _Budgeted:
    """An LRU mapping whose values' sizes (bytes) add up to at most `budget`."""

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self.items: OrderedDict = OrderedDict()

    def get(self, key):
        with _cache_lock:
            item = self.items.get(key)
            if item is None:
                return None
            self.items.move_to_end(key)
            return item[0]

    def put(self, key, value, size: int) -> None:
        with _cache_lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self.items[key] = (value, size)
            self.size += size
            while self.size > self.budget and len(self.items) > 1:
                _k, (_v, s) = self.items.popitem(last=False)
                self.size -= s

    def clear(self) -> None:
        with _cache_lock:
            self.items.clear()
            self.size = 0


_SEG_BITS = _Budgeted(_SEG_BUDGET)  # (segment id, field, term) → bytes of the segment's slots ("" if none)
_VIEW_BITS = _Budgeted(_VIEW_BUDGET)  # (view, field, term) → whole-index bitset (int)
_INFOS: OrderedDict = OrderedDict()  # segment id → _SegInfo
_VALUES: OrderedDict = OrderedDict()  # (segment id, field) → the field's terms


def clear_caches() -> None:
    """Forget every cached bitset and column (tests; memory figures)."""
    _SEG_BITS.clear()
    _VIEW_BITS.clear()
    with _cache_lock:
        _INFOS.clear()
        _VALUES.clear()


class _SegInfo:
    """Per-segment columns: slot (date rank, newest first) ↔ local docnum, date by slot, refs."""

    __slots__ = ("id", "n", "nbytes", "rank_of", "order", "rdates", "zero", "_refs")

    def __init__(self, reader):
        self.id = reader.segment().segment_id()
        self.n = n = reader.doc_count_all()
        self.nbytes = (n + 7) // 8
        dates = column_values(reader, "date")  # raw column values: order-preserving
        # Newest first; the sort is stable with reverse=True, so equal dates stay in docnum order.
        order = sorted(range(n), key=dates.__getitem__, reverse=True)
        self.order = array("i", order)
        self.rank_of = array("i", sorted(range(n), key=order.__getitem__))  # the inverse permutation
        self.rdates = array("Q", map(dates.__getitem__, order))
        self.zero = bytes(self.nbytes)
        self._refs = None

    def slots_bytes(self, docnums) -> bytes:
        """The segment's bitset (bytes, little-endian) of these local docnums, in slot order."""
        if not self.n:
            return b""
        flags = bytearray(self.nbytes * 8)
        deque(map(flags.__setitem__, map(self.rank_of.__getitem__, docnums), repeat(1)), maxlen=0)
        return int(flags[::-1].translate(_FLAG_DIGITS), 2).to_bytes(self.nbytes, "little")

    def refs(self, reader):
        if self._refs is None:
            self._refs = array("q", column_values(reader, "ref"))
        return self._refs


def _seg_info(reader) -> _SegInfo:
    sid = reader.segment().segment_id()  # random per segment (and per index generation): a stable key
    with _cache_lock:
        info = _INFOS.get(sid)
        if info is not None:
            _INFOS.move_to_end(sid)
            return info
    info = _SegInfo(reader)
    with _cache_lock:
        _INFOS[sid] = info
        while len(_INFOS) > _INFO_MAX:
            _INFOS.popitem(last=False)
    return info


@dataclass
class _Leaf:
    reader: object
    offset: int  # Whoosh's docnum of the segment's first document
    start: int  # the segment's first byte in a whole-index bitset (slot start = start * 8)
    info: _SegInfo


def positions(bits: int) -> list[int]:
    """The set bits (slots) of a bitset, ascending."""
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
    """Bitset algebra over the segments of one searcher (see "Slots" above)."""

    def __init__(self, searcher, purged_until: int = 0):
        self.searcher = searcher
        self.purged_until = purged_until
        leaves, start = [], 0
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            if not is_segment(reader):
                continue
            info = _seg_info(reader)
            leaves.append(_Leaf(reader, offset, start, info))
            start += info.nbytes
        self.leaves = leaves
        self.nbytes = start
        self._starts = [leaf.start * 8 for leaf in leaves]
        self.key = tuple(leaf.info.id for leaf in leaves)
        deletions = tuple(leaf.reader.segment().deleted_count() if leaf.reader.has_deletions() else 0
                          for leaf in leaves)
        live_key = (self.key, "__live__", deletions)
        live = _VIEW_BITS.get(live_key)
        if live is None:
            live = self._join(self._leaf_live)
            _VIEW_BITS.put(live_key, live, self.nbytes)
        self.live = live

    def _join(self, part) -> int:
        return int.from_bytes(b"".join(part(leaf) or leaf.info.zero for leaf in self.leaves), "little")

    @staticmethod
    def _leaf_live(leaf: _Leaf) -> bytes:
        n = leaf.info.n
        if not n:
            return b""
        every = (1 << n) - 1
        if leaf.reader.has_deletions():
            every &= ~int.from_bytes(leaf.info.slots_bytes(leaf.reader.segment().deleted_docs()), "little")
        return every.to_bytes(leaf.info.nbytes, "little")

    @staticmethod
    def _leaf_term(leaf: _Leaf, fieldname: str, text) -> bytes:
        key = (leaf.info.id, fieldname, text)
        data = _SEG_BITS.get(key)
        if data is None:
            ids = raw_postings(leaf.reader, fieldname, text)
            data = leaf.info.slots_bytes(ids) if ids else b""
            _SEG_BITS.put(key, data, len(data) + 64)
        return data

    def raw_term(self, fieldname: str, text) -> int:
        """Every document with the term, deleted ones included (cached per view)."""
        key = (self.key, fieldname, text)
        bits = _VIEW_BITS.get(key)
        if bits is None:
            bits = self._join(lambda leaf: self._leaf_term(leaf, fieldname, text))
            _VIEW_BITS.put(key, bits, (bits.bit_length() + 7) // 8 + 64)
        return bits

    def term(self, fieldname: str, text: str) -> int:
        return self.raw_term(fieldname, text) & self.live

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

        Per segment, walks the full-precision numeric terms from the boundary: both sets are small
        (sync deletes documents whose window ended up to PURGED_UNTIL, so only later ends are
        walked; few records are published ahead of time). The answer is kept per segment until
        the next boundary term (a future show_from or hide_at) is reached.
        """
        now_ts = ts(now)
        start = self.purged_until + 1 if self.purged_until < now_ts else 0
        found = False

        def part(leaf: _Leaf):
            nonlocal found
            data = self._leaf_hidden(leaf, now_ts, start)
            found = found or bool(data)
            return data

        out = self._join(part)
        return out if found else 0

    def _leaf_hidden(self, leaf: _Leaf, now_ts: int, start: int) -> bytes:
        key = (leaf.info.id, "__hidden__", start)
        cached = _SEG_BITS.get(key)
        if cached is not None and cached[0] <= now_ts < cached[1]:
            return cached[2]
        reader, seg, until = leaf.reader, 0, NO_END
        show, hide = reader.schema["show_from"], reader.schema["hide_at"]
        for fname, tbytes in reader.terms_from("show_from", now_ts + 1):
            if fname != "show_from" or tbytes[:1] != b"\x00":
                break
            until = min(until, show.from_bytes(tbytes))
            seg |= int.from_bytes(self._leaf_term(leaf, "show_from", tbytes), "little")
        limit = hide.to_bytes(now_ts)
        for fname, tbytes in reader.terms_from("hide_at", start):
            if fname != "hide_at" or tbytes[:1] != b"\x00":
                break
            if tbytes > limit:
                until = min(until, hide.from_bytes(tbytes))
                break
            seg |= int.from_bytes(self._leaf_term(leaf, "hide_at", tbytes), "little")
        data = seg.to_bytes(leaf.info.nbytes, "little") if seg else b""
        _SEG_BITS.put(key, (now_ts, until, data), len(data) + 64)
        return data

    def values(self, fieldname: str) -> list[str]:
        """Every term of a facet field (cached per immutable segment)."""
        out = set()
        for leaf in self.leaves:
            key = (leaf.info.id, fieldname)
            with _cache_lock:
                vals = _VALUES.get(key)
            if vals is None:
                vals = [v.decode() if isinstance(v, bytes) else str(v) for v in leaf.reader.lexicon(fieldname)]
                with _cache_lock:
                    _VALUES[key] = vals
                    while len(_VALUES) > _INFO_MAX * len(FACETS):
                        _VALUES.popitem(last=False)
            out.update(vals)
        return sorted(out)

    def _locate(self, slots):
        """(leaf, local docnum) of each slot."""
        starts, leaves = self._starts, self.leaves
        for s in slots:
            leaf = leaves[bisect_right(starts, s) - 1]
            yield s, leaf, leaf.info.order[s - leaf.start * 8]

    def docnums(self, slots: list[int]) -> list[int]:
        """Whoosh docnums (for stored fields) of slots."""
        return [leaf.offset + local for _s, leaf, local in self._locate(slots)]

    def keys_for(self, slots: list[int]) -> dict[int, str]:
        """The `key` ("kind:id") of each slot, from the `ref` column (cached per segment; stored
        fields would cost a decode per document)."""
        out = {}
        for s, leaf, local in self._locate(slots):
            ref = leaf.info.refs(leaf.reader)[local]
            out[s] = f"{KINDS[ref >> REF_SHIFT]}:{ref & REF_MASK}"
        return out

    def newest(self, bits: int, count: int, skip: int = 0) -> list[int]:
        """Up to `count` slots of `bits`, newest first (ties: Whoosh docnum), after skipping `skip`.

        Within a segment slots are in date order, so each segment's set bits, found by scanning
        its bytes, come newest first: a merge of one such stream per segment yields the answer
        after skip + count + (number of segments) steps, whatever the size of the match."""
        want = skip + count
        if want <= 0 or not bits:
            return []
        data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
        end = len(data)
        streams = [self._stream(data, leaf, end) for leaf in self.leaves if leaf.start < end]
        return [slot for _d, _doc, slot in islice(heapq.merge(*streams), skip, want)]

    @staticmethod
    def _stream(data: bytes, leaf: _Leaf, end: int):
        """(-date, docnum, slot) of a segment's set bits, newest first."""
        info, base = leaf.info, leaf.start * 8
        rdates, order, offset = info.rdates, info.order, leaf.offset
        for m in _NONZERO.finditer(data, leaf.start, min(leaf.start + info.nbytes, end)):
            i = m.start()
            byte = data[i]
            while byte:
                low = byte & -byte
                r = i * 8 + low.bit_length() - 1 - base
                yield -rdates[r], offset + order[r], base + r
                byte ^= low


@dataclass
class IndexAnswer:
    """What the index alone says about a query (before the database re-check)."""

    total: int
    stored: list[dict]
    counts: dict[str, dict[str, int]]
    exact: bool
    matched: int = 0  # the bitset (slots) of every matching document
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


# A code query of at least this many characters whose trigram matches are at most this many is
# checked for the code itself (contiguous) in each match's stored title and subtitle.
CONTIGUOUS_MIN_LENGTH = 6
CONTIGUOUS_MAX_CHECKED = 200


def contiguous_bits(searcher, b: "Bits", code_bits: int, code: str) -> int:
    """The slots of `code_bits` whose title or subtitle (where an entity shows its USCC, a task or
    item its code, a penalty its 文号) holds `code` itself. Code matching is by trigrams, all of which
    must be present but in any order and place: `MA0004914` also matches `…MA0004913…` whose USCC
    begins `914…`. Ranking the real occurrences first puts the entity whose USCC holds the typed
    piece before neighbours with more publications. Checked only for a long code with few matches
    (a stored-field read per match)."""
    if len(code) < CONTIGUOUS_MIN_LENGTH or not code_bits or code_bits.bit_count() > CONTIGUOUS_MAX_CHECKED:
        return 0
    slots = positions(code_bits)
    found = 0
    for slot, docnum in zip(slots, b.docnums(slots)):
        stored = searcher.stored_fields(docnum)
        if code in norm_code(f"{stored.get('title', '')} {stored.get('subtitle', '')}"):
            found |= 1 << slot
    return found


def search_index(searcher, q: str, *, filters: dict, sort: str, page: int, per_page: int, now: datetime,
                 facets: bool = True, purged_until: int = 0, kinds: tuple[str, ...] = ()) -> IndexAnswer | None:
    """Run a query against an open Whoosh searcher (no Flask, no database: the benchmark uses it too).
    `kinds`: only documents of these kinds (a search's feed: publications, not entities or items)."""
    terms = query_terms(q)
    if not terms and not filters:
        return None
    b = Bits(searcher, purged_until)
    visible = b.live & ~b.hidden(now)
    for name, value in filters.items():
        visible &= b.term(name, str(value))
    if kinds:
        of_kinds = 0
        for kind in kinds:
            of_kinds |= b.term("kind", kind)
        visible &= of_kinds
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
        slots = b.newest(matched, want, skip)
    else:
        exact_bits = b.term("exact", exact_key(q)) & matched
        published = b.term("published", "1")
        rest = matched & ~exact_bits
        tiers = [exact_bits]
        contiguous = contiguous_bits(searcher, b, code_bits & rest, code) if code else 0
        code_bits &= ~contiguous
        for base in (contiguous & rest, code_bits & rest, title_bits & rest & ~code_bits & ~contiguous,
                     rest & ~title_bits & ~code_bits & ~contiguous):
            tiers += [base & published, base & ~published]
        slots = []
        for tier in tiers:
            size = tier.bit_count()
            if skip >= size:
                skip -= size
                continue
            part = b.newest(tier, want, skip)
            slots += part
            want -= len(part)
            skip = 0
            if want <= 0:
                break
    stored = [searcher.stored_fields(d) for d in b.docnums(slots)]
    counts = facet_counts(b, matched) if facets else {}
    return IndexAnswer(total, stored, counts, exact, matched, b)


def facet_counts(b: Bits, matched: int) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    if not matched:
        return counts
    for name in FACETS:
        for value in b.values(name):
            if value:
                c = (matched & b.raw_term(name, value)).bit_count()  # matched ⊆ live
                if c:
                    counts[name][value] = c
    return counts


