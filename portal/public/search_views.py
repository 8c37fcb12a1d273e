"""/search and /search.json: full-text search over public records, with facets (SPEC §8)."""
from flask import current_app, jsonify, redirect, render_template, request

from .. import clock, search
from ..web import paging_from_request, url_with, wants_fragment
from . import bp

FILTER_ARGS = search.FACETS
FACET_LABELS = {"kind": "类别", "dept": "部门", "year": "年度", "conclusion": "检查结论", "category": "处罚类别",
                "industry": "行业"}
SORTS = {"relevance": "按相关度", "date": "按日期（新→旧）"}


def _run():
    q = request.args.get("q", "").strip()[:200]
    filters = {name: request.args.get(name, "").strip() for name in FILTER_ARGS if request.args.get(name)}
    sort = request.args.get("sort", "relevance")
    sort = sort if sort in SORTS else "relevance"
    paging = paging_from_request(current_app.config.get("PER_PAGE_DEFAULT", 20), 100)
    results = search.query(q, filters=filters, sort=sort, page=paging.page, per_page=paging.per_page,
                           now=clock.now(), suggest=True)
    return q, filters, sort, results


@bp.get("/search", endpoint="search")
def search_page():
    q = request.args.get("q", "").strip()
    plain_lookup = q and not wants_fragment() and not any(request.args.get(n) for n in FILTER_ARGS) \
        and "page" not in request.args
    if plain_lookup:
        target = search.exact_target(q, clock.now())
        if target:  # an exact USCC, 文号 or task code jumps straight to its record
            return redirect(target, code=303)
    q, filters, sort, results = _run()
    context = dict(q=q, filters=filters, sort=sort, results=results, facet_labels=FACET_LABELS, sorts=SORTS,
                   url_with=url_with)
    if wants_fragment():
        return render_template("public/search/_results.html", oob=True, **context)
    return render_template("public/search/index.html", **context)


@bp.get("/search.json")
def search_json():
    q, filters, sort, results = _run()
    return jsonify({
        "q": q, "filters": filters, "sort": sort, "exact": results.exact,
        "items": [hit.as_json() for hit in results.hits],
        "total": results.total, "page": results.page, "per_page": results.per_page,
        "facets": {name: [{"value": v.value, "label": v.label, "count": v.count} for v in values]
                   for name, values in results.facets.items()},
    })
