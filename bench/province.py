"""Province-scale benchmark on PostgreSQL (issue 12 item 6). Prints numbers; asserts nothing.

    .venv/bin/python -m bench.province [--entities 1000000 --results 300000 --penalties 100000]
                                       [--database-url URL] [--skip-generate] [--no-index]
                                       [--repeat 30] [--seconds 10]

1. Database: a dedicated PostgreSQL database (default `province` on 127.0.0.1:5432, created if
   missing; the `test` database is refused). Unless --skip-generate, its schema is dropped and
   made again with `flask db upgrade`, the demo data set (size county: departments, catalogue,
   plans, tasks with real draws, results, penalties) is loaded as a template, and the tables are
   scaled up to the requested counts in bulk: new entity names and USCCs are COPY'd through
   psycopg into a scratch table, then entities, results (with their conclusions, findings and
   inspectors) and penalties (with their categories) are cloned from template rows by
   INSERT … SELECT on the server. Then VACUUM ANALYZE.
2. Search index: `search.rebuild()` into bench/out/province/search-index with --procs writer
   processes (default 1); kept while the data stay (--skip-generate reuses it). --no-index skips
   it and prints how many documents it would write and how long that takes
   at the issue's 1,000 documents/s (search rows are then left out).
3. Server time (Flask test client in this process, no cookies, rate limits off, now fixed as in
   the demo): p50/p95 wall clock and CPU per request of list pages (first and deep), filtered
   lists, entity pages, search (1-, 2-, 4-character and USCC queries), /stats and a feed.
   Targets: list, entity and search p95 <= 50 ms.
4. Throughput: /results under gunicorn (5 workers, gunicorn.conf.py; page cache off and on) and the
   same path on a bare Flask "hello" app under the same gunicorn settings, side by side in this run
   and loaded in turn, three times each (other work on the machine weighs on all alike), by the
   same client (several processes, one new connection per request as sync workers close them);
   the portal's requests/s as a percentage of the bare app's. Target >= 10 %.
"""
import argparse
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from bench.common import FIXED_NOW, OUT, ROOT, as_a_worker, ensure_indexes, make_app, median, percentile, table

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/province"
INSTANCE = OUT / "province"
TARGET_P95_MS = 50.0
TARGET_THROUGHPUT_PERCENT = 10.0
TARGET_DOCS_PER_SECOND = 1000
WORKERS = 5
SEARCH_WORDS = ("食", "食品", "食品安全", "有限公司", "超市")  # the memory step's searches


# --- database ------------------------------------------------------------------------------------

def _psycopg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if database:
        u = u.set(database=database)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> str:
    """Create the database if missing; refuse the shared `test` database. Returns its name."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        raise SystemExit(f"--database-url must be a PostgreSQL URL, not {u.drivername}")
    name = u.database
    if not name or name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use the database {name!r}: give a dedicated one (default: province)")
    with psycopg.connect(_psycopg_dsn(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    return name


def server_env(url: str, extra: dict | None = None) -> dict:
    """Environment of a `flask` or gunicorn subprocess on this database and instance folder."""
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(INSTANCE),
                "SEARCH_INDEX_DIR": str(INSTANCE / "search-index"),
                "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key",
                "PORTAL_FIXED_NOW": FIXED_NOW, "RATELIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1"})
    env.pop("FLASK_APP", None)
    env.update(extra or {})
    return env


def flask_cli(args, url: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=server_env(url),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise SystemExit(f"`flask {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return proc.stdout


def columns(cur, table_name: str) -> list[str]:
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = %s ORDER BY ordinal_position", (table_name,))
    return [r[0] for r in cur.fetchall()]


def clone_sql(cur, table_name: str, source: str, replaced: dict[str, str], alias: str = "t") -> str:
    """INSERT INTO table (every column) SELECT … with `replaced` expressions, other columns from alias."""
    cols = columns(cur, table_name)
    exprs = [replaced.get(c, f'{alias}."{c}"') for c in cols]
    return f'INSERT INTO "{table_name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) ' \
           f"SELECT {', '.join(exprs)} FROM {source}"


def _body(n: int) -> str:
    """A 9-character USCC body unique per n, apart from the demo's (which start with MA)."""
    from portal.domain import uscc

    digits = []
    for _ in range(7):
        n, r = divmod(n, 31)
        digits.append(uscc.CHARSET[r])
    return "PB" + "".join(reversed(digits))


def scale_up(url: str, entities: int, results: int, penalties: int) -> dict:
    """Clone template rows up to the requested counts; return {table: rows} and seconds per step."""
    import psycopg

    from bench.search import BRAND_CHARS, REGIONS, SUFFIX, TRADES
    from portal.domain import uscc

    timings = {}
    with psycopg.connect(_psycopg_dsn(url)) as conn, conn.cursor() as cur:
        def count(t):
            cur.execute(f'SELECT count(*) FROM "{t}"')
            return cur.fetchone()[0]

        def max_id(t):
            cur.execute(f'SELECT coalesce(max(id), 0) FROM "{t}"')
            return cur.fetchone()[0]

        # Entities: names and USCCs made here, COPY'd; every other column from a template entity.
        started = time.monotonic()
        have = count("entity")
        new_entities = max(0, entities - have)
        cur.execute("SELECT id, uscc, entity_type FROM entity ORDER BY id")
        templates = cur.fetchall()
        first_entity = max_id("entity") + 1
        cur.execute("CREATE TEMP TABLE new_entity (id integer PRIMARY KEY, template_id integer, uscc varchar(18), "
                    "name varchar(200)) ON COMMIT DROP")
        rng = random.Random(20250101)
        with cur.copy("COPY new_entity (id, template_id, uscc, name) FROM STDIN") as copy:
            for i in range(new_entities):
                tid, tuscc, etype = templates[i % len(templates)]
                first17 = tuscc[:8] + _body(i)
                if "个体" in str(etype):
                    name = rng.choice(REGIONS) + rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS) + \
                        rng.choice(TRADES) + rng.choice(("店", "商行", "经营部"))
                else:
                    name = rng.choice(REGIONS) + rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS) + \
                        rng.choice(TRADES) + rng.choice(SUFFIX)
                copy.write_row((first_entity + i, tid, first17 + uscc.check_character(first17), name))
        cur.execute(clone_sql(cur, "entity", "new_entity n JOIN entity t ON t.id = n.template_id",
                              {"id": "n.id", "uscc": "n.uscc", "name": "n.name", "version": "1"}))
        timings["entity"] = time.monotonic() - started

        # Results: cloned from template results, each onto a new entity (one result per entity
        # and task stays unique), with their conclusions, findings and inspectors.
        started = time.monotonic()
        have = count("result")
        new_results = max(0, results - have)
        first_result = max_id("result") + 1
        cur.execute("SELECT count(*) FROM result")
        n_templates = cur.fetchone()[0]
        n_new_entities = max(new_entities, 1)
        cur.execute("CREATE TEMP TABLE new_result ON COMMIT DROP AS "
                    "SELECT g AS id, tr.id AS template_id, %s + ((g - %s) %% %s) AS entity_id "
                    "FROM generate_series(%s::int, %s::int) g "
                    "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM result) tr "
                    "  ON tr.k = (g - %s) %% %s",
                    (first_entity, first_result, n_new_entities, first_result, first_result + new_results - 1,
                     first_result, max(n_templates, 1)))
        cur.execute("ALTER TABLE new_result ADD PRIMARY KEY (id)")
        if new_results and new_entities:
            cur.execute(clone_sql(cur, "result", "new_result n JOIN result t ON t.id = n.template_id",
                                  {"id": "n.id", "entity_id": "n.entity_id"}))
            cur.execute(clone_sql(cur, "result_conclusion",
                                  "new_result n JOIN result_conclusion t ON t.result_id = n.template_id",
                                  {"id": "nextval(pg_get_serial_sequence('result_conclusion', 'id'))",
                                   "result_id": "n.id"}))
            cur.execute(clone_sql(cur, "result_finding",
                                  "new_result n JOIN result_finding t ON t.result_id = n.template_id",
                                  {"id": "nextval(pg_get_serial_sequence('result_finding', 'id'))",
                                   "result_id": "n.id"}))
            cur.execute(clone_sql(cur, "result_inspector",
                                  "new_result n JOIN result_inspector t ON t.result_id = n.template_id",
                                  {"result_id": "n.id"}))
        timings["result"] = time.monotonic() - started

        # Penalties: cloned from template penalties with a new decision number; an organisation's
        # penalty moves to a new entity (its party name follows), a person's keeps its party.
        started = time.monotonic()
        have = count("penalty")
        new_penalties = max(0, penalties - have)
        first_penalty = max_id("penalty") + 1
        n_templates = count("penalty")
        cur.execute("CREATE TEMP TABLE new_penalty ON COMMIT DROP AS "
                    "SELECT g AS id, tp.id AS template_id, "
                    "  %s + ((g * 7919) %% %s) AS entity_id "
                    "FROM generate_series(%s::int, %s::int) g "
                    "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM penalty) tp "
                    "  ON tp.k = (g - %s) %% %s",
                    (first_entity, n_new_entities, first_penalty, first_penalty + new_penalties - 1,
                     first_penalty, max(n_templates, 1)))
        if new_penalties and new_entities:
            cur.execute(clone_sql(
                cur, "penalty", "new_penalty n JOIN penalty t ON t.id = n.template_id "
                "LEFT JOIN entity e ON e.id = n.entity_id",
                {"id": "n.id",
                 "decision_no": "left(t.decision_no, 60) || '-P' || n.id::text",
                 "entity_id": "CASE WHEN t.entity_id IS NULL THEN NULL ELSE n.entity_id END",
                 "party_name": "CASE WHEN t.entity_id IS NULL THEN t.party_name ELSE e.name END",
                 "task_id": "NULL", "result_id": "NULL"}))
            cur.execute(clone_sql(cur, "penalty_category",
                                  "new_penalty n JOIN penalty_category t ON t.penalty_id = n.template_id",
                                  {"id": "nextval(pg_get_serial_sequence('penalty_category', 'id'))",
                                   "penalty_id": "n.id"}))
        timings["penalty"] = time.monotonic() - started
        for t in ("entity", "result", "penalty"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT coalesce(max(id), 1) FROM {t}))")
        conn.commit()
        counts = {t: count(t) for t in ("entity", "result", "result_conclusion", "penalty", "penalty_category",
                                        "task", "plan", "department", "draw")}
    started = time.monotonic()
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    timings["vacuum analyze"] = time.monotonic() - started
    return {"rows": counts, "seconds": timings}


def generate(url: str, entities: int, results: int, penalties: int) -> None:
    import psycopg

    started = time.monotonic()
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    flask_cli(["db", "upgrade"], url)
    t_schema = time.monotonic() - started
    flask_cli(["demo", "load", "--size", "county", "--no-index", "--seed", "20250101"], url)
    t_demo = time.monotonic() - started - t_schema
    out = scale_up(url, entities, results, penalties)
    steps = [("flask db upgrade", f"{t_schema:.1f}"), ("demo load --size county (template)", f"{t_demo:.1f}")]
    steps += [(f"bulk {k}", f"{v:.1f}") for k, v in out["seconds"].items()]
    print(table(["generation step", "seconds"], steps))
    print()
    print(table(["table", "rows"], [(k, f"{v:,}") for k, v in out["rows"].items()]))
    print(f"\ngenerated in {time.monotonic() - started:.0f} s\n", flush=True)


# --- search index ----------------------------------------------------------------------------------

def index_ready() -> bool:
    """A finished index generation is live (CURRENT names it); a build still running is not one."""
    from portal.search import store

    return store.current_gen(INSTANCE / "search-index") is not None


def build_index(app, procs: int) -> None:
    app.config["SEARCH_BUILD_PROCS"] = procs
    with app.app_context():
        from portal import search

        info = search.rebuild()
    print(f"search index: {info['written']:,} documents in {info['build_seconds']:.0f} s "
          f"({info['docs_per_second']:,} documents/s wall, {info['docs_per_cpu_second']:,}/s CPU; "
          f"{procs} writer process{'es' if procs > 1 else ''}; target >= {TARGET_DOCS_PER_SECOND:,})\n", flush=True)


def estimate_index(app) -> None:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import CheckItem, Entity, Penalty, Plan, Result, Task

    with app.app_context():
        n = sum(db.session.execute(select(func.count()).select_from(m)).scalar()
                for m in (Entity, Result, Penalty, Task, Plan, CheckItem))
        db.session.remove()
    print(f"search index skipped (--no-index): about {n:,} documents (an upper bound: every row of the "
          f"searchable tables); at {TARGET_DOCS_PER_SECOND:,} documents/s that is about "
          f"{n / TARGET_DOCS_PER_SECOND:,.0f} s (≈ {n / TARGET_DOCS_PER_SECOND / 60:.0f} min; `python -m bench.index` "
          "measures the rate); the search rows are left out\n", flush=True)


# --- server time -----------------------------------------------------------------------------------

def pick(app) -> dict:
    """Targets for the pages: a busy department/year, entities, a deep page, search words."""
    from sqlalchemy import extract, func, select

    from portal.extensions import db
    from portal.models import Department, Entity, Penalty, Result

    with app.app_context():
        s = db.session
        dept_id, year, _n = s.execute(
            select(Result.department_id, extract("year", Result.formed_date), func.count())
            .group_by(Result.department_id, extract("year", Result.formed_date))
            .order_by(func.count().desc()).limit(1)).one()
        busiest = s.execute(select(Result.entity_id).group_by(Result.entity_id)
                            .order_by(func.count().desc()).limit(1)).scalar()
        penalised = s.execute(select(Penalty.entity_id).where(Penalty.entity_id.is_not(None))
                              .order_by(Penalty.id.desc()).limit(1)).scalar()
        last_entity = s.execute(select(func.max(Entity.id))).scalar()
        out = {"dept": s.get(Department, dept_id).code, "year": int(year),
               "uscc_busy": s.get(Entity, busiest).uscc, "uscc_penalised": s.get(Entity, penalised).uscc,
               "uscc_clone": s.get(Entity, last_entity).uscc, "name_clone": s.get(Entity, last_entity).name,
               "results": s.execute(select(func.count(Result.id))).scalar(),
               "penalties": s.execute(select(func.count(Penalty.id))).scalar()}
        s.remove()
    return out


def time_pages(app, pages, repeat: int) -> list[tuple]:
    from bench.pages import time_get

    client = app.test_client(use_cookies=False)
    rows = []
    for label, url, target in pages:
        times, cpu, status, size = time_get(client, url, repeat)
        p95 = percentile(times, 95)
        verdict = "" if target is None else ("ok" if p95 <= target else "MISS")
        rows.append((label, status, f"{median(times):.1f}", f"{p95:.1f}", f"{median(cpu):.1f}",
                     f"{percentile(cpu, 95):.1f}", "-" if target is None else f"<= {target:g}", verdict, f"{size:,}"))
        print(f"  {label}: p95 {p95:.1f} ms", flush=True)
    return rows


# --- throughput ------------------------------------------------------------------------------------

HELLO = '''from flask import Flask
app = Flask(__name__)


@app.get("/results")
def results():
    return "hello"
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load_worker(port: int, path: str, until: float, threads: int, queue) -> None:
    import threading

    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()

    def loop():
        ok = bad = 0
        while time.monotonic() < until:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                    sock.sendall(request)
                    head = b""
                    while True:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        if not head:
                            head = chunk[:12]
                if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
                    ok += 1
                else:
                    bad += 1
            except OSError:
                bad += 1
        with lock:
            counts["ok"] += ok
            counts["bad"] += bad

    ts = [threading.Thread(target=loop) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put((counts["ok"], counts["bad"]))


def load(port: int, path: str, seconds: float, procs: int = 2, threads: int = 5,
         warm_up: bool = True) -> tuple[float, int, float]:
    """(200 answers, other answers, seconds) from `procs` processes × `threads` connections for
    `seconds`, after 2 s of the same load unmeasured if `warm_up`."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    if warm_up:
        warm_until = time.monotonic() + 2
        warm = [ctx.Process(target=_load_worker, args=(port, path, warm_until, threads, queue))
                for _ in range(procs)]
        for p in warm:
            p.start()
        for p in warm:
            queue.get()
            p.join()
    started = time.monotonic()
    until = started + seconds
    workers = [ctx.Process(target=_load_worker, args=(port, path, until, threads, queue)) for _ in range(procs)]
    for p in workers:
        p.start()
    ok = bad = 0
    for _ in workers:
        o, b = queue.get()
        ok, bad = ok + o, bad + b
    for p in workers:
        p.join()
    return ok, bad, time.monotonic() - started


def serve(app_spec: str, url: str, workdir: Path, extra_path: str | None = None, extra_env: dict | None = None):
    """Start gunicorn (WORKERS sync workers, gunicorn.conf.py) on a free port; return (process, port)."""
    port = free_port()
    env = server_env(url, {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "GUNICORN_MAX_REQUESTS": "0",
                           "GUNICORN_LOGLEVEL": "warning", **(extra_env or {})})
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    log = open(workdir / f"gunicorn-{app_spec.split(':')[0]}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                             "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--timeout", "120", app_spec],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn {app_spec} exited; see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /results HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise SystemExit(f"gunicorn {app_spec} did not answer 200 on /results within 60 s; see {log.name}")


def stop(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _children(master_pid: int) -> list[str]:
    try:
        return Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return []


def _postgres_pids() -> list[str]:
    """PostgreSQL's processes on this machine (its backends answer the portal's statements)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(entry.name)
            except OSError:
                pass
    return pids


def cpu_seconds(pids) -> float:
    """User + system CPU seconds of `pids` so far (Linux /proc/<pid>/stat, fields 14 and 15)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident memory (MB) of each gunicorn worker, from /proc (Linux)."""
    out = []
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return out
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


def get(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(12)
        while sock.recv(65536):
            pass
    return int(head[9:12])


def throughput(url: str, seconds: float, search: bool, rounds: int = 3) -> tuple[list, float, int, list, list]:
    """Requests/s of GET /results: the portal with its page cache off (every request builds the
    page) and on (PUBLIC_PAGE_CACHE: a worker sends its copy while the ETag holds), and a bare
    Flask app. The three servers run side by side and are loaded in turn, `rounds` times for
    seconds / rounds each, so that other work on the machine, which comes and goes, weighs on all
    three alike. Returns ([(label, rps, bad)] of the portal, hello rps, hello bad, RSS lists)."""
    workdir = INSTANCE / "throughput"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench_hello.py").write_text(HELLO)
    labels = ("portal /results, page cache off", "portal /results, page cache on", "bare Flask hello")
    servers = []
    try:
        servers.append(serve("wsgi:app", url, workdir, extra_env={"PUBLIC_PAGE_CACHE": "0"}))
        servers.append(serve("wsgi:app", url, workdir, extra_env={"PUBLIC_PAGE_CACHE": "100"}))
        servers.append(serve("bench_hello:app", url, workdir, str(workdir)))
        totals = [[0, 0, 0.0] for _ in servers]
        cpu = [[0.0, 0.0, 0.0] for _ in servers]  # per server: workers, PostgreSQL, load client (seconds)
        for number in range(rounds):
            for total, used, (proc, port) in zip(totals, cpu, servers):
                if number == 0:
                    load(port, "/results", 2, warm_up=False)  # unmeasured, so the CPU counts match the load
                workers, postgres = _children(proc.pid), _postgres_pids()
                before = (cpu_seconds(workers), cpu_seconds(postgres), sum(os.times()[2:4]))
                ok, bad, spent = load(port, "/results", seconds / rounds, warm_up=False)
                after = (cpu_seconds(workers), cpu_seconds(postgres), sum(os.times()[2:4]))
                for i in range(3):
                    used[i] += after[i] - before[i]
                total[0] += ok
                total[1] += bad
                total[2] += spent
        rss = worker_rss_mb(servers[0][0].pid)
        rss_search = []
        if search:  # five searches over the whole index (each a second or more on a cold worker)
            for q in SEARCH_WORDS:
                get(servers[0][1], "/search?q=" + quote(q))
            rss_search = worker_rss_mb(servers[0][0].pid)
    finally:
        for proc, _port in servers:
            stop(proc)
    rates = [(label, ok / spent, bad) for label, (ok, bad, spent) in zip(labels, totals)]
    for label, rps, _bad in rates:
        print(f"  {label}: {rps:,.0f} requests/s", flush=True)
    print("CPU per request (ms; /proc, the measured rounds only): "
          + "; ".join(f"{label}: gunicorn workers {1000 * w / ok:.2f}, PostgreSQL {1000 * pg / ok:.2f}, "
                      f"load client {1000 * c / ok:.2f}"
                      for label, (ok, _bad, _spent), (w, pg, c) in zip(labels, totals, cpu) if ok), flush=True)
    (_, hello_rps, hello_bad) = rates[2]
    return rates[:2], hello_rps, hello_bad, rss, rss_search


# --- main ------------------------------------------------------------------------------------------

def run(args) -> None:
    run_started = time.monotonic()
    ensure_database(args.database_url)
    INSTANCE.mkdir(parents=True, exist_ok=True)
    if not args.skip_generate:
        print(f"generating {args.entities:,} entities, {args.results:,} results, {args.penalties:,} penalties "
              f"into {args.database_url} …", flush=True)
        generate(args.database_url, args.entities, args.results, args.penalties)
        import shutil
        shutil.rmtree(INSTANCE / "search-index", ignore_errors=True)  # an index of older data is wrong
    app = make_app(INSTANCE, args.database_url, RATELIMIT_ENABLED=False, LOG_LEVEL="WARNING")
    for name in ensure_indexes(app):
        print(f"(created index {name}: the data predate it)", flush=True)
    if not args.no_index and not index_ready():
        print("building the search index …", flush=True)
        build_index(app, args.procs)
    elif args.no_index and not index_ready():
        estimate_index(app)
    t = pick(app)
    wall, cpu = time.perf_counter(), time.process_time()
    as_a_worker(app)  # what gunicorn.conf.py does before a worker's first request: search warm-up, gc.freeze()
    print(f"worker start (search index warm-up, gc.freeze): {time.perf_counter() - wall:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU", flush=True)
    print(f"data: {t['results']:,} results, {t['penalties']:,} penalties; now = {FIXED_NOW}; "
          f"{args.repeat} requests per page after 2 warm-up requests (Flask test client, PostgreSQL)", flush=True)
    deep_results = max(1, t["results"] // 20 // 2)
    deep_penalties = max(1, t["penalties"] // 20 // 2)
    L = TARGET_P95_MS
    pages = [
        ("/results (first page)", "/results", L),
        (f"/results?page={deep_results} (deep)", f"/results?page={deep_results}", L),
        ("/penalties (first page)", "/penalties", L),
        (f"/penalties?page={deep_penalties} (deep)", f"/penalties?page={deep_penalties}", L),
        ("/results?dept=…&year=…", f"/results?dept={t['dept']}&year={t['year']}", L),
        ("/results?conclusion=C05", "/results?conclusion=C05", L),
        ("/results?region=411421", "/results?region=411421", L),
        ("/penalties?year=2025", "/penalties?year=2025", L),
        ("/tasks", "/tasks", L),
        ("/entities/<uscc> (most results)", f"/entities/{t['uscc_busy']}", L),
        ("/entities/<uscc> (penalised)", f"/entities/{t['uscc_penalised']}", L),
        ("/entities/<uscc> (generated)", f"/entities/{t['uscc_clone']}", L),
    ]
    if index_ready():
        for label, q in (("1 character", "食"), ("2 characters", "食品"), ("4 characters", "食品安全"),
                         ("USCC, 303 to its page", t["uscc_clone"]), ("company name", t["name_clone"])):
            pages.append((f"/search?q=<{label}>", "/search?q=" + quote(q), L))
        pages.append(("/search.json?q=<2 characters>", "/search.json?q=" + quote("食品"), L))
    if not args.lists_only:
        pages += [("/stats (warm)", "/stats", None), (f"/stats?year={t['year']}", f"/stats?year={t['year']}", None),
                  ("/feeds/all.atom", "/feeds/all.atom", None), ("/feeds/results.atom", "/feeds/results.atom", None)]
    rows = time_pages(app, pages, args.repeat)
    if not args.lists_only:
        app.config["PUBLIC_COUNT_TTL"] = 0  # what the first request after a write costs (bench.stats: "computed")
        rows += time_pages(app, [("/stats (computed, PUBLIC_COUNT_TTL=0)", "/stats", None)],
                           max(3, args.repeat // 10))
    print()
    print(table(["page", "status", "p50 ms", "p95 ms", "cpu p50", "cpu p95", "target p95", "", "bytes"], rows))
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall times include waiting "
              "for the CPU; the cpu columns are the fairer measure")
    if args.no_throughput:
        print(f"\nrun time {time.monotonic() - run_started:.0f} s")
        return
    print(f"\nthroughput of GET /results, gunicorn {WORKERS} sync workers per server, {args.seconds:g} s each "
          "in 3 turns (the servers loaded in turn), 2 client processes × 5 connections …", flush=True)
    portal, hello_rps, hello_bad, rss, rss_search = throughput(args.database_url, args.seconds, index_ready())
    print(table(["server", "requests/s", "non-200/errors", "% of bare Flask"],
                [(label, f"{rps:,.0f}", bad, f"{100 * rps / hello_rps:.1f}" if hello_rps else "-")
                 for label, rps, bad in portal] + [("bare Flask hello", f"{hello_rps:,.0f}", hello_bad, "100")]))
    for label, rps, _bad in portal:
        percent = 100 * rps / hello_rps if hello_rps else 0.0
        verdict = "ok" if percent >= TARGET_THROUGHPUT_PERCENT else "MISS"
        print(f"{label} = {percent:.1f} % of bare Flask (target >= {TARGET_THROUGHPUT_PERCENT:g} %: {verdict})")
    if rss:
        print(f"memory per portal worker (RSS): {min(rss):.0f}–{max(rss):.0f} MB after the /results load"
              + (f", {min(rss_search):.0f}–{max(rss_search):.0f} MB after {len(SEARCH_WORDS)} searches over the "
                 f"whole index (the largest: a worker that answered searches)" if rss_search else ""))
    print(f"\nrun time {time.monotonic() - run_started:.0f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=1_000_000, help="entities (1,000,000)")
    parser.add_argument("--results", type=int, default=300_000, help="inspection results (300,000)")
    parser.add_argument("--penalties", type=int, default=100_000, help="penalties (100,000)")
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"a dedicated PostgreSQL database, created if missing ({DEFAULT_URL})")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data already in the database")
    parser.add_argument("--no-index", action="store_true", help="skip the search index build (and the search rows)")
    parser.add_argument("--lists-only", action="store_true",
                        help="only the list, entity (and search) pages: no /stats and feed rows")
    parser.add_argument("--no-throughput", action="store_true", help="skip the gunicorn throughput comparison")
    parser.add_argument("--procs", type=int, default=1,
                        help="search index writer processes (SEARCH_BUILD_PROCS; default 1: one BulkWriter "
                             "is as fast in wall time as Whoosh's multi-process writer, for less CPU)")
    parser.add_argument("--repeat", type=int, default=30, help="requests per page (30)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of load per server (10)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
