"""RSS 2.0 and Atom feeds (the only module that imports feedgen).

Views gather public records (through the visibility rule) into FeedEntry values;
this module turns them into XML: stable tag: ids, timezone-aware dates, newest
first, and no control characters (XML 1.0 forbids them; one stray \\x0b in a
clerk's title must not break every reader).
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from feedgen.feed import FeedGenerator

MAX_ENTRIES = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean(text) -> str:
    return _CONTROL.sub("", str(text or ""))


@dataclass
class FeedEntry:
    id: str  # stable tag: URI, e.g. tag:example.gov.cn,2025:penalty/12
    title: str
    link: str
    updated: datetime
    published: datetime | None = None
    summary: str = ""
    category: str | None = None
    author: str | None = None


def tag_uri(authority: str, kind: str, record_id) -> str:
    """A stable id that survives host names, ports and URL changes."""
    return f"{tag_prefix(authority)}{kind}/{record_id}"


def tag_prefix(authority: str) -> str:
    """What every tag: URI of `authority` starts with (a feed of 50 entries writes it once)."""
    return f"tag:{clean(authority).split(':')[0] or 'localhost'},2025:"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def render(fmt: str, *, feed_id: str, title: str, link: str, self_link: str, subtitle: str,
           entries: list[FeedEntry], updated: datetime | None = None, language: str = "zh-CN") -> bytes:
    """The feed as bytes; `fmt` is "atom" or "rss". Entries are sorted newest first and capped."""
    entries = sorted(entries, key=lambda e: (_aware(e.updated), e.id), reverse=True)[:MAX_ENTRIES]
    fg = FeedGenerator()
    fg.id(clean(feed_id))
    fg.title(clean(title) or "-")
    fg.subtitle(clean(subtitle) or "-")
    # RSS's <channel><link> is the last link given: the page (alternate) must come after self.
    fg.link(href=clean(self_link), rel="self")
    fg.link(href=clean(link), rel="alternate")
    fg.language(language)
    fg.generator("portal")
    newest = max((_aware(e.updated) for e in entries), default=None)
    fg.updated(newest or _aware(updated or datetime(2025, 1, 1, tzinfo=timezone.utc)))
    # feedgen prepends add_entry(); add oldest first so the document lists newest first.
    for e in reversed(entries):
        fe = fg.add_entry()
        fe.id(clean(e.id))
        fe.guid(clean(e.id), permalink=False)
        fe.title(clean(e.title) or "-")
        fe.link(href=clean(e.link))
        fe.updated(_aware(e.updated))
        if e.published:
            fe.published(_aware(e.published))
        if e.summary:
            fe.summary(clean(e.summary))  # also the RSS description
        if e.category:
            fe.category(term=clean(e.category))
        if e.author:
            fe.author(name=clean(e.author))
    return fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)


CONTENT_TYPES = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}
