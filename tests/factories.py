"""Factories that build real rows; each returns the flushed object. Commit with db.session.commit()."""
import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from portal.domain import uscc as uscc_mod
from portal.extensions import db
from portal.models import (CheckItem, CheckItemVersion, Department, Draw, DrawAssignment, DrawPoolEntry,
                           DrawSelection, DrawStratum, Entity, EntityType, Inspector, Level, Penalty,
                           PenaltyCategory, Plan, RegistrationStatus, Result, ResultConclusion, RiskClass,
                           Status, Task)

_seq = itertools.count(1)
T0 = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)


def n():
    return next(_seq)


def make_uscc(i=None, region="411421"):
    i = n() if i is None else i
    return uscc_mod.make("9", "1", region, f"MA{i:07d}")


def published(record, at=T0):
    record.status = Status.PUBLISHED
    record.published_at = at
    return record


def department(code=None, name=None, region="411421"):
    i = n()
    d = Department(code=code or f"D{i:03d}", name=name or f"测试局{i}", level=Level.COUNTY, region_code=region)
    db.session.add(d)
    db.session.flush()
    return d


def entity(name=None, uscc=None, entity_type=EntityType.ENTERPRISE, region="411421", risk=RiskClass.B,
           status=RegistrationStatus.ACTIVE, industry="F", tags=None, **kw):
    i = n()
    e = Entity(uscc=uscc or make_uscc(i, region), name=name or f"民权县测试商贸有限公司{i}", entity_type=entity_type,
               region_code=region, risk_class=risk, registration_status=status, industry=industry,
               tags=tags or [], **kw)
    db.session.add(e)
    db.session.flush()
    return e


def inspector(dept, name=None, licence_no=None, active=True, specialties=(), id_card_no=None):
    i = n()
    p = Inspector(department=dept, name=name or f"检查员{i}", licence_no=licence_no or f"41142100{i:05d}",
                  active=active, id_card_no=id_card_no, gender="男")
    p.specialties = list(specialties)
    db.session.add(p)
    db.session.flush()
    return p


def check_item(dept, code=None, name=None, publish=True, **fields):
    i = n()
    item = CheckItem(department=dept, code=code or f"ITEM{i:03d}")
    item.versions.append(CheckItemVersion(version=1, name=name or f"食品生产经营检查{i}", legal_basis="《食品安全法》",
                                          target_type="食品生产经营者", content="生产经营条件", method="实地检查",
                                          kind="一般", effective_from=date(2025, 1, 1), **fields))
    if publish:
        published(item)
    db.session.add(item)
    db.session.flush()
    return item


def plan(dept, year=2025, title=None, approval=date(2025, 3, 3), publish=True, **kw):
    p = Plan(department=dept, year=year, title=title or f"{year}年度双随机抽查工作计划", approval_date=approval, **kw)
    p.participants = [dept]
    if publish:
        published(p)
    db.session.add(p)
    db.session.flush()
    return p


def task(dept, plan=None, code=None, title=None, surprise=False, publish=True, items=(), departments=None,
         period=(date(2025, 4, 1), date(2025, 6, 30)), strata=None, **kw):
    i = n()
    t = Task(department=dept, plan=plan, code=code or f"411421{period[0]:%Y%m%d}{i:04d}",
             title=title or f"食品经营者专项抽查{i}", year=period[0].year, period_start=period[0], period_end=period[1],
             surprise=surprise, scope=kw.pop("scope", {"statuses": ["存续"]}),
             strata=strata or [{"stratum": "A", "ratio": "0.01"}, {"stratum": "B", "ratio": "0.02"},
                               {"stratum": "C", "ratio": "0.1"}, {"stratum": "D", "ratio": "0.3"}],
             inspectors_per_target=kw.pop("inspectors_per_target", {dept.code: 2}), **kw)
    t.departments = departments or [dept]
    t.items = list(items)
    if publish:
        published(t)
    db.session.add(t)
    db.session.flush()
    return t


def draw(task, entities, inspectors=(), drawn_at=T0, publish=True, sequence=1):
    """A completed draw record with the given entities selected (keys are placeholders, not draw-v1)."""
    d = Draw(task=task, sequence=sequence, pool_hash="0" * 64, commitment="1" * 64, nonce="2" * 64,
             public_entropy="test", seed="3" * 64, inspectors_per_target=task.inspectors_per_target,
             locked_at=drawn_at - timedelta(hours=1), drawn_at=drawn_at)
    for e in entities:
        d.pool.append(DrawPoolEntry(entity_id=e.id, uscc=e.uscc, stratum=e.risk_class.value))
    d.strata.append(DrawStratum(stratum="B", ratio="0.02", population=len(entities), drawn=len(entities)))
    for pos, e in enumerate(entities, 1):
        sel = DrawSelection(position=pos, entity_id=e.id, uscc=e.uscc, stratum=e.risk_class.value,
                            key=f"{pos:064x}", eligible={})
        for j, insp in enumerate(inspectors, 1):
            sel.assignments.append(DrawAssignment(position=j, inspector_id=insp.id, department_id=insp.department_id,
                                                  licence_no=insp.licence_no, name=insp.name))
        d.selections.append(sel)
    if publish:
        published(d, drawn_at)
    db.session.add(d)
    db.session.flush()
    return d


def result(task, ent, formed=date(2025, 5, 10), conclusions=(("C01", "未发现问题"),), publish=True, at=T0, **kw):
    r = Result(task=task, entity=ent, department_id=task.department_id, inspection_date=formed - timedelta(days=2),
               formed_date=formed, remark=kw.pop("remark", "经检查未发现问题"),
               follow_up=kw.pop("follow_up", "无需后续处置"), **kw)
    for code, label in conclusions:
        r.conclusions.append(ResultConclusion(code=code, label=label))
    if publish:
        published(r, at)
    db.session.add(r)
    db.session.flush()
    return r


def penalty(dept, ent=None, decision_no=None, categories=("罚款",), fine="5000.00", decided=date(2025, 5, 20),
            publicity_end=date(2028, 5, 19), publish=True, at=T0, **kw):
    i = n()
    p = Penalty(department=dept, entity=ent, decision_no=decision_no or f"民市监罚〔2025〕{i}号",
                party_name=kw.pop("party_name", ent.name if ent else f"当事人{i}"),
                violation_type=kw.pop("violation_type", "销售不符合食品安全标准的食品"),
                facts=kw.pop("facts", "经查，当事人销售超过保质期的食品。"), legal_basis="《食品安全法》第一百二十四条",
                fine_amount=Decimal(fine) if fine is not None else None, decision_date=decided,
                authority=dept.name, publicity_end=publicity_end, **kw)
    for c in categories:
        p.category_rows.append(PenaltyCategory(category=c))
    if publish:
        published(p, at)
    db.session.add(p)
    db.session.flush()
    return p


PASSWORD = "correct horse 9"


def user(role="clerk", department=None, username=None, password=PASSWORD, display_name=None):
    """A back-office user (clerks get a new department unless one is given)."""
    from portal.auth.accounts import create_user

    if role == "clerk" and department is None:
        department = globals()["department"]()
    u = create_user(username or f"{role}{n()}", password, role, department=department, display_name=display_name)
    db.session.flush()
    return u
