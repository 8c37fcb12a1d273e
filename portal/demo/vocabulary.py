"""The default code lists of SPEC §2 (conclusions, follow-ups, penalty categories, violation types).

`ensure_default_vocabularies()` is idempotent: it adds the terms that are missing
(by kind + code) and never changes terms an administrator has edited. The back
office calls it on a fresh database; `demo load` calls it too.
"""
from sqlalchemy import select

from ..extensions import db
from ..models import VocabularyKind, VocabularyTerm

CONCLUSIONS = [
    ("C01", "未发现问题"),
    ("C02", "未按规定公示应当公示的信息"),
    ("C03", "公示信息隐瞒真实情况、弄虚作假"),
    ("C04", "通过登记的住所（经营场所）无法联系"),
    ("C05", "发现问题已责令改正"),
    ("C06", "发现问题待后续处理"),
    ("C07", "未发现开展本次抽查涉及的经营活动"),
    ("C08", "不配合检查情节严重"),
    ("C09", "已关闭停业或正在组织清算"),
    ("C10", "已注销、被吊销或被撤销"),
]

FOLLOW_UPS = [
    ("F01", "无需后续处置"),
    ("F02", "责令改正"),
    ("F03", "立案调查"),
    ("F04", "移送有关部门"),
    ("F05", "列入经营异常名录"),
    ("F06", "其他"),
]

# 行政处罚法 art. 9. "light" marks the categories that alone allow the short publicity period.
PENALTY_CATEGORIES = [
    ("P01", "警告", {"light": True, "warning": True}),
    ("P02", "通报批评", {"light": True}),
    ("P03", "罚款", {"fine": True}),
    ("P04", "没收违法所得", {"confiscation": True}),
    ("P05", "没收非法财物", {"confiscation": True}),
    ("P06", "暂扣许可证件", {}),
    ("P07", "降低资质等级", {}),
    ("P08", "吊销许可证件", {}),
    ("P09", "限制开展生产经营活动", {"restriction": True}),
    ("P10", "责令停产停业", {"restriction": True}),
    ("P11", "责令关闭", {}),
    ("P12", "限制从业", {"restriction": True}),
    ("P13", "行政拘留", {}),
    ("P14", "其他", {}),
]

VIOLATION_TYPES = [
    ("V01", "未按规定公示年度报告"),
    ("V02", "销售不符合食品安全标准的食品"),
    ("V03", "经营超过保质期的食品"),
    ("V04", "未建立进货查验记录制度"),
    ("V05", "使用未经检定的计量器具"),
    ("V06", "销售不合格产品"),
    ("V07", "虚假宣传"),
    ("V08", "未取得许可从事经营活动"),
    ("V09", "安全生产违法行为"),
    ("V10", "环境违法行为"),
    ("V11", "违反公共场所卫生管理规定"),
    ("V12", "违反文化市场管理规定"),
    ("V13", "违反农资经营管理规定"),
    ("V14", "其他违法行为"),
]


def default_terms():
    """(kind, code, label, sort_order, attributes) for every default term."""
    for kind, terms in ((VocabularyKind.CONCLUSION, CONCLUSIONS), (VocabularyKind.FOLLOW_UP, FOLLOW_UPS),
                        (VocabularyKind.VIOLATION_TYPE, VIOLATION_TYPES)):
        for i, (code, label) in enumerate(terms, 1):
            yield kind, code, label, i, {}
    for i, (code, label, attributes) in enumerate(PENALTY_CATEGORIES, 1):
        yield VocabularyKind.PENALTY_CATEGORY, code, label, i, dict(attributes)


def ensure_default_vocabularies(session=None) -> int:
    """Add missing default terms to the current transaction; return how many were added."""
    session = session or db.session
    existing = {(kind, code) for kind, code in session.execute(select(VocabularyTerm.kind, VocabularyTerm.code))}
    added = 0
    for kind, code, label, order, attributes in default_terms():
        if (kind, code) in existing:
            continue
        session.add(VocabularyTerm(kind=kind, code=code, label=label, sort_order=order, active=True,
                                   attributes=attributes))
        added += 1
    if added:
        session.flush()
    return added


def label_of(kind: VocabularyKind, code: str) -> str | None:
    """The default label for a code (for code that runs without the database)."""
    for k, c, label, _order, _attrs in default_terms():
        if k == kind and c == code:
            return label
    return None
