"""`python -m bench` (= `make bench`): the page, /stats and search-index benchmarks, then how to run
the other bench scripts.

The first run generates ~100,000 results under bench/out/results-100k/ (about a minute);
later runs reuse it (`python -m bench.generate --force` regenerates).
"""
import argparse
from pathlib import Path

from bench.common import DEFAULT_INSTANCE

OTHERS = [
    ("bench.generate", "generate the 100,000-result data set (--force to regenerate, --instance DIR)"),
    ("bench.pages", "p50/p95 server time, CPU and SQL time, SQL statements of pages and feeds; 304 cost; CSV export"),
    ("bench.stats", "p50/p95 server time of /stats (period reports, warm and computed)"),
    ("bench.index", "search index speed on the data set: rebuild and sync documents/s (--profile)"),
    ("bench.search", "search index build, query latency, publish-to-searchable (SEARCH)"),
    ("bench.draw", "draw-v1 speed on large pools and the fairness check (DRAW)"),
    ("bench.province", "1M entities, 300k results, 100k penalties on PostgreSQL: page p95s, search, throughput"),
    ("bench.signin_flood", "a clerk's publish p50/p95 quiet vs during a flood of failed sign-ins; audit growth"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the page benchmark; list the other bench scripts.")
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-index", action="store_true", help="skip the search index rebuild (a few minutes)")
    args = parser.parse_args(argv)
    from bench.pages import run

    run(args.instance, args.repeat)
    from bench.stats import run as run_stats

    print()
    run_stats(args.instance, args.repeat)
    if not args.no_index:
        from bench.index import run as run_index

        print()
        run_index(args.instance)
    here = Path(__file__).resolve().parent
    print("\nother bench scripts (run with .venv/bin/python -m NAME --help):")
    for name, what in OTHERS:
        present = (here / (name.split(".")[1] + ".py")).exists()
        print(f"  python -m {name:<15} {what}{'' if present else '  [not written yet]'}")


if __name__ == "__main__":
    main()
