"""检查结果: create/edit with conclusions from the vocabulary, follow-up, inspectors; lifecycle actions."""
import re

from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..auth.access import role_of
from ..domain import uscc as uscc_mod
from ..extensions import db
from ..models import (Entity, Inspector, RecordVersion, Result, ResultConclusion, ResultFinding, Task,
                      VocabularyKind, task_department)
from . import choices
from .crud import STATUS_FILTER, Section
from .forms import Field


class Results(Section):
    kind, model, url, singular, title = "result", Result, "results", "result", "检查结果"

    def fields(self, record=None):
        return [
            Field("task_id", "抽查任务", "select", required=True, choices=choices.tasks, scoped=True),
            Field("entity_uscc", "统一社会信用代码", required=True, max_length=30,
                  help="检查对象须已在检查对象名录库中"),
            Field("inspection_date", "检查日期", "date"),
            Field("formed_date", "结果形成日期", "date", required=True, help="公示时限从此日起算"),
            Field("conclusions", "检查结果", "multi", required=True,
                  choices=lambda: choices.terms(VocabularyKind.CONCLUSION,
                                                include=[c.code for c in (record.conclusions if record else [])])),
            Field("remark", "结果说明", "textarea", masked=True, max_length=4000,
                  help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("verification_method", "核查方式", max_length=100),
            Field("follow_up", "后续处置", "select", choices=lambda: choices.labels(VocabularyKind.FOLLOW_UP)),
            Field("inspector_licences", "执法人员执法证号", max_length=400,
                  help="多个证号用、或；分隔，须为本任务参与部门的执法人员"),
        ] + self.finding_fields(record)

    def finding_fields(self, record):
        """Per-item findings (joint tasks: one per check item), once the record's task is known."""
        if record is None:
            return []
        return [Field(f"finding_{item.id}", f"分项检查情况：{item.code} {item.name}", "textarea", masked=True,
                      max_length=4000) for item in record.task.items]

    def findings(self, record, values):
        if record is None:
            return []
        return [ResultFinding(check_item_id=item.id, text=values[f"finding_{item.id}"])
                for item in record.task.items if values.get(f"finding_{item.id}")]

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

    def validate(self, result, record):
        values, errors = result.values, result.errors
        task = db.session.get(Task, int(values["task_id"]))
        refs = {"task": task}
        try:
            code = uscc_mod.validate(values["entity_uscc"])
        except uscc_mod.CodeProblem as exc:
            code = uscc_mod.normalise(values["entity_uscc"]) if exc.warning else None
            if not exc.warning:
                errors["entity_uscc"] = str(exc)
        if code:
            entity = db.session.execute(select(Entity).where(Entity.uscc == code)).scalar()
            if entity is None:
                errors["entity_uscc"] = f"名录库中没有统一社会信用代码为 {code} 的检查对象，请先在“检查对象”中添加。"
            refs["entity"] = entity
        if values.get("inspection_date") and values["inspection_date"] > values["formed_date"]:
            errors["inspection_date"] = "检查日期不能晚于结果形成日期。"
        # Department: the clerk's own part of a (joint) task; admins record it for the lead department.
        if role_of() == "clerk":
            refs["department_id"] = current_user.department_id
        else:
            refs["department_id"] = record.department_id if record else task.department_id
        if refs.get("entity") is not None and "entity_uscc" not in errors:
            clash = select(Result.id).where(Result.task_id == task.id, Result.entity_id == refs["entity"].id)
            if record is not None:
                clash = clash.where(Result.id != record.id)
            if db.session.execute(clash).first():
                errors["entity_uscc"] = "该任务已有此检查对象的检查结果，请编辑原记录。"
        licences = [p for p in re.split(r"[、;；,，\s]+", values.get("inspector_licences") or "") if p]
        dept_ids = select(task_department.c.department_id).where(task_department.c.task_id == task.id)
        found = db.session.execute(select(Inspector).where(
            Inspector.licence_no.in_(licences),
            or_(Inspector.department_id.in_(dept_ids), Inspector.department_id == task.department_id))
        ).scalars().all() if licences else []
        missing = sorted(set(licences) - {i.licence_no for i in found})
        if missing:
            errors["inspector_licences"] = f"找不到本任务参与部门的执法人员：{'、'.join(missing)}，请核对执法证号。"
        refs["inspectors"] = sorted(found, key=lambda i: licences.index(i.licence_no))
        terms = dict(choices.terms(VocabularyKind.CONCLUSION, active_only=False))
        refs["conclusions"] = [{"code": c, "label": terms.get(c, c)} for c in values.get("conclusions") or []]
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
