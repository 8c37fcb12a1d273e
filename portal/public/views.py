"""Public pages: one read function per list or record, rendered as HTML, htmx fragment,
JSON or streamed CSV depending on the URL suffix (SPEC §8). Views stay thin: parse the
query string, call portal.queries, pick the representation."""
from urllib.parse import urlencode

from flask import Response, abort, current_app, jsonify, redirect, render_template, request
from sqlalchemy import select

from .. import caching, clock, deadlines, queries
from ..domain.visibility import task_named_beside_result
from ..errors import BadInput
from ..exports import csv_response, json_list
from ..extensions import db
from ..models import CheckItem, Department, Entity, EntityType, Plan, Task, VocabularyKind
from ..objections import queries as objections
from ..web import Page, Paging, paging_from_request, render_page
from . import bp
from .datasets import (ENTITY_KEYS, FIELD_LABELS, ITEMS, LISTS, PENALTIES, PLANS, RESULTS, TASK_KEYS, entity_json,
                       item_json, penalty_json, plan_json, result_json, task_json)
from .draws import task_draw_history_json
from .shape import public_name, restrict, shape, shape_version

LIST_SUFFIX = "<any(json,csv):fmt>"
# Computed public fields of list items (part of the public shape, portal.public.shape.FIELDS),
# each one batch per page (no query per row); CSV rows get the same from portal.queries.iter_*
# (disclosure) and objections.add_objection_status.
LIST_EXTRAS = {
    kind: {"disclosure": deadlines.disclosure_status_json(kind),
           # the public objection status (SPEC §12) on every channel
           "objection": lambda records, now, kind=kind: objections.objection_status_many(kind, records, now)}
    for kind in ("result", "penalty")}
OBJECTION_KINDS = ("result", "penalty")
# Lists whose list_* function returns public dicts (portal.public.shape), not records.
SHAPED_KINDS = ("result", "penalty")


def _by_id(items, key) -> dict:
    return {item["id"]: item[key] for item in items}


def _paging():
    return paging_from_request(current_app.config.get("PER_PAGE_DEFAULT", 20),
                               current_app.config.get("PER_PAGE_MAX", 200))


def _short_names(departments) -> dict:
    """{department code: the name a list row shows (the short name when there is one)}."""
    return {d.code: d.short_name or d.name for d in departments}


def code_lists(now) -> dict:
    """What the pages' filter forms and rows read from the code lists: department options and
    short names, conclusions, penalty categories. They change only with a write, so each worker
    keeps them under the public revision (portal/caching.py: raised by every commit that
    changes a public table, departments and code lists included; its key also holds the latest
    scheduled moment passed and the China date, as the page's ETag does)."""
    key = caching.revision_key(now)
    cache = current_app.extensions.setdefault("public_code_lists", {})
    lists = cache.get(key)
    if lists is None:
        departments = queries.departments()
        lists = {"dept_options": [(d.code, d.name) for d in departments], "dept_short": _short_names(departments),
                 "conclusions": queries.vocabulary(VocabularyKind.CONCLUSION),
                 "categories": [(label, label) for _, label in queries.vocabulary(VocabularyKind.PENALTY_CATEGORY)]}
        cache.clear()  # only the current revision is ever asked for again
        cache[key] = lists
    return lists


def _year_choices() -> list[int]:
    this_year = clock.today().year
    return list(range(this_year + 1, this_year - 6, -1))


def _list(fmt: str, dataset, list_fn, iter_fn, to_json, template_dir: str, light_html: bool = False,
          page_extras=None, **context):
    """One list, four representations: page, htmx fragment, JSON envelope, streamed CSV.

    `light_html`: list_fn takes `full=` and loads less for an HTML page than for JSON.
    `page_extras(filters, now) -> dict`: more template context for the HTML page.
    """
    if fmt == "html" and any(value == "" for _, value in request.args.items(multi=True)):
        # A submitted filter form sends every field; share the URL without the empty ones.
        # (htmx follows the redirect and pushes the final URL.)
        clean = [(k, v) for k, v in request.args.items(multi=True) if v != ""]
        return redirect(request.path + ("?" + urlencode(clean) if clean else ""))
    now = clock.now()
    list_name = template_dir.rsplit("/", 1)[-1]
    # queries.LIST_PARAMS says what each list accepts; the same URL answers alike on every
    # channel (a CSV has every row, but a bad page number is refused there too).
    errors = []
    try:
        filters = queries.parse_filters(request.args, list_name)
    except BadInput as exc:
        filters, errors = queries.Filters(), errors + exc.messages
    try:
        paging = _paging()
    except BadInput as exc:
        paging, errors = Paging(1, current_app.config.get("PER_PAGE_DEFAULT", 20)), errors + exc.messages
    if errors:
        if fmt == "json":
            return jsonify({"error": {"status": 400, "title": "筛选条件有误", "message": "；".join(errors),
                                      "messages": errors}}), 400
        if fmt == "csv":
            return Response("筛选条件有误：" + "；".join(errors) + "\n", 400, content_type="text/plain; charset=utf-8")
    status = 400 if errors else 200
    if fmt == "csv":
        # iter_* yields records (to_json makes the dict) or, for big tables, the dicts themselves.
        items = (record if isinstance(record, dict) else to_json(record, now) for record in iter_fn(filters, now))
        if dataset.kind in OBJECTION_KINDS:
            items = objections.add_objection_status(dataset.kind, items, now)
        return csv_response(f"{list_name}.csv", dataset.csv_header, (dataset.csv_row(item) for item in items))
    if errors:
        page = Page([], 0, paging.page, paging.per_page)
    else:
        page = list_fn(filters, now, paging, **({"full": fmt == "json"} if light_html else {}))
    # Results and penalties come as public dicts already carrying `disclosure` (portal.queries
    # reads them as plain rows); the other lists as records that to_json shapes.
    shaped = dataset.kind in SHAPED_KINDS
    extras = {key: (_by_id(page.items, key) if shaped and key == "disclosure" else batch(page.items, now))
              for key, batch in LIST_EXTRAS.get(dataset.kind, {}).items()}
    if fmt == "json":
        if shaped:
            return json_list([restrict(dataset.kind, {**item, "objection": extras["objection"].get(item["id"])})
                              for item in page.items], page.total, page.page, page.per_page)
        return json_list([restrict(dataset.kind, {**to_json(record, now),
                                                  **{key: values.get(record.id) for key, values in extras.items()}})
                          for record in page.items], page.total, page.page, page.per_page)
    context["objection_status"] = extras.get("objection", {})
    lists = code_lists(now)
    context.update(page=page, filters=filters, errors=errors, dataset=dataset, args=request.args, extras=extras,
                   task_visible=lambda task: queries.public_state_visible("task", task, now),
                   dept_options=lists["dept_options"], dept_short=lists["dept_short"],
                   root=request.script_root,
                   year_options=[(str(y), f"{y}年") for y in _year_choices()])
    if page_extras is not None and not errors:
        context.update(page_extras(filters, now))
    return render_page(f"{template_dir}/index.html", f"{template_dir}/_rows.html", **context), status


# ---------------------------------------------------------------- home and data

@bp.get("/")
def home():
    now = clock.now()
    latest = Paging(1, 5, count=False)  # the latest five of each list; the totals come from public_counts
    f = queries.Filters()
    return render_template(
        "public/home.html", counts=queries.public_counts(now),
        plans=queries.list_plans(f, now, latest, full=False).items,
        tasks=queries.list_tasks(f, now, latest, latest=True).items,
        results=queries.list_results(f, now, latest, full=False, disclosure=False).items,
        penalties=queries.list_penalties(f, now, latest, disclosure=False).items,
        dept_short=code_lists(now)["dept_short"], root=request.script_root)


@bp.get("/data")
def data():
    return render_template(
        "public/data/index.html", datasets=LISTS, task_keys=TASK_KEYS, entity_keys=ENTITY_KEYS,
        departments=queries.departments(),
        conclusions=queries.vocabulary(VocabularyKind.CONCLUSION),
        follow_ups=queries.vocabulary(VocabularyKind.FOLLOW_UP),
        categories=queries.vocabulary(VocabularyKind.PENALTY_CATEGORY),
        entity_types=[t.value for t in EntityType])


# ---------------------------------------------------------------- lists

@bp.get("/items", defaults={"fmt": "html"})
@bp.get("/items." + LIST_SUFFIX)
def items(fmt):
    return _list(fmt, ITEMS, queries.list_items, queries.iter_items, item_json, "public/items")


@bp.get("/plans", defaults={"fmt": "html"})
@bp.get("/plans." + LIST_SUFFIX)
def plans(fmt):
    return _list(fmt, PLANS, queries.list_plans, queries.iter_plans, plan_json, "public/plans")


@bp.get("/results", defaults={"fmt": "html"})
@bp.get("/results." + LIST_SUFFIX)
def results(fmt):
    return _list(fmt, RESULTS, queries.list_results, queries.iter_results, result_json, "public/results",
                 light_html=True, conclusions=code_lists(clock.now())["conclusions"])


@bp.get("/penalties", defaults={"fmt": "html"})
@bp.get("/penalties." + LIST_SUFFIX)
def penalties(fmt):
    return _list(fmt, PENALTIES, queries.list_penalties, queries.iter_penalties, penalty_json, "public/penalties",
                 categories=code_lists(clock.now())["categories"],
                 page_extras=lambda filters, now: {"ended_count": queries.count_ended_penalties(filters, now)})


# ---------------------------------------------------------------- details

def _version_or_none(kind: str, detail):
    """`?version=N` of a corrected record: the kept RecordVersion, or 404."""
    raw = request.args.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or detail.tombstone:
        abort(404)
    kept = queries.record_version(kind, detail.record.id, int(raw))
    if kept is None:
        abort(404)
    return kept


# What a kept version's snapshot refers to by id or code (shape.KeptRecord resolves through it).
_RESOLVABLE = {"entity": Entity, "task": Task, "department": Department, "plan": Plan, "check_item": CheckItem}


def _resolve(what: str, key):
    if what == "department_code":
        return db.session.execute(select(Department).where(Department.code == key)).scalar()
    model = _RESOLVABLE.get(what)
    return db.session.get(model, key) if model is not None and key is not None else None


def _version_data(kind: str, record, kept) -> dict:
    """A kept version through the same allow-list as the current one (portal.public.shape)."""
    return shape_version(kind, record, kept.data, kept.version, clock.now(), _resolve)


def _objection_of(kind: str, record):
    """One record's public objection status (SPEC §12), or None; lists use the batched call."""
    if kind not in OBJECTION_KINDS:
        return None
    return objections.objection_status_many(kind, [record], clock.now())[record.id]


def _tombstone_json(kind: str, record_id, detail):
    state = detail.state
    if state.reason is not None and state.reason.value == "withdrawn":
        body = {"status": "withdrawn", "withdrawn_on": state.stopped_on.isoformat(), "reason": state.note}
    else:
        # ended_by: "credit_repair" (信用修复, early) or "publicity_period" (the period ran out).
        body = {"status": "publicity_ended", "stopped_on": state.stopped_on.isoformat(),
                "ended_by": "credit_repair" if state.reason.value == "credit_repaired" else "publicity_period"}
    objection = _objection_of(kind, detail.record)
    if objection is not None:
        body["objection"] = objection  # the outcome of an objection stays visible, even on a tombstone
    return jsonify({"kind": kind, "id": record_id, **body})


def _versions_json(kind_path: str, record_id, detail) -> list:
    return [{"version": v.version, "replaced_at": v.replaced_at.isoformat(),
             "url": f"/{kind_path}/{record_id}?version={v.version}"} for v in detail.versions]


def _detail(kind, kind_path, record_key, detail, fmt, to_json, template, **context):
    if detail is None:
        abort(404)
    kept = _version_or_none(kind, detail)
    if detail.tombstone:
        if fmt == "json":
            return _tombstone_json(kind, record_key, detail)
        return render_template("public/tombstone.html", kind=kind, detail=detail, state=detail.state,
                               record_key=record_key, objection=_objection_of(kind, detail.record))
    if kept is not None:
        if fmt == "json":
            return jsonify({"kind": kind, "id": record_key, "version": kept.version,
                            "replaced_at": kept.replaced_at.isoformat(), "reason": kept.reason,
                            "data": _version_data(kind, detail.record, kept)})
        return render_template("public/version.html", kind=kind, detail=detail, kept=kept,
                               data=_version_data(kind, detail.record, kept), record_key=record_key,
                               field_labels=FIELD_LABELS,
                               current_url=request.path)
    objection = _objection_of(kind, detail.record)
    if fmt == "json":
        extra = {"objection": objection} if kind in OBJECTION_KINDS else {}
        return jsonify(restrict(kind, {**to_json(), "previous_versions": _versions_json(kind_path, record_key, detail),
                                       "disclosure": deadlines.disclosure_json(kind, detail.record, clock.now()),
                                       **extra}))
    context["shown"] = shape(kind, detail.record, clock.now())  # the page renders the record's public shape
    return render_template(template, detail=detail, record=detail.record, objection=objection, **context)


# Decorators apply bottom-up, so each detail's HTML rule (the lower one) is registered first and
# url_for(endpoint) without fmt builds the HTML page's URL, not the .json one (issue 9 item 1).
@bp.get("/plans/<int:plan_id>.json", defaults={"fmt": "json"})
@bp.get("/plans/<int:plan_id>", defaults={"fmt": "html"})
def plan(plan_id, fmt):
    now = clock.now()
    detail = queries.get_plan(plan_id, now)
    tasks = queries.plan_tasks(detail.record, now) if detail and detail.state.is_visible else []
    if detail is not None:
        detail.record.public_task_count = len(tasks)
    task_disclosure = deadlines.disclosure_status_json("task")(tasks, now)

    def to_json():
        return {**plan_json(detail.record, now), "tasks": [{"code": t.code, "url": f"/tasks/{t.code}", "title": t.title,
                                                       "period_start": t.period_start.isoformat(),
                                                       "period_end": t.period_end.isoformat(),
                                                       "joint": t.is_joint, "surprise": t.surprise,
                                                       "disclosure": task_disclosure[t.id]}
                                                      for t in tasks]}
    return _detail("plan", "plans", plan_id, detail, fmt, to_json, "public/plans/detail.html", tasks=tasks,
                   task_disclosure=task_disclosure)


@bp.get("/tasks/<code>.json", defaults={"fmt": "json"})
@bp.get("/tasks/<code>", defaults={"fmt": "html"})
def task(code, fmt):
    now = clock.now()
    detail = queries.get_task(code, now)
    draws = results_ = plan_public = None
    if detail is not None and detail.state.is_visible:
        draws = queries.task_draws(detail.record, now)
        results_ = queries.task_results(detail.record, now)
        plan_public = detail.record.plan is not None and queries.public_state_visible("plan", detail.record.plan, now)

    def to_json():
        data = task_json(detail.record, now)  # a plan not (yet) public stays unnamed (shape)
        current = draws.current
        data["draw"] = None if current is None else {
            "id": current.id, "url": f"/draws/{current.id}", "drawn_at": current.drawn_at.isoformat(),
            "selected": [{"uscc": s.uscc, "name": s.name, "stratum": s.stratum, "key": s.key,
                          "inspectors": [{"name": name, "licence_no": licence_no} for name, licence_no in s.inspectors]}
                         for s in draws.selections],
            "disclosure": deadlines.disclosure_status_json("draw")([current], now)[current.id]}
        data["superseded_draws"] = [{"id": d.id, "url": f"/draws/{d.id}", "reason": d.reason}
                                    for d in draws.superseded]
        data["draws"] = task_draw_history_json(draws)  # every public draw, locked ones included (SPEC §5 item 7)
        data["results"] = [{"id": r.id, "url": f"/results/{r.id}", "uscc": r.entity.uscc,
                            "entity_name": public_name(r.entity.name), "formed_date": r.formed_date.isoformat(),
                            "conclusions": [{"code": c.code, "label": c.label} for c in r.conclusions]}
                           for r in results_]
        return data
    return _detail("task", "tasks", code, detail, fmt, to_json, "public/tasks/detail.html",
                   draws=draws, results=results_, plan_public=plan_public)


@bp.get("/results/<int:result_id>.json", defaults={"fmt": "json"})
@bp.get("/results/<int:result_id>", defaults={"fmt": "html"})
def result(result_id, fmt):
    now = clock.now()
    detail = queries.get_result(result_id, now)
    task_public = detail is not None and queries.public_state_visible("task", detail.record.task, now)
    task_named = detail is not None and task_named_beside_result(detail.record.task, now)
    return _detail("result", "results", result_id, detail, fmt, lambda: result_json(detail.record, now),
                   "public/results/detail.html", task_public=task_public, task_named=task_named)


@bp.get("/penalties/<int:penalty_id>.json", defaults={"fmt": "json"})
@bp.get("/penalties/<int:penalty_id>", defaults={"fmt": "html"})
def penalty(penalty_id, fmt):
    now = clock.now()
    detail = queries.get_penalty(penalty_id, now)
    task_public = detail is not None and detail.record.task is not None and \
        queries.public_state_visible("task", detail.record.task, now)
    credit_repair = None
    if fmt == "html" and detail is not None and detail.state.is_visible and request.args.get("version") is None:
        credit_repair = objections.credit_repair_eligibility(detail.record, now)
    return _detail("penalty", "penalties", penalty_id, detail, fmt, lambda: penalty_json(detail.record, now),
                   "public/penalties/detail.html", task_public=task_public, credit_repair=credit_repair)


@bp.get("/entities/<uscc>.json", defaults={"fmt": "json"})
@bp.get("/entities/<uscc>", defaults={"fmt": "html"})
def entity(uscc, fmt):
    now = clock.now()
    profile = queries.get_entity(uscc, now, full=fmt == "json")
    if profile is None:
        abort(404)
    if fmt == "json":
        data = entity_json(profile, now)
        for kind, key in (("result", "results"), ("penalty", "penalties")):
            data[key] = list(objections.add_objection_status(kind, data[key], now))
        return jsonify(data)
    objection_status = {"result": objections.objection_status_many("result", profile.results, now),
                        "penalty": objections.objection_status_many("penalty", profile.penalties, now)}
    return render_template("public/entities/detail.html", profile=profile, entity=profile.entity,
                           shown=shape("entity", profile.entity, now, own_page=True),
                           selections=profile.selections, objection_status=objection_status)
