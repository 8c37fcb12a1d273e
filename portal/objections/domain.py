"""Right of reply (SPEC §12) as plain Python: what a filing must contain, the handling
deadline, what the public may know about a record's objections, and credit-repair eligibility.

No Flask, no database: callers pass form values, instants (`now`), calendars and settings.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from ..domain.dates import add_months, china_date
from ..domain.publicity import NONE, SHORT
from ..domain.workdays import WorkCalendar

OBJECTION, CREDIT_REPAIR = "objection", "credit_repair"
RECORD_KINDS = ("result", "penalty")

KIND_LABELS = {OBJECTION: "异议", CREDIT_REPAIR: "信用修复申请"}
RECORD_LABELS = {"result": "检查结果", "penalty": "行政处罚"}
RELATION_LABELS = {"party": "本单位", "agent": "委托代理人"}
STATUS_LABELS = {"received": "已受理，待核查", "in_review": "核查中", "correcting": "正在更正", "decided": "已办结"}
OUTCOME_LABELS = {"maintained": "维持", "corrected": "更正", "withdrawn": "撤回", "approved": "准予信用修复",
                  "refused": "不予信用修复"}
# The decisions a clerk may take per case kind. 更正 is not decided directly: it opens the record's
# correction form and the case closes when that correction is saved.
OUTCOMES_BY_KIND = {OBJECTION: ("maintained", "corrected", "withdrawn"), CREDIT_REPAIR: ("approved", "refused")}
# Outcomes that uphold the filing (the record changed). "Share upheld" on /stats = these ÷ decided.
UPHELD = ("corrected", "withdrawn")

# What an objection may be about, per record kind (checkboxes; codes stored).
POINTS = {
    "result": (("conclusion", "检查结论"), ("remark", "结果说明"), ("entity", "检查对象信息"),
               ("dates", "检查日期或结果形成日期"), ("inspectors", "执法检查人员"), ("other", "其他")),
    "penalty": (("party", "当事人信息"), ("facts", "违法事实"), ("basis", "处罚依据"),
                ("amount", "处罚类别或金额"), ("publicity", "公示期限"), ("other", "其他")),
}
# The conditions for ending a penalty's publicity early (市场监督管理行政处罚信息公示规定): the
# applicant affirms each one; the clerk checks them.
CREDIT_REPAIR_GROUNDS = (
    ("fulfilled", "已经自觉履行行政处罚决定中规定的义务"),
    ("remedied", "已经主动消除危害后果和不良影响"),
    ("no_repeat", "未因同一类违法行为再次受到市场监督管理部门行政处罚"),
    ("not_listed", "未被列入经营异常名录或严重违法失信企业名单"),
)

MAX_ATTACHMENTS = 3
STATEMENT_MIN, STATEMENT_MAX = 10, 2000
NAME_MAX = 50
REASON_MAX = 2000
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value) -> str:
    """Form text without control characters (PostgreSQL refuses NUL) and outer blanks."""
    return _CONTROL.sub("", str(value or "")).strip()


def normalise_mobile(value) -> str | None:
    """A mainland mobile number as 11 digits (full-width digits, blanks, dashes, +86 accepted), or None."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"[\s\-()（）]", "", text)
    text = re.sub(r"^(\+?86|0086)", "", text)
    return text if _MOBILE.match(text) else None


def mask_mobile(mobile: str) -> str:
    """138****5678: enough for the filer to recognise their number on the status page."""
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) == 11 else "****"


@dataclass(frozen=True)
class Filing:
    """A valid filing, ready to store."""

    relation: str
    contact_name: str
    contact_mobile: str
    points: tuple[str, ...]
    statement: str


def point_choices(kind: str, record_kind: str) -> tuple[tuple[str, str], ...]:
    return CREDIT_REPAIR_GROUNDS if kind == CREDIT_REPAIR else POINTS[record_kind]


def parse_filing(kind: str, record_kind: str, *, relation, contact_name, contact_mobile, points, statement,
                 affirmed) -> tuple[Filing | None, dict[str, str]]:
    """Check a filing's fields; (Filing, {}) or (None, {field: Chinese message})."""
    errors: dict[str, str] = {}
    relation = clean_text(relation)
    if relation not in RELATION_LABELS:
        errors["relation"] = "请选择您与当事人的关系：本单位或委托代理人。"
    name = clean_text(contact_name)
    if not name:
        errors["contact_name"] = "请填写联系人姓名。"
    elif len(name) > NAME_MAX:
        errors["contact_name"] = f"联系人姓名不能超过 {NAME_MAX} 个字。"
    mobile = normalise_mobile(contact_mobile)
    if mobile is None:
        errors["contact_mobile"] = "请填写 11 位手机号码，例如 13812345678（仅用于联系您，不会公开）。"
    choices = dict(point_choices(kind, record_kind))
    chosen = tuple(dict.fromkeys(p for p in (clean_text(p) for p in points or ()) if p))
    if any(p not in choices for p in chosen):
        errors["points"] = "所选事项无效，请重新勾选。"
    elif kind == CREDIT_REPAIR and set(chosen) != set(choices):
        errors["points"] = "申请信用修复须同时符合下列全部条件，请逐项确认。"
    elif not chosen:
        errors["points"] = "请至少勾选一项您认为有误的内容。"
    text = clean_text(statement)
    if len(text) < STATEMENT_MIN:
        errors["statement"] = (f"请说明{'申请理由' if kind == CREDIT_REPAIR else '异议的具体内容和理由'}，"
                               f"至少 {STATEMENT_MIN} 个字。")
    elif len(text) > STATEMENT_MAX:
        errors["statement"] = f"说明不能超过 {STATEMENT_MAX} 个字（现为 {len(text)} 个字），详细材料请作为附件上传。"
    if not affirmed:
        errors["affirmed"] = "请确认所填信息真实、准确。"
    if errors:
        return None, errors
    return Filing(relation, name, mobile, chosen, text), {}


def parse_reason(value, what: str = "理由") -> tuple[str | None, str | None]:
    """A clerk's decision reason: (text, None) or (None, Chinese message)."""
    text = clean_text(value)
    if len(text) < 2:
        return None, f"请填写{what}。"
    if len(text) > REASON_MAX:
        return None, f"{what}不能超过 {REASON_MAX} 个字。"
    return text, None


# --- handling deadline ---------------------------------------------------------------------------

def handling_due(received_at: datetime, workdays: int, calendar: WorkCalendar) -> tuple[date, bool]:
    """The day a case must be decided by: `workdays` working days after the China date of receipt
    (the SPEC §4 calendar, provisional beyond the holiday data), and whether that is an estimate."""
    return calendar.add_workdays(china_date(received_at), workdays)


# --- what the public sees -----------------------------------------------------------------------

def public_text(status: str, outcome: str | None, received: date, decided: date | None) -> str:
    if status == "pending":
        return f"当事人已提出异议，正在核查（{received:%Y-%m-%d} 受理）"
    result = {"maintained": "维持原公示信息", "corrected": "已更正", "withdrawn": "已撤回该信息"}[outcome]
    return f"当事人提出的异议已核查办结：{result}（{decided:%Y-%m-%d} 办结）"


def public_status(cases, now: datetime) -> tuple[dict | None, datetime | None]:
    """What the public may know about one record's objections at `now`, and when that last changed.

    `cases` are the record's cases (anything with kind, received_at, decided_at, outcome as plain
    values or enums). Credit-repair applications are not shown (their approval ends publicity and
    the tombstone says so). While any objection is open the record is "pending" since the
    earliest open one was received; otherwise the latest decision is shown. Contact details,
    statements and attachments never appear here.
    """
    def value(v):
        return getattr(v, "value", v)

    seen = [c for c in cases if value(c.kind) == OBJECTION and c.received_at <= now]
    if not seen:
        return None, None
    changed = max([c.received_at for c in seen] + [c.decided_at for c in seen
                                                    if c.decided_at is not None and c.decided_at <= now])
    still_open = [c for c in seen if c.decided_at is None or c.decided_at > now]
    if still_open:
        received = china_date(min(c.received_at for c in still_open))
        return {"status": "pending", "received": received.isoformat(), "decided": None, "outcome": None,
                "text": public_text("pending", None, received, None)}, changed
    last = max(seen, key=lambda c: (c.decided_at, c.received_at))
    received, decided = china_date(last.received_at), china_date(last.decided_at)
    outcome = value(last.outcome)
    return {"status": "decided", "received": received.isoformat(), "decided": decided.isoformat(),
            "outcome": outcome, "text": public_text("decided", outcome, received, decided)}, changed


# --- credit repair -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str = ""  # why not, in Chinese (empty when eligible)
    from_date: date | None = None  # the first day an application is possible


def credit_repair_eligibility(publicity_class: str, published_on: date | None, today: date,
                              credit_repaired: bool, min_months: dict) -> Eligibility:
    """May the party of a public penalty apply to end its publicity early (信用修复) today?

    `min_months` maps a publicity class (SHORT, LONG) to the months it must have been public
    first, counted from publication; None means that class cannot apply.
    """
    if publicity_class == NONE or published_on is None:
        return Eligibility(False, "该行政处罚信息不在公示中。")
    if credit_repaired:
        return Eligibility(False, "该行政处罚信息已经信用修复。")
    months = min_months.get(publicity_class)
    if months is None:
        if publicity_class == SHORT:
            return Eligibility(False, "该行政处罚信息公示期较短，期满后自动停止公示，无需申请信用修复。")
        return Eligibility(False, "该类行政处罚信息不适用信用修复申请。")
    start = add_months(published_on, months)
    if today < start:
        return Eligibility(False, f"自公示之日起满 {months} 个月（{start:%Y-%m-%d} 起）方可申请信用修复。", start)
    return Eligibility(True, "", start)

