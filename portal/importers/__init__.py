"""Spreadsheet uploads (SPEC §9): reading, row validation, preview and one-transaction commit.

Public interface:
    build_preview(kind, data, filename, department, today) -> Preview
    commit(kind, data, filename, department, actor, accept_warnings=, publish=) -> ImportBatch
    template_csv(kind) / template_xlsx(kind) -> bytes
    jobs: uploads kept between preview and confirm, and imports running as jobs (any host)
Only `reading` touches csv decoding and openpyxl.
"""
from .columns import COLUMNS, KIND_LABELS, KINDS
from .reading import FileRefused
from .service import ImportRejected, Preview, build_preview, commit, file_hash
from .templates import template_csv, template_xlsx
from . import jobs  # noqa: E402  (uploads awaiting confirmation and import jobs, in the database)

__all__ = ["COLUMNS", "KIND_LABELS", "KINDS", "FileRefused", "ImportRejected", "Preview", "build_preview", "commit",
           "file_hash", "jobs", "template_csv", "template_xlsx"]
