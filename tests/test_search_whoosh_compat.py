"""Pins every use of Whoosh internals by portal.search (see portal/search/whoosh_compat.py).

If a Whoosh upgrade changes one of them, this fails here, naming it, instead of search
silently returning wrong answers.
"""
import whoosh
from whoosh import fields

from portal.search import store, whoosh_compat
from portal.search.engine import Bits, positions


def _index(tmp_path):
    ix = store.create(tmp_path)
    w = ix.writer()
    for i, title in enumerate(["鑫达食品", "华润超市", "鑫达商行"]):
        w.add_document(key=f"entity:{i}", kind="entity", rid=i, title=title, tgrams=title, bgrams="", date=100 + i,
                       show_from=0, hide_at=store.NEVER, published="1")
    w.commit()
    w = ix.writer()
    w.delete_by_term("key", "entity:2")
    w.commit()
    return ix


def test_whoosh_version_is_the_pinned_one():
    assert whoosh.__version__[:3] == whoosh_compat.WHOOSH_VERSION, \
        "Whoosh changed: re-check portal/search/whoosh_compat.py against the new internals"


def test_raw_postings_include_deleted_documents(tmp_path):
    ix = _index(tmp_path)
    with ix.reader() as reader:
        assert whoosh_compat.is_segment(reader)
        # SegmentReader._terms.matcher(fieldname, bytes, format, scorer=None).all_ids()
        assert hasattr(reader, "_terms") and hasattr(reader._terms, "matcher")
        assert whoosh_compat.raw_postings(reader, "tgrams", "鑫达") == [0, 2]  # 2 is deleted, still listed
        assert whoosh_compat.raw_postings(reader, "tgrams", "没有") == []
        assert sorted(reader.segment().deleted_docs()) == [2]  # public Segment API, used for the live mask


def test_raw_postings_read_block_by_block(tmp_path):
    ix = store.create(tmp_path)
    w = ix.writer()
    for i in range(700):  # several posting blocks (Whoosh writes 128 postings a block)
        w.add_document(key=f"entity:{i}", kind="entity", rid=i, title="x", tgrams="鑫达" if i % 3 else "华润",
                       bgrams="", date=i, show_from=0, hide_at=store.NEVER, published="1")
    w.commit()
    with ix.reader() as reader:
        tbytes = reader.schema["tgrams"].to_bytes("鑫达")
        matcher = reader._terms.matcher("tgrams", tbytes, reader.schema["tgrams"].format, scorer=None)
        for name in ("is_active", "_read_ids", "_ids", "_next_block"):
            assert hasattr(matcher, name), f"whoosh leaf matcher lost {name}"
        slow = list(matcher.all_ids())
        assert whoosh_compat.raw_postings(reader, "tgrams", "鑫达") == slow == [i for i in range(700) if i % 3]


def test_column_values_read_in_one_slice(tmp_path):
    ix = _index(tmp_path)
    with ix.reader() as reader:
        col = reader.column_reader("date", translate=False)
        for name in ("_dbfile", "_basepos", "_fixedlen", "_count", "_typecode", "_default"):
            assert hasattr(col, name), f"whoosh column reader lost {name}"
        fast = whoosh_compat.column_values(reader, "date")
        assert fast == list(reader.column_reader("date", translate=False))  # same as the slow public way
        assert fast == sorted(fast) and len(fast) == 3


def test_public_apis_the_engine_relies_on(tmp_path):
    ix = _index(tmp_path)
    with ix.searcher() as s:
        b = Bits(s)
        # Bits number documents by date rank (newest first): docs 0, 1, 2 (dates 100-102) are slots 2, 1, 0.
        assert b.docnums(positions(b.live)) == [1, 0]  # 2 is deleted
        assert b.docnums(positions(b.term("tgrams", "鑫达"))) == [0]
        assert b.docnums(b.newest(b.live, 5)) == [1, 0]
        # terms_from on a numeric field takes the number and yields (field, full-precision bytes) first.
        reader = s.reader()
        first = next(iter(reader.terms_from("hide_at", 0)))
        assert first[0] == "hide_at" and first[1][:1] == b"\x00"
        assert isinstance(reader.schema["hide_at"], fields.NUMERIC)
