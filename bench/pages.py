"""Page benchmark: server time of the main public pages on ~100,000 results.

    .venv/bin/python -m bench.pages [--instance DIR] [--repeat 30] [--no-exports] [--only feed]
    .venv/bin/python -m bench.pages --profile /results [--repeat 200] [--sort cumtime] [--htmx]

Starts nothing external: requests go through Flask's test client against the SQLite
data set made by bench/generate.py (generated first if missing). For each page it
prints p50/p95/max server time (wall clock, and the process CPU time, which stays fair
on a busy machine) over --repeat requests after two warm-up requests, the SQL part of that
time and the number of SQL statements per request (SQLAlchemy event hooks), the cost of a 304
(a conditional request with the page's own ETag; issue 12 item 3: ≤ 2 ms CPU) and the ratio of
page CPU to SQL time (target ≤ 3×),
and for the CSV export of every result: time, bytes, rows and the peak Python heap
while streaming (constant memory means the peak does not grow with the row count).
Numbers only; no assertions.
"""
import argparse
from datetime import datetime
import os
import time
import tracemalloc
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, as_a_worker, ensure_indexes, make_app, median, percentile, table

TARGET_P95_MS = 50.0
TARGET_CPU_PER_SQL = 3.0  # issue 12 item 3: a page's CPU at most 3x its SQL time
TARGET_304_CPU_MS = 2.0


def search_index_ready(app) -> bool:
    """A live index generation exists (store's layout: CURRENT names it); never built here."""
    from portal.search import store

    return store.current_gen(Path(app.config["SEARCH_INDEX_DIR"])) is not None


def company_name(app, uscc: str) -> str:
    from urllib.parse import quote

    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Entity

    with app.app_context():
        name = db.session.execute(select(Entity.name).where(Entity.uscc == uscc)).scalar()
        db.session.remove()
    return quote(name)


def pick_targets(app):
    """A busy department/year and the entity with the most public records."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Department, Penalty, Result

    with app.app_context():
        dept_id, year, _n = db.session.execute(
            select(Result.department_id, func.strftime("%Y", Result.formed_date), func.count())
            .group_by(Result.department_id, func.strftime("%Y", Result.formed_date))
            .order_by(func.count().desc()).limit(1)).one()
        dept = db.session.get(Department, dept_id).code
        entity_id = db.session.execute(
            select(Result.entity_id).group_by(Result.entity_id).order_by(func.count().desc()).limit(1)).scalar()
        busiest_penalised = db.session.execute(
            select(Penalty.entity_id).where(Penalty.entity_id.is_not(None)).group_by(Penalty.entity_id)
            .order_by(func.count().desc()).limit(1)).scalar()
        from portal.models import Entity
        uscc = db.session.get(Entity, entity_id).uscc
        uscc2 = db.session.get(Entity, busiest_penalised).uscc
        db.session.remove()
    return dept, int(year), uscc, uscc2


class SqlMeter:
    """Statements and time spent in the database driver, from SQLAlchemy's cursor events."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.statements = 0
        self.seconds = 0.0
        self._started = None
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args):
        self._started = time.perf_counter()

    def _after(self, *_args):
        self.statements += 1
        self.seconds += time.perf_counter() - self._started

    def reset(self):
        self.statements, self.seconds = 0, 0.0


def time_get(client, url, repeat, meter=None, headers=None):
    for _ in range(2):
        response = client.get(url, headers=headers)
        response.close()
    times, cpu, sql, statements, status, size = [], [], [], [], None, 0
    for _ in range(repeat):
        if meter is not None:
            meter.reset()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if meter is not None:
            sql.append(meter.seconds * 1000)
            statements.append(meter.statements)
        status, size = response.status_code, len(body)
        response.close()
    if meter is None:
        return times, cpu, status, size
    return times, cpu, status, size, sql, statements


def time_csv(client, url, runs=1):
    times, cpu, size, rows, status = [], [], 0, 0, None
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url, buffered=False)
        size = rows = 0
        for chunk in response.response:
            size += len(chunk)
            rows += chunk.count(b"\n")
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        status = response.status_code
        response.close()
    tracemalloc.start()
    response = client.get(url, buffered=False)
    for _chunk in response.response:
        pass
    response.close()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return times, cpu, status, size, rows, peak


def run(instance: Path, repeat: int = 30, exports: bool = True, only: str | None = None) -> list[tuple]:
    from bench.generate import generate, is_generated

    if not is_generated(instance):
        print(f"generating the data set into {instance} (once; reused afterwards) …", flush=True)
        generate(instance, force=True)
    app = make_app(instance)
    for name in ensure_indexes(app):
        print(f"(created index {name}: the data set predates it)")
    dept, year, uscc, uscc2 = pick_targets(app)
    with app.app_context():
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models import Result
        total = db.session.execute(select(func.count(Result.id))).scalar()
        from portal.models import Penalty
        from portal.visibility_sql import public_clause
        now = datetime.fromisoformat(app.config["FIXED_NOW"])
        result_id = db.session.execute(select(Result.id).where(public_clause("result", now))
                                       .order_by(Result.id.desc()).limit(1)).scalar()
        penalty_id = db.session.execute(select(Penalty.id).where(public_clause("penalty", now))
                                        .order_by(Penalty.id.desc()).limit(1)).scalar()
        from portal.models import Draw, Plan, Task
        plan_id = db.session.execute(select(Plan.id).where(public_clause("plan", now))
                                     .order_by(Plan.id.desc()).limit(1)).scalar()
        # The latest performed public draw and its task (~120 drawn entities on the 100k set).
        draw_id, task_code = db.session.execute(
            select(Draw.id, Task.code).join(Task, Draw.task_id == Task.id)
            .where(public_clause("draw", now), Draw.drawn_at.is_not(None)).order_by(Draw.id.desc()).limit(1)).one()
        db.session.remove()
    print(f"data set: {instance} ({total:,} results); now = {app.config['FIXED_NOW']}; {repeat} requests per page\n")
    pages = [
        ("/results", "/results"),
        ("/results?page=50", "/results?page=50"),
        ("/penalties", "/penalties"),
        ("/plans", "/plans"),
        (f"/results?dept=…&year={year}", f"/results?dept={dept}&year={year}"),
        (f"/results?dept=…&year={year - 1}", f"/results?dept={dept}&year={year - 1}"),
        ("/results?conclusion=C05", "/results?conclusion=C05"),
        ("/results?region=411421", "/results?region=411421"),
        ("/tasks", "/tasks"),
        ("/tasks?kind=joint", "/tasks?kind=joint"),
        ("/items?year=2025", "/items?year=2025"),
        ("/sitemap.xml (index)", "/sitemap.xml"),
        ("/results.json", "/results.json"),
        ("/entities/<uscc> (most results)", f"/entities/{uscc}"),
        ("/entities/<uscc> (most penalties)", f"/entities/{uscc2}"),
        ("/", "/"),
        ("/results/<id>", f"/results/{result_id}"),
        ("/penalties/<id>", f"/penalties/{penalty_id}"),
        ("/plans/<id>", f"/plans/{plan_id}"),
        ("/tasks/<code> (drawn list)", f"/tasks/{task_code}"),
        ("/draws/<id> (certificate)", f"/draws/{draw_id}"),
    ]
    with app.app_context():
        from portal.extensions import db as _db
        meter = SqlMeter(_db.engine)
    pages.append(("/transparency", "/transparency"))  # the audit chain head and the fairness figures
    pages += [("/feeds/all.atom", "/feeds/all.atom"), ("/feeds/all.rss", "/feeds/all.rss"),
              ("/feeds/results.atom", "/feeds/results.atom"), ("/feeds/penalties.rss", "/feeds/penalties.rss"),
              ("/feeds/tasks.atom", "/feeds/tasks.atom"), ("/feeds/plans.atom", "/feeds/plans.atom"),
              (f"/feeds/results.atom?dept=…&year={year}", f"/feeds/results.atom?dept={dept}&year={year}"),
              (f"/feeds/results.atom?dept=…&year={year - 1}", f"/feeds/results.atom?dept={dept}&year={year - 1}"),
              ("/feeds/results.atom?dept=…", f"/feeds/results.atom?dept={dept}"),
              ("/entities/<uscc>/feed.atom", f"/entities/{uscc}/feed.atom"),
              ("/entities/<uscc2>/feed.atom", f"/entities/{uscc2}/feed.atom")]
    if search_index_ready(app):
        pages.append(("/feeds/all.atom?q=食品", "/feeds/all.atom?q=%E9%A3%9F%E5%93%81"))
    if search_index_ready(app):
        pages.append(("/search.json?q=<company name>", "/search.json?q=" + company_name(app, uscc)))
    else:
        print("(/search.json left out: no search index in this instance; `python -m bench.search` measures search)")
    as_a_worker(app)  # the search warm-up and gc.freeze() of a gunicorn worker (gunicorn.conf.py)
    if only:
        pages = [(label, url) for label, url in pages if only in label]
    rows = []
    client = app.test_client(use_cookies=False)
    etags = {}
    for label, url in pages:
        times, cpu, status, size, sql, statements = time_get(client, url, repeat, meter)
        p95 = percentile(times, 95)
        flag = "" if p95 <= TARGET_P95_MS else "  > 50 ms"
        ratio = median(cpu) / median(sql) if median(sql) else float("inf")
        if ratio > TARGET_CPU_PER_SQL:
            flag += f"  cpu > {TARGET_CPU_PER_SQL:g}x sql"
        rows.append((label, status, f"{median(times):.1f}", f"{p95:.1f}", f"{max(times):.1f}",
                     f"{median(cpu):.1f}", f"{percentile(cpu, 95):.1f}", f"{median(sql):.1f}", f"{ratio:.1f}",
                     f"{max(statements)}", f"{size:,}", flag))
        response = client.get(url)
        etags[label] = (url, response.headers.get("ETag"))
        response.close()
    print(table(["page", "status", "p50 ms", "p95 ms", "max ms", "cpu p50", "cpu p95", "sql p50", "cpu/sql",
                 "stmts", "bytes", ""], rows))
    print("(sql: time inside the database driver's execute per request; stmts: SQL statements per request)")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall times include waiting "
              "for the CPU; the cpu columns (process CPU time per request) are the fairer measure")
    conditional = []
    for label, (url, etag) in etags.items():
        if not etag or label.startswith("/search"):
            continue
        times, cpu, status, size, sql, statements = time_get(client, url, repeat, meter,
                                                             headers={"If-None-Match": etag})
        flag = "" if percentile(cpu, 95) <= TARGET_304_CPU_MS else f"  > {TARGET_304_CPU_MS:g} ms"
        conditional.append((label, status, f"{median(cpu):.2f}", f"{percentile(cpu, 95):.2f}", f"{median(sql):.2f}",
                            f"{max(statements)}", flag))
    print()
    if conditional:
        print(table(["conditional request (If-None-Match)", "status", "cpu p50", "cpu p95", "sql p50", "stmts", ""],
                    conditional))
    else:
        print("(no ETag on the pages: no conditional requests measured)")
    print()
    if not exports:
        return rows
    exports = []
    for label, url in (("/results.csv (all results)", "/results.csv"),
                       ("/sitemaps/results-1.xml (50,000 URLs)", "/sitemaps/results-1.xml"),
                       ("/sitemaps/entities-1.xml", "/sitemaps/entities-1.xml")):
        times, cpu, status, size, lines, peak = time_csv(client, url)
        exports.append((label, status, f"{min(times):.2f}", f"{min(cpu):.2f}", f"{lines / min(cpu):,.0f}",
                        f"{size:,}", f"{lines:,}", f"{peak / 1e6:.1f}"))
    print()
    print(table(["export", "status", "seconds", "cpu s", "rows/s (cpu)", "bytes", "lines", "peak heap MB"], exports))
    print("(peak heap: Python allocations traced during one full export; flat in the row count = streaming)")
    return rows


def profile(instance: Path, url: str, repeat: int = 200, sort: str = "tottime", limit: int = 40,
            headers=None) -> None:
    """cProfile of `repeat` requests for one URL (after two warm-up requests), top `limit` by `sort`."""
    import cProfile
    import pstats

    app = make_app(instance)
    client = app.test_client(use_cookies=False)
    for _ in range(2):
        client.get(url, headers=headers).close()
    profiler = cProfile.Profile()
    cpu_started = time.process_time()
    profiler.enable()
    for _ in range(repeat):
        response = client.get(url, headers=headers)
        response.get_data()
        response.close()
    profiler.disable()
    cpu = (time.process_time() - cpu_started) * 1000 / repeat
    print(f"{url}: {repeat} requests, {cpu:.2f} ms CPU each under the profiler (status {response.status_code})\n")
    pstats.Stats(profiler).sort_stats(sort).print_stats(limit)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-exports", action="store_true", help="pages only (skip the CSV and sitemap exports)")
    parser.add_argument("--only", metavar="TEXT", help="only the pages whose label contains TEXT (e.g. feed)")
    parser.add_argument("--profile", metavar="URL",
                        help="instead of the table: cProfile --repeat requests of URL (e.g. /results) and print "
                             "the top functions")
    parser.add_argument("--sort", default="tottime", help="with --profile: pstats sort key (tottime, cumtime…)")
    parser.add_argument("--limit", type=int, default=40, help="with --profile: how many functions to print")
    parser.add_argument("--htmx", action="store_true", help="with --profile: request the htmx fragment")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.instance, args.profile, args.repeat, args.sort, args.limit,
                headers={"HX-Request": "true"} if args.htmx else None)
        return
    run(args.instance, args.repeat, exports=not args.no_exports, only=args.only)


if __name__ == "__main__":
    main()
