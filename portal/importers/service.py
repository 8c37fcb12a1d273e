"""Preview and commit of uploads: loads lookups from the database, writes in ONE transaction.

    preview = build_preview("results", data, "结果.csv", department, today)
    batch = commit("results", data, "结果.csv", department, actor, accept_warnings=True)

Nothing is written unless every row is valid (warnings accepted). The commit re-reads the file and
re-validates inside the write transaction (imports are serialised), so two clerks uploading at the
same time never duplicate a natural key. Re-importing the same file, or the same natural keys,
updates or reports "unchanged"; it never creates duplicates.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import selectinload

from .. import clock, journal
from ..database import write_transaction
from ..extensions import db
from ..models import (CheckItem, Department, Entity, EntityType, ImportBatch, Inspector, Penalty, PenaltyCategory,
                      RegistrationStatus, Result, ResultConclusion, ResultFinding, RiskClass, Status, Task,
                      VocabularyKind, VocabularyTerm)
from .columns import KIND_LABELS, KINDS, RECORD_KIND, match_headers
from .reading import FileRefused, read_table
from .rows import ERROR, Lookups, Problem, TaskInfo, decide_actions, plan_rows

CHUNK = 500
WRITE_CHUNK = 250


class ImportRejected(Exception):
    """The file has errors (or unaccepted warnings); nothing was written."""

    def __init__(self, preview: "Preview", message: str):
        super().__init__(message)
        self.preview = preview


@dataclass
class Preview:
    kind: str
    filename: str
    sha256: str
    size: int
    department_id: int
    encoding: str = ""
    file_problems: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    previous: list = field(default_factory=list)  # earlier ImportBatch rows of the same file
    lookups: object = field(default=None, repr=False)  # keeps loaded records alive until the commit

    @property
    def kind_label(self):
        return KIND_LABELS[self.kind]

    @property
    def problems(self) -> list:
        out = list(self.file_problems)
        for row in self.rows:
            out.extend(row.problems)
        return out

    @property
    def errors(self) -> list:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list:
        return [p for p in self.problems if p.severity != ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def maskings(self) -> list:
        return [(row.number, m) for row in self.rows for m in row.maskings]

    @property
    def counts(self) -> dict:
        counts = {"rows": len(self.rows), "new": 0, "updated": 0, "unchanged": 0,
                  "error_rows": 0, "warning_rows": 0}
        for row in self.rows:
            if row.has_errors:
                counts["error_rows"] += 1
                continue
            counts[row.action] += 1
            if row.has_warnings:
                counts["warning_rows"] += 1
        return counts


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- lookups

def _chunks(values, size=CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _vocabulary(kind: VocabularyKind) -> dict:
    rows = db.session.execute(select(VocabularyTerm.code, VocabularyTerm.label, VocabularyTerm.active)
                              .where(VocabularyTerm.kind == kind).order_by(VocabularyTerm.sort_order)).all()
    if not rows:  # a fresh database: the defaults of SPEC §2
        from ..demo.vocabulary import default_terms
        return {code.upper(): label for k, code, label, _o, _a in default_terms() if k == kind}
    return {code.upper(): label for code, label, active in rows if active}


def _column_values(table, kind, key, normalise):
    mapping, _missing, _unknown = match_headers(kind, table.headers)
    index = mapping.get(key)
    if index is None:
        return set()
    values = set()
    for _number, cells in table.rows:
        if index < len(cells) and cells[index] not in (None, ""):
            value = normalise(cells[index])
            if value:
                values.add(value)
    return values


def _uscc_key(value):
    from ..domain.uscc import normalise
    return normalise(value) if isinstance(value, str) else None


def load_lookups(kind: str, table, department: Department) -> Lookups:
    lk = Lookups(department_id=department.id, department_name=department.name)
    session = db.session
    usccs = _column_values(table, kind, "uscc", _uscc_key)
    for chunk in _chunks(usccs):
        for eid, uscc, name, etype in session.execute(
                select(Entity.id, Entity.uscc, Entity.name, Entity.entity_type).where(Entity.uscc.in_(chunk))):
            lk.entities[uscc] = (eid, name, getattr(etype, "value", etype))
    if kind in ("results", "penalties"):
        codes = _column_values(table, kind, "task_code", lambda v: str(v).strip().upper())
        for chunk in _chunks(codes):
            for task in session.execute(select(Task).where(Task.code.in_(chunk))).scalars():
                items = {}
                for item in task.items:
                    items[item.code] = item.id
                    items[item.code.upper()] = item.id
                    items[item.name] = item.id
                draw = task.current_draw
                drawn = {s.entity_id for s in draw.selections} if draw is not None else set()
                lk.tasks[task.code.upper()] = TaskInfo(
                    id=task.id, code=task.code, department_id=task.department_id,
                    department_ids={task.department_id, *(d.id for d in task.departments)}, items=items,
                    drawn_entity_ids=drawn, period_start=task.period_start, period_end=task.period_end)
    if kind == "results":
        for iid, dept_id, licence in session.execute(select(Inspector.id, Inspector.department_id,
                                                            Inspector.licence_no)):
            lk.inspectors[licence.upper()] = (iid, dept_id, licence)
        lk.conclusions = _vocabulary(VocabularyKind.CONCLUSION)
        lk.follow_ups = _vocabulary(VocabularyKind.FOLLOW_UP)
    if kind == "penalties":
        lk.penalty_categories = _vocabulary(VocabularyKind.PENALTY_CATEGORY)
    if kind == "inspectors":
        for iid, code in session.execute(select(CheckItem.id, CheckItem.code)
                                         .where(CheckItem.department_id == department.id)):
            lk.department_items[code] = iid
            lk.department_items[code.upper()] = iid
    return lk


def _status(record) -> str:
    return getattr(record.status, "value", record.status)


def load_existing(kind: str, plans: list, lookups: Lookups) -> None:
    """Snapshots of existing records with the rows' natural keys (for new/updated/unchanged)."""
    keys = [p.key for p in plans if p.key]
    session = db.session
    lk = lookups
    if kind == "results":
        for chunk in _chunks(keys):
            for r in session.execute(select(Result).where(tuple_(Result.task_id, Result.entity_id).in_(chunk))
                    .options(selectinload(Result.conclusions), selectinload(Result.inspectors),
                             selectinload(Result.findings))).scalars():
                finding_item = next((f.check_item_id for f in r.findings if f.check_item_id), None)
                snap = {"task_id": r.task_id, "entity_id": r.entity_id, "inspection_date": r.inspection_date,
                        "formed_date": r.formed_date, "remark": r.remark, "follow_up": r.follow_up,
                        "conclusions": sorted((c.code, c.label) for c in r.conclusions),
                        "inspectors": sorted(i.licence_no for i in r.inspectors), "item_id": finding_item}
                extra = {"kind": kind, "status": _status(r)}
                if r.department_id != lk.department_id:
                    extra["other_department"] = "该检查对象在本任务中的结果已由其他部门录入"
                lk.existing[(r.task_id, r.entity_id)] = (r.id, snap, extra)
                lk.loaded.append(r)  # keep the loaded objects (and their collections) for the commit
    elif kind == "penalties":
        for chunk in _chunks([k[0] for k in keys]):
            for p in session.execute(select(Penalty).where(Penalty.decision_no.in_(chunk))
                                         .options(selectinload(Penalty.category_rows))).scalars():
                snap = {"decision_no": p.decision_no, "entity_id": p.entity_id, "party_name": p.party_name,
                        "party_kind": p.party_kind, "violation_type": p.violation_type, "facts": p.facts,
                        "legal_basis": p.legal_basis, "categories": list(p.categories),
                        "fine_amount": p.fine_amount, "confiscation_amount": p.confiscation_amount,
                        "decision_date": p.decision_date, "authority": p.authority, "task_id": p.task_id}
                extra = {"kind": kind, "status": _status(p)}
                if p.department_id != lk.department_id:
                    extra["other_department"] = "该决定书文号已被其他部门使用"
                lk.existing[(p.decision_no,)] = (p.id, snap, extra)
                lk.loaded.append(p)
    elif kind == "entities":
        for chunk in _chunks([k[0] for k in keys]):
            for e in session.execute(select(Entity).where(Entity.uscc.in_(chunk))).scalars():
                snap = {"uscc": e.uscc, "name": e.name, "entity_type": e.entity_type.value,
                        "region_code": e.region_code, "industry": e.industry,
                        "registration_status": e.registration_status.value, "risk_class": e.risk_class.value,
                        "tags": sorted(e.tags or []), "address": e.address,
                        "legal_representative": e.legal_representative, "operator_name": e.operator_name,
                        "established_on": e.established_on}
                lk.existing[(e.uscc,)] = (e.id, snap, {"kind": kind})
                lk.loaded.append(e)
    elif kind == "inspectors":
        for chunk in _chunks([k[0] for k in keys]):
            for i in session.execute(select(Inspector).where(Inspector.licence_no.in_(chunk))
                                         .options(selectinload(Inspector.specialties))).scalars():
                snap = {"licence_no": i.licence_no, "name": i.name, "gender": i.gender, "id_card_no": i.id_card_no,
                        "enforcement_field": i.enforcement_field, "post": i.post,
                        "specialties": sorted(s.id for s in i.specialties), "active": i.active}
                extra = {"kind": kind}
                if i.department_id != lk.department_id:
                    extra["other_department"] = "该执法证号属于其他部门的执法人员"
                lk.existing[(i.licence_no,)] = (i.id, snap, extra)
                lk.loaded.append(i)


# ---------------------------------------------------------------- preview

def build_preview(kind: str, data: bytes, filename: str, department: Department, today: date) -> Preview:
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    preview = Preview(kind=kind, filename=filename, sha256=file_hash(data), size=len(data),
                      department_id=department.id)
    try:
        table = read_table(data, filename)
    except FileRefused as exc:
        preview.file_problems.append(Problem(None, "", str(exc), ""))
        return preview
    preview.encoding = table.encoding
    lookups = load_lookups(kind, table, department)
    preview.lookups = lookups
    preview.file_problems, preview.rows = plan_rows(kind, table, lookups, today)
    load_existing(kind, preview.rows, lookups)
    decide_actions(preview.rows, lookups)
    preview.previous = db.session.execute(
        select(ImportBatch).where(ImportBatch.sha256 == preview.sha256, ImportBatch.kind == kind,
                                  ImportBatch.department_id == department.id)
        .order_by(ImportBatch.id.desc())).scalars().all()
    return preview


# ---------------------------------------------------------------- commit

def _serialise_imports() -> None:
    """One import at a time per database (SQLite already holds the write lock: BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(7301002)"))


def commit(kind: str, data: bytes, filename: str, department: Department, actor=None, *,
           accept_warnings: bool = False, publish: bool = False, progress=None) -> ImportBatch:
    """Validate again and write everything in one transaction, or raise ImportRejected (nothing written)."""
    today = clock.today()
    with write_transaction():
        _serialise_imports()
        preview = build_preview(kind, data, filename, department, today)
        if not preview.ok:
            raise ImportRejected(preview, "文件有错误，未导入任何数据")
        if preview.warnings and not accept_warnings:
            raise ImportRejected(preview, "文件有警告，请确认后再导入")
        batch = ImportBatch(kind=kind, department_id=department.id, user_id=getattr(actor, "id", None),
                            actor_name=getattr(actor, "username", None) or (str(actor) if actor else "system"),
                            filename=filename[:255], sha256=preview.sha256, row_count=len(preview.rows),
                            status="committed", at=clock.now())
        db.session.add(batch)
        db.session.flush()
        writer = _Writer(kind, department, actor, batch, publish)
        total = len(preview.rows)
        for start in range(0, total, WRITE_CHUNK):
            chunk = preview.rows[start:start + WRITE_CHUNK]
            writer.apply_chunk(chunk)
            if progress is not None:
                progress(start + len(chunk), total)
        counts = preview.counts
        batch.created_count, batch.updated_count, batch.unchanged_count = \
            counts["new"], counts["updated"], counts["unchanged"]
        batch.message = f"新增 {counts['new']}，更新 {counts['updated']}，未变化 {counts['unchanged']}" + \
            (f"，发布 {writer.published}" if publish else "")
        journal.record("import", "import", batch.id, actor=actor, department_id=department.id,
                       after={"kind": kind, "filename": filename, "sha256": preview.sha256, "rows": len(preview.rows),
                              "created": counts["new"], "updated": counts["updated"],
                              "unchanged": counts["unchanged"], "published": writer.published},
                       summary=f"导入{KIND_LABELS[kind]}：{filename}（{batch.message}）")
    return batch


def _redact(values: dict) -> dict:
    """The audit log is internal, but an ID-card number still has no business there in full."""
    if values.get("id_card_no"):
        number = values["id_card_no"]
        values = {**values, "id_card_no": number[:4] + "*" * (len(number) - 8) + number[-4:]}
    return values


class _Writer:
    def __init__(self, kind, department, actor, batch, publish):
        self.kind, self.department, self.actor, self.batch, self.publish = kind, department, actor, batch, publish
        self.record_kind = RECORD_KIND[kind]
        self.published = 0
        self._inspector_cache = {}
        self._item_cache = {}

    def apply_chunk(self, rows) -> None:
        """Write a chunk of rows: build every record, flush once, then one journal event per row."""
        method = getattr(self, "_" + self.kind)
        pending = []
        for row in rows:
            if row.action == "new":
                record = method(None, row.values)
                db.session.add(record)
                pending.append(("create", row, record))
                continue
            if row.action == "unchanged" and not self.publish:
                continue
            record = db.session.get(self._model(), row.existing_id)
            if row.action == "updated":
                if hasattr(record, "status") and _status(record) == Status.PUBLISHED.value:
                    pending.append(("correct", row, record))
                else:
                    method(record, row.values)
                    pending.append(("update", row, record))
            else:
                pending.append(("unchanged", row, record))
        db.session.flush()
        entries = []
        for action, row, record in pending:
            if action == "create":
                entries.append({"action": "create", "record_kind": self.record_kind, "record_id": record.id,
                                "after": _redact(row.values), "department_id": self.department.id,
                                "summary": f"导入新增（批次 {self.batch.id}，第 {row.number} 行）"})
            elif action == "update":
                entries.append({"action": "update", "record_kind": self.record_kind, "record_id": record.id,
                                "before": _redact({k: row.previous.get(k) for k in row.changed_fields}),
                                "after": _redact({k: row.values[k] for k in row.changed_fields}),
                                "department_id": self.department.id,
                                "summary": f"导入更新（批次 {self.batch.id}，第 {row.number} 行）"})
        if entries:
            journal.record_many(entries, actor=self.actor)
        for action, row, record in pending:
            if action == "correct":
                from .. import lifecycle
                changes = {k: v for k, v in self._changes(row.values).items() if k in row.changed_fields
                           or k == "publicity_end" or (k == "findings" and "item_id" in row.changed_fields)}
                lifecycle.correct(self.record_kind, record, changes,
                                  reason=f"批量导入更正：{self.batch.filename}（第 {row.number} 行）", actor=self.actor)
            if self.publish and hasattr(record, "status") and _status(record) == Status.DRAFT.value \
                    and not record.withheld:
                from .. import lifecycle
                lifecycle.publish(self.record_kind, record, actor=self.actor)
                self.published += 1

    def _model(self):
        return {"results": Result, "penalties": Penalty, "entities": Entity, "inspectors": Inspector}[self.kind]

    def _inspector_objs(self, licences):
        missing = [lic for lic in licences if lic not in self._inspector_cache]
        if missing:
            for insp in db.session.execute(select(Inspector).where(Inspector.licence_no.in_(missing))).scalars():
                self._inspector_cache[insp.licence_no] = insp
        return [self._inspector_cache[lic] for lic in licences if lic in self._inspector_cache]

    def _changes(self, v):
        """Field changes in the shape lifecycle.correct expects."""
        changes = dict(v)
        if self.kind == "results":
            changes.pop("item_id", None)
            changes["conclusions"] = [{"code": c, "label": lbl} for c, lbl in v["conclusions"]]
            changes["inspectors"] = self._inspector_objs(v["inspectors"])
            changes["findings"] = self._findings(v)
        if self.kind == "penalties":
            changes["publicity_end"] = self._publicity_end(v)
        return changes

    def _findings(self, v):
        if not v.get("item_id"):
            return []
        first = v["conclusions"][0][0] if v["conclusions"] else None
        return [ResultFinding(check_item_id=v["item_id"], conclusion_code=first, text=v.get("remark"))]

    def _results(self, record, v):
        if record is None:
            record = Result(task_id=v["task_id"], entity_id=v["entity_id"], department_id=self.department.id)
        record.inspection_date, record.formed_date = v["inspection_date"], v["formed_date"]
        record.remark, record.follow_up = v["remark"], v["follow_up"]
        wanted = dict(v["conclusions"])
        for c in list(record.conclusions):
            if c.code not in wanted:
                record.conclusions.remove(c)
        have = {c.code for c in record.conclusions}
        for code, label in v["conclusions"]:
            if code not in have:
                record.conclusions.append(ResultConclusion(code=code, label=label))
        record.inspectors = self._inspector_objs(v["inspectors"])
        current = next((f.check_item_id for f in record.findings if f.check_item_id), None)
        if current != v.get("item_id"):
            record.findings = self._findings(v)
        return record

    def _publicity_end(self, v):
        from ..deadlines import publicity_policy
        from ..domain.publicity import publicity_end
        return publicity_end(v["categories"], v["fine_amount"], v["confiscation_amount"], v["party_kind"],
                             v["decision_date"], policy=publicity_policy())

    def _penalties(self, record, v):
        if record is None:
            record = Penalty(department_id=self.department.id, decision_no=v["decision_no"])
        for name in ("entity_id", "party_name", "party_kind", "violation_type", "facts", "legal_basis",
                     "fine_amount", "confiscation_amount", "decision_date", "authority", "task_id"):
            setattr(record, name, v[name])
        for row in list(record.category_rows):
            if row.category not in v["categories"]:
                record.category_rows.remove(row)
        have = set(record.categories)
        for category in v["categories"]:
            if category not in have:
                record.category_rows.append(PenaltyCategory(category=category))
        record.publicity_end = self._publicity_end(v)
        return record

    def _entities(self, record, v):
        if record is None:
            record = Entity(uscc=v["uscc"])
        for name in ("name", "region_code", "industry", "address", "legal_representative", "operator_name",
                     "established_on"):
            setattr(record, name, v[name])
        record.entity_type = EntityType(v["entity_type"])
        record.registration_status = RegistrationStatus(v["registration_status"])
        record.risk_class = RiskClass(v["risk_class"])
        record.tags = list(v["tags"])
        return record

    def _inspectors(self, record, v):
        if record is None:
            record = Inspector(department_id=self.department.id, licence_no=v["licence_no"])
        for name in ("name", "gender", "id_card_no", "enforcement_field", "post", "active"):
            setattr(record, name, v[name])
        wanted = v["specialties"]
        if sorted(s.id for s in record.specialties) != wanted:
            missing = [i for i in wanted if i not in self._item_cache]
            if missing:
                for item in db.session.execute(select(CheckItem).where(CheckItem.id.in_(missing))).scalars():
                    self._item_cache[item.id] = item
            record.specialties = [self._item_cache[i] for i in wanted if i in self._item_cache]
        return record
