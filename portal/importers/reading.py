"""Reading uploaded spreadsheets: the only module that touches CSV decoding and openpyxl.

`read_table(data, filename)` returns the header and the data rows (with their row numbers as
the clerk sees them in the spreadsheet) or raises `FileRefused` with a Chinese message.
Hostile files are refused before any parser sees them: XLSX whose zip members declare an
excessive uncompressed size (zip bombs), XML with DOCTYPE/ENTITY declarations, old .xls.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

MAX_ROWS = 50_000
MAX_COLUMNS = 60
MB = 1024 * 1024
# Bounds on what an XLSX expands to, from the sizes its zip directory declares (zipfile never
# inflates a member beyond its declared size: more data fails the CRC check instead).
MAX_XLSX_UNCOMPRESSED = 100 * MB  # all parts together
MAX_XLSX_MEMBERS = 2_000
# Per part. Worksheets are streamed row by row (and capped at MAX_ROWS): a 50,000-row template
# with long remarks is ~75 MB of XML. Every other part is parsed whole into memory, about seven
# times its size for the shared-string table (a 92 MB one held a worker at 630 MB for a minute):
# a 50,000-row sheet of distinct names and remarks needs well under 24 MB of shared strings.
MAX_XLSX_WORKSHEET = 80 * MB
MAX_XLSX_SHARED_STRINGS = 24 * MB
MAX_XLSX_OTHER_PART = 8 * MB
_WORKSHEET_PART = re.compile(r"^xl/worksheets/sheet\d+\.xml$")
_SHARED_STRINGS_PART = "xl/sharedStrings.xml"
_CONTENT_TYPE = {
    "worksheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    "shared_strings": "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml",
}


def _role(name: str) -> str:
    """The role a part's NAME claims; the larger allowances also need the matching content type."""
    if _WORKSHEET_PART.match(name):
        return "worksheet"
    if name == _SHARED_STRINGS_PART:
        return "shared_strings"
    return "other"


def part_limit(role: str) -> int:
    """The largest uncompressed size accepted for one part of an XLSX, by its role."""
    return {"worksheet": MAX_XLSX_WORKSHEET, "shared_strings": MAX_XLSX_SHARED_STRINGS}.get(role, MAX_XLSX_OTHER_PART)


class FileRefused(ValueError):
    """The whole file cannot be read; the message (Chinese) says why and what to do."""


@dataclass
class Table:
    headers: list
    rows: list = field(default_factory=list)  # [(row_number, [cell, …])]
    encoding: str = ""
    format: str = "csv"


def read_table(data: bytes, filename: str = "") -> Table:
    if not data:
        raise FileRefused("文件是空的，请选择填写好的模板文件")
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRefused("不支持旧版 Excel（.xls）文件，请在 Excel 中“另存为”.xlsx 或 CSV（UTF-8）后再上传")
    text, encoding = decode_csv_bytes(data)
    return _read_csv(text, encoding)


# ---------------------------------------------------------------- CSV

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8（带 BOM）"),
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)


def decode_csv_bytes(data: bytes) -> tuple[str, str]:
    """Detect by BOM, then strict UTF-8, then GB18030 (a superset of GBK). Returns (text, label)."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), label
            except UnicodeDecodeError:
                raise FileRefused(f"文件以 {label} 标记开头，但内容无法按 {label} 解码；"
                                  "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再上传") from None
    if b"\x00" in data[:4096]:
        raise FileRefused("文件含有空字节，可能是不带 BOM 的 UTF-16 文本或其他二进制文件；"
                          "请另存为“CSV UTF-8（逗号分隔）”或 .xlsx 后再上传")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gbk")
        return text, "GBK"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        raise FileRefused("无法识别文件编码：文件既不是 UTF-8 也不是 GBK/GB18030；"
                          "请另存为“CSV UTF-8（逗号分隔）”后再上传") from None


def _read_csv(text: str, encoding: str) -> Table:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = None
    try:
        for number, row in enumerate(reader, 1):
            if number > MAX_ROWS + 1:
                raise FileRefused(f"文件超过 {MAX_ROWS} 行，请拆分成多个文件上传")
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > MAX_COLUMNS:
                raise FileRefused(f"第 {number} 行有 {len(row)} 列，超过 {MAX_COLUMNS} 列的上限；请使用下载的模板")
            _refuse_nul(number, row, table)
            if table is None:
                table = Table(headers=[c.strip() for c in row], encoding=encoding, format="csv")
            else:
                table.rows.append((number, row))
    except csv.Error as exc:
        raise FileRefused(f"CSV 格式有误（{exc}），请检查引号是否成对") from None
    if table is None:
        raise FileRefused("文件中没有任何内容，请使用下载的模板填写")
    return table


def _refuse_nul(number: int, cells, table: Table | None) -> None:
    """A NUL character is never data (and PostgreSQL refuses it in text): name the cell."""
    for column, cell in enumerate(cells, 1):
        if isinstance(cell, str) and "\x00" in cell:
            header = table.headers[column - 1] if table and column <= len(table.headers) else ""
            where = f"第 {column} 列" + (f"（{header}）" if header else "")
            raise FileRefused(f"第 {number} 行{where}含有不可见的空字符（NUL），请删除该字符后重新保存再上传")


# ---------------------------------------------------------------- XLSX

def check_xlsx_archive(data: bytes) -> None:
    """Refuse zip bombs and XML entity tricks before openpyxl opens the file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise FileRefused("文件不是有效的 .xlsx 文件（可能已损坏或只是改了扩展名），请重新另存为 .xlsx 或 CSV") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_XLSX_MEMBERS:
            raise FileRefused("该 .xlsx 文件结构异常（内部文件过多），已拒绝；请另存为 CSV 后再上传")
        total, large = 0, []
        for info in members:
            total += info.file_size
            role = _role(info.filename)
            if info.file_size > part_limit(role):
                _refuse_part(info, role)
            if info.file_size > MAX_XLSX_OTHER_PART:
                large.append((info, role))
            if total > MAX_XLSX_UNCOMPRESSED:
                raise FileRefused(f"该 .xlsx 文件解压后超过 {MAX_XLSX_UNCOMPRESSED // MB} MB（疑似“压缩炸弹”，或文件过大），"
                                  "已拒绝处理；请确认文件来源，或拆分成多个文件、另存为 CSV 后再上传")
        for info in members:
            if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            with archive.open(info) as member:
                head = member.read(64 * 1024)  # a DOCTYPE can only come before the root element
            upper = head.upper()
            if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
                raise FileRefused("该 .xlsx 文件含有 XML 实体声明（DOCTYPE/ENTITY），出于安全原因已拒绝；"
                                  "请在 Excel 中重新另存为 .xlsx 或 CSV")
        if large:
            # A part may only use a larger allowance when the manifest declares it for that role:
            # openpyxl finds the shared strings by content type, so a name alone proves nothing.
            declared = _declared_content_types(archive)
            for info, role in large:
                if declared.get("/" + info.filename) != _CONTENT_TYPE[role]:
                    _refuse_part(info, "other")
        if "xl/workbook.xml" not in archive.namelist():
            raise FileRefused("文件不是 Excel 工作簿（缺少 xl/workbook.xml），请另存为 .xlsx 或 CSV")


def _refuse_part(info, role: str):
    label = {"worksheet": f"工作表 {info.filename.rsplit('/', 1)[-1]}",
             "shared_strings": "共享字符串表 sharedStrings.xml"}.get(role, info.filename[:80])
    raise FileRefused(f"该 .xlsx 文件中的“{label}”解压后有 {info.file_size / MB:.1f} MB，超过 "
                      f"{part_limit(role) // MB} MB 的上限（疑似“压缩炸弹”，或文件过大），已拒绝处理；"
                      "请确认文件来源，或拆分成多个文件、另存为 CSV 后再上传")


def _declared_content_types(archive) -> dict:
    """PartName → ContentType overrides of [Content_Types].xml (already size- and entity-checked)."""
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(archive.read("[Content_Types].xml"))
    except Exception:  # missing or malformed manifest: no part gets a larger allowance
        return {}
    return {el.get("PartName"): el.get("ContentType") for el in root if el.tag.endswith("}Override")}


def _read_xlsx(data: bytes) -> Table:
    check_xlsx_archive(data)
    import openpyxl  # openpyxl uses defusedxml when it is installed (it is, requirements.txt)

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise FileRefused(f"无法读取该 .xlsx 文件（{type(exc).__name__}），请在 Excel 中重新另存后再上传") from None
    try:
        sheet = workbook.worksheets[0]
        table = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            if number > MAX_ROWS + 1:
                raise FileRefused(f"文件超过 {MAX_ROWS} 行，请拆分成多个文件上传")
            cells = list(row)
            while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
                cells.pop()
            if not cells:
                continue
            if len(cells) > MAX_COLUMNS:
                raise FileRefused(f"第 {number} 行有 {len(cells)} 列，超过 {MAX_COLUMNS} 列的上限；请使用下载的模板")
            _refuse_nul(number, cells, table)
            if table is None:
                table = Table(headers=[str(c or "").strip() for c in cells], encoding="XLSX", format="xlsx")
            else:
                table.rows.append((number, cells))
    finally:
        workbook.close()
    if table is None:
        raise FileRefused("工作簿的第一个工作表是空的，请把数据放在第一个工作表中")
    return table


def write_xlsx(headers: list, rows: list, sheet_title: str = "Sheet1") -> bytes:
    """A simple XLSX (used for downloadable templates); text columns are formatted as text."""
    import openpyxl
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column_cells in sheet.columns:
        for cell in column_cells:
            cell.number_format = "@"  # text: long codes must not become 9.1e+17
        sheet.column_dimensions[column_cells[0].column_letter].width = max(12, len(str(column_cells[0].value)) * 2 + 2)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
