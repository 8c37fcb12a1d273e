"""Page benchmark: server time of the main public pages on ~100,000 results.

    .venv/bin/python -m bench.pages [--instance DIR] [--repeat 30]

Starts nothing external: requests go through Flask's test client against the SQLite
data set made by bench/generate.py (generated first if missing). For each page it
prints p50/p95/max server time (wall clock, and the process CPU time, which stays fair
on a busy machine) over --repeat requests after two warm-up requests,
and for the CSV export of every result: time, bytes, rows and the peak Python heap
while streaming (constant memory means the peak does not grow with the row count).
Numbers only; no assertions.
"""
import argparse
import os
import time
import tracemalloc
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, make_app, median, percentile, table

TARGET_P95_MS = 50.0


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


def time_get(client, url, repeat):
    for _ in range(2):
        response = client.get(url)
        response.close()
    times, cpu, status, size = [], [], None, 0
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        status, size = response.status_code, len(body)
        response.close()
    return times, cpu, status, size


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


def run(instance: Path, repeat: int = 30) -> list[tuple]:
    from bench.generate import generate, is_generated

    if not is_generated(instance):
        print(f"generating the data set into {instance} (once; reused afterwards) …", flush=True)
        generate(instance, force=True)
    app = make_app(instance)
    dept, year, uscc, uscc2 = pick_targets(app)
    with app.app_context():
        from sqlalchemy import func, select

        from portal.extensions import db
        from portal.models import Result
        total = db.session.execute(select(func.count(Result.id))).scalar()
        db.session.remove()
    print(f"data set: {instance} ({total:,} results); now = {app.config['FIXED_NOW']}; {repeat} requests per page\n")
    pages = [
        ("/results", "/results"),
        ("/results?page=50", "/results?page=50"),
        ("/penalties", "/penalties"),
        ("/plans", "/plans"),
        (f"/results?dept=…&year={year}", f"/results?dept={dept}&year={year}"),
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
    ]
    rows = []
    client = app.test_client()
    for label, url in pages:
        times, cpu, status, size = time_get(client, url, repeat)
        p95 = percentile(times, 95)
        flag = "" if p95 <= TARGET_P95_MS else "  > 50 ms"
        rows.append((label, status, f"{median(times):.1f}", f"{p95:.1f}", f"{max(times):.1f}",
                     f"{median(cpu):.1f}", f"{percentile(cpu, 95):.1f}", f"{size:,}", flag))
    print(table(["page", "status", "p50 ms", "p95 ms", "max ms", "cpu p50", "cpu p95", "bytes", ""], rows))
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall times include waiting "
              "for the CPU; the cpu columns (process CPU time per request) are the fairer measure")
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    run(args.instance, args.repeat)


if __name__ == "__main__":
    main()
