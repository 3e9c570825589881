"""The site's URLs: the `<int:…>` converter of row ids, and where the site may send a browser
back to (a `next` target checked to stay on this site)."""

from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

#: The largest row id: PostgreSQL's `integer`, the type of every id column.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """`<int:…>` on this site: at most MAX_ROW_ID, so a longer number is 404 like any unknown
    id, rather than an overflow in the database driver (500)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ROW_ID, signed=False):
        super().__init__(url_map, fixed_digits, min, max, signed)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: no scheme, no host, no '//' or
    backslash that a browser could read as another host, no control characters."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
