"""Shared bench helpers: the app on a bench instance dir, percentiles, a plain-text table."""
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DEFAULT_INSTANCE = OUT / "results-100k"
# The data describe the past as of this instant (as the demo does); pages are measured "then".
FIXED_NOW = "2026-11-23T02:00:00+00:00"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_app(instance: Path, database_url: str | None = None, **overrides):
    """The real app on a bench instance dir (SQLite file inside it unless a URL is given)."""
    from portal import create_app

    instance = Path(instance).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{instance / 'portal.db'}"
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    # Pages are measured as built (uncached); bench/province.py's throughput run measures the
    # per-worker page cache separately.
    overrides.setdefault("PUBLIC_PAGE_CACHE", 0)
    overrides.setdefault("LOG_LEVEL", "WARNING")  # no request log lines between the figures
    return create_app(INSTANCE_PATH=str(instance), SQLALCHEMY_DATABASE_URI=url, FIXED_NOW=FIXED_NOW,
                      SEARCH_INDEX_DIR=str(instance / "search-index"), SEARCH_SYNC_ON_COMMIT=False, **overrides)


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values) -> float:
    return statistics.median(values)


def table(headers, rows) -> str:
    """A fixed-width text table (wide CJK characters count double)."""
    def width(text):
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))

    cols = [max(width(h), *(width(r[i]) for r in rows)) if rows else width(h) for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            pad = cols[i] - width(cell)
            text = str(cell)
            out.append(text + " " * pad if i == 0 else " " * pad + text)
        return "  ".join(out)

    rule = "  ".join("-" * c for c in cols)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
