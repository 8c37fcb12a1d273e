"""Search index speed on the ~100,000-result data set: full rebuild, change-log sync, empty sync.

    .venv/bin/python -m bench.index [--instance DIR] [--procs N] [--profile] [--changes N]

- rebuild: every public record → documents → Whoosh, as `flask search rebuild --procs N` does
  (N writer processes, default 1 like SEARCH_BUILD_PROCS: one BulkWriter beats Whoosh's
  multi-process writer); prints documents per second of wall clock and of CPU (this process and
  its children). Target: ≥ 1,000.
- sync: N changes appended to the change log (results re-journalled, as an upload does), then
  applied by `search.sync()`; documents per second.
- empty sync: a sync with nothing to apply (ended publicity windows are purged once, not on
  every sync, so this stays near zero however many have ended).
--profile prints cProfile's top functions of the rebuild (where the time goes).
Numbers only; no assertions. The index is built in a temporary folder, never the instance's.
"""
import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, make_app, table

TARGET_DOCS_PER_SECOND = 1000


def run(instance: Path, procs: int | None = None, profile: bool = False, changes: int = 2000) -> dict:
    from bench.generate import generate, is_generated

    if not is_generated(instance):
        print(f"generating the data set into {instance} (once; reused afterwards) …", flush=True)
        generate(instance, force=True)
    procs = procs or 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-index-"))
    app = make_app(instance)
    app.config.update(SEARCH_INDEX_DIR=str(workdir / "search-index"), SEARCH_BUILD_PROCS=procs)
    rows = []
    out = {}
    try:
        with app.app_context():
            from sqlalchemy import func, select

            from portal import search
            from portal.database import write_transaction
            from portal.extensions import db
            from portal.models import Result, SearchChange

            prof = cProfile.Profile() if profile else None
            if prof:
                prof.enable()
            info = search.rebuild()
            if prof:
                prof.disable()
            out["rebuild"] = info
            rows.append(("rebuild (all public records)", f"{info['written']:,}", f"{info['build_seconds']:.1f}",
                         f"{info['docs_per_second']:,}", f"{info['docs_per_cpu_second']:,}"))
            # An upload's worth of changes: re-journal results (the log is what sync reads).
            ids = db.session.execute(select(Result.id).order_by(Result.id.desc()).limit(changes)).scalars().all()
            first_new = (db.session.execute(select(func.max(SearchChange.id))).scalar() or 0) + 1
            with write_transaction():
                for rid in ids:
                    db.session.add(SearchChange(record_kind="result", record_id=rid))
            db.session.remove()
            started, cpu = time.monotonic(), time.process_time()
            applied = search.sync()
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
            docs = applied * 3  # each result change re-writes the result, its task and its entity
            rows.append((f"sync of {applied:,} result changes", f"{docs:,}", f"{elapsed:.1f}",
                         f"{docs / elapsed:,.0f}", f"{docs / cpu:,.0f}"))
            out["sync"] = (applied, elapsed)
            started = time.monotonic()
            search.sync()
            empty = time.monotonic() - started
            rows.append(("empty sync (nothing pending)", "0", f"{empty:.2f}", "", ""))
            out["empty_sync"] = empty
            with write_transaction():  # leave the data set as it was
                db.session.execute(SearchChange.__table__.delete().where(SearchChange.id >= first_new))
            db.session.remove()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"search index on {instance} ({procs} writer process{'es' if procs > 1 else ''}); "
          f"target ≥ {TARGET_DOCS_PER_SECOND:,} documents/s\n")
    print(table(["what", "documents", "seconds", "docs/s (wall)", "docs/s (CPU)"], rows))
    if profile:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
        print("\nwhere the rebuild's time goes (cProfile, by own time):")
        print("\n".join(buf.getvalue().splitlines()[:40]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--procs", type=int, default=1,
                        help="writer processes of the rebuild (`search rebuild --procs`; default 1)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--changes", type=int, default=2000)
    args = parser.parse_args(argv)
    run(args.instance, args.procs, args.profile, args.changes)


if __name__ == "__main__":
    main()
