"""抽查事项 (versioned), 检查对象 and 执法检查人员 (ID-card number internal, specialties, conflicts)."""

from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from .. import journal
from ..auth.access import role_of
from ..domain import directory as ownership
from ..domain import uscc as uscc_mod
from ..entity_versions import entity_state, keep_version
from ..extensions import db
from ..models import (CheckItem, CheckItemVersion, Department, Entity, EntityType, Inspector, InspectorConflict,
                      RegistrationStatus, RiskClass)
from ..validation.loading import entity_policy, load_lookups
from . import choices
from .crud import Section
from .forms import Field
from .validated import ValidatedSection

ITEM_FIELDS = ("name", "legal_basis", "target_type", "content", "method", "kind", "ratio_frequency",
               "inspector_requirements", "effective_from")


def _department_field():
    return Field("department_id", "所属部门", "select", required=True, choices=choices.all_departments)


def _department_id(values):
    return current_user.department_id if role_of() == "clerk" else int(values["department_id"])


class Items(Section):
    kind, model, url, singular, title = "item", CheckItem, "items", "item", "抽查事项"

    def fields(self, record=None):
        fields = [
            Field("code", "事项编码", required=True, max_length=40),
            Field("name", "事项名称", required=True, max_length=200),
            Field("legal_basis", "抽查依据", "textarea", max_length=4000),
            Field("target_type", "抽查对象", max_length=200),
            Field("content", "抽查内容", "textarea", max_length=4000),
            Field("method", "检查方式", "select", choices=[(m, m) for m in ("实地检查", "书面检查", "网络监测",
                                                                          "抽样检测", "其他")]),
            Field("kind", "事项类别", "select", required=True, choices=[("一般", "一般检查事项"), ("重点", "重点检查事项")]),
            Field("ratio_frequency", "抽查比例和频次", max_length=200),
            Field("inspector_requirements", "检查人员要求", "textarea", max_length=2000),
            Field("effective_from", "生效日期", "date", required=True),
            Field("change_note", "修改说明", max_length=500, help="修改已有事项时填写，旧版本保留可查"),
        ]
        if role_of() == "admin":
            fields.insert(0, _department_field())
        return fields

    def defaults(self):
        return {"kind": "一般"}

    def columns(self):
        return [("编码", lambda i: i.code), ("名称", lambda i: i.name), ("部门", lambda i: i.department.name),
                ("版本", lambda i: i.current.version)]

    def export_options(self):
        return (selectinload(CheckItem.department), selectinload(CheckItem.versions))

    def filters(self):
        return [("q", "编码/名称", None)]

    def list_query(self, args):
        query = select(CheckItem)
        q = (args.get("q") or "").strip()
        if q:
            query = query.where(or_(CheckItem.code.like(f"%{q}%"), CheckItem.id.in_(
                select(CheckItemVersion.check_item_id).where(CheckItemVersion.name.like(f"%{q}%")))))
        return query

    def order(self):
        return (CheckItem.code,)

    def label(self, record):
        return f"{record.code} {record.name}"

    def form_values(self, record):
        cur = record.current
        values = {name: getattr(cur, name) for name in ITEM_FIELDS}
        values.update(code=record.code, department_id=record.department_id, change_note="")
        return values

    def validate(self, result, record):
        dept = _department_id(result.values)
        clash = select(CheckItem.id).where(CheckItem.department_id == dept, CheckItem.code == result.values["code"])
        if record is not None:
            clash = clash.where(CheckItem.id != record.id)
        if db.session.execute(clash).first():
            result.errors["code"] = "本部门已有相同编码的抽查事项。"
        return {"department_id": dept}

    def create(self, values, refs):
        record = CheckItem(department_id=refs["department_id"], code=values["code"])
        record.versions.append(CheckItemVersion(version=1, change_note=values.get("change_note"),
                                                **{k: values.get(k) for k in ITEM_FIELDS}))
        record.versions[0].kind = values.get("kind") or "一般"
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        """A change to a draft item still makes a new version: every version stays readable."""
        record.department_id, record.code = refs["department_id"], values["code"]
        cur = record.current
        new = {k: values.get(k) for k in ITEM_FIELDS}
        if any(getattr(cur, k) != v for k, v in new.items()):
            record.versions.append(CheckItemVersion(version=cur.version + 1, change_note=values.get("change_note"), **new))

    def changes(self, record, values, refs):
        return {**{k: values.get(k) for k in ITEM_FIELDS}, "change_note": values.get("change_note"),
                "code": values["code"]}

    def extra_context(self, record):
        return {"versions": [], "item_versions": list(reversed(record.versions))}


class Entities(ValidatedSection):
    """检查对象名录库: shared by every department, changed by its owners, every change kept as a version."""

    kind, model, url, singular, title = "entity", Entity, "entities", "entity", "检查对象"
    publishable = False
    validator = "entity"
    section_fields = frozenset({"change_reason"})

    def fields(self, record=None):
        return [
            Field("uscc", "统一社会信用代码", required=True, max_length=30, help="18 位代码或 15 位注册号"),
            Field("name", "名称", required=True, max_length=200, help="将公开显示；身份证号、手机号会被自动遮蔽"),
            Field("entity_type", "类型", "select", required=True, choices=[(t.value, t.value) for t in EntityType]),
            Field("region_code", "行政区划代码", required=True, max_length=6),
            Field("industry", "行业（GB/T 4754）", max_length=8),
            Field("registration_status", "登记状态", "select", required=True,
                  choices=[(s.value, s.value) for s in RegistrationStatus]),
            Field("risk_class", "信用风险分类", "select", required=True,
                  choices=[("A", "A 低"), ("B", "B 一般"), ("C", "C 较高"), ("D", "D 高")]),
            Field("tags", "标签", max_length=400, help="多个标签用、或逗号分隔"),
            Field("address", "住所（经营场所）", max_length=300),
            Field("legal_representative", "法定代表人", max_length=100),
            Field("operator_name", "经营者姓名（个体工商户）", max_length=100, help="个人信息：仅在该主体自己的公开页面显示"),
            Field("established_on", "成立日期", "date"),
            Field("change_reason", "修改原因" if record is not None else "登记说明", required=record is not None,
                  max_length=500, help="记入该检查对象的修改记录（谁、何时、为什么改）" if record is not None
                  else "可留空；记入该检查对象的修改记录"),
        ]

    def defaults(self):
        return {"entity_type": "企业", "registration_status": "存续", "risk_class": "B"}

    def columns(self):
        return [("统一社会信用代码", lambda e: e.uscc), ("名称", lambda e: e.name), ("类型", lambda e: e.entity_type.value),
                ("状态", lambda e: e.registration_status.value), ("风险分类", lambda e: e.risk_class.value)]

    def filters(self):
        return [("q", "名称/代码", None)]

    def list_query(self, args):
        query = select(Entity)
        q = (args.get("q") or "").strip()
        if q:
            query = query.where(or_(Entity.name.like(f"%{q}%"), Entity.uscc.like(f"%{q}%")))
        return query

    def order(self):
        return (Entity.name,)

    def label(self, record):
        return record.name

    def form_values(self, record):
        values = {f.name: getattr(record, f.name, None) for f in self.fields(record)}
        values["tags"] = "、".join(record.tags or [])
        values["change_reason"] = ""
        return values

    # --- ownership (portal/domain/directory.py) -----------------------------------
    def _policy(self):
        return entity_policy()

    def may_create(self):
        return ownership.may_register(role_of(), current_user.department_id, self._policy())

    def may_edit(self, record):
        return ownership.may_change(role_of(), current_user.department_id, record.registered_by_id, self._policy())

    def department_for(self, result, record):
        return db.session.get(Department, current_user.department_id) if role_of() == "clerk" else None

    def references(self, result, record, department):
        values = result.values
        clash = select(Entity.id).where(Entity.uscc == values["uscc"])
        if record is not None:
            clash = clash.where(Entity.id != record.id)
        if db.session.execute(clash).first():
            result.errors["uscc"] = "名录库中已有该代码的检查对象。"
        if record is not None and not result.raw.get("change_reason"):
            result.errors["change_reason"] = "请填写修改原因（记入该检查对象的修改记录）。"
        return {"registered_by_id": department.id if department is not None else None}

    def _assign(self, record, values, refs):
        record.uscc, record.tags = values["uscc"], list(values.get("tags") or [])
        for name in ("name", "region_code", "industry", "address", "legal_representative", "operator_name",
                     "established_on"):
            setattr(record, name, values.get(name))
        record.entity_type = EntityType(values["entity_type"])
        record.registration_status = RegistrationStatus(values["registration_status"])
        record.risk_class = RiskClass(values["risk_class"])

    def create(self, values, refs):
        record = Entity(registered_by_id=refs["registered_by_id"])
        self._assign(record, values, refs)
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        self._assign(record, values, refs)

    def snapshot(self, record):
        return entity_state(record)

    def after_write(self, record, before, form, created):
        reason = (form.get("change_reason") or "").strip() or ("新建" if created else "")
        keep_version(record, None if created else before, reason)

    def extra_context(self, record):
        labels = {f.name: f.label for f in self.fields(record) if f.name != "change_reason"}
        labels["registered_by_id"] = "登记部门"
        names = dict(db.session.execute(select(Department.id, Department.name)).all())

        def shown(key, value):
            if key == "registered_by_id":
                return names.get(value, "管理员")
            if isinstance(value, list):
                return "、".join(str(v) for v in value)
            return "—" if value in (None, "") else str(value)

        history = [(v, [labels.get(k, k) for k in v.changed],
                    [(labels.get(k, k), shown(k, v.data.get(k))) for k in labels if k in v.data])
                   for v in reversed(record.versions)]
        owner = record.registered_by.name if record.registered_by else "管理员"
        return {"history": history, "owner": owner,
                "ownership_note": None if self.may_edit(record) else ownership.refusal(
                    record.registered_by.name if record.registered_by else None, self._policy())}


class Inspectors(ValidatedSection):
    kind, model, url, singular, title = "inspector", Inspector, "inspectors", "inspector", "执法人员"
    publishable = False
    validator = "inspector"
    section_fields = frozenset({"department_id", "conflicts"})

    def fields(self, record=None):
        fields = [
            Field("name", "姓名", required=True, max_length=50),
            Field("licence_no", "执法证号", required=True, max_length=40),
            Field("gender", "性别", "select", choices=[("男", "男"), ("女", "女")]),
            Field("id_card_no", "身份证号（仅内部使用，不公开）", max_length=18),
            Field("enforcement_field", "执法领域", max_length=100),
            Field("post", "岗位", max_length=100),
            Field("active", "在岗（参与抽取）", "bool"),
            Field("specialties", "可检查事项（不选表示全部）", "multi", choices=choices.check_items, scoped=True,
                  help="所属部门的检查事项"),
            Field("conflicts", "回避的检查对象（统一社会信用代码）", "textarea", max_length=4000,
                  help="每行一个代码，可在代码后写回避原因，用空格分隔"),
        ]
        if role_of() == "admin":
            fields.insert(0, _department_field())
        return fields

    def defaults(self):
        return {"active": True}

    def columns(self):
        return [("姓名", lambda p: p.name), ("执法证号", lambda p: p.licence_no), ("部门", lambda p: p.department.name),
                ("在岗", lambda p: "是" if p.active else "否")]

    def export_options(self):
        return (selectinload(Inspector.department),)

    def filters(self):
        return [("q", "姓名/证号", None)]

    def list_query(self, args):
        query = select(Inspector)
        q = (args.get("q") or "").strip()
        if q:
            query = query.where(or_(Inspector.name.like(f"%{q}%"), Inspector.licence_no.like(f"%{q}%")))
        return query

    def order(self):
        return (Inspector.licence_no,)

    def label(self, record):
        return f"{record.name}（{record.licence_no}）"

    def form_values(self, record):
        values = {f.name: getattr(record, f.name, None) for f in self.fields(record)}
        values["specialties"] = [i.id for i in record.specialties]
        values["conflicts"] = "\n".join(f"{c.entity.uscc} {c.reason or ''}".strip() for c in record.conflicts)
        return values

    def snapshot(self, record):
        data = {c.key: getattr(record, c.key) for c in Inspector.__table__.columns
                if c.key not in ("created_at", "updated_at", "id_card_no")}
        data["id_card_no"] = "已填写" if record.id_card_no else None  # never copy the number into the journal
        data["specialties"] = sorted(i.id for i in record.specialties)
        data["conflicts"] = sorted(c.entity_id for c in record.conflicts)
        return journal._plain(data)

    def validator_input(self, result, record):
        raw = super().validator_input(result, record)
        ids = [int(i) for i in raw.get("specialties") or []]
        codes = dict(db.session.execute(select(CheckItem.id, CheckItem.code).where(CheckItem.id.in_(ids))).all()) \
            if ids else {}
        raw["specialties"] = [codes[i] for i in ids if i in codes]
        return raw

    def lookups(self, raw, department, record):
        return load_lookups("inspector", department)

    def references(self, result, record, department):
        values, errors = result.values, result.errors
        clash = select(Inspector.id).where(Inspector.licence_no == values["licence_no"])
        if record is not None:
            clash = clash.where(Inspector.id != record.id)
        if db.session.execute(clash).first():
            errors["licence_no"] = "该执法证号已存在。"
        specialties = db.session.execute(select(CheckItem).where(
            CheckItem.id.in_(values.get("specialties") or []))).scalars().all()
        conflicts, bad = [], []
        for line in (result.raw.get("conflicts") or "").splitlines():
            parts = line.strip().split(None, 1)
            if not parts:
                continue
            ent = db.session.execute(select(Entity).where(Entity.uscc == uscc_mod.normalise(parts[0]))).scalar()
            if ent is None:
                bad.append(parts[0])
            else:
                conflicts.append((ent, parts[1] if len(parts) > 1 else None))
        if bad:
            errors["conflicts"] = f"名录库中找不到：{'、'.join(bad)}"
        return {"department_id": department.id, "specialties": specialties, "conflicts": conflicts}

    def _assign(self, record, values, refs):
        record.department_id = refs["department_id"]
        for name in ("name", "licence_no", "gender", "enforcement_field", "post", "id_card_no"):
            setattr(record, name, values.get(name))
        record.active = bool(values.get("active"))
        record.specialties = list(refs["specialties"])
        wanted = {ent.id: reason for ent, reason in refs["conflicts"]}
        record.conflicts = [c for c in record.conflicts if c.entity_id in wanted]
        have = {c.entity_id for c in record.conflicts}
        for ent, reason in refs["conflicts"]:
            if ent.id not in have:
                record.conflicts.append(InspectorConflict(entity=ent, reason=reason))
                have.add(ent.id)

    def create(self, values, refs):
        record = Inspector()
        self._assign(record, values, refs)
        db.session.add(record)
        return record

    def update(self, record, values, refs):
        self._assign(record, values, refs)


items_section = Items().register()
entities_section = Entities().register()
inspectors_section = Inspectors().register()
