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

from sqlalchemy import select, text

from .. import clock, journal
from ..database import write_transaction
from ..domain import directory as ownership
from ..entity_versions import entity_state, keep_version
from ..extensions import db
from ..models import (CheckItem, Department, Entity, EntityType, ImportBatch, Inspector, Penalty, PenaltyCategory,
                      RegistrationStatus, Result, ResultConclusion, ResultFinding, RiskClass, Status)
from ..validation import Lookups
from ..validation.loading import entity_policy, load_existing, load_lookups
from .columns import KIND_LABELS, KINDS, RECORD_KIND, match_headers
from .reading import FileRefused, read_table
from .rows import ERROR, Problem, decide_actions, plan_rows

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
    ignored_columns: list = field(default_factory=list)  # the public open-data file's extra columns
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

def _column_values(table, kind, key, normalise):
    mapping = match_headers(kind, table.headers)[0]
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


def _role(actor) -> str:
    """The importing user's role; the command line (no user) is the operator, with an administrator's rights."""
    if actor is None or not getattr(actor, "role", None):
        return "admin"
    return getattr(actor.role, "value", actor.role)


def _record_id(value):
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def lookups_for(kind: str, table, department: Department) -> Lookups:
    return load_lookups(RECORD_KIND[kind], department, usccs=_column_values(table, kind, "uscc", _uscc_key),
                        task_codes=_column_values(table, kind, "task_code", lambda v: str(v).strip().upper()),
                        result_ids=_column_values(table, kind, "record_id", _record_id))


def _may_add(kind: str, actor, department: Department) -> str:
    """Why this user may not add records of this kind ("" when they may): the directory's owners."""
    if kind != "entities":
        return ""
    policy = entity_policy()
    if ownership.may_register(_role(actor), department.id, policy):
        return ""
    return ownership.refusal(None, policy)


# ---------------------------------------------------------------- preview

def build_preview(kind: str, data: bytes, filename: str, department: Department, today: date,
                  actor=None) -> Preview:
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
    preview.ignored_columns = match_headers(kind, table.headers)[3]
    lookups = lookups_for(kind, table, department)
    preview.lookups = lookups
    preview.file_problems, preview.rows = plan_rows(kind, table, lookups, today)
    load_existing(RECORD_KIND[kind], [p.key for p in preview.rows], lookups, actor_role=_role(actor))
    decide_actions(kind, preview.rows, lookups, may_add=_may_add(kind, actor, department))
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
           accept_warnings: bool = False, publish: bool = False, progress=None, before_commit=None) -> ImportBatch:
    """Validate again and write everything in one transaction, or raise ImportRejected (nothing written).

    `progress(done, total)` is called after each chunk of rows; `before_commit(batch)` last, inside
    the transaction (the upload job records its outcome there, so both commit or neither does)."""
    today = clock.today()
    with write_transaction():
        _serialise_imports()
        preview = build_preview(kind, data, filename, department, today, actor=actor)
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
        if before_commit is not None:
            before_commit(batch)
    return batch


def _status(record) -> str:
    return getattr(record.status, "value", record.status)


def _redact(values: dict) -> dict:
    """The audit log is internal, but an ID-card number still has no business there in full."""
    if values.get("id_card_no"):
        number = values["id_card_no"]
        values = {**values, "id_card_no": number[:4] + "*" * (len(number) - 8) + number[-4:]}
    return values


class _Writer:
    """Applies validated rows. A new record takes the row's values (and inferred defaults); an
    existing one changes only the fields the file has columns for."""

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
                record = method(None, {**row.defaults, **row.values})
                db.session.add(record)
                pending.append(("create", row, record, None))
                continue
            if row.action == "unchanged" and not self.publish:
                continue
            record = db.session.get(self._model(), row.existing_id)
            if row.action == "updated":
                if hasattr(record, "status") and _status(record) == Status.PUBLISHED.value:
                    pending.append(("correct", row, record, None))
                else:
                    before = entity_state(record) if self.kind == "entities" else None
                    method(record, row.values)
                    pending.append(("update", row, record, before))
            else:
                pending.append(("unchanged", row, record, None))
        db.session.flush()
        entries = []
        for action, row, record, before in pending:
            if action == "create":
                entries.append({"action": "create", "record_kind": self.record_kind, "record_id": record.id,
                                "after": _redact({**row.defaults, **row.values}), "department_id": self.department.id,
                                "summary": f"导入新增（批次 {self.batch.id}，第 {row.number} 行）"})
            elif action == "update":
                entries.append({"action": "update", "record_kind": self.record_kind, "record_id": record.id,
                                "before": _redact({k: row.previous.get(k) for k in row.changed_fields}),
                                "after": _redact({k: row.values[k] for k in row.changed_fields}),
                                "department_id": self.department.id,
                                "summary": f"导入更新（批次 {self.batch.id}，第 {row.number} 行）"})
            if self.kind == "entities" and action in ("create", "update"):
                keep_version(record, before, f"批量导入：{self.batch.filename}（第 {row.number} 行）", self.actor)
        if entries:
            journal.record_many(entries, actor=self.actor)
        from .. import lifecycle
        to_publish = []
        for action, row, record, _before in pending:
            if action == "correct":
                changes = {k: v for k, v in self._changes(record, row.values).items() if k in row.changed_fields
                           or k == "publicity_end" or (k == "findings" and "item_ids" in row.changed_fields)}
                lifecycle.correct(self.record_kind, record, changes,
                                  reason=f"批量导入更正：{self.batch.filename}（第 {row.number} 行）", actor=self.actor)
            if self.publish and hasattr(record, "status") and _status(record) == Status.DRAFT.value \
                    and not record.withheld:
                to_publish.append(record)
        if to_publish:  # one journal append for the chunk's publications, not a head lookup and flush per row
            lifecycle.publish_many(self.record_kind, to_publish, actor=self.actor)
            self.published += len(to_publish)

    def _model(self):
        return {"results": Result, "penalties": Penalty, "entities": Entity, "inspectors": Inspector}[self.kind]

    def _inspector_objs(self, licences):
        missing = [lic for lic in licences if lic not in self._inspector_cache]
        if missing:
            for insp in db.session.execute(select(Inspector).where(Inspector.licence_no.in_(missing))).scalars():
                self._inspector_cache[insp.licence_no] = insp
        return [self._inspector_cache[lic] for lic in licences if lic in self._inspector_cache]

    def _changes(self, record, v):
        """Field changes in the shape lifecycle.correct expects."""
        changes = dict(v)
        if self.kind == "results":
            changes.pop("item_ids", None)
            if "conclusions" in v:
                changes["conclusions"] = [{"code": c, "label": lbl} for c, lbl in v["conclusions"]]
            if "inspectors" in v:
                changes["inspectors"] = self._inspector_objs(v["inspectors"])
            if "item_ids" in v:
                changes["findings"] = self._findings(record, v)
        if self.kind == "penalties":
            changes["publicity_end"] = self._publicity_end({**_penalty_values(record), **v})
        return changes

    def _findings(self, record, v):
        """Per-item findings for the items a row names (a part of the task's items); texts kept."""
        kept = {f.check_item_id: f for f in (record.findings if record is not None else []) if f.check_item_id}
        first = (v.get("conclusions") or [(None, None)])[0][0]
        remark = v.get("remark", record.remark if record is not None else None)
        return [ResultFinding(check_item_id=item_id, conclusion_code=kept[item_id].conclusion_code if item_id in kept
                              else first, text=kept[item_id].text if item_id in kept else remark)
                for item_id in v["item_ids"]]

    def _results(self, record, v):
        if record is None:
            record = Result(task_id=v["task_id"], entity_id=v["entity_id"], department_id=self.department.id)
        for name in ("inspection_date", "formed_date", "remark", "verification_method", "follow_up"):
            if name in v:
                setattr(record, name, v[name])
        if "conclusions" in v:
            wanted = dict(v["conclusions"])
            for c in list(record.conclusions):
                if c.code not in wanted:
                    record.conclusions.remove(c)
            have = {c.code for c in record.conclusions}
            for code, label in v["conclusions"]:
                if code not in have:
                    record.conclusions.append(ResultConclusion(code=code, label=label))
        if "inspectors" in v:
            record.inspectors = self._inspector_objs(v["inspectors"])
        if "item_ids" in v:
            current = sorted({f.check_item_id for f in record.findings if f.check_item_id})
            if current != v["item_ids"]:
                record.findings = self._findings(record if record.id else None, v)
        return record

    def _publicity_end(self, v):
        from ..deadlines import publicity_policy
        from ..domain.publicity import publicity_end
        return publicity_end(v["categories"], v.get("fine_amount"), v.get("confiscation_amount"), v["party_kind"],
                             v["decision_date"], v.get("restriction_end"), policy=publicity_policy())

    def _penalties(self, record, v):
        if record is None:
            record = Penalty(department_id=self.department.id, decision_no=v["decision_no"])
        for name in ("entity_id", "party_name", "party_kind", "violation_type", "facts", "legal_basis",
                     "fine_amount", "confiscation_amount", "decision_date", "restriction_end", "authority",
                     "task_id"):
            if name in v:
                setattr(record, name, v[name])
        if "categories" in v:
            for row in list(record.category_rows):
                if row.category not in v["categories"]:
                    record.category_rows.remove(row)
            have = set(record.categories)
            for category in v["categories"]:
                if category not in have:
                    record.category_rows.append(PenaltyCategory(category=category))
        record.publicity_end = self._publicity_end({**_penalty_values(record), **v})
        return record

    def _entities(self, record, v):
        if record is None:
            record = Entity(uscc=v["uscc"], registered_by_id=self.department.id if _role(self.actor) == "clerk"
                            else None)
        for name in ("name", "region_code", "industry", "address", "legal_representative", "operator_name",
                     "established_on"):
            if name in v:
                setattr(record, name, v[name])
        if "tags" in v:
            record.tags = list(v["tags"])
        for name, enum in (("entity_type", EntityType), ("registration_status", RegistrationStatus),
                           ("risk_class", RiskClass)):
            if name in v:
                setattr(record, name, enum(v[name]))
        return record

    def _inspectors(self, record, v):
        if record is None:
            record = Inspector(department_id=self.department.id, licence_no=v["licence_no"])
        for name in ("name", "gender", "id_card_no", "enforcement_field", "post", "active"):
            if name in v:
                setattr(record, name, v[name])
        if "specialties" in v and sorted(s.id for s in record.specialties) != v["specialties"]:
            wanted = v["specialties"]
            missing = [i for i in wanted if i not in self._item_cache]
            if missing:
                for item in db.session.execute(select(CheckItem).where(CheckItem.id.in_(missing))).scalars():
                    self._item_cache[item.id] = item
            record.specialties = [self._item_cache[i] for i in wanted if i in self._item_cache]
        return record


def _penalty_values(record) -> dict:
    """A penalty's current values that decide its publicity period."""
    return {"categories": list(record.categories), "fine_amount": record.fine_amount,
            "confiscation_amount": record.confiscation_amount, "party_kind": record.party_kind,
            "decision_date": record.decision_date, "restriction_end": record.restriction_end}
