"""Read functions for the public site, shared by every representation.

HTML pages, htmx fragments, JSON and CSV of one list all come from the same
`list_*` (one page) / `iter_*` (every matching row, streamed) function; detail
pages from `get_*`. Every query goes through `visibility_sql.public_clause` and
every single record through `domain.visibility.public_state`: nothing here
returns a record the public may not see (hidden → None; tombstones are returned
with their state so the page can say "已撤回" / "停止公示" and nothing else).
"""
import re
import time
from collections import namedtuple
from dataclasses import astuple, dataclass, field
from datetime import date, datetime

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, false, func, or_, select, union
from sqlalchemy.orm import joinedload, selectinload

from . import caching, deadlines
from .domain.dates import china_date, parse_date
from .draw_service import draws_of_task, why_drawn
from .domain.visibility import PublicState, Visibility, public_state, task_named_beside_result
from .errors import BadInput
from .extensions import db
from .models import (CheckItem, CheckItemVersion, Department, Draw, DrawAssignment, DrawSelection, Entity,
                     EntityType, Inspector, Penalty, PenaltyCategory, Plan, RecordVersion, Result, ResultConclusion, ResultFinding,
                     Task, VocabularyKind, VocabularyTerm, plan_department, result_inspector,
                     task_department)
from .visibility_sql import NOW, _no_index, at, lifecycle_clause, prepared, public_clause
from .web import Page, Paging

STREAM_BATCH = 500


# ---------------------------------------------------------------- filters

class FilterError(BadInput):
    """Invalid query-string filters; `messages` are plain Chinese sentences for the user."""

    def __init__(self, messages: list[str]):
        super().__init__(*messages)


# Every parameter of every public list (SPEC §8), in one place. /items, /plans, /tasks,
# /results and /penalties, and their .json and .csv, accept these names besides `page` and
# `per_page` (web.parse_paging). A value that matches nothing (an unknown department code,
# conclusion, category, task kind or region, a malformed year or date) is a 400 with a Chinese
# message on every channel, never a silent empty list. Names that are not listed are
# ignored, so tracking parameters (utm_source…) and other lists' filters do not break a link.
LIST_PARAMS = {
    "items": ("q", "dept", "year", "region"),
    "plans": ("q", "dept", "year", "region", "from", "to"),
    "tasks": ("q", "dept", "year", "region", "kind", "from", "to"),
    "results": ("q", "dept", "year", "region", "conclusion", "from", "to"),
    "penalties": ("q", "dept", "year", "region", "category", "from", "to"),
}
# /tasks?kind=: tasks of a plan, temporary tasks (no plan), joint tasks (several departments).
TASK_KINDS = {"plan": "计划任务", "temporary": "临时任务", "joint": "联合抽查任务"}
YEARS = range(1990, 2101)


@dataclass(frozen=True)
class Filters:
    dept: str | None = None
    year: int | None = None
    region: str | None = None
    q: str | None = None
    conclusion: str | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None  # tasks: "plan", "temporary" or "joint" (TASK_KINDS)

    @property
    def active(self) -> bool:
        return any(getattr(self, name) not in (None, "") for name in self.__dataclass_fields__)


_DEPT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_REGION = re.compile(r"^\d{2}(?:\d{2}){0,2}$")
_CONCLUSION_CODE = re.compile(r"^[A-Za-z]{1,3}\d{1,4}$")


def parse_filters(args, list_name: str | None = None) -> Filters:
    """The filters of list `list_name` (see LIST_PARAMS; None: every filter) from a query string.

    Raises FilterError with one Chinese sentence per problem.
    """
    accepted = set(LIST_PARAMS[list_name]) if list_name else {p for ps in LIST_PARAMS.values() for p in ps}
    errors: list[str] = []

    def text(name, limit):
        if name not in accepted:
            return None
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            errors.append(f"“{name}”不能超过 {limit} 个字符。")
            return None
        return value or None

    dept = text("dept", 32)
    if dept and not (_DEPT_CODE.match(dept) and _department_exists(dept)):
        errors.append(f"部门代码“{dept}”不存在，请从部门列表中选择（部门代码表见“开放数据”页）。")
        dept = None
    year = None
    raw_year = (args.get("year") or "").strip() if "year" in accepted else ""
    if raw_year:
        if raw_year.isascii() and raw_year.isdigit() and int(raw_year) in YEARS:
            year = int(raw_year)
        else:
            errors.append(f"年度“{raw_year}”不正确，请填写四位年份，例如 2025。")
    region = text("region", 12)
    if region and not _REGION.match(region):
        errors.append(f"行政区划代码“{region}”不正确，应为 2、4 或 6 位数字，例如 411421。")
        region = None
    elif region and not _region_exists(_region_prefix(region)):
        errors.append(f"行政区划代码“{region}”下没有本平台的部门或检查对象，请检查代码。")
        region = None
    q = text("q", 100)
    conclusion = text("conclusion", 100)
    if conclusion and not _term_exists(VocabularyKind.CONCLUSION, conclusion):
        errors.append(f"检查结果“{conclusion}”不在检查结果代码表中，请填写代码（如 C01）或完整名称（如 未发现问题）。")
        conclusion = None
    category = text("category", 40)
    if category and not _term_exists(VocabularyKind.PENALTY_CATEGORY, category):
        errors.append(f"处罚类别“{category}”不在处罚类别代码表中，请填写完整名称，例如 罚款。")
        category = None
    kind = text("kind", 20)
    if kind and kind not in TASK_KINDS:
        choices = "、".join(f"{code}（{label}）" for code, label in TASK_KINDS.items())
        errors.append(f"任务类型“{kind}”不正确，可选：{choices}。")
        kind = None
    dates = {}
    for name, label in (("from", "起始日期"), ("to", "截止日期")):
        raw = (args.get(name) or "").strip() if name in accepted else ""
        if raw:
            try:
                dates[name] = parse_date(raw)
            except ValueError as exc:
                errors.append(f"{label}：{exc}")
    if "from" in dates and "to" in dates and dates["from"] > dates["to"]:
        errors.append("起始日期不能晚于截止日期。")
    if errors:
        raise FilterError(errors)
    return Filters(dept=dept, year=year, region=region, q=q, conclusion=conclusion, category=category, kind=kind,
                   date_from=dates.get("from"), date_to=dates.get("to"))


def _department_exists(code: str) -> bool:
    return db.session.execute(select(Department.id).where(Department.code == code).limit(1)).first() is not None


def _region_exists(prefix: str) -> bool:
    """Whether a department or a directory entity lies in the region (a prefix of its code)."""
    return any(db.session.execute(select(model.id).where(model.region_code.startswith(prefix)).limit(1)).first()
               for model in (Department, Entity))


def _term_exists(kind: VocabularyKind, value: str) -> bool:
    """A code (C05, case-insensitive) or a label of the code list, retired terms included
    (old records keep them), or of the SPEC defaults when the list was never edited."""
    upper = value.upper()
    terms = select(VocabularyTerm.id).where(VocabularyTerm.kind == kind)
    if db.session.execute(terms.limit(1)).first() is None:
        return any(upper == code.upper() or value == label for code, label in _default_terms(kind))
    return db.session.execute(terms.where(or_(func.upper(VocabularyTerm.code) == upper, VocabularyTerm.label == value))
                              .limit(1)).first() is not None


def _region_prefix(region: str) -> str:
    """411400 → 4114 (a city matches its counties); 410000 → 41."""
    prefix = region
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def _dept_ids(code: str):
    return select(Department.id).where(Department.code == code)


def _dept_id(code: str):
    """The department's id as a scalar subquery (codes are unique; no such code: NULL, no rows).
    Unlike `IN (SELECT …)`, the database knows the value before it walks the table, so it can use
    an index that starts with department_id and keep that index's order: PostgreSQL plans an
    `IN` as a join that walks the whole list order and checks every row's department
    (/results?dept=…&year=… at 300k results: ~23 ms → ~0.2 ms)."""
    return _dept_ids(code).scalar_subquery()


def _date_range(column, f: Filters) -> list:
    conds = []
    if f.year:
        conds += [column >= date(f.year, 1, 1), column <= date(f.year, 12, 31)]
    if f.date_from:
        conds.append(column >= f.date_from)
    if f.date_to:
        conds.append(column <= f.date_to)
    return conds


def _entity_ids_matching(q: str):
    return select(Entity.id).where(or_(Entity.name.icontains(q, autoescape=True), Entity.uscc == q.upper()))


# Counting every public row of a 100,000-row table costs tens of milliseconds on SQLite,
# which would dominate a list page. Totals are therefore kept per app for a short while
# (config PUBLIC_COUNT_TTL seconds; default 30, 0 under TESTING), keyed by the exact count
# query and the public revision (portal/caching.py: raised by every public-relevant commit,
# and read once per request anyway for the page's ETag), so a write invalidates them at once.
# A cached total is computed at `now` floored to the minute (so the key repeats): it may lag
# a publication or withdrawal by under a minute, while the rows themselves use the exact now.
def _count(count_for, now: datetime, key: tuple | None = None) -> int:
    """`count_for(now)` is the count statement at `now`; `key` (see _cached_row) names it."""
    return _cached_row(count_for, now, key)[0]


def _cached_row(stmt_for, now: datetime, key: tuple | None = None) -> tuple:
    """The one row of `stmt_for(now)` (counts), cached as said above. `key`: what the statement
    depends on besides the time (list name and filters): then the statement is built only on
    a miss (building and compiling it for the key costs ~1 ms of CPU per page)."""
    ttl = current_app.config.get("PUBLIC_COUNT_TTL", 0 if current_app.testing else 30)
    if not ttl:
        return tuple(db.session.execute(stmt_for(now)).one())
    at = now.replace(second=0, microsecond=0)
    cache = current_app.extensions.setdefault("public_counts", {})
    if key is not None:
        stmt = None
        key = (key, at, caching.revision_key(now))
    else:
        stmt = stmt_for(at)
        compiled = stmt.compile(db.engine)
        params = tuple(sorted((k, repr(v)) for k, v in compiled.params.items()))
        key = (str(compiled), params, caching.revision_key(now))  # any public write is a new key
    hit = cache.get(key)
    moment = time.monotonic()
    if hit is not None and moment - hit[1] < ttl:
        return hit[0]
    row = tuple(db.session.execute(stmt if stmt is not None else stmt_for(at)).one())
    if len(cache) > 2000:
        cache.clear()
    cache[key] = (row, moment)
    return row


def cached_count(count_for, now: datetime, key: tuple | None = None) -> int:
    """A public total other modules show (e.g. the sitemap's section sizes), cached as above;
    with `key` (what the statement depends on besides the time) it is built only on a miss."""
    return _count(count_for, now, key)


def _page(stmt, count_for, now: datetime, paging: Paging, key: tuple | None = None) -> Page:
    total = _count(count_for, now, key) if paging.count else None
    items = list(db.session.execute(stmt.limit(paging.per_page).offset(paging.offset)).unique().scalars())
    return Page(items=items, total=total, page=paging.page, per_page=paging.per_page)


def _stream(stmt):
    """Every row of `stmt`, fetched in batches (constant memory: the identity map is weak)."""
    result = db.session.execute(stmt.execution_options(yield_per=STREAM_BATCH))
    for row in result.scalars():
        yield row


# ---------------------------------------------------------------- results

def _result_conditions(f: Filters, now: datetime, for_count: bool = False, feed: bool = False) -> list:
    """Filters of the results list.

    A page of rows should walk the formed_date index in list order and stop after one page,
    so its membership tests must not tempt SQLite into collecting every match first
    (EXISTS); a count has to visit every match anyway, so it keeps the index-friendly forms
    (bench/pages.py: /results?conclusion=C05 44 → ~10 ms CPU). A department is one value
    (`_dept_id`): its rows are walked in order by an index that starts with department_id
    (ix_result_department_formed for the list, ix_result_department_published for its feed).
    `feed`: the conditions of the list's feed (_result_feed_conditions).
    """
    conds = [public_clause("result", now)]
    if f.dept:
        conds.append(Result.department_id == _dept_id(f.dept))
    conds += _date_range(_no_index(Result.formed_date) if feed and f.dept else Result.formed_date, f)
    if f.region:
        in_region = Entity.region_code.startswith(_region_prefix(f.region))
        conds.append(Result.entity_id.in_(select(Entity.id).where(in_region)) if for_count else
                     select(Entity.id).where(Entity.id == Result.entity_id, in_region).exists())
    if f.q:
        conds.append(or_(Result.entity_id.in_(_entity_ids_matching(f.q)),
                         Result.task_id.in_(select(Task.id).where(Task.code == f.q))))
    if f.conclusion:
        # A code (C05) or a label (发现问题已责令改正); one indexed column each.
        match = (ResultConclusion.code == f.conclusion.upper() if _CONCLUSION_CODE.match(f.conclusion)
                 else ResultConclusion.label == f.conclusion)
        if for_count:
            conds.append(Result.id.in_(select(ResultConclusion.result_id).where(match)))
        else:
            conds.append(select(ResultConclusion.id).where(ResultConclusion.result_id == Result.id, match).exists())
    return conds


def _result_feed_conditions(f: Filters, now: datetime) -> list:
    """The results list's conditions as its feed (newest publication first) uses them. With a
    department, the year or dates are checked on the rows of ix_result_department_published (it
    holds formed_date) instead of being searched as a range: SQLite then walks that index in
    publication order and stops after the feed's entries, whether or not the database has been
    ANALYZEd (with sqlite_stat1 it would otherwise read the year's rows by
    ix_result_department_formed and sort them). PostgreSQL writes the column as is."""
    return _result_conditions(f, now, feed=True)


# What the detail page and the entity page load (the ORM's relationships).
RESULT_LIST_LOAD = (joinedload(Result.entity), joinedload(Result.department), joinedload(Result.task),
                    selectinload(Result.conclusions))
RESULT_LOAD = RESULT_LIST_LOAD + (
    selectinload(Result.inspectors),
    joinedload(Result.task).selectinload(Task.items).options(joinedload(CheckItem.department),
                                                             joinedload(CheckItem.versions)),
    selectinload(Result.findings).joinedload(ResultFinding.check_item).joinedload(CheckItem.versions),
)
RESULT_ORDER = (Result.formed_date.desc(), Result.id.desc())
# The columns a result's public dict is made of (the rest comes in one query per batch).
RESULT_COLUMNS = (Result.id, Result.task_id, Result.department_id, Result.inspection_date, Result.formed_date,
                  Result.remark, Result.follow_up, Result.verification_method, Result.published_at,
                  Result.corrected_at, Result.version, Entity.uscc, Entity.name, Entity.entity_type,
                  Entity.region_code, Result.status)


def _page_ids(key, conds: list, order, paging: Paging, day=None, now: datetime | None = None, name: tuple = ()):
    """The ids of one page, by the list's conditions and order alone ("deferred join"): the
    database walks a narrow index (ix_result_list_order, ix_penalty_list_order: the order and
    the publication columns, so an index-only scan) past the OFFSET, and only the page's rows
    are then read in full. A deep page (/results?page=7500 at 300k rows) costs tens of ms
    instead of joining and discarding 150,000 wide rows.

    Deeper than config LIST_DEEP_OFFSET rows, the walk starts at the page's own day (`day`: the
    list's first order column, a date): the rows per day (_day_counts) say which day the page
    starts on and how many rows of that day come before it, so OFFSET only skips within a day."""
    stmt = select(key).where(*conds).order_by(*order).limit(paging.per_page).correlate(None)
    if not _is_deep(paging, day):
        return stmt.offset(paging.offset)
    skipped = 0
    for value, rows in _day_counts(key, day, conds, now, name):
        if skipped + rows > paging.offset:
            return stmt.where(day <= value).offset(paging.offset - skipped)
        skipped += rows
    return stmt.where(false())  # past the last page


def _is_deep(paging: Paging, day=True) -> bool:
    """Whether _page_ids starts a page at its own day (config LIST_DEEP_OFFSET)."""
    deep = current_app.config.get("LIST_DEEP_OFFSET", 5000)
    return day is not None and bool(deep) and paging.offset >= deep


# A list's first pages (above LIST_DEEP_OFFSET rows) run one statement per list and filter set,
# built once (visibility_sql.prepared) with `now`, LIMIT and OFFSET as parameters: building the
# publication rule, the deferred join and SQLAlchemy's cache key cost ~0.5 ms per page otherwise.
# Filter values are part of the key (a keyword is a literal in the statement); the bounded cache
# (prepared's `bounded`) forgets them all when it fills up.
_PAGE_PARAMS = {"limit": bindparam("limit", type_=Integer()), "offset": bindparam("offset", type_=Integer())}


def _paging_params(now: datetime, paging: Paging) -> dict:
    return {**at(now), "limit": paging.per_page, "offset": paging.offset}


def _first_pages_ids(key, conds: list, order):
    return (select(key).where(*conds).order_by(*order).limit(_PAGE_PARAMS["limit"])
            .offset(_PAGE_PARAMS["offset"]).correlate(None))


def _day_counts(key, day, conds: list, now: datetime, name: tuple) -> list[tuple]:
    """[(day, rows)] of a list, newest first, cached like the totals (PUBLIC_COUNT_TTL) but
    computed at the exact `now`: under one public revision (portal/caching.py: writes, scheduled
    moments passed, the China date) the public rows are the same, so the offsets stay exact."""
    stmt = select(day, func.count(key)).where(*conds).group_by(day).order_by(day.desc())
    ttl = current_app.config.get("PUBLIC_COUNT_TTL", 0 if current_app.testing else 30)
    if not ttl:
        return db.session.execute(stmt).all()
    cache = current_app.extensions.setdefault("public_day_counts", {})
    cache_key = (name, caching.revision_key(now))
    hit = cache.get(cache_key)
    moment = time.monotonic()
    if hit is not None and moment - hit[1] < ttl:
        return hit[0]
    rows = [tuple(row) for row in db.session.execute(stmt)]
    if len(cache) > 200:
        cache.clear()
    cache[cache_key] = (rows, moment)
    return rows


# A page's rows also carry their task's and department's columns (the stream caches those instead).
TASK_STATE_COLUMNS = (Task.code, Task.title, Task.status, Task.published_at, Task.withheld, Task.withdrawn_at,
                      Task.withdrawal_reason, Task.surprise, Task.period_end, Task.results_complete_at)
_TASK_LABELS = tuple(f"task_{column.key}" for column in TASK_STATE_COLUMNS)
_PAGE_EXTRA = tuple(column.label(label) for column, label in zip(TASK_STATE_COLUMNS, _TASK_LABELS)) + (
    Department.code.label("dept_code"), Department.name.label("dept_name"))


class _TaskColumns:
    """A row's task columns read as the task (what public_state("task", …) reads)."""

    __slots__ = ("id",) + tuple(column.key for column in TASK_STATE_COLUMNS)

    def __init__(self, row):
        self.id = row.task_id
        for column, label in zip(TASK_STATE_COLUMNS, _TASK_LABELS):
            setattr(self, column.key, getattr(row, label))


def _fill_caches(rows, now: datetime, tasks: dict, departments: dict) -> None:
    """The tasks' public state and the departments' names from a page's joined columns."""
    for row in rows:
        if row.task_id is not None and row.task_id not in tasks:
            task = _TaskColumns(row)
            tasks[row.task_id] = (task.code, task.title, None, public_state("task", task, now).is_visible,
                                  task_named_beside_result(task, now))
        departments[row.department_id] = (row.dept_code, row.dept_name)


_ROW_TYPES: dict[tuple, type] = {}


def _named_rows(result) -> list:
    """A result's rows as named tuples. The dict builders (`_fill_caches`, `_result_dicts`,
    `_penalty_dicts`) read ~20 columns of each row by name: on an SQLAlchemy Row that is a
    Python __getattr__ (~0.3 µs), on a named tuple a C slot (~0.03 µs)."""
    keys = tuple(result.keys())
    row_type = _ROW_TYPES.get(keys)
    if row_type is None:
        row_type = _ROW_TYPES.setdefault(keys, namedtuple("PageRow", keys))
    return [row_type._make(row) for row in result]


def _page_rows(kind: str, id_column, conditions, order, day_column, rows_stmt, f: Filters, now: datetime,
               paging: Paging) -> list:
    """The rows of one list page: `rows_stmt(ids)` over the page's ids. A deep page finds its ids from
    its own day (`_page_ids`); the first pages run one statement built once per filter set (see
    _PAGE_PARAMS), `conditions(f, NOW)` taking the moment as a parameter."""
    if _is_deep(paging):
        ids = _page_ids(id_column, conditions(f, now), order, paging, day_column, now, (kind, astuple(f)))
        return _named_rows(db.session.execute(rows_stmt(ids)))
    return _named_rows(db.session.execute(prepared((f"{kind}-page", astuple(f)), lambda: rows_stmt(_first_pages_ids(
        id_column, conditions(f, NOW), order)), bounded=True), _paging_params(now, paging)))


def list_results(f: Filters, now: datetime, paging: Paging, full: bool = True, disclosure: bool = True) -> Page:
    """One page of results as public dicts (the shape of `shape("result", …)`, with
    `disclosure`); `full=False` (HTML rows) leaves out findings, inspectors and check items,
    `disclosure=False` (the home page) the disclosure status."""
    def count_at(at):
        return select(func.count(Result.id)).where(*_result_conditions(f, at, for_count=True))

    total = _count(count_at, now, ("result", astuple(f))) if paging.count else None

    rows = _page_rows("result", Result.id, _result_conditions, RESULT_ORDER, Result.formed_date, _result_rows,
                      f, now, paging)
    tasks, departments = {}, {}
    _fill_caches(rows, now, tasks, departments)
    items = list(_result_dicts(rows, now, tasks, departments, full=full, with_disclosure=disclosure))
    return Page(items=items, total=total, page=paging.page, per_page=paging.per_page)


def _result_rows(ids):
    """RESULT_COLUMNS and their task's and department's columns (_PAGE_EXTRA) of the results `ids`."""
    return (select(*RESULT_COLUMNS, *_PAGE_EXTRA).join(Entity, Result.entity_id == Entity.id)
            .join(Task, Result.task_id == Task.id).join(Department, Result.department_id == Department.id)
            .where(Result.id.in_(ids)).order_by(*RESULT_ORDER))


def iter_results(f: Filters, now: datetime):
    """Every matching result as the dict `shape("result", …)` makes (without `findings`).

    Core rows in batches plus one query per batch for conclusions and inspectors, and a
    cache of tasks and departments: the ORM would spend minutes on 100,000 rows.
    """
    stmt = (select(*RESULT_COLUMNS).join(Entity, Result.entity_id == Entity.id)
            .where(*_result_conditions(f, now)).order_by(*RESULT_ORDER)
            .execution_options(yield_per=STREAM_BATCH))
    tasks, departments = {}, {}
    for batch in db.session.execute(stmt).partitions():
        yield from _result_dicts(batch, now, tasks, departments, full=False, inspectors=True)


def _result_dicts(batch, now: datetime, tasks: dict, departments: dict, full: bool, inspectors: bool = None,
                  with_disclosure: bool = True):
    """The public dicts of a batch of RESULT_COLUMNS rows, in order: one query each for
    conclusions, inspectors (JSON and CSV) and findings (`full`: the JSON list), and the
    tasks and departments not yet in the caches."""
    from .public.shape import restrict  # the public shape (imports portal.public lazily)
    inspectors = full if inspectors is None else inspectors
    ids = [row.id for row in batch]
    if not ids:
        return
    conclusions, people, findings = {}, {}, {}
    for result_id, code, label in db.session.execute(prepared("result_conclusions", lambda: (
            select(ResultConclusion.result_id, ResultConclusion.code, ResultConclusion.label)
            .where(ResultConclusion.result_id.in_(bindparam("ids", expanding=True)))
            .order_by(ResultConclusion.code))), {"ids": ids}):
        conclusions.setdefault(result_id, []).append({"code": code, "label": label})
    if inspectors:
        for result_id, name, licence_no in db.session.execute(
                select(result_inspector.c.result_id, Inspector.name, Inspector.licence_no)
                .join(Inspector, Inspector.id == result_inspector.c.inspector_id)
                .where(result_inspector.c.result_id.in_(ids)).order_by(Inspector.licence_no)):
            people.setdefault(result_id, []).append({"name": name, "licence_no": licence_no})
    if full:
        for finding in db.session.execute(
                select(ResultFinding).where(ResultFinding.result_id.in_(ids)).order_by(ResultFinding.id)
                .options(joinedload(ResultFinding.check_item).joinedload(CheckItem.versions))).unique().scalars():
            findings.setdefault(finding.result_id, []).append(
                {"check_item": finding.check_item.name if finding.check_item else None,
                 "conclusion_code": finding.conclusion_code, "text": finding.text})
    with_items = full or inspectors
    _cache_tasks(tasks, {row.task_id for row in batch
                         if row.task_id not in tasks or (with_items and tasks[row.task_id][2] is None)},
                 now, items=with_items)
    missing = {row.department_id for row in batch} - departments.keys()
    if missing:
        departments.update({d.id: (d.code, d.name) for d in db.session.execute(
            select(Department).where(Department.id.in_(missing))).scalars()})
    disclosure = deadlines.disclosure_status_json("result")(batch, now) if with_disclosure else None
    for row in batch:
        code, title, items, public, named = tasks[row.task_id]
        dept_code, dept_name = departments[row.department_id]
        data = {
            "id": row.id, "url": f"/results/{row.id}",
            "task_code": code if public else None, "task_title": title if named else None,
            "department_code": dept_code, "department": dept_name,
            "uscc": row.uscc, "entity_name": row.name, "entity_type": _enum_value(row.entity_type),
            "region_code": row.region_code, "check_items": (items if public else []) if items is not None else None,
            "inspection_date": _iso(row.inspection_date), "formed_date": _iso(row.formed_date),
            "conclusions": conclusions.get(row.id, []), "remark": row.remark,
            "verification_method": row.verification_method, "follow_up": row.follow_up,
        }
        if items is None:
            del data["check_items"]  # not loaded for an HTML row
        if full:
            data["findings"] = findings.get(row.id, [])
        if inspectors:
            data["inspectors"] = people.get(row.id, [])
        data.update({"published_at": _iso(row.published_at), "corrected_at": _iso(row.corrected_at),
                     "version": row.version})
        if disclosure is not None:
            data["disclosure"] = disclosure[row.id]
        yield restrict("result", data)


def _cache_tasks(cache: dict, task_ids, now: datetime, items: bool = True) -> None:
    """cache[task id] = (code, title, check item names or None, public, named beside a result);
    `items=False` skips the check items (a list row does not show them)."""
    if not task_ids:
        return
    if items:
        for task in db.session.execute(select(Task).where(Task.id.in_(task_ids))
                                       .options(selectinload(Task.items).selectinload(CheckItem.versions))).scalars():
            cache[task.id] = (task.code, task.title, [item.name for item in task.items],
                              public_state("task", task, now).is_visible, task_named_beside_result(task, now))
        return
    for task in db.session.execute(select(Task.id, *TASK_STATE_COLUMNS).where(Task.id.in_(task_ids))):
        cache[task.id] = (task.code, task.title, None, public_state("task", task, now).is_visible,
                          task_named_beside_result(task, now))


def _iso(value):
    return value.isoformat() if value is not None else None


def _enum_value(value):
    return getattr(value, "value", value)


@dataclass
class Detail:
    """A record the public may see, fully or as a tombstone."""

    record: object
    state: PublicState
    versions: list = field(default_factory=list)  # kept RecordVersions (corrections), oldest first

    @property
    def tombstone(self) -> bool:
        return self.state.visibility is Visibility.TOMBSTONE


def _detail(kind: str, record, now: datetime) -> Detail | None:
    if record is None:
        return None
    state = public_state(kind, record, now)
    if state.visibility is Visibility.HIDDEN:
        return None
    versions = []
    if state.is_visible:
        versions = list(db.session.execute(prepared("record_versions", _record_versions),
                                           {"kind": kind, "record_id": record.id}).scalars())
    return Detail(record, state, versions)


def _record_versions():
    return (select(RecordVersion).where(RecordVersion.record_kind == bindparam("kind"),
                                        RecordVersion.record_id == bindparam("record_id"))
            .order_by(RecordVersion.version))


def _by_key(name: str, model, column, load):
    """One record by its key with `load`, the statement built once per process under `name`
    (a detail page's lookup: building it and its cache key cost more than running it)."""
    return prepared(name, lambda: select(model).where(column == bindparam("key")).options(*load))


def get_result(result_id: int, now: datetime) -> Detail | None:
    record = db.session.execute(_by_key("result_by_id", Result, Result.id, RESULT_LOAD), {"key": result_id}).scalar()
    return _detail("result", record, now)


# ---------------------------------------------------------------- penalties

def _penalty_conditions(f: Filters, now: datetime) -> list:
    return [public_clause("penalty", now), *_penalty_filters(f)]


def _penalty_filters(f: Filters) -> list:
    conds = []
    if f.dept:
        conds.append(Penalty.department_id == _dept_id(f.dept))
    conds += _date_range(Penalty.decision_date, f)
    if f.region:
        conds.append(Penalty.entity_id.in_(select(Entity.id).where(
            Entity.region_code.startswith(_region_prefix(f.region)))))
    if f.q:
        # A natural person's name is not public (shown as surname + 某): it must not find the record.
        conds.append(or_(Penalty.decision_no.icontains(f.q, autoescape=True),
                         and_(Penalty.party_kind != "natural_person", Penalty.party_name.icontains(f.q, autoescape=True)),
                         Penalty.entity_id.in_(_entity_ids_matching(f.q))))
    if f.category:
        # Categories are stored by label (罚款); the code-list code (P03) works too.
        by_code = select(VocabularyTerm.label).where(VocabularyTerm.kind == VocabularyKind.PENALTY_CATEGORY,
                                                     VocabularyTerm.code == f.category)
        conds.append(Penalty.id.in_(select(PenaltyCategory.penalty_id).where(
            or_(PenaltyCategory.category == f.category, PenaltyCategory.category.in_(by_code)))))
    return conds


PENALTY_LOAD = (joinedload(Penalty.entity), joinedload(Penalty.department), joinedload(Penalty.task),
                selectinload(Penalty.category_rows))


PENALTY_ORDER = (Penalty.decision_date.desc(), Penalty.id.desc())
# The columns a penalty's public dict is made of.
PENALTY_COLUMNS = (Penalty.id, Penalty.decision_no, Penalty.party_name, Penalty.party_kind, Penalty.violation_type,
                   Penalty.facts, Penalty.legal_basis, Penalty.fine_amount, Penalty.confiscation_amount,
                   Penalty.decision_date, Penalty.authority, Penalty.department_id, Penalty.task_id,
                   Penalty.publicity_end, Penalty.published_at, Penalty.corrected_at, Penalty.version, Entity.uscc,
                   Entity.name, Entity.entity_type, Penalty.status)


def count_ended_penalties(f: Filters, now: datetime) -> int | None:
    """How many penalties of the same filter have ended their publicity (period over or credit
    repaired): a count only, never their content. None with a keyword: counting ended records
    by a party's name would tell that the party was once penalised."""
    if f.q:
        return None
    def count_at(at):  # built on a cache miss only (_cached_row)
        today = china_date(now)
        ended = and_(lifecycle_clause(Penalty, now), Penalty.publicity_end.is_not(None),
                     or_(Penalty.publicity_end < today, Penalty.credit_repair_date <= today))
        return select(func.count(Penalty.id)).where(ended, *_penalty_filters(f))
    return _count(count_at, now, ("penalty-ended", astuple(f)))


def list_penalties(f: Filters, now: datetime, paging: Paging, disclosure: bool = True) -> Page:
    """One page of penalties as public dicts (the shape of `shape("penalty", …)`, with `disclosure`
    unless `disclosure=False`)."""
    total = (_count(lambda at: select(func.count(Penalty.id)).where(*_penalty_conditions(f, at)), now,
                    ("penalty", astuple(f))) if paging.count else None)

    rows = _page_rows("penalty", Penalty.id, _penalty_conditions, PENALTY_ORDER, Penalty.decision_date,
                      _penalty_rows, f, now, paging)
    tasks, departments = {}, {}
    _fill_caches(rows, now, tasks, departments)
    return Page(items=list(_penalty_dicts(rows, now, tasks, departments, with_disclosure=disclosure)), total=total,
                page=paging.page, per_page=paging.per_page)


def _penalty_rows(ids):
    """PENALTY_COLUMNS and their task's and department's columns (_PAGE_EXTRA) of the penalties `ids`."""
    return (select(*PENALTY_COLUMNS, *_PAGE_EXTRA).outerjoin(Entity, Penalty.entity_id == Entity.id)
            .outerjoin(Task, Penalty.task_id == Task.id).join(Department, Penalty.department_id == Department.id)
            .where(Penalty.id.in_(ids)).order_by(*PENALTY_ORDER))


def iter_penalties(f: Filters, now: datetime):
    """Every matching penalty as the dict `shape("penalty", …)` makes (Core rows in batches)."""
    stmt = (select(*PENALTY_COLUMNS).outerjoin(Entity, Penalty.entity_id == Entity.id)
            .where(*_penalty_conditions(f, now)).order_by(*PENALTY_ORDER)
            .execution_options(yield_per=STREAM_BATCH))
    tasks, departments = {}, {}
    for batch in db.session.execute(stmt).partitions():
        yield from _penalty_dicts(batch, now, tasks, departments)


def _penalty_dicts(batch, now: datetime, tasks: dict, departments: dict, with_disclosure: bool = True):
    """The public dicts of a batch of PENALTY_COLUMNS rows, in order (one query for their
    categories, the tasks and departments not yet in the caches)."""
    from .public.shape import party_display, restrict  # the public shape (imports portal.public lazily)
    if not batch:
        return
    categories = {}
    for penalty_id, category in db.session.execute(prepared("penalty_categories", lambda: (
            select(PenaltyCategory.penalty_id, PenaltyCategory.category)
            .where(PenaltyCategory.penalty_id.in_(bindparam("ids", expanding=True))).order_by(PenaltyCategory.id))),
            {"ids": [row.id for row in batch]}):
        categories.setdefault(penalty_id, []).append(category)
    _cache_tasks(tasks, {row.task_id for row in batch if row.task_id} - tasks.keys(), now, items=False)
    missing = {row.department_id for row in batch} - departments.keys()
    if missing:
        departments.update({d.id: (d.code, d.name) for d in db.session.execute(
            select(Department).where(Department.id.in_(missing))).scalars()})
    disclosure = deadlines.disclosure_status_json("penalty")(batch, now) if with_disclosure else None
    for row in batch:
        task = tasks.get(row.task_id)
        dept_code, dept_name = departments[row.department_id]
        data = {
            "id": row.id, "url": f"/penalties/{row.id}", "decision_no": row.decision_no, "uscc": row.uscc,
            # The one natural-person rule (surname + 某; an individual business by its business name).
            "party_name": party_display(row.party_name, row.party_kind, row.entity_type, row.name),
            "violation_type": row.violation_type, "facts": row.facts, "legal_basis": row.legal_basis,
            "categories": categories.get(row.id, []), "fine_amount": _money(row.fine_amount),
            "confiscation_amount": _money(row.confiscation_amount),
            "decision_date": _iso(row.decision_date), "authority": row.authority,
            "department_code": dept_code, "department": dept_name,
            "task_code": task[0] if task and task[3] else None,
            "publicity_end": _iso(row.publicity_end), "published_at": _iso(row.published_at),
            "corrected_at": _iso(row.corrected_at), "version": row.version,
        }
        if disclosure is not None:
            data["disclosure"] = disclosure[row.id]
        yield restrict("penalty", data)


def _money(value):
    return None if value is None else f"{value:.2f}"


def get_penalty(penalty_id: int, now: datetime) -> Detail | None:
    record = db.session.execute(_by_key("penalty_by_id", Penalty, Penalty.id, PENALTY_LOAD),
                                {"key": penalty_id}).scalar()
    return _detail("penalty", record, now)


def public_state_visible(kind: str, record, now: datetime) -> bool:
    """Whether a related record (a result's task, a task's plan) may be named and linked."""
    return record is not None and public_state(kind, record, now).is_visible


# ---------------------------------------------------------------- plans

def _plan_conditions(f: Filters, now: datetime) -> list:
    conds = [public_clause("plan", now)]
    if f.dept:
        conds.append(or_(Plan.department_id == _dept_id(f.dept),
                         Plan.id.in_(select(plan_department.c.plan_id).where(
                             plan_department.c.department_id == _dept_id(f.dept)))))
    if f.year:
        conds.append(Plan.year == f.year)
    if f.date_from:
        conds.append(Plan.approval_date >= f.date_from)
    if f.date_to:
        conds.append(Plan.approval_date <= f.date_to)
    if f.region:
        conds.append(Plan.department_id.in_(select(Department.id).where(
            Department.region_code.startswith(_region_prefix(f.region)))))
    if f.q:
        conds.append(Plan.title.icontains(f.q, autoescape=True))
    return conds


PLAN_LOAD = (joinedload(Plan.department), selectinload(Plan.participants))


# What the home page's latest plans and tasks show: title, department, dates.
_LATEST_LOAD = {"plan": (joinedload(Plan.department),), "task": (joinedload(Task.department),)}
# What a row of the /tasks page shows (its JSON and CSV rows also name the check items).
TASK_HTML_LOAD = (joinedload(Task.department), selectinload(Task.departments))


def _plans_stmt(f: Filters, now: datetime, load=PLAN_LOAD):
    return (select(Plan).where(*_plan_conditions(f, now)).options(*load)
            .order_by(Plan.year.desc(), Plan.approval_date.desc(), Plan.id.desc()))


def public_task_counts(plan_ids, now: datetime) -> dict[int, int]:
    if not plan_ids:
        return {}
    rows = db.session.execute(select(Task.plan_id, func.count(Task.id))
                              .where(Task.plan_id.in_(plan_ids), public_clause("task", now))
                              .group_by(Task.plan_id))
    return {plan_id: count for plan_id, count in rows}


def list_plans(f: Filters, now: datetime, paging: Paging, full: bool = True) -> Page:
    """`full=False` (the home page's latest plans: title, department, date) loads no participants
    and no public task counts."""
    page = _page(_plans_stmt(f, now, PLAN_LOAD if full else _LATEST_LOAD["plan"]), lambda at: select(func.count(Plan.id)).where(*_plan_conditions(f, at)),
                 now, paging, ("plan", astuple(f)))
    if full:
        _with_task_counts(page.items, now)
    return page


def iter_plans(f: Filters, now: datetime):
    """Every plan of the list, with its public task count (one count query per STREAM_BATCH plans)."""
    batch = []
    for plan in _stream(_plans_stmt(f, now)):
        batch.append(plan)
        if len(batch) == STREAM_BATCH:
            yield from _with_task_counts(batch, now)
            batch = []
    yield from _with_task_counts(batch, now)


def _with_task_counts(plans: list, now: datetime) -> list:
    counts = public_task_counts([p.id for p in plans], now)
    for plan in plans:
        plan.public_task_count = counts.get(plan.id, 0)
    return plans


def get_plan(plan_id: int, now: datetime) -> Detail | None:
    record = db.session.execute(_by_key("plan_by_id", Plan, Plan.id, PLAN_LOAD), {"key": plan_id}).scalar()
    return _detail("plan", record, now)


def _plan_tasks():
    return (select(Task).where(Task.plan_id == bindparam("plan_id"), public_clause("task", NOW))
            .options(selectinload(Task.departments), selectinload(Task.items).selectinload(CheckItem.versions))
            .order_by(Task.code))


def plan_tasks(plan, now: datetime) -> list:
    """The plan's tasks the public may see (surprise tasks appear once their results are published);
    the statement is built once per process."""
    return list(db.session.execute(prepared("plan_tasks", _plan_tasks), {**at(now), "plan_id": plan.id}).scalars())


# ---------------------------------------------------------------- tasks

TASK_LOAD = (joinedload(Task.department), joinedload(Task.plan), selectinload(Task.departments),
             selectinload(Task.items).selectinload(CheckItem.versions),
             selectinload(Task.items).joinedload(CheckItem.department))


def get_task(code: str, now: datetime) -> Detail | None:
    record = db.session.execute(_by_key("task_by_code", Task, Task.code, TASK_LOAD), {"key": code}).scalar()
    return _detail("task", record, now)


def _task_conditions(f: Filters, now: datetime) -> list:
    conds = [public_clause("task", now)]
    if f.dept:  # lead or participating department
        conds.append(Task.id.in_(select(task_department.c.task_id).where(
            task_department.c.department_id == _dept_id(f.dept))))
    if f.year:
        conds.append(Task.year == f.year)
    if f.date_from:
        conds.append(Task.period_end >= f.date_from)
    if f.date_to:
        conds.append(Task.period_start <= f.date_to)
    if f.region:
        conds.append(Task.id.in_(select(task_department.c.task_id).where(task_department.c.department_id.in_(
            select(Department.id).where(Department.region_code.startswith(_region_prefix(f.region)))))))
    if f.q:
        conds.append(or_(Task.title.icontains(f.q, autoescape=True), Task.code.startswith(f.q, autoescape=True)))
    if f.kind == "plan":
        conds.append(Task.plan_id.is_not(None))
    elif f.kind == "temporary":
        conds.append(Task.plan_id.is_(None))
    elif f.kind == "joint":
        conds.append(Task.id.in_(select(task_department.c.task_id).group_by(task_department.c.task_id)
                                 .having(func.count() > 1)))
    return conds


def _tasks_stmt(f: Filters, now: datetime, load=TASK_LOAD):
    return (select(Task).where(*_task_conditions(f, now)).options(*load)
            .order_by(Task.published_at.desc(), Task.id.desc()))


def list_tasks(f: Filters, now: datetime, paging: Paging, full: bool = True, latest: bool = False) -> Page:
    """Public tasks, newest publication first: the /tasks list (`full=False`: its HTML rows,
    without check items) and, `latest=True`, the home page (title, department and period)."""
    load = _LATEST_LOAD["task"] if latest else TASK_LOAD if full else TASK_HTML_LOAD
    return _page(_tasks_stmt(f, now, load), lambda at: select(func.count(Task.id)).where(*_task_conditions(f, at)),
                 now, paging, ("task", astuple(f)))


def iter_tasks(f: Filters, now: datetime):
    return _stream(_tasks_stmt(f, now))


# ---------------------------------------------------------------- feeds

FEED_LISTS = {"plan": (Plan, _plan_conditions), "task": (Task, _task_conditions),
              "result": (Result, _result_feed_conditions), "penalty": (Penalty, _penalty_conditions)}
# What a record's public shape reads (portal/public/shape.py), loaded with the records: feeds,
# JSON items and the entity page run no query per record (tests/test_sql_counts.py).
_ITEMS = (joinedload(CheckItem.department), joinedload(CheckItem.versions))
SHAPE_LOAD = {
    "plan": (joinedload(Plan.department), selectinload(Plan.participants)),
    "task": (joinedload(Task.department), joinedload(Task.plan), selectinload(Task.departments),
             selectinload(Task.items).options(*_ITEMS)),
    "result": RESULT_LOAD,
    "penalty": (joinedload(Penalty.entity), joinedload(Penalty.department), joinedload(Penalty.task),
                selectinload(Penalty.category_rows)),
}
# A feed ranks its candidates without their content: the columns of an entry's `updated` and what
# public_state reads to re-check each one (domain.visibility), as plain rows.
_LIFECYCLE = ("id", "published_at", "corrected_at", "status", "withheld", "withdrawn_at", "withdrawal_reason")
FEED_STATE = {
    "plan": tuple(getattr(Plan, name) for name in _LIFECYCLE),
    "task": tuple(getattr(Task, name) for name in _LIFECYCLE) + (Task.surprise, Task.period_end,
                                                                 Task.results_complete_at),
    "result": tuple(getattr(Result, name) for name in _LIFECYCLE),
    "penalty": tuple(getattr(Penalty, name) for name in _LIFECYCLE) + (Penalty.publicity_end,
                                                                       Penalty.credit_repair_date),
}
_FEED_ORDER = {kind: (model.published_at.desc(), model.id.desc()) for kind, (model, _c) in FEED_LISTS.items()}


def feed_candidates(kind: str, f: Filters, now: datetime, limit: int, also_ids=()) -> list:
    """FEED_STATE rows of the `limit` most recently published records of a list: the list's own
    filter conditions (so a feed carries exactly the entries of the list it was subscribed from),
    newest first. `also_ids`: records to add when they meet the same conditions (those whose
    objection status changed lately), read by the same statement. Built once per filter set
    (visibility_sql.prepared): building the rule and its cache key cost more than running it."""
    model, conditions = FEED_LISTS[kind]

    def build():
        where = conditions(f, NOW)
        # One IN over a UNION, not `IN (latest) OR IN (ids)`: PostgreSQL plans an OR of two INs as
        # a filter over every row (250 ms at 300,000 results) but a UNION as a short semi-join.
        # The conditions sit inside the UNION (the latest meet them already; the added ids are
        # checked there), so the outer statement reads the wanted rows by id: carrying them too,
        # it was planned by SQLite (no sqlite_stat1) as a walk over the department's whole feed index.
        latest = (select(model.id).where(*where).order_by(*_FEED_ORDER[kind]).limit(_PAGE_PARAMS["limit"])
                  .subquery())
        wanted = union(select(latest.c.id),
                       select(model.id).where(model.id.in_(bindparam("also", expanding=True)), *where))
        return select(*FEED_STATE[kind]).where(model.id.in_(wanted)).order_by(*_FEED_ORDER[kind])
    return db.session.execute(prepared((f"{kind}-feed", astuple(f)), build, bounded=True),
                              {**at(now), "limit": limit, "also": list(also_ids)}).all()


def feed_candidates_of(kind: str, now: datetime, *, entity_id: int | None = None, ids=None) -> list:
    """FEED_STATE rows of the public records of one entity (its feed) or of the given `ids` (a search's feed)."""
    model = FEED_LISTS[kind][0]
    if entity_id is not None:
        stmt = prepared(f"{kind}-entity-feed", lambda: select(*FEED_STATE[kind]).where(
            model.entity_id == bindparam("entity_id"), public_clause(kind, NOW)))
        return db.session.execute(stmt, {**at(now), "entity_id": entity_id}).all()
    stmt = prepared(f"{kind}-ids-feed", lambda: select(*FEED_STATE[kind]).where(
        model.id.in_(bindparam("ids", expanding=True)), public_clause(kind, NOW)))
    return db.session.execute(stmt, {**at(now), "ids": list(ids)}).all()


@dataclass(frozen=True)
class FeedDraw:
    """A draw as an entity's feed reads it: what draw_state checks and its entry shows (plain columns;
    a Draw object would also read its pool snapshot's JSON)."""
    id: int
    sequence: int
    published_at: datetime | None
    corrected_at: datetime | None
    status: object
    withheld: bool
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    task: _TaskColumns  # its task's state columns, code and title
    department: str  # the task's department's name


def _entity_draws_stmt():
    return (select(*(getattr(Draw, name) for name in ("sequence",) + _LIFECYCLE), Draw.task_id, *_PAGE_EXTRA)
            .join(Task, Draw.task_id == Task.id).join(Department, Task.department_id == Department.id)
            .where(Draw.id.in_(select(DrawSelection.draw_id).where(DrawSelection.entity_id == bindparam("entity_id"))),
                   public_clause("draw", NOW)))


def entity_feed_draws(entity_id: int, now: datetime) -> list[FeedDraw]:
    """The public draws that selected the entity (its feed), by one statement built once per process."""
    return [FeedDraw(row.id, row.sequence, row.published_at, row.corrected_at, row.status, row.withheld,
                     row.withdrawn_at, row.withdrawal_reason, _TaskColumns(row), row.dept_name)
            for row in db.session.execute(prepared("entity_feed_draws", _entity_draws_stmt),
                                          {**at(now), "entity_id": entity_id})]


def feed_shapes(kind: str, ids, now: datetime) -> dict[int, dict]:
    """{id: public dict} of the records `ids` (the fields of `shape(kind, …)` a feed entry shows):
    results and penalties from plain rows as their lists make them, plans and tasks from _FEED_FIELDS;
    every dict goes through the allow-list and masking of `restrict` (portal.public.shape)."""
    from .public.shape import restrict  # the public shape (imports portal.public lazily)
    ids = list(ids)
    if not ids:
        return {}
    tasks, departments = {}, {}
    if kind in ("result", "penalty"):
        rows_stmt, dicts = ((_result_rows, _result_dicts) if kind == "result" else (_penalty_rows, _penalty_dicts))
        rows = db.session.execute(prepared(f"{kind}-feed-rows", lambda: rows_stmt(bindparam("ids", expanding=True))),
                                  {"ids": ids}).all()
        _fill_caches(rows, now, tasks, departments)
        options = {"full": False, "inspectors": False} if kind == "result" else {}
        return {item["id"]: item for item in dicts(rows, now, tasks, departments, with_disclosure=False, **options)}
    return {row.id: restrict(kind, _FEED_FIELDS[kind](row)) for row in db.session.execute(
        prepared(f"{kind}-feed-rows", lambda: _feed_rows(kind)), {"ids": ids})}


# A plan's or task's entry shows a few plain fields of its shape (title, dates, department): read
# as one row each, they skip loading participants, departments and check items it never shows.
_FEED_FIELDS = {
    "plan": lambda row: {"id": row.id, "url": f"/plans/{row.id}", "year": row.year, "title": row.title,
                         "department": row.department, "approval_date": _iso(row.approval_date)},
    "task": lambda row: {"id": row.id, "code": row.code, "url": f"/tasks/{row.code}", "title": row.title,
                         "department": row.department, "period_start": _iso(row.period_start),
                         "period_end": _iso(row.period_end)},
}
_FEED_COLUMNS = {"plan": (Plan.id, Plan.year, Plan.title, Plan.approval_date),
                 "task": (Task.id, Task.code, Task.title, Task.period_start, Task.period_end)}


def _feed_rows(kind: str):
    """The columns _FEED_FIELDS reads of the plans or tasks in the expanding parameter `ids`."""
    model = FEED_LISTS[kind][0]
    return (select(*_FEED_COLUMNS[kind], Department.name.label("department"))
            .join(Department, model.department_id == Department.id)
            .where(model.id.in_(bindparam("ids", expanding=True))))


@dataclass(frozen=True)
class DrawnEntity:
    """One row of a task's drawn list (plain values: a draw selects ~120 entities)."""
    position: int
    uscc: str
    name: str
    stratum: str
    key: str
    inspectors: tuple  # (name, licence_no) of the current (not replaced) assignments, in order


@dataclass
class TaskDraws:
    current: object | None  # the latest public draw, when it has been performed
    superseded: list  # earlier public draws (a redraw keeps them visible)
    withdrawn: list  # tombstoned draws
    locked: list = field(default_factory=list)  # the latest public draw while it is locked, not yet drawn
    selections: list = field(default_factory=list)  # the current draw's drawn list (DrawnEntity), by position


def _drawn_list():
    return (select(DrawSelection.id, DrawSelection.position, DrawSelection.uscc, DrawSelection.stratum,
                   DrawSelection.key, Entity.name).join(Entity, DrawSelection.entity_id == Entity.id)
            .where(DrawSelection.draw_id == bindparam("draw_id")).order_by(DrawSelection.position))


def _drawn_inspectors():
    return (select(DrawAssignment.selection_id, DrawAssignment.name, DrawAssignment.licence_no)
            .join(DrawSelection, DrawAssignment.selection_id == DrawSelection.id)
            .where(DrawSelection.draw_id == bindparam("draw_id"), DrawAssignment.replaced_at.is_(None))
            .order_by(DrawAssignment.selection_id, DrawAssignment.position))


def drawn_list(draw_id: int) -> list[DrawnEntity]:
    """A performed draw's selections with entity names and current inspectors: two statements of
    plain rows (loading them as objects cost ~10 ms per task page)."""
    from .public.shape import public_name  # the public shape (imports portal.public lazily)

    inspectors = {}
    for selection_id, name, licence_no in db.session.execute(prepared("drawn_inspectors", _drawn_inspectors),
                                                             {"draw_id": draw_id}):
        inspectors.setdefault(selection_id, []).append((name, licence_no))
    # Rows unpacked into names (a Row's attribute access costs ~0.3 µs; ~120 rows of six values).
    return [DrawnEntity(position, uscc, public_name(name), stratum, key, tuple(inspectors.get(selection_id, ())))
            for selection_id, position, uscc, stratum, key, name in db.session.execute(
                prepared("drawn_list", _drawn_list), {"draw_id": draw_id})]


def task_draws(task, now: datetime) -> TaskDraws:
    draws = draws_of_task(task.id)
    visible, withdrawn = [], []
    for d in draws:
        state = public_state("draw", d, now)
        if state.is_visible:
            visible.append(d)
        elif state.is_tombstone:
            d.public_state = state
            withdrawn.append(d)
    latest = visible[-1] if visible else None
    if latest is not None and latest.drawn_at is None:
        return TaskDraws(None, visible[:-1], withdrawn, [latest])
    return TaskDraws(latest, visible[:-1], withdrawn, selections=drawn_list(latest.id) if latest is not None else [])


def _task_results():
    return (select(Result).where(Result.task_id == bindparam("task_id"), public_clause("result", NOW))
            .options(joinedload(Result.entity), selectinload(Result.conclusions))
            .order_by(Result.formed_date.desc(), Result.id.desc()))


def task_results(task, now: datetime) -> list:
    return list(db.session.execute(prepared("task_results", _task_results),
                                   {**at(now), "task_id": task.id}).scalars())


# ---------------------------------------------------------------- check items

def _year_end(year: int) -> date:
    return date(year, 12, 31)


def _item_conditions(f: Filters, now: datetime) -> list:
    conds = [public_clause("item", now)]
    if f.dept:
        conds.append(CheckItem.department_id == _dept_id(f.dept))
    if f.region:
        conds.append(CheckItem.department_id.in_(select(Department.id).where(
            Department.region_code.startswith(_region_prefix(f.region)))))
    if f.q:
        conds.append(or_(CheckItem.code.icontains(f.q, autoescape=True),
                         CheckItem.id.in_(select(CheckItemVersion.check_item_id).where(
                             CheckItemVersion.name.icontains(f.q, autoescape=True)))))
    if f.year:
        # In force that year: its first version took effect by 31 December of the year.
        conds.append(CheckItem.id.in_(select(CheckItemVersion.check_item_id).where(
            CheckItemVersion.effective_from <= _year_end(f.year))))
    return conds


def _items_stmt(f: Filters, now: datetime):
    versions = CheckItem.versions
    if f.year:
        # Load only the versions that had taken effect by the end of that year, so the row
        # (item.current) shows the version in force then and its history what came before.
        versions = versions.and_(CheckItemVersion.effective_from <= _year_end(f.year))
    return (select(CheckItem).join(Department, CheckItem.department_id == Department.id)
            .where(*_item_conditions(f, now))
            .options(joinedload(CheckItem.department), selectinload(versions))
            .order_by(Department.code, CheckItem.code)
            .execution_options(populate_existing=True))


def list_items(f: Filters, now: datetime, paging: Paging) -> Page:
    return _page(_items_stmt(f, now),
                 lambda at: select(func.count(CheckItem.id)).where(*_item_conditions(f, at)), now, paging,
                 ("item", astuple(f)))


def iter_items(f: Filters, now: datetime):
    return _stream(_items_stmt(f, now))


# ---------------------------------------------------------------- entities

@dataclass
class EntityProfile:
    entity: Entity
    # Public draws that selected the entity, latest first (draw_service.WhyDrawn: a selection in a
    # draw that a later public draw replaced stays listed, marked as such).
    selections: list
    results: list  # records (full=True, JSON) or public dicts (the HTML page)
    penalties: list
    why_drawn: list = field(default_factory=list)  # the same rows, latest draw first (draw_service.why_drawn)

    @property
    def show_operator(self) -> bool:
        # An individual business's operator name appears only on this page (SPEC §6).
        return self.entity.entity_type is EntityType.INDIVIDUAL and bool(self.entity.operator_name)


def get_entity(uscc: str, now: datetime, full: bool = True) -> EntityProfile | None:
    """The entity's public records; `full=False` loads only what the HTML page's rows show."""
    code = (uscc or "").strip().upper()
    entity = db.session.execute(prepared("entity_by_uscc", lambda: select(Entity).where(
        Entity.uscc == bindparam("uscc"))), {"uscc": code}).scalar()
    if entity is None:
        return None
    reasons = why_drawn(entity, now)  # plain rows: both draw tables of the page and its JSON
    # The selections table lists draws of the same moment in selection order (the why-drawn
    # table, latest draw first): two stable sorts of the same rows.
    selections = sorted(sorted(reasons, key=lambda r: r.selection_id), key=lambda r: r.draw.drawn_at, reverse=True)
    if full:
        results = list(db.session.execute(
            select(Result).where(Result.entity_id == entity.id, public_clause("result", now))
            .options(*SHAPE_LOAD["result"]).order_by(*RESULT_ORDER)).scalars())
        penalties = list(db.session.execute(
            select(Penalty).where(Penalty.entity_id == entity.id, public_clause("penalty", now))
            .options(*SHAPE_LOAD["penalty"]).order_by(*PENALTY_ORDER)).scalars())
    else:  # the page's rows: public dicts, as the lists read them
        # Statements built once per process (visibility_sql.prepared): building them costs more
        # than running them for one entity.
        params = {**at(now), "entity_id": entity.id}
        rows = _named_rows(db.session.execute(prepared("entity_result_rows", lambda: (
            select(*RESULT_COLUMNS, *_PAGE_EXTRA).join(Entity, Result.entity_id == Entity.id)
            .join(Task, Result.task_id == Task.id).join(Department, Result.department_id == Department.id)
            .where(Result.entity_id == bindparam("entity_id"), public_clause("result", NOW))
            .order_by(*RESULT_ORDER))), params))
        tasks, departments = {}, {}
        _fill_caches(rows, now, tasks, departments)
        results = list(_result_dicts(rows, now, tasks, departments, full=False, with_disclosure=False))
        rows = _named_rows(db.session.execute(prepared("entity_penalty_rows", lambda: (
            select(*PENALTY_COLUMNS, *_PAGE_EXTRA).outerjoin(Entity, Penalty.entity_id == Entity.id)
            .outerjoin(Task, Penalty.task_id == Task.id).join(Department, Penalty.department_id == Department.id)
            .where(Penalty.entity_id == bindparam("entity_id"), public_clause("penalty", NOW))
            .order_by(*PENALTY_ORDER))), params))
        _fill_caches(rows, now, tasks, departments)
        penalties = list(_penalty_dicts(rows, now, tasks, departments, with_disclosure=False))
    if full:
        for r in results:  # a withheld or embargoed task is never named, even beside a public result
            r.task_public = public_state("task", r.task, now).is_visible
    return EntityProfile(entity, selections, results, penalties, reasons)


# ---------------------------------------------------------------- home, code lists

def public_counts(now: datetime) -> dict[str, int]:
    """Public records of each kind, in one statement."""
    models = {"item": CheckItem, "plan": Plan, "task": Task, "result": Result, "penalty": Penalty}

    def counts_at(at):
        return select(*(select(func.count(model.id)).where(public_clause(kind, at)).scalar_subquery().label(kind)
                        for kind, model in models.items()))
    return dict(zip(models, _cached_row(counts_at, now, ("public_counts",))))


def departments() -> list[Department]:
    return list(db.session.execute(select(Department).order_by(Department.code)).scalars())


DEFAULT_CONCLUSIONS = [
    ("C01", "未发现问题"), ("C02", "未按规定公示应当公示的信息"), ("C03", "公示信息隐瞒真实情况、弄虚作假"),
    ("C04", "通过登记的住所（经营场所）无法联系"), ("C05", "发现问题已责令改正"), ("C06", "发现问题待后续处理"),
    ("C07", "未发现开展本次抽查涉及的经营活动"), ("C08", "不配合检查情节严重"), ("C09", "已关闭停业或正在组织清算"),
    ("C10", "已注销、被吊销或被撤销"),
]
DEFAULT_FOLLOW_UPS = ["无需后续处置", "责令改正", "立案调查", "移送有关部门", "列入经营异常名录", "其他"]
DEFAULT_PENALTY_CATEGORIES = ["警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级",
                              "吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他"]


def vocabulary(kind: VocabularyKind) -> list[tuple[str, str]]:
    """(code, label) of the active terms of an admin-editable code list, with SPEC defaults."""
    rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label)
                              .where(VocabularyTerm.kind == kind, VocabularyTerm.active.is_(True))
                              .order_by(VocabularyTerm.sort_order, VocabularyTerm.code)).all()
    if rows:
        return [(code, label) for code, label in rows]
    return _default_terms(kind)


def _default_terms(kind: VocabularyKind) -> list[tuple[str, str]]:
    if kind is VocabularyKind.CONCLUSION:
        return list(DEFAULT_CONCLUSIONS)
    if kind is VocabularyKind.FOLLOW_UP:
        return [(label, label) for label in DEFAULT_FOLLOW_UPS]
    if kind is VocabularyKind.PENALTY_CATEGORY:
        return [(label, label) for label in DEFAULT_PENALTY_CATEGORIES]
    return []


def record_version(kind: str, record_id: int, version: int) -> RecordVersion | None:
    return db.session.execute(select(RecordVersion).where(
        RecordVersion.record_kind == kind, RecordVersion.record_id == record_id,
        RecordVersion.version == version)).scalar()

