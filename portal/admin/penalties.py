"""行政处罚: categories, amounts, publicity end computed from the configured policy; credit repair."""
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..auth.access import role_of
from ..domain.publicity import publicity_end
from ..extensions import db
from ..models import Entity, Penalty, PenaltyCategory, RecordVersion, Task, VocabularyKind
from ..validation.penalties import FACTS_MAX, LEGAL_BASIS_MAX
from . import choices
from .crud import STATUS_FILTER
from .forms import Field
from .validated import ValidatedSection

PARTY_KINDS = [("organisation", "法人或其他组织"), ("natural_person", "自然人（含个体工商户经营者）")]


def _policy():
    try:
        from ..deadlines import publicity_policy
    except ImportError:  # pragma: no cover - arrives with the deadlines work
        from ..domain.publicity import PublicityPolicy
        return PublicityPolicy()
    return publicity_policy()


class Penalties(ValidatedSection):
    kind, model, url, singular, title = "penalty", Penalty, "penalties", "penalty", "行政处罚"
    validator = "penalty"
    field_keys = {"entity_uscc": "uscc", "task_id": "task_code"}

    def fields(self, record=None):
        fields = [
            Field("decision_no", "行政处罚决定书文号", required=True, max_length=100),
            Field("entity_uscc", "统一社会信用代码", max_length=30, help="当事人为名录库中的市场主体时填写"),
            Field("party_name", "当事人名称", required=True, max_length=200,
                  help="自然人当事人在公开页面只显示姓氏加“某”；身份证号、手机号会被自动遮蔽"),
            Field("party_kind", "当事人类型", "select", required=True, choices=PARTY_KINDS),
            Field("violation_type", "违法行为类型", max_length=200, help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("facts", "违法事实", "textarea", max_length=FACTS_MAX,
                  help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("legal_basis", "处罚依据", "textarea", max_length=LEGAL_BASIS_MAX),
            Field("categories", "处罚类别", "multi", required=True,
                  choices=lambda: choices.labels(VocabularyKind.PENALTY_CATEGORY)),
            Field("fine_amount", "罚款金额（元）", "decimal"),
            Field("confiscation_amount", "没收金额（元）", "decimal"),
            Field("decision_date", "处罚决定日期", "date", required=True),
            Field("restriction_end", "限制期限截止日期", "date", help="限制开展生产经营活动、限制从业等期限长于公示期时填写"),
            Field("authority", "处罚机关", max_length=200, help="留空则为本部门名称"),
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

    def validator_input(self, result, record):
        raw = super().validator_input(result, record)
        task = db.session.get(Task, int(raw["task_code"])) if raw.get("task_code") else None
        raw["task_code"] = task.code if task is not None else ""
        return raw

    def lookups(self, raw, department, record):
        from ..domain.uscc import normalise
        from ..validation.loading import load_lookups
        return load_lookups("penalty", department, usccs=[normalise(raw.get("uscc"))] if raw.get("uscc") else [],
                            task_codes=[raw["task_code"]] if raw.get("task_code") else [])

    def references(self, result, record, department):
        values, refs = result.values, {"department_id": department.id}
        clash = select(Penalty.id).where(Penalty.decision_no == values["decision_no"])
        if record is not None:
            clash = clash.where(Penalty.id != record.id)
        if db.session.execute(clash).first():
            result.errors["decision_no"] = "该决定书文号已存在，请编辑原记录。"
        refs["entity"] = db.session.get(Entity, values["entity_id"]) if values.get("entity_id") else None
        refs["task_id"] = values.get("task_id")
        refs["publicity_end"] = publicity_end(
            values["categories"], values.get("fine_amount"), values.get("confiscation_amount"), values["party_kind"],
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
