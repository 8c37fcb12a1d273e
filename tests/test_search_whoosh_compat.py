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


# --- BulkWriter: the same index as Whoosh's own writer -----------------------------------------

def _documents(n=700):
    """Documents of every kind of field the schema has, with repeated and unique terms, several
    posting blocks for the common ones, empty fields and multi-valued keywords."""
    brands = ["鑫达", "华润", "永兴", "BULKBANK", "金源"]
    out = []
    for i in range(n):
        brand = brands[i % len(brands)]
        title = f"民权县{brand}食品有限公司第{i % 37}分店"
        out.append(dict(
            key=f"result:{i}", kind=("result", "entity", "penalty")[i % 3], rid=i, title=title,
            subtitle=f"检查结果 {i}", url=f"/results/{i}", text=f"经检查未发现问题 {i}", stamp=f"{i:016x}",
            tgrams=title, bgrams="经检查未发现问题；责令改正" if i % 4 else "", cgrams=f"91411421MA{i:08d}",
            codes=f"91411421MA{i:08d},民市监罚〔2026〕{i}号", exact=title, dept=f"D{i % 12:02d}",
            year=str(2020 + i % 7), conclusion=",".join(["C01", "C05"][: 1 + i % 2]), category="罚款,警告" if i % 5 == 0 else "",
            industry="CFI"[i % 3], published=str(i % 2), date=1_700_000_000 + (i * 7919) % 100_000,
            ref=(i % 6) << 40 | i, show_from=i % 50, hide_at=store.NEVER if i % 9 else 2_000_000_000))
    return out


def _build(tmp_path, name, writer_factory, docs, deletions=(), merge_batches=3):
    """Write `docs` in `merge_batches` commits (the later ones merging the small earlier
    segments, as sync does), then delete some and add one more batch (merged)."""
    (tmp_path / name).mkdir()
    ix = store.create(tmp_path / name)
    size = -(-len(docs) // merge_batches)
    for start in range(0, len(docs), size):
        w = writer_factory(ix)
        for doc in docs[start:start + size]:
            w.add_document(**doc)
        w.commit(merge=False)
    w = writer_factory(ix)
    for key in deletions:
        w.delete_by_term("key", key)
    for doc in _documents(40):
        w.add_document(**{**doc, "key": doc["key"] + "b", "rid": doc["rid"] + 10_000})
    w.commit(optimize=True)  # merges every segment: the add_reader path
    return ix


def _contents(ix):
    """Everything a reader can see: per field and term the postings (ids, weights, values),
    stored fields and columns by document."""
    out = {}
    with ix.reader() as reader:
        for fieldname, tbytes in reader.all_terms():
            m = reader.postings(fieldname, tbytes)
            postings = []
            while m.is_active():
                postings.append((m.id(), m.weight(), m.value()))
                m.next()
            out[(fieldname, tbytes)] = postings
        out["stored"] = list(reader.all_stored_fields())
        for name in ("date", "ref"):
            out[name] = list(reader.column_reader(name))
        out["count"] = (reader.doc_count(), reader.doc_count_all())
    return out


def test_bulk_writer_writes_what_whooshs_writer_writes(tmp_path):
    docs = _documents()
    deletions = [f"result:{i}" for i in range(0, 700, 11)]
    stock = _build(tmp_path, "stock", lambda ix: ix.writer(), docs, deletions)
    bulk = _build(tmp_path, "bulk", whoosh_compat.BulkWriter, docs, deletions)
    expected, got = _contents(stock), _contents(bulk)
    assert got.keys() == expected.keys()
    assert got == expected
    # Long postings span several blocks.
    assert max(len(v) for k, v in got.items() if isinstance(k, tuple)) > 300


def test_bulk_writer_answers_queries_as_before(tmp_path):
    """Same ids in the same order, totals and facet counts, for a set of queries."""
    from datetime import datetime, timezone

    from portal.search.engine import search_index

    docs = _documents()
    stock = _build(tmp_path, "stock", lambda ix: ix.writer(), docs, ["result:3"])
    bulk = _build(tmp_path, "bulk", whoosh_compat.BulkWriter, docs, ["result:3"])
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    queries = [("鑫达", {}), ("食品 分店", {}), ("民", {"kind": "entity"}), ("MA0000012", {}), ("问题", {"dept": "D03"}),
               ("〔2026〕40号", {}), ("bulk", {}), ("", {"year": "2024"}), ("永兴食品", {})]

    def answers(ix):
        out = []
        with ix.searcher() as s:
            for q, filters in queries:
                for sort in ("relevance", "date"):
                    a = search_index(s, q, filters=filters, sort=sort, page=1, per_page=50, now=now)
                    out.append((q, sort, a.total, [f["key"] for f in a.stored], a.counts))
        return out

    expected = answers(stock)
    assert any(total > 50 for _q, _s, total, _k, _c in expected)
    assert answers(bulk) == expected
