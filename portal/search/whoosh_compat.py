"""The only places the search package reaches below Whoosh's public API (Whoosh 2.7.4).

tests/test_search_whoosh_compat.py pins them against a real index, so an upgrade that
changes them fails there with a clear message instead of returning wrong answers.

1. `raw_postings`: the document numbers of a term in one segment *including deleted
   documents*. A segment's postings never change, its deletions do; the query engine caches
   postings bitsets per segment and masks deletions itself (public `reader.postings()` filters
   deletions, which would make every cached bitset stale after each sync). The ids are read a
   block at a time (the W3 leaf matcher's `_read_ids` / `_ids` / `_next_block`): the public
   `all_ids()` costs several Python calls per posting, minutes of CPU over a million-document
   index's facet terms. Other matchers (e.g. inlined postings) go the public way.
2. `column_values`: a segment's fixed-width numeric column read in one slice (the public
   `column_reader()` unpacks one value at a time: seconds at a million documents). Falls back
   to the public reader if the layout is not the expected one.
3. `BulkWriter`: Whoosh's `SegmentWriter` with the postings kept per term instead of one
   5-tuple per posting, and written a block at a time. The stock writer sorts every posting as a
   tuple, then, for each one, looks up the document's field length (a column read: used only by
   BM25 block statistics, which the query engine never reads) and calls the postings writer with
   type asserts: about 60 % of a rebuild's writing time. The files are Whoosh's own W3 format
   (same postings, weights, values, stored fields and columns: pinned by
   tests/test_search_whoosh_compat.py), so any Whoosh reader opens them; only the per-block
   length statistics are left at 0, as Whoosh itself writes them without length stats. It sets
   the W3 postings writer's block buffer (`_ids`, `_weights`, `_values`, `_maxweight`,
   `_minlength`, `_maxlength`, `_blocklimit`, `_write_block`) as its `add_posting` does.
"""
from __future__ import annotations

import sys
from array import array

from whoosh.reading import SegmentReader, TermNotFound
from whoosh.writing import SegmentWriter

WHOOSH_VERSION = (2, 7, 4)


def is_segment(reader) -> bool:
    """A reader over one real segment (an empty index has an EmptyReader)."""
    return isinstance(reader, SegmentReader)


def raw_postings(reader, fieldname: str, text) -> list[int]:
    """Docnums of a term in one segment, deleted documents included ([] if absent)."""
    field = reader.schema[fieldname]
    tbytes = text if isinstance(text, bytes) else field.to_bytes(text)
    try:
        matcher = reader._terms.matcher(fieldname, tbytes, field.format, scorer=None)
    except (KeyError, TermNotFound):
        return []
    if not all(hasattr(matcher, name) for name in ("is_active", "_read_ids", "_next_block")):
        return list(matcher.all_ids())
    out: list[int] = []
    while matcher.is_active():
        matcher._read_ids()
        out.extend(matcher._ids)
        matcher._next_block()
    return out


def column_values(reader, fieldname: str) -> list[int]:
    """Every value of a sortable numeric column of one segment, by docnum."""
    n = reader.doc_count_all()
    col = reader.column_reader(fieldname, translate=False)
    try:
        raw = col._dbfile.get(col._basepos, col._fixedlen * col._count)
        values = array(col._typecode, raw)
        if sys.byteorder == "little":
            values.byteswap()  # whoosh writes columns big-endian
        out = values.tolist()
        return out + [col._default] * (n - len(out))
    except AttributeError:  # another column layout: the slow, public way
        return list(col)


class _TermPool:
    """Postings grouped by field and term, in the order they arrive (the writer adds documents,
    then merged segments, with ascending document numbers). Stands in for Whoosh's PostingPool
    (`add`, `cleanup`, `fieldnames`). Memory: about 16 bytes a posting plus one entry per
    distinct term, so a writer's batch must stay bounded (the rebuild commits every
    syncing.BUILD_CHUNK documents, a sync every syncing.BATCH changes)."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, list]] = {}
        self.fieldnames: set[str] = set()

    def add(self, item):
        fieldname, tbytes, docnum, weight, vbytes = item
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        entry = terms.get(tbytes)
        if entry is None:
            terms[tbytes] = (array("I", (docnum,)), array("f", (weight,)), [vbytes])
        else:
            entry[0].append(docnum)
            entry[1].append(weight)
            entry[2].append(vbytes)

    def cleanup(self):
        self.fields.clear()


class BulkWriter(SegmentWriter):
    """A SegmentWriter (same arguments: lock `timeout`; `limitmb` is not used) that writes
    postings a block at a time; see the module's docstring, item 3."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        self.pool = _TermPool()

    def iter_postings(self):
        for fieldname in sorted(self.pool.fields):
            terms = self.pool.fields[fieldname]
            for tbytes in sorted(terms):
                yield from ((fieldname, tbytes) + posting for posting in zip(*terms[tbytes]))

    def _flush_segment(self):
        self.perdocwriter.close()
        fw, schema = self.fieldwriter, self.schema
        for fieldname in sorted(self.pool.fields):
            terms = self.pool.fields[fieldname]
            if not terms:
                continue
            fw.start_field(fieldname, schema[fieldname])
            for tbytes in sorted(terms):
                ids, weights, values = terms[tbytes]
                if list(ids) != sorted(ids):  # never expected: keep Whoosh's order rule anyway
                    order = sorted(range(len(ids)), key=ids.__getitem__)
                    ids = array("I", map(ids.__getitem__, order))
                    weights = array("f", map(weights.__getitem__, order))
                    values = [values[i] for i in order]
                fw.start_term(tbytes)
                self._write_term(fw._postwriter, ids, weights, values)
                fw.finish_term()
            fw.finish_field()
        fw.close()
        self.pool.cleanup()

    @staticmethod
    def _write_term(pw, ids, weights, values):
        """Fill the W3 postings writer's block buffer a block at a time (what its add_posting does
        one posting at a time, without field lengths); finish_term writes the last block."""
        n, limit = len(ids), pw._blocklimit
        for start in range(0, n, limit):
            end = min(start + limit, n)
            if start:
                pw._write_block()
            pw._ids = ids[start:end]
            pw._weights = weights[start:end]
            pw._values = [v for v in values[start:end] if v]  # add_posting keeps non-empty values only
            top = max(pw._weights)
            pw._maxweight = top if top > 0 else 0
            pw._minlength = None
            pw._maxlength = 0
