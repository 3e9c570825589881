"""Reading a roster file (名单): CSV or XLSX with a header row, as HR and academic affairs
keep them in Excel. Column names may be Chinese or English; reasons may be Chinese words.

CSV comes as UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode text", tab-separated),
or GB18030/GBK, as Excel on a Chinese Windows saves it. Row numbers are the spreadsheet's:
the header is row 1 when it is the first line. Anything else (an old .xls, a text file or a
picture renamed, a damaged or hostile workbook) is refused whole with a reason to act on.
"""

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook

from forms.termination import MAX_ENTRIES, REASON_LABELS
from ledger.errors import InvalidInput

MAX_BYTES = 20 * 1024 * 1024
#: The most an xlsx roster may unpack to (a roster of MAX_ENTRIES rows is far smaller).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
#: How an old Excel (.xls) or WPS (.et) file begins: an OLE compound document.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_OLD_EXCEL = (
    "旧版 Excel 格式（.xls），请另存为 xlsx 或 csv 格式",
    "old Excel (.xls); save it as xlsx or csv",
)
#: A file named .xlsx that is something else, a text file renamed say.
_NOT_A_WORKBOOK = (
    "内容不是 Excel 工作簿（与扩展名不符），请另存为 xlsx 或 csv 格式",
    "it is no Excel workbook, whatever its name says; save it as xlsx or csv",
)
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
    elif content.startswith(_OLE_MAGIC):
        raise _unreadable(filename, *_OLD_EXCEL)
    elif filename.lower().endswith((".xls", ".xlsx", ".et")):
        raise _unreadable(filename, *_NOT_A_WORKBOOK)
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
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:  # no text file holds NUL: a picture, a PDF ... renamed
            zh = "文件含有二进制内容，不是 CSV 文本；请上传 CSV 或 xlsx 文件"
            raise _unreadable(filename, zh, "it holds binary data, not CSV text; send CSV or xlsx")
        return text
    raise _unreadable(filename, "编码无法识别（请用 UTF-8 或 GBK）", "unknown encoding (use UTF-8)")


#: What openpyxl raises on a file that is no workbook: a bad zip, a missing or damaged member,
#: XML that is not well formed or declares entities (expat refuses external and exploding
#: ones), no sheet at all.
_BROKEN_XLSX = (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError, ParseError)


def _check_unpacked_size(filename: str, content: bytes) -> None:
    """A workbook is a zip: refuse one that unpacks to more than MAX_UNPACKED_BYTES (a few
    megabytes can hold a sheet of hundreds that take minutes to read)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        mb = MAX_UNPACKED_BYTES // 2**20
        raise _unreadable(filename, f"工作簿解压后超过 {mb} MB", f"unpacks to more than {mb} MB")


def _xlsx_lines(filename: str, content: bytes):
    # A broken workbook can fail on opening or only when its sheet is read.
    try:
        _check_unpacked_size(filename, content)
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except _BROKEN_XLSX:
        raise _unreadable(filename, "不是有效的 xlsx 文件", "not a valid xlsx file") from None
    try:
        for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            yield number, [_cell(value) for value in row]
    except _BROKEN_XLSX:
        raise _unreadable(filename, "不是有效的 xlsx 文件", "not a valid xlsx file") from None
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
