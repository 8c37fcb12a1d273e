"""Absolute URLs for what leaves the site (feeds, the sitemap, anything read elsewhere).

They are built from the configured PUBLIC_BASE_URL, never from the request's Host header: a
client chooses that header, and a forged one must not end up in links or ids that feed
readers and caches keep and show to others.
"""
from flask import current_app, request


def base_url() -> str:
    """The site's canonical address, e.g. "https://gs.example.gov.cn" (no trailing slash)."""
    return current_app.config["PUBLIC_BASE_URL"]


def absolute(path: str) -> str:
    """`path` ("/results/1") on the canonical address."""
    return base_url() + (path if path.startswith("/") else "/" + path)


def current_absolute() -> str:
    """This request's path and query string on the canonical address."""
    query = request.query_string.decode("utf-8", "replace")
    return absolute(request.path + ("?" + query if query else ""))


def tag_authority() -> str:
    """The authority of tag: URIs (feed and entry ids): FEED_TAG_AUTHORITY, by default the canonical host."""
    return current_app.config["FEED_TAG_AUTHORITY"]
