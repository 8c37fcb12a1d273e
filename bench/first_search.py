"""The first search of a new worker: its CPU with and without the start-up warm-up.

    .venv/bin/python -m bench.first_search [--instance DIR] [--database-url URL] [--query Q]

Each case runs in a fresh Python process (a new gunicorn worker, as far as the search index is
concerned: nothing loaded yet): the app is created, then, for "warmed", `search.warm_worker(app)`
runs as gunicorn's post_worker_init hook runs it (gunicorn.conf.py), then
`/search.json?q=<company name>` is requested twice through the test client. Prints the CPU time
of the warm-up and of each request. Numbers only; no assertions.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, ROOT, table

CHILD = r"""
import json, sys, time
from pathlib import Path
from urllib.parse import quote
sys.path.insert(0, {root!r})
from bench.common import make_app
app = make_app(Path({instance!r}), {url!r}, SEARCH_WARM_ON_START={warm!r})
from portal import search
cpu = time.process_time()
search.warm_worker(app)
warm = time.process_time() - cpu
client = app.test_client(use_cookies=False)
out = {{"warm": warm, "requests": []}}
for _ in range(2):
    cpu = time.process_time()
    response = client.get("/search.json?q=" + quote({query!r}))
    out["requests"].append(time.process_time() - cpu)
    out["total"] = response.get_json()["total"]
print(json.dumps(out))
"""


def company(instance: Path, url: str | None) -> str:
    from sqlalchemy import func, select

    from bench.common import make_app
    from portal.extensions import db
    from portal.models import Entity, Result

    app = make_app(instance, url)
    with app.app_context():
        entity_id = db.session.execute(select(Result.entity_id).group_by(Result.entity_id)
                                       .order_by(func.count().desc()).limit(1)).scalar()
        return db.session.get(Entity, entity_id).name


def run(instance: Path, url: str | None = None, query: str | None = None) -> list:
    query = query or company(instance, url)
    rows = []
    for warm in (False, True):
        code = CHILD.format(root=str(ROOT), instance=str(instance), url=url, warm=warm, query=query)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        out = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(("warmed at start" if warm else "not warmed (before)", f"{out['warm'] * 1000:.0f}" if warm else "–",
                     f"{out['requests'][0] * 1000:.1f}", f"{out['requests'][1] * 1000:.1f}", f"{out['total']:,}"))
    print(f"/search.json?q={query} in a new process (load average {os.getloadavg()[0]:.1f})\n")
    print(table(["worker", "warm-up CPU ms", "1st search CPU ms", "2nd search CPU ms", "hits"], rows))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--query", default=None, help="default: the name of the entity with the most results")
    args = parser.parse_args(argv)
    run(args.instance.resolve(), args.database_url, args.query)


if __name__ == "__main__":
    main()
