"""The one way a printed document leaves the app: stamped, rendered and sent as a PDF."""

from urllib.parse import quote

from flask import Response, url_for

from app.web import now
from reports.pdf import Document, Stamp, render


def stamp(reference: str, endpoint: str, label: str = "业务编号", **values) -> Stamp:
    """The stamp of a printout numbered `reference` (under `label`) whose page is `endpoint`
    (with `values`), printed now."""
    return Stamp(reference, url_for(endpoint, _external=True, **values), now(), label)


def pdf_response(document: Document, data, printed: Stamp, filename: str) -> Response:
    """`document` over `data` as an inline PDF named `filename` (without ".pdf")."""
    body = render(document, data, printed)
    response = Response(body, mimetype="application/pdf")
    name = quote(f"{filename}.pdf")
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{name}"
    response.headers["Cache-Control"] = "private, no-store"
    return response
