"""检查结果: create/edit with conclusions from the vocabulary, follow-up, inspectors; lifecycle actions."""
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..auth.access import role_of
from ..extensions import db
from ..models import (Department, Entity, Inspector, RecordVersion, Result, ResultConclusion, ResultFinding, Task,
                      VocabularyKind)
from ..validation.loading import load_lookups
from ..validation.results import FINDING_MAX, FINDING_PREFIX, REMARK_MAX, VERIFICATION_MAX
from . import choices
from .crud import STATUS_FILTER
from .forms import Field
from .validated import ValidatedSection


class Results(ValidatedSection):
    kind, model, url, singular, title = "result", Result, "results", "result", "检查结果"
    validator = "result"
    field_keys = {"task_id": "task_code", "entity_uscc": "uscc", "inspector_licences": "inspectors"}

    def fields(self, record=None):
        return [
            Field("task_id", "抽查任务", "select", required=True, choices=choices.tasks, scoped=True),
            Field("entity_uscc", "统一社会信用代码", required=True, max_length=30,
                  help="检查对象须已在检查对象名录库中，并在该任务的抽取名单中"),
            Field("inspection_date", "检查日期", "date", help="不早于该任务的抽取日期"),
            Field("formed_date", "结果形成日期", "date", required=True, help="公示时限从此日起算"),
            Field("conclusions", "检查结果", "multi", required=True,
                  choices=lambda: choices.terms(VocabularyKind.CONCLUSION,
                                                include=[c.code for c in (record.conclusions if record else [])])),
            Field("remark", "结果说明", "textarea", max_length=REMARK_MAX,
                  help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("verification_method", "核查方式", max_length=VERIFICATION_MAX,
                  help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("follow_up", "后续处置", "select", choices=lambda: choices.labels(VocabularyKind.FOLLOW_UP)),
            Field("inspector_licences", "执法人员执法证号", max_length=400,
                  help="多个证号用、或；分隔，须为本任务参与部门的执法人员"),
        ] + self.finding_fields(record)

    def finding_fields(self, record):
        """Per-item findings (joint tasks: one per check item), once the record's task is known."""
        if record is None:
            return []
        return [Field(f"{FINDING_PREFIX}{item.id}", f"分项检查情况：{item.code} {item.name}", "textarea",
                      max_length=FINDING_MAX) for item in record.task.items]

    def findings(self, record, values):
        return [ResultFinding(check_item_id=item_id, text=text)
                for item_id, text in sorted((values.get("findings") or {}).items())]

    def columns(self):
        return [("任务", lambda r: r.task.code), ("检查对象", lambda r: r.entity.name),
                ("结论", lambda r: "、".join(c.label for c in r.conclusions)),
                ("结果形成日期", lambda r: r.formed_date.isoformat())]

    def export_options(self):
        return (selectinload(Result.task), selectinload(Result.entity), selectinload(Result.conclusions))

    def filters(self):
        return [("q", "对象名称/代码/任务编号", None),
                STATUS_FILTER]

    def list_query(self, args):
        query = select(Result)
        query = self.filter_status(query, args)
        q = (args.get("q") or "").strip()
        if q:
            like = f"%{q}%"
            query = query.where(or_(Result.entity_id.in_(select(Entity.id).where(
                or_(Entity.name.like(like), Entity.uscc.like(like)))),
                Result.task_id.in_(select(Task.id).where(Task.code.like(like)))))
        return query

    def order(self):
        return (Result.formed_date.desc(), Result.id.desc())

    def label(self, record):
        return f"{record.task.code} · {record.entity.name}"

    def form_values(self, record):
        return {"task_id": record.task_id, "entity_uscc": record.entity.uscc,
                "inspection_date": record.inspection_date, "formed_date": record.formed_date,
                "conclusions": [c.code for c in record.conclusions], "remark": record.remark,
                "verification_method": record.verification_method, "follow_up": record.follow_up,
                "inspector_licences": "、".join(i.licence_no for i in record.inspectors),
                **{f"finding_{x.check_item_id}": x.text for x in record.findings if x.check_item_id}}

    def defaults(self) -> dict:
        # Prefilled by the deadline warnings' "补录结果" link (?task_id=…&entity_uscc=…).
        from flask import request
        return {k: request.args[k] for k in ("task_id", "entity_uscc") if request.args.get(k)}

    def _task(self, result):
        value = result.raw.get("task_id")
        return db.session.get(Task, int(value)) if value else None

    def department_for(self, result, record):
        # The clerk's own part of a (joint) task; admins record it for the lead department.
        if role_of() == "clerk":
            return db.session.get(Department, current_user.department_id)
        if record is not None:
            return record.department
        task = self._task(result)
        return task.department if task is not None else None

    def validator_input(self, result, record):
        raw = super().validator_input(result, record)
        task = self._task(result)
        raw["task_code"] = task.code if task is not None else ""
        return raw

    def lookups(self, raw, department, record):
        from ..domain.uscc import normalise
        return load_lookups("result", department, usccs=[normalise(raw.get("uscc"))],
                            task_codes=[raw["task_code"]] if raw.get("task_code") else [],
                            include_terms=[c.code for c in record.conclusions] if record is not None else ())

    def references(self, result, record, department):
        values = result.values
        refs = {"department_id": department.id, "task": db.session.get(Task, values["task_id"]),
                "entity": db.session.get(Entity, values["entity_id"])}
        clash = select(Result.id).where(Result.task_id == values["task_id"], Result.entity_id == values["entity_id"])
        if record is not None:
            clash = clash.where(Result.id != record.id)
        if db.session.execute(clash).first():
            result.errors["entity_uscc"] = "该任务已有此检查对象的检查结果，请编辑原记录。"
        licences = values.get("inspectors") or []
        found = {i.licence_no: i for i in db.session.execute(
            select(Inspector).where(Inspector.licence_no.in_(licences))).scalars()} if licences else {}
        refs["inspectors"] = [found[lic] for lic in licences if lic in found]
        refs["conclusions"] = [{"code": code, "label": label} for code, label in values["conclusions"]]
        return refs

    def _assign(self, record, values, refs):
        record.task = refs["task"]
        record.entity = refs["entity"]
        record.department_id = refs["department_id"]
        record.inspection_date = values.get("inspection_date")
        record.formed_date = values["formed_date"]
        record.remark = values.get("remark")
        record.verification_method = values.get("verification_method")
        record.follow_up = values.get("follow_up")
        record.inspectors = list(refs["inspectors"])

    def create(self, values, refs):
        record = Result()
        self._assign(record, values, refs)
        record.conclusions = [ResultConclusion(**c) for c in refs["conclusions"]]
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        self._assign(record, values, refs)
        record.findings = self.findings(record, values)
        if [c.code for c in record.conclusions] != [c["code"] for c in refs["conclusions"]]:
            record.conclusions = []
            db.session.flush()
            record.conclusions = [ResultConclusion(**c) for c in refs["conclusions"]]

    def changes(self, record, values, refs):
        return {"task_id": refs["task"].id, "entity_id": refs["entity"].id, "department_id": refs["department_id"],
                "inspection_date": values.get("inspection_date"), "formed_date": values["formed_date"],
                "remark": values.get("remark"), "verification_method": values.get("verification_method"),
                "follow_up": values.get("follow_up"), "inspectors": list(refs["inspectors"]),
                "conclusions": refs["conclusions"], "findings": self.findings(record, values)}

    def extra_context(self, record):
        versions = db.session.execute(select(RecordVersion).where(
            RecordVersion.record_kind == "result", RecordVersion.record_id == record.id)
            .order_by(RecordVersion.version.desc())).scalars().all()
        return {"versions": versions}


section = Results().register()
