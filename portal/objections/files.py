"""Attachments sent with an objection: the only module that imports `filetype`.

The type comes from the file's bytes (its magic number), never from its name or the
browser's declared type: an executable renamed `.pdf` is refused. The stored name keeps
the person's wording but gets the extension of what the file really is, so a download
can never be opened as something else.
"""
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import filetype

# Detected MIME type → (extension, what a person calls it).
ALLOWED = {"application/pdf": (".pdf", "PDF"), "image/jpeg": (".jpg", "JPEG 图片"), "image/png": (".png", "PNG 图片")}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")
NAME_MAX = 100


class AttachmentRefused(ValueError):
    """The file is not accepted; the message says why in Chinese."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes


def _base_name(name: str) -> str:
    """The name a person gave the file, without any path or characters unsafe in a header."""
    base = PureWindowsPath(PurePosixPath(str(name or "")).name).name
    return _UNSAFE.sub("_", unicodedata.normalize("NFC", base)).strip(" ._") or "附件"


def clean_filename(name: str, extension: str) -> str:
    """The base name ending in the real type's extension (whatever extension it had)."""
    base = _base_name(name)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[:NAME_MAX - len(extension)] or "附件"
    return stem + extension


def _human_size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def check_attachment(name: str, data: bytes, max_bytes: int) -> Attachment:
    """Accept a PDF, JPEG or PNG of at most `max_bytes`; raise AttachmentRefused otherwise."""
    shown = _base_name(name)[:NAME_MAX]
    if len(data) > max_bytes:
        raise AttachmentRefused(f"附件“{shown}”超过大小限制（每个文件最大 {_human_size(max_bytes)}），"
                                "请压缩或拆分后再上传。")
    if not data:
        raise AttachmentRefused(f"附件“{shown}”是空文件，请重新选择。")
    kind = filetype.guess(data[:8192])
    mime = kind.mime if kind is not None else None
    if mime not in ALLOWED:
        found = f"（识别为 {mime}）" if mime else ""
        raise AttachmentRefused(f"附件“{shown}”的内容不是 PDF、JPEG 或 PNG 文件{found}，"
                                "只接受这三种格式的扫描件或照片（按文件内容识别，与文件名无关）。")
    if mime == "application/pdf" and b"%%EOF" not in data[-2048:]:
        raise AttachmentRefused(f"附件“{shown}”不是完整的 PDF 文件（缺少文件结尾），请重新导出后上传。")
    extension = ALLOWED[mime][0]
    return Attachment(clean_filename(name, extension), mime, len(data), hashlib.sha256(data).hexdigest(), data)
