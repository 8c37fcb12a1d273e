"""Deterministic demo / benchmark data: rows for every table, built in memory, inserted in bulk.

Everything derives from `random.Random(seed)` and fixed calendar dates (the data
describe 2025-01 … 2026-11-20, as seen on 2026-11-23), so the same seed and size
give the same rows, ids and dates. Draws are real draw-v1 draws (portal.domain.draw):
pool, pool hash, commitment, seed, keys, eligible inspectors and assignments all
verify. Rows go straight to the tables with explicit ids (no ORM objects, no journal
per row); the caller records one audit event for the whole load.
"""
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select, text, update

from ..domain import draw as drawlib
from ..domain import uscc as uscc_mod
from ..domain.dates import CHINA
from ..domain.publicity import publicity_end
from ..extensions import db
from . import catalog as C

# The data describe the past as of this day (the demo's FIXED_NOW is 2026-11-23 10:00 in China).
AS_OF = date(2026, 11, 23)
# Nothing is published after this instant; later events stay drafts (overdue / due soon).
PUBLISH_CUTOFF = datetime(2026, 11, 20, 18, 0, tzinfo=CHINA).astimezone(timezone.utc)
YEARS = (2025, 2026)


@dataclass(frozen=True)
class Size:
    departments: tuple
    entities: int
    inspectors_per_department: int
    tasks_per_department_year: int
    joint_per_year: int
    temporary: int
    standalone_penalties_per_department_year: int
    strata: tuple  # (stratum, ratio) per risk class
    township_scopes: bool = False  # benchmark: narrow every pool to one township and one type


SIZES = {
    "small": Size(C.SMALL_DEPARTMENTS, 300, 4, 1, 2, 2, 3,
                  (("A", "0.05"), ("B", "0.08"), ("C", "0.2"), ("D", "0.5"))),
    "county": Size(tuple(d.key for d in C.DEPARTMENTS), 2400, 9, 3, 3, 3, 12,
                   (("A", "0.02"), ("B", "0.04"), ("C", "0.1"), ("D", "0.3"))),
    "city": Size(tuple(d.key for d in C.DEPARTMENTS), 20000, 25, 6, 5, 3, 60,
                 (("A", "0.01"), ("B", "0.02"), ("C", "0.06"), ("D", "0.2"))),
    # About 100,000 results (bench/generate.py).
    "bench": Size(tuple(d.key for d in C.DEPARTMENTS), 50000, 25, 55, 5, 3, 250,
                  (("A", "0.08"), ("B", "0.1"), ("C", "0.2"), ("D", "0.4")), township_scopes=True),
}


# --- small helpers -----------------------------------------------------------------------------

def weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def add_weekdays(day: date, n: int) -> date:
    """n Monday–Friday days after `day` (an upper bound on Chinese working days, holidays aside)."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def china_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA).astimezone(timezone.utc)


def id_card_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


class Rows:
    """Buffered rows per table with explicit ids; flushed in foreign-key order."""

    def __init__(self, session):
        self.session = session
        self.tables = {t.name: t for t in db.metadata.sorted_tables}
        self.order = [t.name for t in db.metadata.sorted_tables]
        self.buffer = defaultdict(list)
        self.next_id = {}
        self.counts = defaultdict(int)
        self.pending = 0

    def add(self, table: str, **values) -> int | None:
        t = self.tables[table]
        if "id" in t.c and "id" not in values and t.c.id.primary_key:
            if table not in self.next_id:
                current = self.session.execute(select(func.max(t.c.id))).scalar() or 0
                self.next_id[table] = current + 1
            values["id"] = self.next_id[table]
            self.next_id[table] += 1
        self.buffer[table].append(values)
        self.counts[table] += 1
        self.pending += 1
        return values.get("id")

    def flush(self, force: bool = True, threshold: int = 50000) -> None:
        if not force and self.pending < threshold:
            return
        for name in self.order:
            rows = self.buffer.pop(name, None)
            if not rows:
                continue
            table = self.tables[name]
            # Group rows by key set so every executemany statement has the same columns.
            groups = defaultdict(list)
            for row in rows:
                groups[tuple(sorted(row))].append(row)
            for group in groups.values():
                for i in range(0, len(group), 20000):
                    self.session.execute(table.insert(), group[i:i + 20000])
        self.pending = 0

    def reset_sequences(self) -> None:
        """PostgreSQL: move each serial past the ids we chose."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for name in self.next_id:
            self.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM \"{name}\"))"))


LIFECYCLE_COLUMNS = {"status", "published_at", "withheld", "withheld_reason", "withdrawn_at", "withdrawal_reason",
                     "corrected_at", "version", "created_at", "updated_at", "results_complete_at", "id"}


def snapshot(row: dict) -> dict:
    """A kept version's data, shaped like portal.lifecycle.snapshot (content columns as JSON values)."""
    out = {}
    for key, value in row.items():
        if key in LIFECYCLE_COLUMNS:
            continue
        if isinstance(value, (date, datetime)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[key] = value
    return out


def lifecycle(published_at=None, status="published", **extra):
    base = {"status": status if published_at else "draft", "published_at": published_at, "withheld": False,
            "withheld_reason": None, "withdrawn_at": None, "withdrawal_reason": None, "corrected_at": None,
            "version": 1}
    if published_at is None:
        base["status"] = "draft"
    base.update(extra)
    stamp = published_at or extra.get("created_at")
    base.setdefault("created_at", stamp)
    base.setdefault("updated_at", base["created_at"])
    return base


# --- the generator -------------------------------------------------------------------------------

class DemoBuilder:
    def __init__(self, session, seed: int, size: str):
        self.session = session
        self.seed = seed
        self.size_name = size
        self.size = SIZES[size]
        self.rng = random.Random(f"{seed}:{size}")
        self.rows = Rows(session)
        self.specs = [d for d in C.DEPARTMENTS if d.key in self.size.departments]
        self.task_seq = 0
        self.used_usccs = set()
        self.used_names = set()
        self.entity_updates = {}
        self.problem_results = []  # (result_id, entity, dept key, formed, conclusion, task_id)
        self.special = defaultdict(int)
        self.notes = []

    # departments, items ------------------------------------------------------------------
    def departments(self):
        self.dept = {}
        self.items = {}  # item code → (id, spec, dept key)
        t0 = china_time(date(2025, 1, 6), 9)
        for spec in self.specs:
            did = self.rows.add("department", code=spec.code, name=spec.name, short_name=spec.short_name,
                                level="县", region_code=C.REGION)
            self.dept[spec.key] = {"id": did, "spec": spec, "code": spec.code}
        revised = 0
        for spec in self.specs:
            for n, item in enumerate(spec.items):
                published = china_time(add_weekdays(date(2025, 1, 6), n % 3), 10)
                has_v2 = revised < 2 and n == 1
                iid = self.rows.add("check_item", department_id=self.dept[spec.key]["id"], code=item.code,
                                    **lifecycle(published, version=2 if has_v2 else 1,
                                                corrected_at=china_time(date(2026, 1, 5), 10) if has_v2 else None))
                base = dict(check_item_id=iid, name=item.name, legal_basis=item.legal_basis,
                            target_type=item.target_type, content=item.content, method=item.method, kind=item.kind,
                            ratio_frequency=item.ratio_frequency, inspector_requirements=item.requirements)
                if has_v2:
                    revised += 1
                    self.rows.add("check_item_version", version=1, effective_from=date(2025, 1, 1),
                                  change_note=None, **{**base, "content": item.content.split("、")[0] + "等"})
                    self.rows.add("check_item_version", version=2, effective_from=date(2026, 1, 1),
                                  change_note="根据2026年度抽查事项清单动态调整，细化抽查内容", **base)
                else:
                    self.rows.add("check_item_version", version=1, effective_from=date(2025, 1, 1),
                                  change_note=None, **base)
                self.items[item.code] = (iid, item, spec.key)
        self.t0 = t0

    # entities -------------------------------------------------------------------------------
    def _person(self):
        r = self.rng
        given = r.choice(C.GIVEN_CHARS) + (r.choice(C.GIVEN_CHARS) if r.random() < 0.7 else "")
        return r.choice(C.SURNAMES) + given

    def _staff_person(self):
        """An inspector's or witness's name, never equal to an operator's (privacy checks search for those)."""
        while True:
            name = self._person()
            if name not in self.operator_names:
                return name

    def _uscc(self, prefix: str) -> str:
        charset = uscc_mod.CHARSET
        while True:
            body = "MA" + "".join(self.rng.choice(charset) for _ in range(7))
            code = uscc_mod.make(prefix[0], prefix[1], C.REGION, body)
            if code not in self.used_usccs:
                self.used_usccs.add(code)
                return code

    def _unique_name(self, make):
        for _ in range(20):
            name = make()
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        name = make()
        i = 2
        while f"{name[:-4]}第{i}分公司" in self.used_names:
            i += 1
        name = f"{name}第{i}分店" if not name.endswith("公司") else f"{name[:-2]}第{i}分公司"
        self.used_names.add(name)
        return name

    def entities(self):
        r = self.rng
        industries = list(C.INDUSTRIES)
        weights = [C.INDUSTRIES[k][0] for k in industries]
        shop_sections = list(C.INDIVIDUAL_SHOPS)
        shop_weights = [C.INDUSTRIES[k][0] for k in shop_sections]
        self.entity_list = []
        self.operator_names = set()
        for i in range(self.size.entities):
            roll = r.random()
            town = r.choice(C.TOWNSHIPS)
            legal_rep = operator = None
            if roll < 0.38:
                etype, prefix = "企业", "91"
                section = r.choices(industries, weights)[0]
                word = r.choice(C.INDUSTRIES[section][1])
                name = self._unique_name(lambda: f"{C.COUNTY}{r.choice(C.FIRM_WORDS)}{word}{r.choice(C.COMPANY_SUFFIXES)}")
                legal_rep = self._person()
            elif roll < 0.90:
                etype, prefix = "个体工商户", "92"
                section = r.choices(shop_sections, shop_weights)[0]
                operator = self._person()
                self.operator_names.add(operator)
                shop = r.choice(C.INDIVIDUAL_SHOPS[section])
                # The shop name never carries the operator's full name (personal data, own page only).
                shown = operator[1:] if r.random() < 0.5 else r.choice(C.FIRM_WORDS)
                name = self._unique_name(lambda: f"{C.COUNTY}{town}{shown}{shop}")
            elif roll < 0.97:
                etype, prefix, section = "农民专业合作社", "93", "A"
                product = r.choice(C.COOPERATIVE_PRODUCTS)
                kind = "养殖" if product in ("肉牛", "生猪") else "种植"
                name = self._unique_name(
                    lambda: f"{C.COUNTY}{town}{r.choice(C.FIRM_WORDS)}{product}{kind}专业合作社")
                legal_rep = self._person()
            else:
                etype = "其他"
                section, word = r.choice(C.OTHER_ORGS)
                prefix = "51" if "协会" in word else "52"
                name = self._unique_name(lambda: f"{C.COUNTY}{r.choice(C.FIRM_WORDS)}{word}")
                legal_rep = self._person()
            risk = r.choices("ABCD", (30, 55, 12, 3))[0]
            status = r.choices(("存续", "注销", "吊销", "迁出"), (88, 6, 4, 2))[0]
            tags = [town]
            for tag, (sections, p) in C.TAG_RULES.items():
                if section in sections and r.random() < p:
                    tags.append(tag)
            if etype == "农民专业合作社" and r.random() < 0.3:
                tags.append("农资经营")
            established = date(1998, 1, 1) + timedelta(days=r.randrange(0, 9800))
            uscc = self._uscc(prefix)
            address = f"{C.COUNTY}{town}{r.choice(['建设路', '人民路', '中山路', '庄周大道', '迎宾大道', '站前路', '文化路', '商业街'])}{r.randint(1, 300)}号"
            eid = self.rows.add("entity", uscc=uscc, name=name, entity_type=etype, region_code=C.REGION,
                                industry=section, registration_status=status, risk_class=risk, tags=tags,
                                address=address, legal_representative=legal_rep, operator_name=operator,
                                established_on=established, created_at=self.t0, updated_at=self.t0)
            self.entity_list.append({"id": eid, "uscc": uscc, "name": name, "type": etype, "industry": section,
                                     "status": status, "risk": risk, "tags": tags})
        self.entity_by_id = {e["id"]: e for e in self.entity_list}

    # inspectors --------------------------------------------------------------------------
    def inspectors(self):
        r = self.rng
        self.inspectors_by_dept = defaultdict(list)
        posts = ["执法队员", "执法队员", "执法队员", "执法大队副大队长", "科长", "副科长", "所长"]
        for d_index, spec in enumerate(self.specs, 1):
            k = self.size.inspectors_per_department
            for i in range(k):
                gender = r.choice("男女")
                birth = date(1968, 1, 1) + timedelta(days=r.randrange(0, 27 * 365))
                seq = r.randrange(0, 500) * 2 + (1 if gender == "男" else 0)
                first17 = f"{C.REGION}{birth:%Y%m%d}{seq:03d}"
                id_card = first17 + id_card_check(first17)
                licence = f"4114210{d_index}{i + 1:04d}"
                specialties = []
                item_codes = [it.code for it in spec.items]
                if i % 3 == 2 and len(item_codes) >= 2:
                    specialties = sorted(r.sample(item_codes, 2))
                # The last inspector of every other department has left enforcement work.
                active = not (i == k - 1 and d_index % 2 == 1)
                iid = self.rows.add("inspector", department_id=self.dept[spec.key]["id"], name=self._staff_person(),
                                    licence_no=licence, gender=gender, id_card_no=id_card,
                                    enforcement_field=f"{spec.short_name}行政执法", post=r.choice(posts),
                                    active=active, created_at=self.t0, updated_at=self.t0)
                for code in specialties:
                    self.rows.add("inspector_specialty", inspector_id=iid, check_item_id=self.items[code][0])
                self.inspectors_by_dept[spec.key].append(
                    {"id": iid, "licence": licence, "active": active, "specialties": set(specialties),
                     "dept": spec.key})
        self.inspector_by_licence = {p["licence"]: p for ps in self.inspectors_by_dept.values() for p in ps}
        self.conflicts = defaultdict(set)  # licence → entity ids

    # plans ------------------------------------------------------------------------------------
    def plans(self):
        self.plan_of = {}
        r = self.rng
        for year in YEARS:
            for d_index, spec in enumerate(self.specs):
                approval = weekday_on_or_after(date(year, 2, 24) + timedelta(days=d_index * 2))
                late = year == 2025 and d_index == 1
                published = china_time(add_weekdays(approval, 16 if late else r.randint(2, 6)), r.randint(9, 16))
                pid = self.rows.add("plan", department_id=self.dept[spec.key]["id"], year=year,
                                    title=f"{spec.name}{year}年度“双随机、一公开”抽查工作计划", approval_date=approval,
                                    description=f"依据{spec.name}随机抽查事项清单，结合信用风险分类结果制定。",
                                    **lifecycle(published))
                self.rows.add("plan_department", plan_id=pid, department_id=self.dept[spec.key]["id"])
                self.plan_of[(year, spec.key)] = (pid, approval, published)
            joint_depts = sorted({k for _t, _lead, pairs in self._joint_tasks() for k, _c in pairs})
            if joint_depts:
                approval = weekday_on_or_after(date(year, 3, 16))
                published = china_time(add_weekdays(approval, 4), 15)
                pid = self.rows.add("plan", department_id=self.dept["SCJG"]["id"], year=year,
                                    title=f"{C.COUNTY}{year}年度市场监管领域部门联合“双随机、一公开”抽查工作计划",
                                    approval_date=approval,
                                    description="由县市场监管局牵头，相关部门参加，实现“进一次门、查多项事”。",
                                    **lifecycle(published))
                for key in joint_depts:
                    self.rows.add("plan_department", plan_id=pid, department_id=self.dept[key]["id"])
                self.plan_of[(year, "JOINT")] = (pid, approval, published)
        # A plan approved last week, not yet published (a draft the back office shows as due).
        approval = date(2026, 11, 16)
        pid = self.rows.add("plan", department_id=self.dept["SCJG"]["id"], year=2027,
                            title=f"{self.dept['SCJG']['spec'].name}2027年度“双随机、一公开”抽查工作计划（草案）",
                            approval_date=approval, description="待公示。",
                            **lifecycle(None, created_at=china_time(approval, 16)))
        self.rows.add("plan_department", plan_id=pid, department_id=self.dept["SCJG"]["id"])
        self.special["draft_plan"] += 1

    def _joint_tasks(self):
        keys = set(self.size.departments)
        return [j for j in C.JOINT_TASKS if all(k in keys for k, _c in j[2])][: self.size.joint_per_year]

    # tasks, draws, results --------------------------------------------------------------------
    def task_specs(self):
        """Every task as a dict of its defining choices, in a fixed order."""
        specs = []
        scope_types = ["企业", "个体工商户"]
        for year in YEARS:
            for d_index, spec in enumerate(self.specs):
                items = list(spec.items)
                if self.size.township_scopes:
                    items = [it for it in items if it.tag is None] or items
                for t in range(self.size.tasks_per_department_year):
                    item = items[(t + year + d_index) % len(items)]
                    month = 4 + (2 * t + d_index) % 8  # after the plan's approval (late Feb–mid Mar)
                    start = weekday_on_or_after(date(year, month, 1 + (t * 3) % 20))
                    scope = self._scope(item)
                    if self.size.township_scopes:
                        scope = {"entity_types": [scope_types[t % 2]], "tags": [C.TOWNSHIPS[t % len(C.TOWNSHIPS)]],
                                 "statuses": ["存续"]}
                    label = item.name.replace('监督检查', '').replace('检查', '')
                    if self.size.township_scopes:
                        label = f"{scope['tags'][0]}{scope['entity_types'][0]}{label}"
                    batch = f"（第{t // len(items) + 1}批）" if self.size.tasks_per_department_year > len(items) else ""
                    specs.append(dict(year=year, lead=spec.key, items=[(spec.key, item.code)], start=start,
                                      plan=(year, spec.key), scope=scope, kind="plan",
                                      title=f"{year}年度{label}双随机抽查{batch}"))
            for j, (title, lead, pairs) in enumerate(self._joint_tasks()):
                start = weekday_on_or_after(date(year, 4 + 2 * j, 10))
                lead_item = self.items[dict(pairs)[lead]][1]
                specs.append(dict(year=year, lead=lead, items=pairs, start=start, plan=(year, "JOINT"),
                                  scope=self._scope(lead_item), kind="joint", title=f"{year}年度{title}"))
        for n in range(self.size.temporary):
            title, lead, code, (m, d) = C.TEMPORARY_TASKS[n % len(C.TEMPORARY_TASKS)]
            if lead not in self.dept:
                lead, code = "SCJG", "SCJG-01"
            year = YEARS[n % 2]
            start = weekday_on_or_after(date(year, m, d))
            specs.append(dict(year=year, lead=lead, items=[(lead, code)], start=start, plan=None,
                              scope=self._scope(self.items[code][1]), kind="temporary", title=f"{year}年{title}"))
        for n, (title, lead, code) in enumerate(C.SURPRISE_TASKS):
            if lead not in self.dept:
                lead, code = "SCJG", "SCJG-01"
            year = YEARS[n]
            start = weekday_on_or_after(date(year, 6, 9) if n == 0 else date(2026, 10, 12))
            specs.append(dict(year=year, lead=lead, items=[(lead, code)], start=start, plan=(year, lead),
                              scope=self._scope(self.items[code][1]), kind="surprise",
                              title=f"{year}年{title}", results_published=(n == 0)))
        specs.sort(key=lambda s: (s["start"], s["lead"], s["title"]))
        return specs

    def _scope(self, item):
        scope = {"statuses": ["存续"]}
        if item.entity_types:
            scope["entity_types"] = list(item.entity_types)
        if item.industries:
            scope["industries"] = list(item.industries)
        if item.tag:
            scope["tags"] = [item.tag]
        return scope

    def _pool(self, scope):
        key = repr(sorted((k, tuple(v)) for k, v in scope.items()))
        cache = self.__dict__.setdefault("_pool_cache", {})
        if key not in cache:
            cache[key] = [e for e in self.entity_list if self._matches(e, scope)]
        return cache[key]

    def _matches(self, e, scope, include_inactive=False):
        if not include_inactive and e["status"] not in scope.get("statuses", ["存续"]):
            return False
        if scope.get("entity_types") and e["type"] not in scope["entity_types"]:
            return False
        if scope.get("industries") and e["industry"] not in scope["industries"]:
            return False
        if scope.get("tags") and not set(scope["tags"]) & set(e["tags"]):
            return False
        return True

    def tasks(self):
        r = self.rng
        specs = self.task_specs()
        redraw_done = substitution_done = False
        for ts in specs:
            self.task_seq += 1
            draw_day = self._before(ts["start"], 5)
            code = f"{C.REGION}{draw_day:%Y%m%d}{self.task_seq:04d}"
            end = ts["start"] + timedelta(days=75 if ts["kind"] != "temporary" else 30)
            dept_keys = sorted({k for k, _c in ts["items"]}, key=lambda k: (k != ts["lead"], k))
            joint = len(dept_keys) > 1
            per_target = {self.dept[k]["code"]: (1 if joint else 2) for k in dept_keys}
            if ts["kind"] == "temporary":
                strata = [{"stratum": s, "count": c} for s, c in (("A", 1), ("B", 3), ("C", 2), ("D", 2))]
            else:
                strata = [{"stratum": s, "ratio": ratio} for s, ratio in self.size.strata]
            plan_id = None
            task_created = None
            if ts["plan"] is not None:
                plan_id, approval, plan_published = self.plan_of[ts["plan"]]
                task_published = plan_published
                if ts["kind"] != "surprise":
                    task_created = china_time(approval, 9)  # drafted with its plan (the clock runs from approval)
            drawn_at = china_time(draw_day, 9, 30)
            draw_published = china_time(add_weekdays(draw_day, r.randint(1, 5)), r.randint(9, 16), 30)
            if r.random() < 0.08:
                draw_published = china_time(add_weekdays(draw_day, r.randint(16, 24)), 10)  # late list
            if ts["plan"] is None:
                task_published = draw_published  # a temporary task is published with its list
            task = dict(plan_id=plan_id, department_id=self.dept[ts["lead"]]["id"], code=code, title=ts["title"],
                        year=ts["year"], scope=ts["scope"], stratify_by="risk_class", strata=strata,
                        period_start=ts["start"], period_end=end, surprise=ts["kind"] == "surprise",
                        inspectors_per_target=per_target, description=self._task_description(ts))
            # Results decide when a surprise task (and its list) appear: build them before writing the task.
            task_id = self._next_id("task")
            pool = self._pool(ts["scope"])
            draws = []
            if not redraw_done and ts["kind"] == "plan" and ts["year"] == 2025:
                # A redraw: the first pool wrongly contained a cancelled entity; both draws stay public.
                stale = next((e for e in self.entity_list
                              if e["status"] == "注销" and self._matches(e, ts["scope"], include_inactive=True)), None)
                if stale is not None:
                    draws.append(self._draw(ts, task_id, 1, pool + [stale], strata, per_target, dept_keys,
                                            draw_day, None))
                    redraw_day = add_weekdays(draw_day, 1)
                    draws.append(self._draw(ts, task_id, 2, pool, strata, per_target, dept_keys, redraw_day,
                                            "原候选名单包含已注销的检查对象（名录库数据未及时同步），"
                                            "经分管领导批准，在监督人员见证下重新抽取"))
                    redraw_done = True
                    self.special["redraw"] += 1
            if not draws:
                draws.append(self._draw(ts, task_id, 1, pool, strata, per_target, dept_keys, draw_day, None))
            current = draws[-1]
            if not substitution_done and ts["kind"] == "plan" and current["selections"]:
                substitution_done = self._substitute(current, dept_keys)
            results_first = self._results(ts, task_id, current, dept_keys, end)
            # A draw is public from its lock (SPEC §5 item 7); a surprise task's stay hidden with the task
            # until its embargo lifts (portal.embargo.refresh after the load).
            for d in draws:
                d["row"].update(lifecycle(d["row"]["locked_at"]))
            if ts["kind"] == "surprise":
                self.special["surprise_published" if ts.get("results_published") and results_first
                             else "surprise_embargoed"] += 1
            if ts["kind"] == "temporary":
                task_published = draws[-1]["row"]["published_at"] or task_published
            self.rows.add("task", id=task_id, **task, **lifecycle(task_published, **(
                {"created_at": task_created} if task_created else {})))
            for k in dept_keys:
                self.rows.add("task_department", task_id=task_id, department_id=self.dept[k]["id"])
            for _k, item_code in ts["items"]:
                self.rows.add("task_check_item", task_id=task_id, check_item_id=self.items[item_code][0])
            for d in draws:
                self._write_draw(d)
            self._write_results()
            self.special[f"task_{ts['kind']}"] += 1
            self.rows.flush(force=False)
        # One task announced but not yet drawn (its pool is locked later).
        self.task_seq += 1
        start = date(2026, 12, 7)
        lead = self.specs[0]
        item = lead.items[0]
        tid = self.rows.add("task", plan_id=self.plan_of[(2026, lead.key)][0], department_id=self.dept[lead.key]["id"],
                            code=f"{C.REGION}20261123{self.task_seq:04d}", title=f"2026年度{item.name}（第四季度）",
                            year=2026, scope=self._scope(item), stratify_by="risk_class",
                            strata=[{"stratum": s, "ratio": q} for s, q in self.size.strata], period_start=start,
                            period_end=date(2026, 12, 31), surprise=False,
                            inspectors_per_target={lead.code: 2},
                            description="本任务将于2026年12月初抽取检查对象（年中追加的任务，公示时限自创建日起算）。",
                            **lifecycle(None, created_at=china_time(date(2026, 11, 19), 15)))
        self.rows.add("task_department", task_id=tid, department_id=self.dept[lead.key]["id"])
        self.rows.add("task_check_item", task_id=tid, check_item_id=self.items[item.code][0])
        self.special["draft_task"] += 1

    def _before(self, day, n):
        while n > 0:
            day -= timedelta(days=1)
            if day.weekday() < 5:
                n -= 1
        return day

    def _task_description(self, ts):
        names = "、".join(self.items[c][1].name for _k, c in ts["items"])
        kinds = {"plan": "按年度抽查计划实施", "joint": "部门联合抽查，“进一次门、查多项事”",
                 "temporary": "临时性专项抽查任务", "surprise": "突击检查，检查结果公示前不公开抽查信息"}
        return f"抽查事项：{names}。{kinds[ts['kind']]}。"

    def _eligible_base(self, dept_keys, items):
        """Per department: active inspectors whose specialties cover the task's items of that department."""
        base = {}
        for k in dept_keys:
            wanted = {code for dk, code in items if dk == k}
            base[k] = [p for p in self.inspectors_by_dept[k]
                       if p["active"] and (not p["specialties"] or wanted <= p["specialties"])]
        return base

    def _draw(self, ts, task_id, sequence, pool, strata, per_target, dept_keys, day, reason):
        r = self.rng
        candidates = [drawlib.Candidate(e["uscc"], e["risk"]) for e in pool]
        nonce = f"{r.getrandbits(256):064x}"
        phash = drawlib.pool_hash(candidates)
        issue = max(1, day.timetuple().tm_yday - 5)
        digits = " ".join(str(r.randint(0, 9)) for _ in range(3))
        entropy = f"{day:%Y-%m-%d} {r.choice(C.ENTROPY_GAMES)} 第{day.year}{issue:03d}期 {digits}"
        seed = drawlib.derive_seed(nonce, phash, entropy)
        rules = [drawlib.StratumRule(s["stratum"], s.get("ratio"), s.get("count")) for s in strata]
        outcomes, selected = drawlib.select(candidates, rules, seed)
        by_uscc = {e["uscc"]: e for e in pool}
        base = self._eligible_base(dept_keys, ts["items"])
        # Declare a conflict of interest now and then (before the lock) so the matching shows it.
        if selected and r.random() < 0.25:
            target = by_uscc[selected[0].uscc]
            k = dept_keys[0]
            need = per_target[self.dept[k]["code"]]
            if len(base[k]) > need:
                p = r.choice(base[k])
                if target["id"] not in self.conflicts[p["licence"]]:
                    self.conflicts[p["licence"]].add(target["id"])
                    self.rows.add("inspector_conflict", inspector_id=p["id"], entity_id=target["id"],
                                  reason=r.choice(["近亲属在该单位任职", "曾在该单位任职未满三年", "与该单位存在经济往来"]),
                                  declared_on=self._before(day, 10))
                    self.special["conflict"] += 1
        eligible = {}
        for s in selected:
            e = by_uscc[s.uscc]
            eligible[s.uscc] = {self.dept[k]["code"]: sorted(p["licence"] for p in base[k]
                                                             if e["id"] not in self.conflicts[p["licence"]])
                                for k in dept_keys}
        assignments = drawlib.assign_inspectors(selected, eligible, per_target, seed)
        locked_at = china_time(day, 9, 0)
        drawn_at = china_time(day, 9, 30)
        row = dict(task_id=task_id, sequence=sequence, reason=reason, algorithm=drawlib.ALGORITHM, pool_hash=phash,
                   commitment=drawlib.commitment(nonce), nonce=nonce, public_entropy=entropy, seed=seed,
                   inspectors_per_target=per_target, locked_at=locked_at, locked_by_id=None, drawn_at=drawn_at,
                   drawn_by_id=None, snapshot={"scope": ts["scope"], "stratify_by": "risk_class", "source": "lock"})
        witnesses = [(self._staff_person(), org) for org in r.sample(C.WITNESS_ORGS, 2)]
        return {"row": row, "pool": pool, "outcomes": outcomes, "strata": strata,
                "selections": [{"sel": s, "entity": by_uscc[s.uscc], "eligible": eligible[s.uscc],
                                "inspectors": list(a.inspectors), "replaced": {}} for s, a in zip(selected, assignments)],
                "witnesses": witnesses, "substitution": None}

    def _substitute(self, d, dept_keys):
        """A manual substitution (special case, recorded with reason and shown publicly)."""
        sel = d["selections"][0]
        dept_code = self.dept[dept_keys[0]]["code"]
        options = [lic for lic in sel["eligible"][dept_code] if lic not in sel["inspectors"]]
        if not options:
            return False
        old = sel["inspectors"][0]
        new = options[0]
        sel["replaced"] = {old: new}
        d["substitution"] = (old, new)
        self.special["substitution"] += 1
        return True

    def _write_draw(self, d):
        row = d["row"]
        did = self.rows.add("draw", **row)
        d["id"] = did
        for e in sorted(d["pool"], key=lambda e: e["uscc"]):
            self.rows.add("draw_pool_entry", draw_id=did, entity_id=e["id"], uscc=e["uscc"], stratum=e["risk"])
        rule = {s["stratum"]: s for s in d["strata"]}
        for o in d["outcomes"]:
            s = rule.get(o.stratum, {})
            self.rows.add("draw_stratum", draw_id=did, stratum=o.stratum, ratio=s.get("ratio"), count=s.get("count"),
                          population=o.population, drawn=o.drawn)
        for pos, item in enumerate(d["selections"], 1):
            s = item["sel"]
            sid = self.rows.add("draw_selection", draw_id=did, position=pos, entity_id=item["entity"]["id"],
                                uscc=s.uscc, stratum=s.stratum, key=s.key, eligible=item["eligible"])
            item["id"] = sid
            for apos, lic in enumerate(item["inspectors"], 1):
                p = self.inspector_by_licence[lic]
                replaced = lic in item["replaced"]
                self.rows.add("draw_assignment", selection_id=sid, position=apos, inspector_id=p["id"],
                              department_id=self.dept[p["dept"]]["id"], licence_no=lic, name=self._name_of(p),
                              replaced_at=row["drawn_at"] + timedelta(days=2) if replaced else None)
            for old, new in item["replaced"].items():
                p = self.inspector_by_licence[new]
                self.rows.add("draw_assignment", selection_id=sid, position=len(item["inspectors"]) + 1,
                              inspector_id=p["id"], department_id=self.dept[p["dept"]]["id"], licence_no=new,
                              name=self._name_of(p), replaced_at=None)
                self.rows.add("draw_substitution", draw_id=did, selection_id=sid, old_licence_no=old,
                              new_licence_no=new, reason="原匹配执法人员因病住院无法参加检查，经分管领导批准替换",
                              actor_id=None, actor_name=f"clerk-{self.dept[p['dept']]['code'].lower()}",
                              at=row["drawn_at"] + timedelta(days=2))
        for name, org in d["witnesses"]:
            self.rows.add("draw_witness", draw_id=did, name=name, organisation=org, witnessed_at=row["drawn_at"])

    def _name_of(self, inspector):
        # Names are fixed at insert time; keep a lookup for assignments.
        return self.inspector_names[inspector["licence"]]

    # results ------------------------------------------------------------------------------------
    def _results(self, ts, task_id, d, dept_keys, end):
        """Build result rows for the current draw; return the first publication instant (or None)."""
        r = self.rng
        self.pending_results = []
        first = None
        codes = [c for c, _w in C.CONCLUSION_WEIGHTS]
        weights = [w for _c, w in C.CONCLUSION_WEIGHTS]
        item_ids = [self.items[code][0] for _k, code in ts["items"]]
        method = self.items[ts["items"][0][1]][1].method
        last_inspection = min(end, AS_OF - timedelta(days=3))
        span = (last_inspection - ts["start"]).days
        for item in d["selections"]:
            if span < 0 or r.random() < 0.04:
                continue  # not inspected yet / result missing (the back office flags it)
            inspected = ts["start"] + timedelta(days=r.randint(0, span))
            inspected = weekday_on_or_after(inspected)
            formed = add_weekdays(inspected, r.randint(0, 6))
            if formed > date(2026, 11, 20):
                continue
            code = r.choices(codes, weights)[0]
            conclusions = [code]
            if code == "C02" and r.random() < 0.3:
                conclusions.append("C05")
            late = r.random() < 0.07
            published_day = add_weekdays(formed, r.randint(31, 45) if late else r.randint(2, 12))
            published = china_time(published_day, r.randint(9, 16), r.choice((0, 15, 30, 45)))
            if ts["kind"] == "surprise" and not ts.get("results_published") and first is not None:
                published = None  # one result public on its own; the task stays under embargo
            if published is not None and published > PUBLISH_CUTOFF:
                published = None
            if published is not None and late:
                self.special["result_late"] += 1
            if published is None:
                self.special["result_draft"] += 1
            problem = C.CHECK_PROBLEMS.get(code, "")
            remark = C.REMARKS[code].format(p=problem)
            rid = self._next_id("result")
            row = dict(id=rid, task_id=task_id, entity_id=item["entity"]["id"],
                       department_id=self.dept[ts["lead"]]["id"], inspection_date=inspected, formed_date=formed,
                       remark=remark, verification_method=method, follow_up=C.FOLLOW_UP_BY_CONCLUSION[code],
                       **lifecycle(published, created_at=china_time(formed, 17)))
            self._special_result(row, published, code)
            inspectors = [lic for lic in item["inspectors"] if lic not in item["replaced"]] + \
                list(item["replaced"].values())
            self.pending_results.append((row, conclusions, item_ids, inspectors))
            if published is not None and not row["withheld"]:
                first = published if first is None or published < first else first
            if code in ("C03", "C05", "C06", "C08"):
                self.problem_results.append((rid, item["entity"], ts["lead"], formed, code, task_id))
            if code == "C10":
                self.entity_updates[item["entity"]["id"]] = r.choice(("注销", "吊销"))
        return first

    def _next_id(self, table):
        if table not in self.rows.next_id:
            t = db.metadata.tables[table]
            self.rows.next_id[table] = (self.session.execute(select(func.max(t.c.id))).scalar() or 0) + 1
        value = self.rows.next_id[table]
        self.rows.next_id[table] += 1
        return value

    def _special_result(self, row, published, code):
        """Every n-th eligible result becomes a special case, so every size and seed has each of them."""
        if published is None:
            return
        s = self.special
        s[f"_seen_{code}"] += 1
        seen = s[f"_seen_{code}"]
        if code == "C01" and s["result_withheld"] < 2 and seen % 11 == 4 and published.year == 2025:
            row.update(withheld=True, withheld_reason="涉及商业秘密，依法不予公开")
            s["result_withheld"] += 1
        elif (code == "C01" and s["result_withdrawn"] < 2 and seen % 12 == 8
              and published + timedelta(days=20) < PUBLISH_CUTOFF):
            row.update(status="withdrawn", withdrawn_at=published + timedelta(days=20),
                       withdrawal_reason="检查对象信息登记错误，该条检查结果已撤回，更正后重新公示")
            s["result_withdrawn"] += 1
        elif (code == "C05" and s["result_corrected"] < 3 and seen % 3 == 1
              and published + timedelta(days=9) < PUBLISH_CUTOFF):
            corrected = published + timedelta(days=9)
            old = snapshot(row)
            old.update(remark=C.REMARKS["C01"], follow_up="无需后续处置",
                       conclusions=[{"code": "C01", "label": "未发现问题"}])
            row.update(version=2, corrected_at=corrected, updated_at=corrected)
            self.rows.add("record_version", record_kind="result", record_id=row["id"], version=1, data=old,
                          replaced_at=corrected, reason="检查结果录入有误（结论误选为“未发现问题”），予以更正",
                          actor_id=None)
            s["result_corrected"] += 1

    def _write_results(self):
        labels = dict(self._conclusion_labels)
        for row, conclusions, item_ids, inspectors in self.pending_results:
            self.rows.add("result", **row)
            for code in conclusions:
                self.rows.add("result_conclusion", result_id=row["id"], code=code, label=labels[code])
            if len(item_ids) > 1:
                for n, iid in enumerate(item_ids):
                    code = conclusions[0] if n == 0 else "C01"
                    self.rows.add("result_finding", result_id=row["id"], check_item_id=iid, conclusion_code=code,
                                  text=labels[code])
            for lic in dict.fromkeys(inspectors):
                self.rows.add("result_inspector", result_id=row["id"],
                              inspector_id=self.inspector_by_licence[lic]["id"])
        self.pending_results = []

    # penalties -----------------------------------------------------------------------------
    def penalties(self):
        r = self.rng
        drafts = []
        for rid, entity, dept_key, formed, code, task_id in self.problem_results:
            if r.random() < 0.45:
                decided = add_weekdays(formed, r.randint(10, 40))
                if decided <= date(2026, 11, 20):
                    drafts.append(dict(entity=entity, dept=dept_key, decided=decided, task_id=task_id,
                                       result_id=rid))
        for year in YEARS:
            for spec in self.specs:
                count = self.size.standalone_penalties_per_department_year * (3 if spec.key == "SCJG" else 1)
                for n in range(count):
                    start = date(year, 1, 6)
                    last = date(year, 12, 20) if year == 2025 else date(2026, 11, 20)
                    decided = weekday_on_or_after(start + timedelta(days=r.randint(0, (last - start).days)))
                    if decided > date(2026, 11, 20):
                        decided = date(2026, 11, 20)
                    candidates = [e for e in self._sample_entities(40) if e["status"] == "存续"]
                    force = None
                    if spec.key == self.specs[0].key:
                        force = {(2025, 0): "short", (2025, 1): "warning", (2026, 0): "draft",
                                 (2026, 1): "late"}.get((year, n))
                    if force == "draft":
                        decided = date(2026, 11, 16)
                    drafts.append(dict(entity=candidates[0] if candidates else None, dept=spec.key, decided=decided,
                                       task_id=None, result_id=None, force=force))
        # Decision numbers run per department and year in decision order.
        drafts.sort(key=lambda p: (p["dept"], p["decided"], p["entity"]["uscc"] if p["entity"] else ""))
        seq = defaultdict(int)
        mixes = [(("罚款",), 46), (("警告", "罚款"), 14), (("罚款", "没收违法所得"), 12), (("警告",), 8),
                 (("通报批评",), 3), (("罚款", "没收非法财物"), 5), (("责令停产停业", "罚款"), 4),
                 (("限制开展生产经营活动", "罚款"), 3), (("吊销许可证件",), 1), (("罚款", "暂扣许可证件"), 2)]
        specials = {"credit": False, "withheld": False, "withdrawn": False, "corrected": False}
        for p in drafts:
            spec = self.dept[p["dept"]]["spec"]
            seq[(p["dept"], p["decided"].year)] += 1
            decision_no = f"{spec.penalty_prefix}〔{p['decided'].year}〕{seq[(p['dept'], p['decided'].year)]}号"
            entity = p["entity"]
            natural = entity is not None and entity["type"] == "个体工商户"
            if p.get("force") in ("short", "draft", "late"):
                categories = ("罚款",)
            elif p.get("force") == "warning":
                categories = ("警告",)
            else:
                categories = r.choices([m for m, _w in mixes], [w for _m, w in mixes])[0]
            fine = confiscation = None
            if "罚款" in categories:
                if natural:
                    fine = Decimal(r.choice((500, 800, 1000, 2000, 3000, 5000, 8000, 12000, 20000)))
                else:
                    fine = Decimal(r.choice((2000, 5000, 10000, 20000, 30000, 50000, 80000, 120000, 200000)))
                if p.get("force") in ("short", "draft", "late"):
                    fine = Decimal(3000)
            if any(c.startswith("没收") for c in categories):
                confiscation = Decimal(r.randint(2, 400) * 50)
            restriction_end = None
            if "限制开展生产经营活动" in categories or "责令停产停业" in categories:
                restriction_end = p["decided"] + timedelta(days=r.choice((90, 180, 365)))
            party_kind = "natural_person" if natural else "organisation"
            end = publicity_end(categories, fine, confiscation, party_kind, p["decided"], restriction_end)
            late = r.random() < 0.06 or p.get("force") == "late"
            published_day = add_weekdays(p["decided"], r.randint(16, 30) if late else r.randint(1, 5))
            published = china_time(published_day, r.randint(9, 16), r.choice((0, 20, 40)))
            if published > PUBLISH_CUTOFF or p.get("force") == "draft":
                published = None
            violation = None
            if p["task_id"] is not None:
                violation = next(self.items[c][1].violation for c in self.items if self.items[c][2] == p["dept"])
            violation = violation or r.choice([it.violation for it in spec.items])
            facts = C.FACTS.get(violation, C.FACTS["其他违法行为"]).format(
                d=f"{p['decided'] - timedelta(days=40):%Y年%m月%d日}", v=r.randint(200, 20000), g=r.randint(50, 3000),
                n=r.randint(1, 4))
            row = dict(department_id=self.dept[p["dept"]]["id"], decision_no=decision_no,
                       entity_id=entity["id"] if entity else None,
                       party_name=entity["name"] if entity else "某自然人", party_kind=party_kind,
                       violation_type=violation, facts=facts, legal_basis=spec.legal_basis, fine_amount=fine,
                       confiscation_amount=confiscation, decision_date=p["decided"], authority=spec.name,
                       task_id=p["task_id"], result_id=p["result_id"], restriction_end=restriction_end,
                       publicity_end=end, credit_repair_date=None, credit_repair_reason=None,
                       **lifecycle(published, created_at=china_time(p["decided"], 16)))
            if published is None:
                self.special["penalty_draft"] += 1
            elif late:
                self.special["penalty_late"] += 1
            long_period = end is not None and end > p["decided"] + timedelta(days=400)
            if published and not specials["credit"] and long_period and p["decided"].year == 2025:
                row.update(credit_repair_date=date(2026, 6, 15),
                           credit_repair_reason="当事人已履行行政处罚决定、主动纠正违法行为并提交信用修复申请，经审核予以信用修复")
                specials["credit"] = True
                self.special["penalty_credit_repaired"] += 1
            elif (published and not specials["withdrawn"] and end is not None and p["decided"].year == 2026
                  and published + timedelta(days=30) < PUBLISH_CUTOFF):
                row.update(status="withdrawn", withdrawn_at=published + timedelta(days=30),
                           withdrawal_reason="该行政处罚决定已被行政复议机关依法撤销，撤回公示")
                specials["withdrawn"] = True
                self.special["penalty_withdrawn"] += 1
            elif (published and not specials["corrected"] and fine is not None and long_period
                  and published + timedelta(days=5) < PUBLISH_CUTOFF):
                corrected = published + timedelta(days=5)
                old = snapshot(row)
                old.update(fine_amount=str(fine * 10), categories=list(categories))
                row.update(version=2, corrected_at=corrected, updated_at=corrected)
                pid = self._next_id("penalty")
                row["id"] = pid
                self.rows.add("record_version", record_kind="penalty", record_id=pid, version=1, data=old,
                              replaced_at=corrected, reason="罚款金额录入错误（多录一位），予以更正", actor_id=None)
                specials["corrected"] = True
                self.special["penalty_corrected"] += 1
            if end is None:
                self.special["penalty_never_public"] += 1
            elif end < AS_OF:
                self.special["penalty_publicity_ended"] += 1
            if "id" not in row:
                row["id"] = self._next_id("penalty")
            self.rows.add("penalty", **row)
            for c in categories:
                self.rows.add("penalty_category", penalty_id=row["id"], category=c)
        # A penalty on a minor: withheld for good (不予公开), the reason kept internal.
        decided = date(2026, 3, 12)
        spec = self.specs[0]
        seq[(spec.key, 2026)] += 1
        published = china_time(add_weekdays(decided, 3), 10)
        pid = self._next_id("penalty")
        self.rows.add("penalty", id=pid, department_id=self.dept[spec.key]["id"],
                      decision_no=f"{spec.penalty_prefix}〔2026〕{seq[(spec.key, 2026)]}号", entity_id=None,
                      party_name="未成年当事人", party_kind="natural_person", violation_type="其他违法行为",
                      facts="当事人系未成年人，依法不予公开。", legal_basis=spec.legal_basis, fine_amount=Decimal(500),
                      confiscation_amount=None, decision_date=decided, authority=spec.name, task_id=None,
                      result_id=None, restriction_end=None,
                      publicity_end=publicity_end(("罚款",), Decimal(500), None, "natural_person", decided),
                      credit_repair_date=None, credit_repair_reason=None,
                      **lifecycle(published, withheld=True, withheld_reason="当事人为未成年人，依法不予公开"))
        self.rows.add("penalty_category", penalty_id=pid, category="罚款")
        self.special["penalty_withheld"] += 1

    # objections and credit-repair applications (SPEC §12) ------------------------------------
    def objections(self):
        """One case in every state, on real published records: new, in review, overdue, maintained,
        corrected (the result corrected after it), withdrawn (the result withdrawn on it), and
        credit-repair applications approved (the credit-repaired penalty), pending and refused."""
        from ..domain.publicity import LONG, publicity_class
        from ..objections.domain import CREDIT_REPAIR_GROUNDS, POINTS

        r = random.Random(f"{self.seed}:{self.size_name}:objections")
        result_t, penalty_t = db.metadata.tables["result"], db.metadata.tables["penalty"]
        version_t = db.metadata.tables["record_version"]
        as_of = china_time(AS_OF, 10)
        visible_result = (result_t.c.status == "published") & result_t.c.withheld.is_(False) & \
            (result_t.c.published_at <= as_of)
        results = list(self.session.execute(select(result_t.c.id, result_t.c.department_id, result_t.c.published_at)
                                            .where(visible_result, result_t.c.corrected_at.is_(None))
                                            .order_by(result_t.c.id)))
        corrected = self.session.execute(
            select(result_t.c.id, result_t.c.department_id, result_t.c.corrected_at)
            .where(result_t.c.id.in_(select(version_t.c.record_id).where(version_t.c.record_kind == "result")))
            .order_by(result_t.c.id)).first()
        withdrawn = self.session.execute(
            select(result_t.c.id, result_t.c.department_id, result_t.c.withdrawn_at)
            .where(result_t.c.status == "withdrawn", result_t.c.withheld.is_(False)).order_by(result_t.c.id)).first()
        penalties = [p for p in self.session.execute(
            select(penalty_t).where(penalty_t.c.status == "published", penalty_t.c.withheld.is_(False),
                                    penalty_t.c.publicity_end >= AS_OF, penalty_t.c.credit_repair_date.is_(None),
                                    penalty_t.c.corrected_at.is_(None)).order_by(penalty_t.c.id))]
        categories = defaultdict(list)
        for pid, category in self.session.execute(select(db.metadata.tables["penalty_category"].c.penalty_id,
                                                         db.metadata.tables["penalty_category"].c.category)):
            categories[pid].append(category)
        # Credit repair is open to long-period penalties public for 12 months or more (the default rule).
        eligible = [p for p in penalties if p.published_at <= china_time(date(AS_OF.year - 1, AS_OF.month, AS_OF.day), 9)
                    and publicity_class(categories[p.id], p.fine_amount, p.confiscation_amount, p.party_kind) == LONG]
        repaired = self.session.execute(select(penalty_t.c.id, penalty_t.c.department_id, penalty_t.c.credit_repair_date)
                                        .where(penalty_t.c.credit_repair_date.is_not(None))
                                        .order_by(penalty_t.c.id)).first()
        pdf = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n% demo attachment\ntrailer\n<< /Root 1 0 R >>\n"
               b"%%EOF\n")
        statements = {
            "result": ("检查当日我单位负责人不在场，所列问题已于次日整改完毕，整改照片和台账附后，请核实后更正检查结论。",
                       "结果说明中记载的检查日期有误，实际检查日期以现场检查记录为准，请予更正。"),
            "penalty": ("处罚信息中的违法行为类型表述与处罚决定书不一致，请核实。",
                        "我单位已全部履行处罚决定，公示内容中的罚款金额有误，请核实。"),
        }
        self.objection_cases = []

        def person():
            while True:  # never an operator's name (privacy checks search for those)
                name = r.choice(C.SURNAMES) + r.choice(C.GIVEN_CHARS) + r.choice(C.GIVEN_CHARS)
                if name not in self.operator_names:
                    return name

        def add(kind, record_kind, record_id, department_id, received, status, outcome=None, claimed=None,
                correcting=None, decided=None, reason=None, attach=False):
            choices = [c for c, _ in (CREDIT_REPAIR_GROUNDS if kind == "credit_repair" else POINTS[record_kind])]
            points = choices if kind == "credit_repair" else sorted(r.sample(choices, r.randint(1, 2)))
            statement = ("已于规定期限内缴清全部罚款，主动消除不良影响，此后未再受到同类行政处罚，申请提前停止公示。"
                         if kind == "credit_repair" else r.choice(statements[record_kind]))
            token = f"{r.getrandbits(256):064x}"  # demo cases' status links are never shown; only the hash is kept
            cid = self.rows.add("objection", kind=kind, record_kind=record_kind, record_id=record_id,
                                department_id=department_id, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                relation=r.choice(("party", "agent")), contact_name=person(),
                                contact_mobile=f"13{r.randint(5, 9)}{r.randint(0, 99999999):08d}", points=points,
                                statement=statement, status=status, received_at=received, claimed_at=claimed,
                                claimed_by_id=None, correcting_at=correcting, decided_at=decided, decided_by_id=None,
                                outcome=outcome, decision_reason=reason, created_at=received,
                                updated_at=decided or correcting or claimed or received)
            if attach:
                self.rows.add("objection_attachment", objection_id=cid, position=1, filename="证明材料.pdf",
                              content_type="application/pdf", size=len(pdf), sha256=hashlib.sha256(pdf).hexdigest(),
                              data=pdf)
            self.objection_cases.append((cid, kind, status, outcome))
            self.special[f"objection_{outcome or status}" if kind == "objection" else f"credit_repair_{outcome or status}"] += 1

        day = lambda d, h=10: china_time(d, h)  # noqa: E731
        if len(results) >= 3:
            new, overdue, extra = results[-1], results[len(results) // 2], results[len(results) // 3]
            add("objection", "result", new.id, new.department_id, day(date(2026, 11, 19), 15), "received", attach=True)
            add("objection", "result", overdue.id, overdue.department_id, day(date(2026, 10, 20), 9), "in_review",
                claimed=day(date(2026, 10, 21)), attach=True)
            add("objection", "result", extra.id, extra.department_id, day(date(2026, 11, 4), 11), "received")  # due soon
        if penalties:
            p = penalties[0]
            add("objection", "penalty", p.id, p.department_id, day(date(2026, 10, 12)), "decided", "maintained",
                claimed=day(date(2026, 10, 13)), decided=day(date(2026, 10, 23), 16),
                reason="经核查，处罚决定书载明的违法事实、处罚依据和罚款金额与公示内容一致，维持原公示信息。")
        if corrected is not None:
            fixed = corrected.corrected_at
            add("objection", "result", corrected.id, corrected.department_id, fixed - timedelta(days=6), "decided",
                "corrected", claimed=fixed - timedelta(days=5), correcting=fixed - timedelta(hours=2), decided=fixed,
                reason="检查结果录入有误（结论误选为“未发现问题”），予以更正", attach=True)
        if withdrawn is not None:
            gone = withdrawn.withdrawn_at
            add("objection", "result", withdrawn.id, withdrawn.department_id, gone - timedelta(days=10), "decided",
                "withdrawn", claimed=gone - timedelta(days=9), decided=gone,
                reason="检查对象信息登记错误，该条检查结果已撤回，更正后重新公示")
        if repaired is not None:
            done = repaired.credit_repair_date
            add("credit_repair", "penalty", repaired.id, repaired.department_id, day(done - timedelta(days=14)),
                "decided", "approved", claimed=day(done - timedelta(days=13)), decided=day(done, 9),
                reason="当事人已履行行政处罚决定、主动纠正违法行为，材料齐全，准予信用修复。", attach=True)
        eligible = [p for p in eligible if not penalties or p.id != penalties[0].id]
        if len(eligible) >= 2:
            a, b = eligible[0], eligible[1]
            add("credit_repair", "penalty", a.id, a.department_id, day(date(2026, 11, 16), 14), "received", attach=True)
            add("credit_repair", "penalty", b.id, b.department_id, day(date(2026, 9, 1)), "decided", "refused",
                claimed=day(date(2026, 9, 2)), decided=day(date(2026, 9, 14), 15),
                reason="经核查，当事人因同一类违法行为再次受到行政处罚，不符合提前停止公示的条件。")

    def _sample_entities(self, k):
        return [self.entity_list[self.rng.randrange(len(self.entity_list))] for _ in range(k)]

    # all --------------------------------------------------------------------------------------
    def build(self):
        from ..models import VocabularyKind, VocabularyTerm
        self._conclusion_labels = list(self.session.execute(
            select(VocabularyTerm.code, VocabularyTerm.label).where(VocabularyTerm.kind == VocabularyKind.CONCLUSION)))
        self.departments()
        self.entities()
        self.inspectors()
        self.inspector_names = {}
        for row in self.rows.buffer["inspector"]:
            self.inspector_names[row["licence_no"]] = row["name"]
        self.rows.flush()
        self.plans()
        self.rows.flush()
        self.tasks()
        self.penalties()
        self.rows.flush()
        self.objections()
        self.rows.flush()
        from .. import embargo
        embargo.refresh(session=self.session)  # rows were bulk-inserted, past the ORM hooks
        if self.entity_updates:
            # Entities found cancelled/revoked at inspection (C10); a fixed stamp keeps the data deterministic.
            self.status_changed_at = china_time(date(2026, 11, 20), 17)
            t = db.metadata.tables["entity"]
            for status in ("注销", "吊销"):
                ids = sorted(i for i, s in self.entity_updates.items() if s == status)
                for i in range(0, len(ids), 500):
                    self.session.execute(update(t).where(t.c.id.in_(ids[i:i + 500])).values(
                        registration_status=status, updated_at=self.status_changed_at))
        self.rows.reset_sequences()
        return self.summary()

    def summary(self) -> dict:
        counts = dict(self.rows.counts)
        special = {k: v for k, v in self.special.items() if not k.startswith("_")}
        return {"seed": self.seed, "size": self.size_name, "rows": counts, "special": special}


def fingerprint(session) -> str:
    """SHA-256 over every demo table's rows in id order (tests: same seed → same data)."""
    digest = hashlib.sha256()
    skip = {"audit_event", "user", "login_attempt", "search_change", "vocabulary_term",
            "public_revision", "public_moment"}  # cache validators: when, not what
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
        for row in session.execute(select(table).order_by(*order)):
            digest.update(repr(tuple(row)).encode("utf-8"))
    return digest.hexdigest()
