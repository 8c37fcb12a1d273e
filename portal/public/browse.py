"""Public browsing pages that index the site: /tasks (every public task), /sitemap.xml and
/robots.txt. The task list is one more list of the views._list kind (page, fragment,
JSON, CSV from one query); the sitemap lists exactly what the visibility rule shows."""
from flask import Response, abort, current_app, request, stream_with_context, url_for

from .. import clock, queries, sitemap
from . import bp
from .datasets import TASKS, task_json
from .views import _list


def task_row(task, now) -> dict:
    """A task as a list row (JSON, CSV): its public shape (a plan that is not public yet
    stays unnamed, as on the task's own page)."""
    return task_json(task, now)


# The HTML rule is registered first (lowest decorator) so url_for("public.tasks") builds the page.
@bp.get("/tasks.<any(json,csv):fmt>")
@bp.get("/tasks", defaults={"fmt": "html"})
def tasks(fmt):
    return _list(fmt, TASKS, queries.list_tasks, queries.iter_tasks, task_row, "public/tasks", light_html=True,
                 task_kinds=list(queries.TASK_KINDS.items()))


@bp.app_template_global()
def lists_accepting(param: str) -> list[str]:
    """Titles of the public lists that accept query parameter `param` (for /data)."""
    titles = {"items": "抽查事项", "plans": "抽查计划", "tasks": "抽查任务", "results": "检查结果", "penalties": "行政处罚"}
    return [titles[name] for name, params in queries.LIST_PARAMS.items() if param in params]


# ---------------------------------------------------------------- sitemap

def _xml(chunks) -> Response:
    return Response(stream_with_context(chunks), content_type="application/xml; charset=utf-8")


def _base_url() -> str:
    return request.host_url.rstrip("/")


@bp.get("/sitemap.xml", endpoint="sitemap")
def sitemap_index():
    """Every public URL, or (over SITEMAP_MAX_URLS) an index of numbered sitemap files."""
    now, limit = clock.now(), current_app.config["SITEMAP_MAX_URLS"]
    parts = sitemap.plan_parts(now, limit)
    if parts is None:
        urls = (url for section in sitemap.SECTIONS for url in sitemap.section_urls(section, now))
        return _xml(sitemap.urlset_xml(_base_url(), urls))
    return _xml(sitemap.index_xml([url_for("public.sitemap_part", section=p.section, number=p.number,
                                           _external=True) for p in parts]))


@bp.get("/sitemaps/<section>-<int:number>.xml")
def sitemap_part(section, number):
    now, limit = clock.now(), current_app.config["SITEMAP_MAX_URLS"]
    part = sitemap.SECTION_NAMES.get(section)
    if part is None or number < 1 or (number - 1) * limit >= max(sitemap.section_size(part, now), 1):
        abort(404)
    return _xml(sitemap.urlset_xml(_base_url(), sitemap.section_urls(part, now, (number - 1) * limit, limit)))


@bp.get("/robots.txt")
def robots():
    text = f"User-agent: *\nDisallow: /admin/\nSitemap: {url_for('public.sitemap', _external=True)}\n"
    return Response(text, content_type="text/plain; charset=utf-8")
