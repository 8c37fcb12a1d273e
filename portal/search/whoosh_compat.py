"""The only two places the search package reaches below Whoosh's public API (Whoosh 2.7.4).

tests/test_search_whoosh_compat.py pins both against a real index, so an upgrade that
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
"""
from __future__ import annotations

import sys
from array import array

from whoosh.reading import SegmentReader, TermNotFound

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
