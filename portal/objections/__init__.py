"""Right of reply (SPEC §12): objections (异议) and credit-repair applications (信用修复申请).

- domain.py   plain rules: filing checks, handling deadline, public status, credit-repair eligibility
- files.py    attachment type from content (the only module importing `filetype`)
- service.py  writes: file, claim, decide, close on correction
- queries.py  reads: public status of records (batched), queue, warnings, /stats figures

Views live in portal/public/objections.py and portal/admin/objections.py.
"""
from .queries import objection_status_many  # noqa: F401  (the public shape's `objection` field)


def init_app(app) -> None:
    """Close objections waiting for a correction when the record's correction is saved; add the
    right-of-reply table to every channel of the /stats report."""
    from .. import lifecycle
    from ..stats.report import register_table
    from .report import objection_table
    from .service import on_record_corrected

    lifecycle.record_corrected.connect(on_record_corrected)
    register_table("objections", objection_table)
