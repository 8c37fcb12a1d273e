"""Issue 9 item 1: a crawl of the demo site from `/` as a visitor clicks it.

Every internal link on every public HTML page (and every htmx fragment those pages load) is
followed. A navigation link must land on a 200 HTML page; a data link (JSON, CSV, Atom/RSS,
XLSX, pool.txt, the verify script, the sitemap) must say what it is in its text and answer 200;
nothing may answer 5xx. To stay fast on the demo, each URL pattern (digits folded, query
parameter names kept) is followed at most PER_PATTERN times: every kind of link is walked, not
every record.
"""
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

NOW = "2026-11-23T02:00:00+00:00"  # the demo's "today"
PER_PATTERN = 3
MAX_PAGES = 900
BACK_OFFICE = ("/admin", "/logout")
# Data suffixes and the words that label them (one is enough).
DATA = {
    ".json": ("JSON",), ".csv": ("CSV",), ".atom": ("Atom", "RSS", "订阅"), ".rss": ("RSS", "订阅"),
    ".xlsx": ("XLSX", "Excel"), ".txt": ("txt", "TXT", "文本"), ".py": (".py", "脚本"), ".xml": ("XML", "站点地图"),
}


class _Links(HTMLParser):
    """Anchors (href, download, text), hx-get fragment URLs and alternate links of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors, self.fragments, self._open = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("hx-get"):
            self.fragments.append(a["hx-get"])
        if tag == "a" and a.get("href") is not None:
            label = " ".join(filter(None, (a.get("aria-label"), a.get("title"))))
            self._open.append({"href": a["href"], "download": "download" in a, "text": label})

    def handle_data(self, data):
        for anchor in self._open:
            anchor["text"] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            self.anchors.append(self._open.pop())


def _internal(base, href):
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
        return None
    url = urlsplit(urljoin(base, href))
    if url.scheme not in ("http", "https") or url.netloc not in ("localhost", "127.0.0.1:5000"):
        return None
    return url.path + (f"?{url.query}" if url.query else "")


def _pattern(url):
    parts = urlsplit(url)
    names = sorted({p.split("=", 1)[0] for p in parts.query.split("&") if p})
    return re.sub(r"[0-9A-Z]{6,}|\d+", "N", parts.path) + "?" + "&".join(names)


def _data_suffix(path):
    path = urlsplit(path).path
    return next((s for s in DATA if path.endswith(s)), None)


@pytest.fixture
def demo_site(runner, db, set_now):
    set_now(NOW)
    result = runner.invoke(args=["demo", "load", "--size", "small"])
    assert result.exit_code == 0, result.output
    return db


def test_every_link_of_the_demo_lands_on_a_page_or_a_labelled_download(client, demo_site):
    queue, seen, per_pattern = deque([("/", "page", "（起点）")]), {"/"}, {}
    problems, pages, downloads = [], 0, 0
    while queue and pages < MAX_PAGES:
        url, how, where = queue.popleft()
        headers = {"HX-Request": "true"} if how == "fragment" else {}
        response = client.get(url, headers=headers, follow_redirects=True)
        kind = response.headers.get("Content-Type", "")
        if response.status_code >= 500:
            problems.append(f"{response.status_code} {url} (linked from {where})")
            continue
        if how == "download":
            downloads += 1
            if response.status_code != 200:
                problems.append(f"download {url} answered {response.status_code} (linked from {where})")
            continue
        if response.status_code != 200 or not kind.startswith("text/html"):
            problems.append(f"{how} {url} answered {response.status_code} {kind} (linked from {where})")
            continue
        pages += 1
        parser = _Links()
        parser.feed(response.get_data(as_text=True))
        base = "http://localhost" + url
        found = [(a["href"], a) for a in parser.anchors] + [(f, None) for f in parser.fragments]
        for href, anchor in found:
            target = _internal(base, href)
            if target is None or target.startswith(BACK_OFFICE):
                continue
            suffix = _data_suffix(target)
            if anchor is not None and (suffix or anchor["download"]):
                text = " ".join(anchor["text"].split())
                words = DATA.get(suffix, ("下载",)) if suffix else ("下载", ".py", "XLSX", "CSV", "JSON")
                if not any(w.lower() in text.lower() for w in words):
                    problems.append(f"data link {target} on {url} is not labelled as {'/'.join(words)}: {text!r}")
                how_next = "download"
            elif anchor is None:
                how_next = "fragment"
            else:
                how_next = "page"
            key = (how_next, _pattern(target))
            if target in seen or per_pattern.get(key, 0) >= PER_PATTERN:
                continue
            seen.add(target)
            per_pattern[key] = per_pattern.get(key, 0) + 1
            queue.append((target, how_next, url))
    assert not problems, "\n".join(problems[:40])
    # The walk really covered the site: every kind of public page was reached.
    reached = {p for _how, p in per_pattern}
    for expected in ("/results?", "/penalties?", "/plans?", "/tasks?", "/items?", "/stats?", "/data?",
                     "/results/N?", "/penalties/N?", "/plans/N?", "/entities/N?", "/draws/N?"):
        assert expected in reached, (expected, sorted(reached))
    print(f"crawled {pages} pages and fragments, {downloads} downloads, {len(reached)} link patterns")
    assert pages > 60 and downloads > 10, (pages, downloads)
