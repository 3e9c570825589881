"""Reading roster files (R19 uploads): CSV in the encodings Excel writes, XLSX, Chinese or
English headers, reasons as Chinese words; a file that is no roster is refused whole."""

import codecs
import io

import pytest
from openpyxl import Workbook

from forms.roster import RosterRow, RosterUnreadable, read_roster
from forms.termination import MAX_ENTRIES


def xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_r19_english_headers_extra_columns_and_blank_rows():
    text = (
        "College,Card No,Name,Reason,ID_Number\n"
        "化工学院,2024000001,张三,graduated,\n"
        ",,,,\n"
        "化工学院, 2024000002 ,李四,退学,11010519900307001x\n"
    )
    assert read_roster("list.csv", text.encode()) == [
        RosterRow(2, {"card_no": "2024000001", "name": "张三", "reason": "graduated"}),
        RosterRow(
            4,
            {
                "card_no": "2024000002",
                "name": "李四",
                "reason": "withdrawn",
                "id_number": "11010519900307001x",
            },
        ),
    ]


def test_r19_excel_unicode_text_is_utf16_with_tabs():
    text = "卡号\t姓名\t原因\r\n2024000001\t张三\t离职\r\n"
    content = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    assert read_roster("名单.txt", content) == [
        RosterRow(2, {"card_no": "2024000001", "name": "张三", "reason": "left"})
    ]


def test_r19_xlsx_numbers_keep_their_digits():
    content = xlsx(
        [["卡号", "姓名", "原因"], [None], [2024000001, "张三", "毕业"], [3.0, "李四", "毕业"]]
    )
    assert read_roster("名单.xlsx", content) == [
        RosterRow(3, {"card_no": "2024000001", "name": "张三", "reason": "graduated"}),
        RosterRow(4, {"card_no": "3", "name": "李四", "reason": "graduated"}),
    ]


@pytest.mark.parametrize(
    ("filename", "content", "says"),
    [
        ("a.csv", "卡号,姓名\n1,张三\n".encode(), "缺少列：原因"),
        ("a.csv", "卡号,姓名,原因\n".encode(), "没有数据行"),
        ("a.csv", b"", "没有数据行"),
        ("a.xls", b"\xd0\xcf\x11\xe0old excel", "请另存为 xlsx 或 csv"),
        ("a.xlsx", b"PK\x03\x04broken", "不是有效的 xlsx 文件"),
        ("a.csv", "卡号,姓名,原因\n1,".encode() + b"x" * 200_000, "第 2 行格式错误"),
    ],
    ids=["no-reason-column", "header-only", "empty", "xls", "broken-xlsx", "huge-field"],
)
def test_r19_a_file_that_is_no_roster_is_refused(filename, content, says):
    with pytest.raises(RosterUnreadable) as raised:
        read_roster(filename, content)
    assert says in raised.value.message("zh") and filename in raised.value.message("en")


def test_r19_at_most_the_form_s_number_of_rows():
    rows = "".join(f"{2024000000 + i},张{i},毕业\n" for i in range(MAX_ENTRIES + 1))
    with pytest.raises(RosterUnreadable, match="5000"):
        read_roster("a.csv", ("卡号,姓名,原因\n" + rows).encode())
    assert (
        len(read_roster("a.csv", ("卡号,姓名,原因\n" + rows[: rows.rindex("2024")]).encode()))
        == 5000
    )


def test_r19_a_workbook_that_unpacks_too_big_is_refused_before_it_is_read(monkeypatch):
    content = xlsx([["卡号", "姓名", "原因"], ["2024000001", "张三", "毕业"]])
    assert len(read_roster("a.xlsx", content)) == 1
    monkeypatch.setattr("forms.roster.MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(RosterUnreadable) as raised:
        read_roster("a.xlsx", content)
    assert "解压后超过" in raised.value.message("zh")
