"""行政处罚: categories, amounts, publicity end computed from the configured policy; credit repair."""
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..auth.access import department_scope, role_of
from ..domain import uscc as uscc_mod
from ..domain.publicity import publicity_end
from ..extensions import db
from ..models import Entity, Penalty, PenaltyCategory, RecordVersion, Task, VocabularyKind
from . import choices
from .crud import STATUS_FILTER, Section
from .forms import Field

PARTY_KINDS = [("organisation", "法人或其他组织"), ("natural_person", "自然人（含个体工商户经营者）")]


def _policy():
    try:
        from ..deadlines import publicity_policy
    except ImportError:  # pragma: no cover - arrives with the deadlines work
        from ..domain.publicity import PublicityPolicy
        return PublicityPolicy()
    return publicity_policy()


class Penalties(Section):
    kind, model, url, singular, title = "penalty", Penalty, "penalties", "penalty", "行政处罚"

    def fields(self, record=None):
        fields = [
            Field("decision_no", "行政处罚决定书文号", required=True, max_length=100),
            Field("entity_uscc", "统一社会信用代码", max_length=30, help="当事人为名录库中的市场主体时填写"),
            Field("party_name", "当事人名称", required=True, max_length=200),
            Field("party_kind", "当事人类型", "select", required=True, choices=PARTY_KINDS),
            Field("violation_type", "违法行为类型", max_length=200),
            Field("facts", "违法事实", "textarea", masked=True, max_length=8000,
                  help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("legal_basis", "处罚依据", "textarea", masked=True, max_length=4000),
            Field("categories", "处罚类别", "multi", required=True,
                  choices=lambda: choices.labels(VocabularyKind.PENALTY_CATEGORY)),
            Field("fine_amount", "罚款金额（元）", "decimal"),
            Field("confiscation_amount", "没收金额（元）", "decimal"),
            Field("decision_date", "处罚决定日期", "date", required=True),
            Field("restriction_end", "限制期限截止日期", "date", help="限制开展生产经营活动、限制从业等期限长于公示期时填写"),
            Field("authority", "处罚机关", max_length=200),
            Field("task_id", "关联抽查任务", "select", choices=choices.tasks, scoped=True),
        ]
        if role_of() == "admin":
            fields.insert(0, Field("department_id", "所属部门", "select", required=True, choices=choices.all_departments))
        return fields

    def defaults(self):
        return {"party_kind": "organisation"}

    def columns(self):
        return [("文号", lambda p: p.decision_no), ("当事人", lambda p: p.party_name),
                ("处罚类别", lambda p: "、".join(p.categories)), ("决定日期", lambda p: p.decision_date.isoformat()),
                ("公示截止", lambda p: p.publicity_end.isoformat() if p.publicity_end else "不公示")]

    def export_options(self):
        return (selectinload(Penalty.category_rows),)

    def filters(self):
        return [("q", "文号/当事人", None),
                STATUS_FILTER]

    def list_query(self, args):
        query = select(Penalty)
        query = self.filter_status(query, args)
        q = (args.get("q") or "").strip()
        if q:
            query = query.where(or_(Penalty.decision_no.like(f"%{q}%"), Penalty.party_name.like(f"%{q}%")))
        return query

    def order(self):
        return (Penalty.decision_date.desc(), Penalty.id.desc())

    def label(self, record):
        return record.decision_no

    def form_values(self, record):
        values = {f.name: getattr(record, f.name, None) for f in self.fields(record)}
        values["entity_uscc"] = record.entity.uscc if record.entity else None
        values["categories"] = list(record.categories)
        return values

    def validate(self, result, record):
        values, errors = result.values, result.errors
        refs = {}
        if role_of() == "clerk":
            from flask_login import current_user
            refs["department_id"] = current_user.department_id
        else:
            refs["department_id"] = int(values["department_id"])
        clash = select(Penalty.id).where(Penalty.decision_no == values["decision_no"])
        if record is not None:
            clash = clash.where(Penalty.id != record.id)
        if db.session.execute(clash).first():
            errors["decision_no"] = "该决定书文号已存在，请编辑原记录。"
        refs["entity"] = None
        if values.get("entity_uscc"):
            try:
                code = uscc_mod.validate(values["entity_uscc"])
            except uscc_mod.CodeProblem as exc:
                code = uscc_mod.normalise(values["entity_uscc"]) if exc.warning else None
                if not exc.warning:
                    errors["entity_uscc"] = str(exc)
            if code:
                refs["entity"] = db.session.execute(select(Entity).where(Entity.uscc == code)).scalar()
                if refs["entity"] is None:
                    errors["entity_uscc"] = f"名录库中没有统一社会信用代码为 {code} 的市场主体。"
        refs["task_id"] = int(values["task_id"]) if values.get("task_id") else None
        if refs["task_id"] is not None and db.session.execute(
                department_scope(select(Task.id).where(Task.id == refs["task_id"]), Task)).first() is None:
            errors["task_id"] = "请选择本部门参与的抽查任务。"
        cats = values.get("categories") or []
        if "罚款" in cats and not values.get("fine_amount"):
            errors["fine_amount"] = "处罚类别包含“罚款”，请填写罚款金额。"
        if values.get("fine_amount") and "罚款" not in cats:
            errors["categories"] = "填写了罚款金额，请在处罚类别中勾选“罚款”。"
        refs["publicity_end"] = None if errors else publicity_end(
            cats, values.get("fine_amount"), values.get("confiscation_amount"), values["party_kind"],
            values["decision_date"], values.get("restriction_end"), policy=_policy())
        return refs

    _COLUMNS = ("decision_no", "party_name", "party_kind", "violation_type", "facts", "legal_basis", "fine_amount",
                "confiscation_amount", "decision_date", "restriction_end", "authority")

    def _assign(self, record, values, refs):
        for name in self._COLUMNS:
            setattr(record, name, values.get(name))
        record.department_id = refs["department_id"]
        record.entity = refs["entity"]
        record.task_id = refs["task_id"]
        record.publicity_end = refs["publicity_end"]

    def create(self, values, refs):
        record = Penalty()
        self._assign(record, values, refs)
        record.category_rows = [PenaltyCategory(category=c) for c in values["categories"]]
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        self._assign(record, values, refs)
        if list(record.categories) != list(values["categories"]):
            record.category_rows = []
            db.session.flush()
            record.category_rows = [PenaltyCategory(category=c) for c in values["categories"]]

    def changes(self, record, values, refs):
        changes = {name: values.get(name) for name in self._COLUMNS}
        changes.update(department_id=refs["department_id"], entity_id=refs["entity"].id if refs["entity"] else None,
                       task_id=refs["task_id"], publicity_end=refs["publicity_end"], categories=values["categories"])
        return changes

    def extra_context(self, record):
        versions = db.session.execute(select(RecordVersion).where(
            RecordVersion.record_kind == "penalty", RecordVersion.record_id == record.id)
            .order_by(RecordVersion.version.desc())).scalars().all()
        end = record.publicity_end
        return {"versions": versions,
                "facts": [("公示截止日期（按现行公示期限规则计算）", end.isoformat() if end else "不予公示（仅警告）")]}


section = Penalties().register()
