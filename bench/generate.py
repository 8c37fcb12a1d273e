"""Generate the benchmark data set: about 100,000 inspection results and proportionate records.

    .venv/bin/python -m bench.generate [--instance DIR] [--seed N] [--force]

Uses the demo generator (portal.demo) at size "bench": 50,000 entities, 200 inspectors,
~1,100 tasks with real draw-v1 draws, ~100,000 results, several thousand penalties,
inserted in bulk into a SQLite file under DIR (default bench/out/results-100k/). The
schema comes from the models (like the tests). Prints row counts and the time taken.
"""
import argparse
import shutil
import time
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, make_app, table


def generate(instance: Path, seed: int = 20250101, force: bool = False, quiet: bool = False) -> dict:
    from portal.demo.loader import load
    from portal.extensions import db

    instance = Path(instance)
    if force and instance.exists():
        shutil.rmtree(instance)
    app = make_app(instance)
    started = time.monotonic()
    with app.app_context():
        db.create_all()
        summary = load(seed, "bench", with_users=False)
        db.session.remove()
        # No ANALYZE: a database made by `flask db upgrade` has no planner statistics
        # (sqlite_stat1) either, and the statements are written to be planned well without them,
        # so the benchmark measures the plans a real SQLite deployment gets.
        db.engine.dispose()
    summary["seconds"] = round(time.monotonic() - started, 1)
    (instance / "GENERATED").write_text(f"seed={seed} seconds={summary['seconds']}\n")
    if not quiet:
        rows = summary["rows"]
        keys = ["entity", "inspector", "plan", "task", "draw", "draw_pool_entry", "draw_selection", "result",
                "result_conclusion", "penalty"]
        print(table(["table", "rows"], [(k, f"{rows.get(k, 0):,}") for k in keys]))
        print(f"\ngenerated into {instance} in {summary['seconds']} s")
    return summary


def is_generated(instance: Path) -> bool:
    return (Path(instance) / "GENERATED").exists() and (Path(instance) / "portal.db").exists()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--force", action="store_true", help="delete and regenerate an existing data set")
    args = parser.parse_args(argv)
    if is_generated(args.instance) and not args.force:
        print(f"{args.instance} already holds a data set (use --force to regenerate)")
        return
    generate(args.instance, args.seed, force=True)


if __name__ == "__main__":
    main()
