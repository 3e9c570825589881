"""The HTTP security headers of every response (issue 8).

Every page runs only the app's own files: the Content-Security-Policy allows scripts, styles,
fonts and fetches from this origin alone, no plugins, no inline script or style attribute,
and no framing by any site (with X-Frame-Options for browsers that ignore frame-ancestors).
Browsers keep to HTTPS once they have seen it (HSTS), sent only on a secure request, which
behind nginx is the scheme X-Forwarded-Proto gives when TRUSTED_PROXIES is set.

A header a view set itself wins (the BPMN download sends its own stricter policy); uploaded
files get a stricter one here. docs/security-review.md tells why each value is what it is.
"""

import re
from base64 import b64encode
from hashlib import sha256

from flask import Flask, Response, request

#: The policy of every response that does not set its own.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # bpmn-js and Swagger UI draw icons from data: URLs
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip

#: Files people uploaded (request attachments): never run as a page of this site, even if a
#: browser shows one instead of saving it (an .html or .svg file).
UPLOADED_FILE_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
UPLOADED_FILE_ENDPOINTS = frozenset({"instances.attachment"})

#: One year, and the hosts below the app's own name too (cards.example.edu binds
#: *.cards.example.edu, not its siblings).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

#: Headers of every response, unless the view set them itself.
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

#: flask-smorest's Swagger UI page (/api/v1/docs): its template starts Swagger UI with one
#: inline script that holds only settings (the spec URL and OPENAPI_SWAGGER_UI_CONFIG).
SWAGGER_UI_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def register_security_headers(app: Flask) -> None:
    """Add the security headers to every response of `app`."""
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Set the headers on `response`, leaving alone those it already carries."""
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = policy_for(request.endpoint, response)
    for name, value in FIXED_HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def policy_for(endpoint: str | None, response: Response) -> str:
    """The policy of a response of `endpoint`: the app's; none of it for an uploaded file; on
    the Swagger UI page the app's with that page's own inline script allowed by its hash."""
    if endpoint in UPLOADED_FILE_ENDPOINTS:
        return UPLOADED_FILE_POLICY
    if endpoint != SWAGGER_UI_ENDPOINT or response.is_streamed:
        return CONTENT_SECURITY_POLICY
    hashes = " ".join(script_hash(script) for script in _INLINE_SCRIPT.findall(response.data))
    if not hashes:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {hashes}")


def script_hash(script: bytes) -> str:
    """The CSP source expression that allows exactly the inline script `script` (UTF-8)."""
    return f"'sha256-{b64encode(sha256(script).digest()).decode()}'"
