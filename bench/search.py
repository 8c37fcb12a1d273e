"""Search benchmark: index build, query latency, publish-to-searchable, and SQL LIKE for comparison.

    .venv/bin/python -m bench.search --size 100000 [--size 1000000] [--repeat 15] [--workdir DIR]

For each size it generates synthetic public records (entities, results, penalties, tasks, plans,
items) deterministically, writes them as rows to a SQLite table and as documents straight into
a Whoosh index built by portal.search's schema and analyzer, then prints:
  - build time and index size;
  - p50/p95 of the fixed query mix (1-char, 2-char fragment, common word, item phrase, USCC,
    two-term), each as the portal runs it: top 20 + total + all five facets, visibility filter on;
  - the same queries as a SQL LIKE scan on the same rows (matching rows + top 20 + facet counts);
  - publish-to-searchable: a plan published through portal.lifecycle in a real app whose index
    holds the generated documents, until portal.search.query() returns it.
Numbers only; no assertions.
"""
import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import search  # noqa: E402
from portal.search import analysis, engine, store  # noqa: E402

REGIONS = ["民权县", "宁陵县", "睢县", "虞城县", "夏邑县", "柘城县", "商丘市", "永城市", "梁园区", "睢阳区"]
BRAND_CHARS = ("鑫达华润永兴金源恒泰宏盛隆昌福瑞祥和顺丰益康健美佳德信诚安广通汇聚丰富天宇星辰明光新旺"
               "宝利嘉禾万家利民乐惠华夏东方南北中原豫商联合创远腾飞凯旋胜达志远博雅君悦")
TRADES = ["食品", "商贸", "建材", "餐饮", "农资", "药房", "烟酒", "超市", "电子商务", "化工", "服装", "五金",
          "粮油", "酒业", "物流", "医疗器械", "化妆品", "汽车服务", "印刷", "纺织"]
SUFFIX = ["有限公司", "有限责任公司", "店", "商行", "农民专业合作社", "经营部"]
ITEMS = ["食品安全监督检查", "食品生产企业监督检查", "特种设备安全监督检查", "产品质量监督抽查", "广告发布行为检查",
         "计量器具使用检查", "价格行为检查", "农药经营许可检查", "医疗器械经营检查", "化妆品经营检查"]
CONCLUSIONS = [("C01", "未发现问题"), ("C02", "未按规定公示应当公示的信息"), ("C04", "通过登记的住所（经营场所）无法联系"),
               ("C05", "发现问题已责令改正"), ("C06", "发现问题待后续处理"), ("C07", "未发现开展本次抽查涉及的经营活动")]
CATEGORIES = ["警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "责令停产停业"]
DEPTS = [f"D{i:02d}" for i in range(1, 13)]
KIND_WEIGHTS = [("entity", 40), ("result", 35), ("penalty", 10), ("item", 6), ("task", 6), ("plan", 3)]
T_PUBLISHED = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def make_uscc(rng: random.Random) -> str:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return "91411421MA" + "".join(rng.choice(chars) for _ in range(8))


def generate(n: int, seed: int = 7):
    """Yield (doc, row) pairs: a Whoosh document and the SQL row with the same text."""
    rng = random.Random(seed)
    kinds = [k for k, w in KIND_WEIGHTS for _ in range(w)]
    names = []
    for i in range(1, n + 1):
        kind = rng.choice(kinds) if names else "entity"
        dept = rng.choice(DEPTS)
        year = rng.choice(["2023", "2024", "2025", "2026"])
        conclusion = category = codes = ""
        if kind == "entity" or not names:
            name = rng.choice(REGIONS) + rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS) + rng.choice(TRADES) \
                + rng.choice(SUFFIX)
            uscc = make_uscc(rng)
            names.append((name, uscc))
            title, codes, dept, year = name, uscc, "", ""
            text = f"统一社会信用代码 {uscc}\n企业\n行政区划 411421"
        elif kind == "result":
            name, uscc = rng.choice(names)
            c = rng.sample(CONCLUSIONS, rng.choice([1, 1, 2]))
            conclusion = ",".join(code for code, _ in c)
            title = f"{name}（{rng.choice(ITEMS)}专项抽查）"
            text = "；".join(label for _, label in c) + f"\n经检查{rng.choice(['未发现问题', '发现过期食品已责令改正', '台账不全已责令整改'])}" \
                f"\n统一社会信用代码 {uscc}"
        elif kind == "penalty":
            name, uscc = rng.choice(names)
            cats = rng.sample(CATEGORIES, rng.choice([1, 2]))
            category = ",".join(cats)
            codes = f"民市监罚〔{year}〕{i}号"
            title = f"{codes} {name}"
            text = f"销售不符合食品安全标准的{rng.choice(TRADES)}产品\n{'、'.join(cats)}\n统一社会信用代码 {uscc}"
        elif kind == "item":
            title = rng.choice(ITEMS)
            codes = f"ITEM{i}"
            text = f"事项编码 ITEM{i}\n{rng.choice(TRADES)}经营者\n实地检查"
        elif kind == "task":
            title = f"{year}年{rng.choice(TRADES)}{rng.choice(['专项抽查', '双随机抽查', '联合抽查'])}"
            codes = f"411421{year}0401{i % 10000:04d}"
            text = f"任务编号 {codes}\n{rng.choice(ITEMS)}"
        else:
            title = f"{year}年度{rng.choice(REGIONS)}双随机抽查工作计划"
            text = "市场监管领域部门联合抽查"
        date = T_PUBLISHED + rng.randrange(0, int(NOW.timestamp()) - T_PUBLISHED - 86400)
        doc = {"key": f"{kind}:{i}", "kind": kind, "rid": i, "title": title, "subtitle": kind, "url": f"/{kind}/{i}",
               "text": text, "stamp": "", "tgrams": title, "bgrams": text,
               "codes": search.norm_code(codes) if codes else "", "cgrams": search.norm_code(codes) if codes else "",
               "exact": analysis.exact_key(title), "dept": dept, "industry": "", "published": "1",
               "year": year, "conclusion": conclusion, "category": category, "date": date, "show_from": date,
               "hide_at": store.NEVER,
               "ref": search.KINDS.index(kind) << 40 | i}
        yield doc, (i, kind, title, text, dept, year, conclusion, category, date)


QUERIES = [("1-char", "鑫"), ("2-char fragment", "鑫达"), ("common word", "有限公司"),
           ("item phrase", "食品安全监督检查"), ("USCC", None), ("two-term", "食品 民权")]


def build(n: int, workdir: Path, procs: int) -> dict:
    idx = workdir / "index"
    gen = idx / "gen-bench"
    if idx.exists():
        shutil.rmtree(idx)
    gen.mkdir(parents=True)
    db_path = workdir / "bench.db"
    if db_path.exists():
        db_path.unlink()
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE bench_doc (id INTEGER PRIMARY KEY, kind TEXT, title TEXT, text TEXT, dept TEXT, "
                "year TEXT, conclusion TEXT, category TEXT, date INTEGER)")
    ix = store.create(gen)
    started = time.monotonic()
    writer = ix.writer(procs=procs, limitmb=256, multisegment=procs > 1)
    rows, sample_uscc = [], None
    for doc, row in generate(n):
        writer.add_document(**doc)
        rows.append(row)
        if sample_uscc is None and doc["kind"] == "entity" and doc["rid"] > n // 2:
            sample_uscc = doc["codes"]
        if len(rows) >= 20000:
            con.executemany("INSERT INTO bench_doc VALUES (?,?,?,?,?,?,?,?,?)", rows)
            rows = []
    con.executemany("INSERT INTO bench_doc VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    writer.commit()
    store.write_last(gen, 0, "")
    build_s = time.monotonic() - started
    (idx / "CURRENT").write_text("gen-bench")
    size = sum(p.stat().st_size for p in gen.iterdir())
    return {"build_s": build_s, "size_mb": size / 1e6, "uscc": sample_uscc or "", "db": db_path, "con": con,
            "index": idx, "segments": len(ix.reader().leaf_readers()) if hasattr(ix.reader(), "leaf_readers") else 1}


def reuse(workdir: Path) -> dict:
    idx = workdir / "index"
    gen = idx / "gen-bench"
    con = sqlite3.connect(workdir / "bench.db")
    uscc = con.execute("SELECT text FROM bench_doc WHERE kind = 'entity' AND id > (SELECT max(id) / 2 FROM bench_doc) "
                       "ORDER BY id LIMIT 1").fetchone()[0].split()[1]
    size = sum(p.stat().st_size for p in gen.iterdir())
    return {"size_mb": size / 1e6, "uscc": search.norm_code(uscc), "db": workdir / "bench.db", "con": con,
            "index": idx}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_index_queries(idx: Path, uscc: str, repeat: int) -> dict:
    ix = store.storage(str(idx / "gen-bench")).open_index()
    out = {}
    with ix.searcher() as s:
        for label, q in QUERIES:
            q = q or uscc
            times, total = [], 0
            for r in range(repeat + 1):
                t = time.perf_counter()
                ans = engine.search_index(s, q, filters={}, sort="relevance", page=1, per_page=20, now=NOW)
                elapsed = time.perf_counter() - t
                if r:  # the first run warms caches
                    times.append(elapsed)
                total = ans.total if ans else 0
            out[label] = (q, total, times)
    return out


def like_query(con, q: str):
    terms = q.split()
    where = " AND ".join("(title LIKE ? OR text LIKE ?)" for _ in terms)
    params = [p for t in terms for p in (f"%{t}%", f"%{t}%")]
    rows = con.execute(f"SELECT id, kind, dept, year, conclusion, category, date FROM bench_doc WHERE {where}",
                       params).fetchall()
    facets = {}
    for row in rows:
        for name, value in zip(("kind", "dept", "year", "conclusion", "category"), row[1:6]):
            for v in (value.split(",") if value else []):
                facets.setdefault(name, {}).setdefault(v, 0)
                facets[name][v] += 1
    top = sorted(rows, key=lambda r: -r[6])[:20]
    return len(rows), top, facets


def run_like(con, uscc: str, repeat: int) -> dict:
    out = {}
    for label, q in QUERIES:
        q = q or uscc
        times, total = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            total, _top, _f = like_query(con, q)
            times.append(time.perf_counter() - t)
        out[label] = (q, total, times)
    return out


def publish_latency(workdir: Path, index_dir: Path, samples: int = 5) -> list[float]:
    """Publish plans through the app (write_transaction + lifecycle.publish); time until search finds each."""
    for stale in (workdir / "app.db", workdir / "app.db-wal", workdir / "app.db-shm"):
        if stale.exists():
            stale.unlink()
    # A fresh app database starts its change log at 0: so must the (reused) index.
    store.write_last(index_dir / "gen-bench", 0, "")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'app.db'}"
    os.environ.setdefault("SECRET_KEY", "bench")
    from portal import create_app, lifecycle
    from portal.config import Config
    from portal.database import write_transaction
    from portal.extensions import db
    from portal.models import Department, Level, Plan

    app = create_app(Config, INSTANCE_PATH=str(workdir / "instance"), SEARCH_INDEX_DIR=str(index_dir))
    out = []
    with app.app_context():
        db.create_all()
        with write_transaction():
            dept = Department(code="BENCH", name="基准测试局", level=Level.COUNTY, region_code="411421")
            db.session.add(dept)
        for i in range(samples):
            title = f"发布延迟测试计划{i}号{random.choice(BRAND_CHARS)}{random.choice(BRAND_CHARS)}"
            with write_transaction():
                plan = Plan(department_id=dept.id, year=2026, title=title, approval_date=NOW.date())
                db.session.add(plan)
                db.session.flush()
            started = time.perf_counter()
            with write_transaction():
                lifecycle.publish("plan", db.session.get(Plan, plan.id), at=datetime.now(timezone.utc))
            while True:
                res = search.query(title, filters={"kind": "plan"}, facets=False)
                if any(h.id == plan.id for h in res.hits):
                    break
                if time.perf_counter() - started > 30:
                    break
                time.sleep(0.01)
            out.append(time.perf_counter() - started)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="records (repeatable); default 100000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--reuse", action="store_true", help="reuse an index built earlier in --workdir")
    parser.add_argument("--no-publish", action="store_true", help="skip the publish-to-searchable measurement")
    args = parser.parse_args(argv)
    sizes = args.size or [100_000]
    for n in sizes:
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-search-")) / f"n{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"== {n:,} records (workdir {workdir})", flush=True)
        if args.reuse and (workdir / "index" / "CURRENT").exists():
            info = reuse(workdir)
            print(f"index reused: size {info['size_mb']:.1f} MB (built earlier; see that run for build time)")
        else:
            info = build(n, workdir, args.procs)
            print(f"index build: {info['build_s']:.1f} s, {n / info['build_s']:.0f} docs/s, "
                  f"size {info['size_mb']:.1f} MB", flush=True)
        idx_res = run_index_queries(info["index"], info["uscc"], args.repeat)
        like_repeat = max(2, args.repeat // 5) if n >= 500_000 else max(3, args.repeat // 3)
        like_res = run_like(info["con"], info["uscc"], like_repeat)
        print(f"{'query':<18}{'q':<20}{'hits':>8}{'p50 ms':>9}{'p95 ms':>9}{'LIKE hits':>10}"
              f"{'LIKE p50':>10}{'speed-up':>9}")
        all_times = []
        for label, _q in QUERIES:
            q, total, times = idx_res[label]
            _, ltotal, ltimes = like_res[label]
            all_times += times
            p50, p95, lp50 = pct(times, 50) * 1e3, pct(times, 95) * 1e3, pct(ltimes, 50) * 1e3
            print(f"{label:<18}{q[:18]:<20}{total:>8}{p50:>9.1f}{p95:>9.1f}{ltotal:>10}{lp50:>10.1f}"
                  f"{lp50 / max(p50, 1e-6):>8.1f}x", flush=True)
        print(f"mix overall: p50 {pct(all_times, 50) * 1e3:.1f} ms, p95 {pct(all_times, 95) * 1e3:.1f} ms")
        if args.no_publish:
            info["con"].close()
            continue
        lat = publish_latency(workdir, info["index"])
        print(f"publish-to-searchable (app path, {len(lat)} samples): "
              f"median {statistics.median(lat) * 1e3:.0f} ms, max {max(lat) * 1e3:.0f} ms", flush=True)
        info["con"].close()
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
