"""Login, logout, one's own password and personal API tokens, and the user accounts behind
them."""

from app.auth import tokens  # noqa: F401  (its routes on bp)
from app.auth.views import bp

__all__ = ["bp"]
