"""Build the printed forms' fonts, Campus Sans Regular and Bold, from Debian's Noto Sans CJK SC
(fonts-noto-cjk, SIL Open Font License 1.1): `python -m reports.fontbuild`.

Why: WeasyPrint subsets every font it embeds. The stock Noto CJK collection holds 65,535
CFF glyphs, and a subset that keeps glyph ids keeps an empty slot for each glyph before the
last one used, so a one-page form weighs about 220 KB. Campus Sans is TrueType (whose empty
slots compress to nothing) with only the glyphs a Chinese form needs, in the order a form
uses them: ASCII and punctuation, GB2312 (symbols, then level 1 and level 2 hanzi), then the
rest of the CJK Unified Ideographs, Extension A and the compatibility ideographs, so that
rare characters in names (䶮, 喆, 堃) are there too. Characters beyond those fall back to the
system's Noto Sans CJK SC, the same design."""

import glob
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

FONT_DIR = Path(__file__).parent / "static" / "fonts"
FAMILY = "Campus Sans"
STYLES = ("Regular", "Bold")
SOURCE_FAMILY = "Noto Sans CJK SC"
SOURCE_GLOB = "/usr/share/fonts/opentype/noto/NotoSansCJK-{style}.ttc"
#: Curves are converted to quadratic ones within this many font units (of 1000).
MAX_ERROR = 1.0
#: Name records copied from the source: copyright, trademark, manufacturer, designer,
#: description, vendor and designer URLs, licence and its URL.
COPIED_NAMES = (0, 7, 8, 9, 10, 11, 12, 13, 14)

LATIN_AND_PUNCTUATION = (
    (0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFF65),
)  # fmt: skip
IDEOGRAPHS = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF))


def font_path(style: str) -> Path:
    """Where the built font of `style` ("Regular" or "Bold") lies."""
    return FONT_DIR / f"CampusSans-{style}.ttf"


def gb2312() -> list[int]:
    """Every character of GB2312, in its order (symbols, level 1 hanzi, level 2 hanzi)."""
    found = []
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.append(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return found


def wanted_characters() -> list[int]:
    """The characters of Campus Sans, in glyph order, each once."""
    ranges = [range(low, high + 1) for low, high in LATIN_AND_PUNCTUATION]
    ordered = [c for r in ranges for c in r] + gb2312()
    ordered += [c for low, high in IDEOGRAPHS for c in range(low, high + 1)]
    return list(dict.fromkeys(ordered))


def source_font(style: str) -> TTFont:
    """Noto Sans CJK SC of `style`, out of Debian's collection file."""
    for path in sorted(glob.glob(SOURCE_GLOB.format(style=style))):
        for number in range(16):
            try:
                font = TTFont(path, fontNumber=number, lazy=True)
            except Exception:  # past the collection's last font
                break
            if font["name"].getDebugName(1) == SOURCE_FAMILY:
                return font
    raise SystemExit(f"{SOURCE_FAMILY} {style} not found: install Debian's fonts-noto-cjk")


def build(style: str) -> Path:
    """Build Campus Sans of `style` and return its path."""
    source = source_font(style)
    cmap, glyph_set, advances = source.getBestCmap(), source.getGlyphSet(), source["hmtx"]
    order, mapping, glyphs, metrics = [".notdef"], {}, {}, {}

    def take(source_name: str, name: str) -> None:
        pen = TTGlyphPen(None)
        glyph_set[source_name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))
        glyph = glyphs[name] = pen.glyph()
        glyph.recalcBounds(None)
        metrics[name] = (advances[source_name][0], getattr(glyph, "xMin", 0))

    take(".notdef", ".notdef")
    for char in wanted_characters():
        if char in cmap:
            name = f"uni{char:04X}"
            order.append(name)
            mapping[char] = name
            take(cmap[char], name)
    builder = FontBuilder(source["head"].unitsPerEm, isTTF=True)
    builder.setupGlyphOrder(order)
    builder.setupCharacterMap(mapping)
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics(metrics)
    _copy_vertical_metrics(builder, source)
    _name(builder, source, style)
    path = font_path(style)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    builder.save(partial)
    os.replace(partial, path)  # a build cut short leaves no font behind
    return path


def _copy_vertical_metrics(builder: FontBuilder, source: TTFont) -> None:
    hhea, os2 = source["hhea"], source["OS/2"]
    builder.setupHorizontalHeader(
        ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap
    )
    builder.setupOS2(
        sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
        sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent, usWeightClass=os2.usWeightClass,
        fsType=0, achVendID=os2.achVendID,
    )  # fmt: skip
    post = source["post"]
    builder.setupPost(underlinePosition=post.underlinePosition,
                      underlineThickness=post.underlineThickness)  # fmt: skip
    builder.setupHead(unitsPerEm=source["head"].unitsPerEm)


def _name(builder: FontBuilder, source: TTFont, style: str) -> None:
    names = {"familyName": FAMILY, "styleName": style}
    names["uniqueFontIdentifier"] = f"{FAMILY} {style}; derived from {SOURCE_FAMILY}"
    names["psName"] = f"CampusSans-{style}"
    for name_id in COPIED_NAMES:
        text = source["name"].getDebugName(name_id)
        if text:
            names[name_id] = text
    builder.setupNameTable(names)


def main() -> None:
    """Build both styles, one process each."""
    with ProcessPoolExecutor(max_workers=len(STYLES)) as pool:
        for path in pool.map(build, STYLES):
            print(f"built {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
