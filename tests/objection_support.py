"""Helpers for the right-of-reply tests: files, a filing through the real form, a world of records."""
import io
import re
from datetime import date

from sqlalchemy import func, select

import factories as f
from conftest import extract_csrf
from portal.models import AuditEvent, Objection, ObjectionAttachment, SearchChange

# A small but complete PDF (magic number and end-of-file marker), with a marker to look for.
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n% SECRET-ATTACHMENT-BYTES\n"
       b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200  # a Windows executable

PHONE = "13987654321"
CONTACT = "欧阳异议人"
STATEMENT = "检查结论与事实不符：我单位在检查当日已提交完整台账，说明编号 ZXQ-UNIQUE-7731。"
ATTACHMENT_NAME = "机密营业执照扫描件.pdf"


def world():
    """Two departments; department A has a published result and penalty of one entity."""
    a, b = f.department(code="OA", name="民权县市场监督管理局"), f.department(code="OB", name="民权县卫生健康委员会")
    ent = f.entity(name="民权县异议测试商贸有限公司")
    task = f.task(a)
    result = f.result(task, ent, formed=date(2025, 5, 10))
    penalty = f.penalty(a, ent, decision_no="民市监罚〔2025〕77号", categories=("罚款",), fine="200000.00",
                        decided=date(2025, 5, 20), publicity_end=date(2028, 5, 19))
    clerk_a, clerk_b = f.user("clerk", a), f.user("clerk", b)
    return {"a": a, "b": b, "entity": ent, "task": task, "result": result, "penalty": penalty,
            "clerk_a": clerk_a, "clerk_b": clerk_b}


def form_data(**overrides) -> dict:
    data = {"relation": "party", "contact_name": CONTACT, "contact_mobile": PHONE, "points": ["conclusion"],
            "statement": STATEMENT, "affirmed": "1"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def file_case(client, record, files=(), kind="objection", record_kind="result", csrf=True, headers=None,
              environ=None, **overrides):
    """GET the form (for its CSRF token), then POST a filing as the browser's form does."""
    path = "/objections/new" if kind == "objection" else "/credit-repair/new"
    url = f"{path}?record={record_kind}-{record if isinstance(record, int) else record.id}"
    data = form_data(**overrides)
    if csrf:
        page = client.get(url, environ_base=environ or {})
        data["csrf_token"] = extract_csrf(page.get_data(as_text=True))
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(url, data=data, content_type="multipart/form-data", headers=headers or {},
                       environ_base=environ or {})


def token_of(response) -> str:
    match = re.match(r"^/objections/case/([A-Za-z0-9_-]+)$", response.headers.get("Location", ""))
    assert match, f"no status link in {response.status_code} {response.headers.get('Location')}"
    return match.group(1)


def counts(db) -> tuple:
    """Rows a refused filing must not add."""
    return tuple(db.session.execute(select(func.count()).select_from(model)).scalar()
                 for model in (Objection, ObjectionAttachment, AuditEvent, SearchChange))


def text(response) -> str:
    return response.get_data(as_text=True)
