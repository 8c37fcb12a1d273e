"""Full-text search over public records (the only package that imports Whoosh).

One module per concern:
    analysis        normalisation, n-grams, codes (documents and queries alike)
    documents       record → document; `public_fields(kind, record, now)` is where all text comes from
    store           index storage: schema, generations, pointer file, locks
    syncing         change log → index (one writer path, lock with timeout), rebuild, verify, hooks
    engine          the query engine (bitsets over segments, tiers, facet counts)
    api             what views call: query, exact_target, index_state
    whoosh_compat   the two uses of Whoosh internals, pinned by tests/test_search_whoosh_compat.py

The database is the source of truth; the index is a rebuildable cache fed from the
`search_change` log. Every hit shown and every facet count is re-checked against the
visibility rule in the database, so even a stale index never leaks.
"""
from .analysis import norm_code
from .api import (FacetValue, Hit, SearchResults, Suggestion, exact_target, highlight, index_state, query,
                  warm, warm_worker)
from .documents import KIND_LABELS, KINDS, public_fields
from .engine import FACETS
from .syncing import Difference, behind_by, catch_up, init_app, is_behind, open_index, rebuild, sync, verify

__all__ = ["sync", "rebuild", "verify", "query", "exact_target", "highlight", "init_app", "is_behind",
           "behind_by", "catch_up", "open_index", "SearchResults", "Hit", "FacetValue", "Suggestion", "Difference",
           "KIND_LABELS", "KINDS", "FACETS", "norm_code", "public_fields", "warm", "warm_worker", "index_state"]
