"""Render a fixed list of public URLs (bench data set, FIXED_NOW) to files, to `diff` before/after a change.

    .venv/bin/python -m bench.snapshot OUT_DIR [--instance DIR]

Each URL is fetched as a page and as an htmx fragment (HX-Request); every answer is written as
`NNN.body` and `NNN.headers` (status and headers, Date and X-Request-Id left out), with
`index.txt` naming the URLs. Two snapshots of the same data set should be identical
(`diff -r before after`) unless a change is meant to show.
"""
import argparse
from pathlib import Path

from bench.common import DEFAULT_INSTANCE, make_app

SKIP_HEADERS = {"date", "x-request-id"}


def urls(app) -> list[str]:
    from datetime import datetime

    from sqlalchemy import func, select

    from bench.pages import pick_targets
    from portal.extensions import db
    from portal.models import Draw, DrawSelection, DrawSubstitution, Penalty, Plan, Result, Task
    from portal.visibility_sql import public_clause

    dept, year, uscc, uscc2 = pick_targets(app)
    with app.app_context():
        now = datetime.fromisoformat(app.config["FIXED_NOW"])
        result_ids = db.session.execute(select(Result.id).where(public_clause("result", now))
                                        .order_by(Result.id.desc()).limit(2)).scalars().all()
        penalty_ids = db.session.execute(select(Penalty.id).where(public_clause("penalty", now))
                                         .order_by(Penalty.id.desc()).limit(2)).scalars().all()
        any_penalty = db.session.execute(select(Penalty.id).order_by(Penalty.id).limit(1)).scalar()
        plan_id = db.session.execute(select(Plan.id).where(public_clause("plan", now))
                                     .order_by(Plan.id.desc()).limit(1)).scalar()
        task_code = db.session.execute(select(Task.code).where(public_clause("task", now))
                                       .order_by(Task.id.desc()).limit(1)).scalar()
        draw_id = db.session.execute(select(Draw.id).where(public_clause("draw", now), Draw.drawn_at.is_not(None))
                                     .order_by(Draw.id.desc()).limit(1)).scalar()
        draw_task_code = db.session.execute(select(Task.code).join(Draw, Draw.task_id == Task.id)
                                            .where(Draw.id == draw_id)).scalar()
        # A redrawn task (its superseded and its current draw), the entity whose inspector was
        # substituted on a certificate, and the entity selected in the most draws.
        redrawn = db.session.execute(select(Draw.task_id).where(public_clause("draw", now), Draw.sequence > 1)
                                     .order_by(Draw.task_id).limit(1)).scalar()
        redrawn_code = db.session.get(Task, redrawn).code if redrawn else None
        redrawn_ids = db.session.execute(select(Draw.id).where(Draw.task_id == redrawn)
                                         .order_by(Draw.sequence)).scalars().all()
        substituted = db.session.execute(select(DrawSelection.uscc).join(
            DrawSubstitution, DrawSubstitution.selection_id == DrawSelection.id)
            .order_by(DrawSubstitution.id).limit(1)).scalar()
        most_drawn = db.session.execute(select(DrawSelection.uscc).group_by(DrawSelection.uscc)
                                        .order_by(func.count().desc(), DrawSelection.uscc).limit(1)).scalar()
        db.session.remove()
    out = ["/", "/results", "/results?page=2", "/results?page=50", "/results?page=999999", "/penalties",
           "/penalties?page=3", "/plans", "/tasks", "/tasks?kind=joint", "/items", "/items?year=2025",
           f"/results?dept={dept}&year={year}", f"/results?dept={dept}&year={year - 1}", "/results?conclusion=C05",
           "/results?region=411421",
           "/results?q=%E9%A3%9F%E5%93%81", "/results?year=abc", "/results?dept=&year=", "/penalties?year=2025",
           f"/penalties?dept={dept}", "/plans?year=2025", "/results.json", "/penalties.json?page=2", "/plans.json",
           "/tasks.json", f"/entities/{uscc}", f"/entities/{uscc2}", f"/entities/{uscc}.json",
           f"/plans/{plan_id}", f"/tasks/{task_code}", f"/draws/{draw_id}", "/data", "/transparency",
           f"/penalties/{any_penalty}"]
    out += [f"/results/{i}" for i in result_ids] + [f"/penalties/{i}" for i in penalty_ids]
    out += [f"/draws/{draw_id}.json", f"/draws/{draw_id}/pool.txt", f"/tasks/{draw_task_code}",
            f"/tasks/{draw_task_code}.json", f"/plans/{plan_id}.json", f"/results/{result_ids[0]}.json"]
    out += [u for i in redrawn_ids for u in (f"/draws/{i}", f"/draws/{i}.json")]
    out += [f"/tasks/{redrawn_code}", f"/tasks/{redrawn_code}.json"] if redrawn_code else []
    out += [f"/entities/{u}{ext}" for u in (substituted, most_drawn) if u for ext in ("", ".json")]
    out += feed_urls(dept, year, uscc, uscc2)
    return out


def feed_urls(dept: str, year: int, uscc: str, uscc2: str) -> list[str]:
    """Every kind of feed: each list's atom and RSS, filtered ones, entity feeds and a search's feed."""
    out = [f"/feeds/{kind}.{fmt}" for kind in ("all", "results", "penalties", "plans", "tasks")
           for fmt in ("atom", "rss")]
    out += [f"/feeds/results.atom?dept={dept}&year={year}", f"/feeds/results.rss?dept={dept}&year={year - 1}",
            f"/feeds/results.atom?dept={dept}", f"/feeds/penalties.rss?dept={dept}",
            "/feeds/results.atom?conclusion=C05", "/feeds/tasks.atom?kind=joint", "/feeds/all.atom?kind=penalty",
            f"/feeds/all.rss?dept={dept}", "/feeds/all.atom?q=%E9%A3%9F%E5%93%81",
            "/feeds/all.rss?q=%E9%A3%9F%E5%93%81&kind=result", f"/entities/{uscc}/feed.atom",
            f"/entities/{uscc2}/feed.atom"]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    args = parser.parse_args(argv)
    app = make_app(args.instance)
    args.out.mkdir(parents=True, exist_ok=True)
    client = app.test_client(use_cookies=False)
    index = []
    n = 0
    for url in urls(app):
        for hx in (False, True):
            headers = {"HX-Request": "true"} if hx else {}
            response = client.get(url, headers=headers)
            body = response.get_data()
            head = [f"{response.status}"] + [f"{k}: {v}" for k, v in response.headers.items()
                                             if k.lower() not in SKIP_HEADERS]
            (args.out / f"{n:03d}.body").write_bytes(body)
            (args.out / f"{n:03d}.headers").write_text("\n".join(head) + "\n")
            index.append(f"{n:03d} {'hx ' if hx else ''}{url} {response.status_code}")
            # the 304 for the page's own ETag
            etag = response.headers.get("ETag")
            if etag:
                again = client.get(url, headers={**headers, "If-None-Match": etag})
                index.append(f"    304 check: {again.status_code} {again.headers.get('ETag')}")
            n += 1
    (args.out / "index.txt").write_text("\n".join(index) + "\n")
    print(f"{n} answers in {args.out}")


if __name__ == "__main__":
    main()
