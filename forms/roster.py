"""Reading a roster file (名单): CSV or XLSX with a header row, as HR and academic affairs
keep them in Excel. Column names may be Chinese or English; reasons may be Chinese words.

CSV comes as UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode text", tab-separated),
or GB18030/GBK, as Excel on a Chinese Windows saves it. Row numbers are the spreadsheet's:
the header is row 1 when it is the first line.
"""

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass

from openpyxl import load_workbook

from forms.termination import MAX_ENTRIES, REASON_LABELS
from ledger.errors import InvalidInput

MAX_BYTES = 20 * 1024 * 1024
#: Our field name -> the column headers accepted for it (compared lower-cased, without spaces
#: and underscores).
COLUMNS = {
    "card_no": ("卡号", "校园卡号", "card_no", "card number"),
    "name": ("姓名", "持卡人姓名", "name"),
    "id_number": ("证件号码", "身份证号", "身份证号码", "id_number", "id number"),
    "reason": ("原因", "终止原因", "reason"),
}
REQUIRED = ("card_no", "name", "reason")
_REASON_WORDS = {zh: reason.value for reason, (zh, _en) in REASON_LABELS.items()}


class RosterUnreadable(InvalidInput):
    """The file cannot be read as a roster at all (no row can be checked)."""

    code = "roster_unreadable"
    zh = "名单文件“{file}”无法读取：{reason_zh}"
    en = "The roster file '{file}' cannot be read: {reason_en}"


@dataclass(frozen=True)
class RosterRow:
    """One data row: its number in the sheet and its values by field name."""

    number: int
    values: dict


def read_roster(filename: str, content: bytes) -> list[RosterRow]:
    """The data rows of a CSV or XLSX roster (blank rows left out); RosterUnreadable if the
    file is not one, lacks a column or has no rows or too many."""
    if len(content) > MAX_BYTES:
        raise _unreadable(filename, "文件超过 20 MB", "the file is larger than 20 MB")
    if content.startswith(b"PK\x03\x04"):
        lines = _xlsx_lines(filename, content)
    elif filename.lower().endswith((".xls", ".xlsx", ".et")):
        raise _unreadable(filename, "请另存为 xlsx 或 csv 格式", "save it as xlsx or csv")
    else:
        lines = _csv_lines(filename, content)
    return _rows(filename, lines)


def _unreadable(filename: str, zh: str, en: str) -> RosterUnreadable:
    return RosterUnreadable(file=filename, reason_zh=zh, reason_en=en)


def _csv_lines(filename: str, content: bytes):
    text = _decode(filename, content)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from enumerate(reader, 1)
    except csv.Error as exc:
        zh, en = f"第 {reader.line_num} 行格式错误", f"line {reader.line_num}: {exc}"
        raise _unreadable(filename, zh, en) from None


def _decode(filename: str, content: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _unreadable(filename, "编码无法识别（请用 UTF-8 或 GBK）", "unknown encoding (use UTF-8)")


def _xlsx_lines(filename: str, content: bytes):
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise _unreadable(filename, "不是有效的 xlsx 文件", "not a valid xlsx file") from None
    try:
        for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            yield number, [_cell(value) for value in row]
    finally:
        book.close()


def _cell(value) -> str:
    """A cell as text; a whole number typed as a number loses no digits to a '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows(filename: str, lines) -> list[RosterRow]:
    columns, rows = None, []
    for number, cells in lines:
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if columns is None:
            columns = _header(filename, cells)
            continue
        if len(rows) == MAX_ENTRIES:
            zh, en = f"名单超过 {MAX_ENTRIES} 人，请分批提交", f"more than {MAX_ENTRIES} rows"
            raise _unreadable(filename, zh, en)
        values = {field: cells[i] if i < len(cells) else "" for field, i in columns.items()}
        rows.append(RosterRow(number, _normalized(values)))
    if not rows:
        raise _unreadable(filename, "没有数据行", "no data rows")
    return rows


def _header(filename: str, cells: list[str]) -> dict[str, int]:
    """{field: column index} from the header row."""
    names = [_key(cell) for cell in cells]
    found = {}
    for field, accepted in COLUMNS.items():
        wanted = {_key(name) for name in accepted}
        index = next((i for i, name in enumerate(names) if name in wanted), None)
        if index is not None:
            found[field] = index
    missing = [COLUMNS[field][0] for field in REQUIRED if field not in found]
    if missing:
        zh = f"缺少列：{'、'.join(missing)}（表头须含卡号、姓名、原因）"
        raise _unreadable(filename, zh, "the header needs card_no, name and reason columns")
    return found


def _key(header: str) -> str:
    return header.lower().replace(" ", "").replace("_", "")


def _normalized(values: dict) -> dict:
    """Chinese reason words as the form's values; an empty optional column left out."""
    reason = values["reason"]
    values["reason"] = _REASON_WORDS.get(reason, reason.lower())
    if not values.get("id_number"):
        values.pop("id_number", None)
    return values
