"""Search over an index of many segments (as a province's rebuild writes it): the newest-first
order, paging, totals and facet counts stay exact across segments, after updates (deletions and
new segments) and when the engine's bitset caches are too small to keep anything."""
import random
from datetime import datetime, timedelta, timezone

import pytest

import factories as f
from portal import journal, search
from portal.database import write_transaction
from portal.extensions import db as _db
from portal.models import Entity
from portal.search import engine, syncing

NOW = "2026-01-10T02:00:00+00:00"
BASE = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def segmented(app, db, tmp_path, set_now, monkeypatch):
    """40 entities named 鑫达食品NN号店 written 4 to a segment (10 segments), their registration dates
    shuffled so that every segment holds old and new ones; every third one is in section H."""
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    set_now(NOW)
    monkeypatch.setattr(syncing, "BUILD_CHUNK", 4)
    days = list(range(40))
    random.Random(12).shuffle(days)
    ents = [f.entity(name=f"民权县鑫达食品{i:02d}号店", industry="H62" if i % 3 == 0 else "F52",
                     created_at=BASE + timedelta(days=day)) for i, day in enumerate(days)]
    f.entity(name="睢县绿源农民专业合作社", created_at=BASE + timedelta(days=100))  # not a match
    db.session.commit()
    engine.clear_caches()
    search.rebuild()
    with search.open_index().searcher() as s:
        assert len(s.leaf_searchers()) >= 10  # the point of this fixture
    newest_first = sorted(ents, key=lambda e: e.created_at, reverse=True)
    return [e.name for e in newest_first]


def titles(client, url):
    data = client.get(url).get_json()
    return data, [item["title"] for item in data["items"]]


def facet(data, name):
    return {v["value"]: v["count"] for v in data["facets"][name]}


def test_newest_first_across_segments_page_by_page(segmented, client):
    seen = []
    for page in (1, 2, 3, 4, 5, 6):
        data, page_titles = titles(client, f"/search.json?q=鑫达&sort=date&per_page=7&page={page}")
        assert data["total"] == 40
        seen += page_titles
    assert seen == segmented  # every match once, newest first, across 10 segments


def test_relevance_tiers_then_newest_across_segments(segmented, client):
    exact = segmented[17]
    data, page_titles = titles(client, f"/search.json?q={exact}&per_page=5")
    assert page_titles[0] == exact  # the exact title first
    data, page_titles = titles(client, "/search.json?q=食品&per_page=40")
    assert data["total"] == 40 and page_titles == segmented  # one tier: newest first


def test_totals_and_facets_count_every_segment(segmented, client):
    data, _ = titles(client, "/search.json?q=食品")
    assert data["total"] == 40
    assert facet(data, "kind") == {"entity": 40}
    assert facet(data, "industry") == {"F": 26, "H": 14}
    data, page_titles = titles(client, "/search.json?q=食品&industry=H&sort=date&per_page=50")
    assert data["total"] == 14 and len(page_titles) == 14
    assert page_titles == [t for t in segmented if int(t[-4:-2]) % 3 == 0]


def test_updates_in_new_segments_keep_answers_exact(segmented, client):
    renamed = segmented[5]
    with write_transaction():
        ent = _db.session.execute(_db.select(Entity).where(Entity.name == renamed)).scalar_one()
        ent.name = "民权县新名字超市"
        ent.created_at = BASE + timedelta(days=400)  # now the newest
        journal.record("update", "entity", ent.id)
        new = f.entity(name="民权县鑫达食品99号店", industry="H62", created_at=BASE - timedelta(days=1))  # the oldest
        journal.record("create", "entity", new.id)
    search.sync()
    data, page_titles = titles(client, "/search.json?q=鑫达&sort=date&per_page=50")
    assert data["total"] == 40
    assert page_titles == [t for t in segmented if t != renamed] + ["民权县鑫达食品99号店"]
    assert facet(data, "industry") == ({"F": 25, "H": 15} if int(renamed[-4:-2]) % 3 else {"F": 26, "H": 14})
    data, page_titles = titles(client, "/search.json?q=民权&sort=date&per_page=1")
    assert page_titles == ["民权县新名字超市"]


def test_answers_do_not_depend_on_the_cache_budgets(segmented, client, monkeypatch):
    before = [titles(client, f"/search.json?q=食品&sort=date&per_page=9&page={p}") for p in (1, 3, 5)]
    monkeypatch.setattr(engine._SEG_BITS, "budget", 1)
    monkeypatch.setattr(engine._VIEW_BITS, "budget", 1)
    engine.clear_caches()
    after = [titles(client, f"/search.json?q=食品&sort=date&per_page=9&page={p}") for p in (1, 3, 5)]
    assert after == before
    assert len(engine._VIEW_BITS.items) <= 1 and len(engine._SEG_BITS.items) <= 1


def test_public_windows_follow_the_clock_without_the_database(tmp_path):
    """The engine's own window check (before any database re-check): what a query sees at each
    moment, the clock moving forward past each boundary and back again, on one open index."""
    from portal.search import store

    ix = store.create(tmp_path)
    windows = {"a": (100, store.NEVER), "b": (0, 200), "c": (300, 400)}
    for chunk in (["a"], ["b", "c"]):  # two segments
        w = ix.writer()
        for name in chunk:
            start, end = windows[name]
            w.add_document(key=f"entity:{ord(name)}", kind="entity", rid=ord(name), title=name, tgrams=name,
                           bgrams="", date=start, show_from=start, hide_at=end, published="1")
        w.commit(merge=False)
    engine.clear_caches()

    def seen(moment):
        now = datetime.fromtimestamp(moment, timezone.utc)
        with ix.searcher() as s:
            answer = engine.search_index(s, "", filters={"kind": "entity"}, sort="date", page=1, per_page=10,
                                         now=now, facets=False)
        return [f["title"] for f in answer.stored]

    assert [seen(t) for t in (50, 99, 100, 199, 200, 299, 300, 399, 400, 150, 350, 50)] == [
        ["b"], ["b"], ["a", "b"], ["a", "b"], ["a"], ["a"], ["c", "a"], ["c", "a"], ["a"], ["a", "b"], ["c", "a"],
        ["b"]]


def _gunicorn_hook():
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))["post_worker_init"]


class _Worker:
    """What gunicorn's post_worker_init hook gets: the loaded app and the heartbeat."""

    def __init__(self, app):
        self.wsgi = app
        self.beats = 0

    def notify(self):
        self.beats += 1


@pytest.fixture
def unfreeze():
    """The hook ends with gc.freeze(), for the rest of a worker's life: not for the test session's."""
    import gc

    yield gc
    gc.unfreeze()


def test_a_new_worker_loads_the_index_before_its_first_search(segmented, app, client, caplog, unfreeze):
    """gunicorn.conf.py's post_worker_init warms the search engine (segment columns, facet and
    common-term bitsets) in the worker, with heartbeats; the answers are the ones a cold worker
    gives. Then what the worker holds is frozen out of the garbage collector's full passes."""
    cold = client.get("/search.json?q=鑫达食品&per_page=50").get_json()
    engine.clear_caches()
    worker = _Worker(app)
    unfreeze.unfreeze()
    with caplog.at_level("INFO", logger="portal.search.api"):
        _gunicorn_hook()(worker)
    assert "search index warmed" in caplog.text
    assert worker.beats >= 2
    assert len(engine._INFOS) >= 10  # every segment's columns were read before any request
    assert unfreeze.get_freeze_count() > 0
    assert client.get("/search.json?q=鑫达食品&per_page=50").get_json() == cold


def test_warming_never_builds_an_index_nor_fails_the_worker(app, db, tmp_path, caplog, unfreeze):
    app.config["SEARCH_INDEX_DIR"] = str(tmp_path / "none-yet")
    _gunicorn_hook()(_Worker(app))
    assert not (tmp_path / "none-yet").exists() or not any((tmp_path / "none-yet").glob("gen-*"))
    broken = tmp_path / "broken"
    (broken / "gen-1").mkdir(parents=True)
    (broken / "CURRENT").write_text("gen-1")
    from portal.search import store
    (broken / "gen-1" / "SCHEMA").write_text(store.SCHEMA_VERSION)  # current, but no Whoosh files
    app.config["SEARCH_INDEX_DIR"] = str(broken)
    with caplog.at_level("ERROR", logger="portal.search.api"):
        _gunicorn_hook()(_Worker(app))  # logs, does not raise
    assert "warm-up failed" in caplog.text
    app.config["SEARCH_WARM_ON_START"] = False
    caplog.clear()
    _gunicorn_hook()(_Worker(app))
    assert "warm" not in caplog.text
