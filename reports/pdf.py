"""Render a printed document to PDF/A-3b with WeasyPrint.

A document is a Jinja template under `reports/templates/` and the marshmallow schema of its
data: the template sees only the schema's dump (plain strings, numbers, lists and dicts),
never a database object. Every page carries the document's reference (a request's business
key), the time it was printed and its page number; the first carries a QR code of the page
the document belongs to. WeasyPrint fetches nothing but files under `reports/static/`.

One `Renderer` per process keeps WeasyPrint's font configuration and the parsed stylesheet,
so the fonts are loaded once; a lock keeps one render at a time, since WeasyPrint's font
machinery is not made for threads."""

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.request import url2pathname

import jinja2
import segno
from markupsafe import Markup
from marshmallow import Schema
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from reports import fontbuild
from reports.formats import campus_datetime

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
PDF_VARIANT = "pdf/a-3b"
ISSUER = "中国石油大学（北京）校园卡管理中心"


class FontsMissing(RuntimeError):
    """The fonts of the printed forms have not been built (`make fonts`)."""


@dataclass(frozen=True)
class Document:
    """A printable document: its template, title and the schema its data is dumped with."""

    template: str
    title: str
    schema: Schema


@dataclass(frozen=True)
class Stamp:
    """What a printout carries besides its data: its reference (a request's business key, or
    the number of the record it prints, under `label`), the address of its page in the web
    application (drawn as a QR code) and when it was printed."""

    reference: str
    url: str
    printed_at: datetime
    label: str = "业务编号"


def qr_code(url: str) -> Markup:
    """`url` as an inline SVG QR code (vector, 0.5 mm modules)."""
    code = segno.make(url, error="m")
    return Markup(code.svg_inline(unit="mm", scale=0.5, border=0, svgclass="qr"))


class StaticOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher for files under `reports/static/`; anything else is refused."""

    def fetch(self, url, headers=None):
        if url.startswith("file:"):
            path = Path(url2pathname(url.split("?", 1)[0].removeprefix("file:"))).resolve()
            if path.is_relative_to(STATIC.resolve()):
                return super().fetch(url, headers)
        raise ValueError(f"printed documents fetch only their own static files, not {url}")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Renderer:
    """Renders documents; `stylesheet` names the CSS under `reports/static/` that gives the
    fonts (the bench swaps it to compare with the system's stock font)."""

    def __init__(self, stylesheet: str = "fonts.css"):
        self.env = _environment()
        self.font_config = FontConfiguration()
        self.fetcher = StaticOnlyFetcher()
        self.stylesheets = [self._css(name) for name in (stylesheet, "report.css")]
        self.lock = threading.Lock()

    def _css(self, name: str) -> CSS:
        return CSS(
            filename=str(STATIC / name), url_fetcher=self.fetcher,
            font_config=self.font_config,
        )  # fmt: skip

    def html(self, document: Document, data, stamp: Stamp) -> str:
        """The document's HTML: its template over the dump of `data`."""
        template = self.env.get_template(document.template)
        return template.render(
            doc=document.schema.dump(data), title=document.title, issuer=ISSUER,
            reference=stamp.reference, reference_label=stamp.label, url=stamp.url,
            qr=qr_code(stamp.url), printed_at=campus_datetime(stamp.printed_at),
        )  # fmt: skip

    def render(self, document: Document, data, stamp: Stamp) -> bytes:
        """The document as PDF/A-3b bytes."""
        html = HTML(
            string=self.html(document, data, stamp), base_url=STATIC.as_uri() + "/",
            url_fetcher=self.fetcher,
        )  # fmt: skip
        with self.lock:
            return html.write_pdf(
                stylesheets=self.stylesheets, font_config=self.font_config,
                pdf_variant=PDF_VARIANT, uncompressed_pdf=False,
            )  # fmt: skip


@cache
def renderer() -> Renderer:
    """This process's renderer with the printed forms' fonts (built by `make fonts`)."""
    missing = [style for style in fontbuild.STYLES if not fontbuild.font_path(style).exists()]
    if missing:
        raise FontsMissing(
            "printed forms need their fonts: run `make fonts` (python -m reports.fontbuild)"
        )
    return Renderer()


def render(document: Document, data, stamp: Stamp) -> bytes:
    """`document` over `data` as PDF/A-3b bytes, with this process's renderer."""
    return renderer().render(document, data, stamp)
