"""抽查计划 and 抽查任务 (basic fields; the draw screens at /admin/tasks/<id>/draw belong to the draw work)."""
import re

from flask import url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..auth.access import role_of
from ..extensions import db
from ..models import CheckItem, Department, Plan, RecordVersion, Task
from . import choices
from .crud import STATUS_FILTER, Section
from .forms import Field

TASK_CODE = re.compile(r"^\d{6}\d{8}\d{4}$")


def _versions(kind, record):
    return db.session.execute(select(RecordVersion).where(
        RecordVersion.record_kind == kind, RecordVersion.record_id == record.id)
        .order_by(RecordVersion.version.desc())).scalars().all()


def _lead_department(values, record):
    if role_of() == "clerk":
        return current_user.department_id
    return int(values["department_id"])


class Plans(Section):
    kind, model, url, singular, title = "plan", Plan, "plans", "plan", "抽查计划"

    def fields(self, record=None):
        fields = [
            Field("year", "年度", "int", required=True),
            Field("title", "计划名称", required=True, max_length=200),
            Field("approval_date", "批准日期", "date", required=True, help="公示时限从此日起算"),
            Field("participants", "参与部门", "multi", choices=choices.all_departments,
                  help="联合抽查计划的其他参与部门"),
            Field("description", "计划说明", "textarea", max_length=8000),
        ]
        if role_of() == "admin":
            fields.insert(0, Field("department_id", "牵头部门", "select", required=True, choices=choices.all_departments))
        return fields

    def columns(self):
        return [("年度", lambda p: p.year), ("名称", lambda p: p.title), ("牵头部门", lambda p: p.department.name),
                ("批准日期", lambda p: p.approval_date.isoformat())]

    def export_options(self):
        return (selectinload(Plan.department),)

    def filters(self):
        return [("year", "年度", None),
                STATUS_FILTER]

    def list_query(self, args):
        query = select(Plan)
        if (args.get("year") or "").isdigit():
            query = query.where(Plan.year == int(args["year"]))
        query = self.filter_status(query, args)
        return query

    def order(self):
        return (Plan.year.desc(), Plan.id.desc())

    def label(self, record):
        return record.title

    def form_values(self, record):
        return {"department_id": record.department_id, "year": record.year, "title": record.title,
                "approval_date": record.approval_date, "description": record.description,
                "participants": [d.id for d in record.participants if d.id != record.department_id]}

    def validate(self, result, record):
        values = result.values
        if not 2000 <= values["year"] <= 2100:
            result.errors["year"] = "年度应为四位年份，例如 2025。"
        lead = _lead_department(values, record)
        ids = {int(i) for i in values.get("participants") or []} | {lead}
        return {"department_id": lead,
                "participants": db.session.execute(select(Department).where(Department.id.in_(ids))).scalars().all()}

    def _assign(self, record, values, refs):
        record.department_id = refs["department_id"]
        record.year, record.title = values["year"], values["title"]
        record.approval_date, record.description = values["approval_date"], values.get("description")
        record.participants = list(refs["participants"])

    def create(self, values, refs):
        record = Plan()
        self._assign(record, values, refs)
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        self._assign(record, values, refs)

    def changes(self, record, values, refs):
        return {"department_id": refs["department_id"], "year": values["year"], "title": values["title"],
                "approval_date": values["approval_date"], "description": values.get("description"),
                "participants": list(refs["participants"])}

    def extra_context(self, record):
        return {"versions": _versions("plan", record),
                "extra_links": [(url_for("admin.tasks", plan=record.id), f"本计划的任务（{len(record.tasks)} 项）")]}


class Tasks(Section):
    kind, model, url, singular, title = "task", Task, "tasks", "task", "抽查任务"

    def fields(self, record=None):
        fields = [
            Field("plan_id", "所属计划", "select", choices=choices.plans, scoped=True, help="不选即为临时任务"),
            Field("code", "任务编号", required=True, max_length=18, placeholder="411421202504010001",
                  help="6 位行政区划代码 + 8 位日期 + 4 位序号"),
            Field("title", "任务名称", required=True, max_length=200),
            Field("period_start", "检查开始日期", "date", required=True),
            Field("period_end", "检查结束日期", "date", required=True),
            Field("surprise", "突击检查（结果公开前不公示任务和名单）", "bool"),
            Field("departments", "联合抽查的其他部门", "multi", choices=choices.all_departments),
            Field("items", "抽查事项", "multi", choices=lambda: _item_choices(record)),
            Field("inspectors_per_target", "每个对象的执法人员数", "int", help="默认 2 人；联合任务每个部门各派此数"),
            Field("description", "任务说明", "textarea", max_length=8000),
        ]
        if role_of() == "admin":
            fields.insert(0, Field("department_id", "牵头部门", "select", required=True, choices=choices.all_departments))
        return fields

    def defaults(self):
        return {"inspectors_per_target": "2"}

    def columns(self):
        return [("编号", lambda t: t.code), ("名称", lambda t: t.title), ("牵头部门", lambda t: t.department.name),
                ("检查期间", lambda t: f"{t.period_start} 至 {t.period_end}"),
                ("类型", lambda t: "、".join(x for x in ("突击" if t.surprise else "", "联合" if t.is_joint else "",
                                                        "临时" if t.is_temporary else "") if x) or "—")]

    def export_options(self):
        return (selectinload(Task.department), selectinload(Task.departments))

    def filters(self):
        return [("q", "编号/名称", None), ("plan", "计划", choices.plans()),
                STATUS_FILTER]

    def list_query(self, args):
        query = select(Task)
        if (args.get("plan") or "").isdigit():
            query = query.where(Task.plan_id == int(args["plan"]))
        query = self.filter_status(query, args)
        q = (args.get("q") or "").strip()
        if q:
            query = query.where(or_(Task.code.like(f"%{q}%"), Task.title.like(f"%{q}%")))
        return query

    def order(self):
        return (Task.code.desc(),)

    def label(self, record):
        return f"{record.code} {record.title}"

    def form_values(self, record):
        per = record.inspectors_per_target or {}
        return {"department_id": record.department_id, "plan_id": record.plan_id, "code": record.code,
                "title": record.title, "period_start": record.period_start, "period_end": record.period_end,
                "surprise": record.surprise, "description": record.description,
                "departments": [d.id for d in record.departments if d.id != record.department_id],
                "items": [i.id for i in record.items],
                "inspectors_per_target": max(per.values()) if per else 2}

    def validate(self, result, record):
        values, errors = result.values, result.errors
        lead = _lead_department(values, record)
        if not TASK_CODE.match(values["code"]):
            errors["code"] = "任务编号应为 18 位数字：6 位行政区划代码 + 8 位日期（yyyymmdd）+ 4 位序号。"
        else:
            clash = select(Task.id).where(Task.code == values["code"])
            if record is not None:
                clash = clash.where(Task.id != record.id)
            if db.session.execute(clash).first():
                errors["code"] = "该任务编号已被使用。"
        if values["period_end"] < values["period_start"]:
            errors["period_end"] = "结束日期不能早于开始日期。"
        per = values.get("inspectors_per_target") or 2
        if not 1 <= per <= 10:
            errors["inspectors_per_target"] = "每个对象的执法人员数应在 1 到 10 之间。"
        ids = {int(i) for i in values.get("departments") or []} | {lead}
        depts = db.session.execute(select(Department).where(Department.id.in_(ids))).scalars().all()
        items = db.session.execute(select(CheckItem).where(
            CheckItem.id.in_([int(i) for i in values.get("items") or []]))).scalars().all()
        if any(i.department_id not in ids for i in items):
            errors["items"] = "所选抽查事项须属于牵头部门或参与部门。"
        return {"department_id": lead, "departments": depts, "items": items,
                "plan_id": int(values["plan_id"]) if values.get("plan_id") else None,
                "inspectors_per_target": {d.code: per for d in depts}}

    def _fields(self, values, refs):
        return {"department_id": refs["department_id"], "plan_id": refs["plan_id"], "code": values["code"],
                "title": values["title"], "year": values["period_start"].year, "period_start": values["period_start"],
                "period_end": values["period_end"], "surprise": bool(values.get("surprise")),
                "description": values.get("description"), "inspectors_per_target": refs["inspectors_per_target"],
                "departments": list(refs["departments"]), "items": list(refs["items"])}

    def create(self, values, refs):
        record = Task(scope={"statuses": ["存续"]}, strata=[{"stratum": "全部", "ratio": "0.05"}], stratify_by="none")
        for key, value in self._fields(values, refs).items():
            setattr(record, key, value)
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        for key, value in self._fields(values, refs).items():
            setattr(record, key, value)

    def changes(self, record, values, refs):
        return self._fields(values, refs)

    def extra_context(self, record):
        return {"versions": _versions("task", record),
                "extra_links": [(f"/admin/tasks/{record.id}/draw", "抽取范围、分层与双随机抽取"),
                                (url_for("admin.results", q=record.code), "本任务的检查结果")]}


def _item_choices(record):
    return choices.check_items()


plans_section = Plans().register()
tasks_section = Tasks().register()
