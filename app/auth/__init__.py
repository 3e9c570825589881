"""Login, logout and the user accounts behind them."""

from app.auth.views import bp

__all__ = ["bp"]
