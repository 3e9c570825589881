"""The renderer every printed document goes through: PDF/A-3b, real text, the stamp (business
key, print time, page numbers, QR code of the page), fonts that hold every character a form
needs, and a fetcher that reads nothing but the reports' own static files."""

import io
import re
from datetime import UTC, datetime

import pikepdf
import pytest
import zxingcpp
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from PIL import Image

from app.demo import PEOPLE
from app.demo_requests import _requests
from reports import fontbuild
from reports.pdf import Stamp, StaticOnlyFetcher, render
from reports.receipt import RECEIPT
from tests.pdf_support import page_count, page_image, pdf_text

STAMP = Stamp("LSK-20261128-0001", "http://card.example.edu.cn/instances/42",
              datetime(2026, 11, 28, 2, 5, tzinfo=UTC))  # fmt: skip


def receipt(holder: str = "王建国", **changes) -> bytes:
    data = {
        "operation": "补办校园卡", "holder": holder, "record": "记账分录 42",
        "clerk": "卡务中心柜员（cardoffice）", "at": datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        "rows": [("新卡号", "20260099"), ("工本费", "20.00 元")], **changes,
    }  # fmt: skip
    return render(RECEIPT, data, STAMP)


@pytest.fixture(scope="module")
def printed() -> bytes:
    return receipt()


def test_the_output_is_pdf_a_3b(printed):
    with pikepdf.open(io.BytesIO(printed)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == "校园卡业务回执 LSK-20261128-0001"
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
        for font in _fonts(pdf):  # PDF/A: every font embedded
            descriptor = font.DescendantFonts[0].FontDescriptor
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor


def test_every_page_carries_the_key_the_print_time_and_its_number(printed):
    text = pdf_text(printed)
    assert text.count("业务编号：LSK-20261128-0001") == 2  # the masthead and the page's top
    assert "打印时间：2026-11-28 10:05" in text  # campus time (UTC+8)
    assert "第1页，共1页" in text and page_count(printed) == 1


def test_the_text_is_real_text_in_reading_order(printed):
    text = pdf_text(printed, layout=False)
    assert "校园卡业务回执" in text and "补办校园卡" in text and "20260099" in text
    assert re.search(r"工本费\s+20\.00 元", pdf_text(printed))


def test_the_qr_code_reads_back_as_the_page_address(printed):
    image = page_image(printed, dpi=200)
    try:
        found = zxingcpp.read_barcodes(Image.open(image))
    finally:
        image.unlink()
    assert [code.text for code in found] == [STAMP.url]


def test_a_rare_character_in_a_name_is_drawn_by_the_forms_font():
    pdf = receipt("刘䶮")
    assert "刘䶮" in pdf_text(pdf)
    assert _glyph_of(pdf, "䶮") == ("Campus-Sans", True)


def test_a_character_beyond_the_forms_font_falls_back_to_the_same_design():
    pdf = receipt("王𠮷")  # CJK extension B: not in Campus Sans, in Noto Sans CJK SC
    assert "王𠮷" in pdf_text(pdf)
    family, drawn = _glyph_of(pdf, "𠮷")
    assert family.startswith("Noto-Sans-CJK-SC") and drawn


@pytest.mark.parametrize("style", fontbuild.STYLES)
def test_the_fonts_hold_gb2312_and_every_demo_name(style):
    with TTFont(fontbuild.font_path(style), lazy=True) as font:
        cmap = font.getBestCmap()
    names = [row[0] for row in PEOPLE]
    requests = _requests(lambda name: "", lambda code: 0, datetime(2026, 1, 1).date())
    names += [person["name"] for *_, data, _code in requests for person in data.get("people", [])]
    wanted = set(fontbuild.gb2312()) | {ord(c) for c in "".join(names)} | {ord("䶮")}
    assert len(fontbuild.gb2312()) > 7400 and wanted - set(cmap) == set()


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://example.com/logo.png", "https://intranet/x.css",
     "data:text/css,body{}", f"file://{fontbuild.FONT_DIR}/../../pdf.py"],
)  # fmt: skip
def test_the_fetcher_refuses_anything_but_the_static_files(url):
    with pytest.raises(ValueError, match="only their own static files"):
        StaticOnlyFetcher().fetch(url)


def test_the_fetcher_reads_the_static_files():
    found = StaticOnlyFetcher().fetch(f"file://{fontbuild.FONT_DIR.parent}/report.css")
    assert b"@page" in found.read()


def _fonts(pdf: pikepdf.Pdf):
    for page in pdf.pages:
        yield from page.Resources.Font.values()


def _glyph_of(printed: bytes, char: str) -> tuple[str, bool]:
    """(font family, whether its glyph has an outline) of the font that draws `char`."""
    code = f"{ord(char):04x}" if ord(char) < 0x10000 else char.encode("utf-16-be").hex()
    with pikepdf.open(io.BytesIO(printed)) as pdf:
        for font in _fonts(pdf):
            cmap = font.ToUnicode.read_bytes().decode()
            found = re.search(rf"<([0-9a-f]{{4}})> <{code}>", cmap)
            if found:
                family = str(font.BaseFont).split("+", 1)[1]
                return family, _has_outline(font, int(found[1], 16))
    raise AssertionError(f"{char} is drawn by no font")


def _has_outline(font, glyph_id: int) -> bool:
    descriptor = font.DescendantFonts[0].FontDescriptor
    stream = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
    embedded = TTFont(io.BytesIO(stream.read_bytes()))
    glyphs = embedded.getGlyphSet()
    pen = BoundsPen(glyphs)
    glyphs[embedded.getGlyphOrder()[glyph_id]].draw(pen)
    return glyph_id != 0 and pen.bounds is not None
