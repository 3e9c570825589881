"""Reading printed PDFs back in tests: their text as `pdftotext` extracts it (poppler-utils,
installed by `make test`) and their pages as images."""

import subprocess
import tempfile
from pathlib import Path


def pdf_text(pdf: bytes, layout: bool = True) -> str:
    """The PDF's text as `pdftotext` extracts it (`-layout` keeps table rows on one line)."""
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), "-", "-"]
    done = subprocess.run(args, input=pdf, capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def page_count(pdf: bytes) -> int:
    """How many pages the PDF has (from `pdfinfo`)."""
    done = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    for line in done.stdout.decode().splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError("pdfinfo printed no page count")


def page_image(pdf: bytes, page: int = 1, dpi: int = 150) -> Path:
    """Page `page` of the PDF rendered to a PNG file (`pdftoppm`); the caller removes it."""
    folder = Path(tempfile.mkdtemp(prefix="pdfpage-"))
    source = folder / "in.pdf"
    source.write_bytes(pdf)
    args = ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page)]
    subprocess.run([*args, str(source), str(folder / "page")], check=True, timeout=60)
    return folder / "page.png"
