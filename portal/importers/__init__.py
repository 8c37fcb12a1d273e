"""Spreadsheet uploads (SPEC §9): reading, row validation, preview and one-transaction commit.

Public interface:
    build_preview(kind, data, filename, department, today) -> Preview
    commit(kind, data, filename, department, actor, accept_warnings=, publish=) -> ImportBatch
    template_csv(kind) / template_xlsx(kind) -> bytes
Only `reading` touches csv decoding and openpyxl.
"""
from .columns import COLUMNS, KIND_LABELS, KINDS
from .reading import FileRefused
from .service import ImportRejected, Preview, build_preview, commit, file_hash
from .templates import template_csv, template_xlsx

__all__ = ["COLUMNS", "KIND_LABELS", "KINDS", "FileRefused", "ImportRejected", "Preview", "build_preview", "commit",
           "file_hash", "template_csv", "template_xlsx"]
