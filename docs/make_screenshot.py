"""Regenerate docs/screenshot.png (`make screenshot`): the home page with demo data, in Chromium.

Serves a throwaway copy of the demo data (clock fixed like the browser tests) and saves a
1280×860 PNG of the page, under 300 KB.
"""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from servers import gunicorn_server, prepare_demo_database  # noqa: E402

NOW = "2026-11-23T02:00:00+00:00"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def main(path="/", out=ROOT / "docs" / "screenshot.png"):
    from playwright.sync_api import sync_playwright

    env = {"PORTAL_FIXED_NOW": NOW, "SECRET_KEY": "screenshot"}
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare_demo_database(Path(tmp), env=env, size="small")
        with gunicorn_server(url, Path(tmp), workers=2, env=env) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page.goto(base + path)
            page.screenshot(path=str(out))
            browser.close()
    size = Path(out).stat().st_size
    print(f"wrote {out} ({size // 1024} KB)")
    if size >= 300_000:
        sys.exit("screenshot is 300 KB or more: too big to commit")


if __name__ == "__main__":
    main(*sys.argv[1:2])
