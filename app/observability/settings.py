"""The observability settings and the environment variables they come from.

`app/config.py` reads the other settings; these are read here, when the app registers its
observability, with the same precedence: an override given to `create_app` wins, then the
environment, then the default. A development or testing app (DEBUG or TESTING on) defaults
to plain-text logs and an open /metrics; any other (production) to JSON logs and a /metrics
that needs METRICS_TOKEN.
"""

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.config import ConfigError

LOG_FORMATS = ("json", "text")


def observability_settings(environ: Mapping[str, str], local: bool) -> dict[str, Any]:
    """The settings from the environment (`local`: a development or testing app):

    - LOG_FORMAT: `json` (one JSON object a line) or `text`; default `text` if local, else
      `json`.
    - LOG_LEVEL: the root logger's level (default INFO).
    - METRICS_TOKEN: when set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; when
      unset, /metrics is open if local and refused (403) otherwise.
    - READYZ_TIMEOUT: seconds /readyz waits for the database's `SELECT 1` (default 2).

    PROMETHEUS_MULTIPROC_DIR is read by prometheus_client itself (see app.observability.metrics).
    """
    return {
        "LOG_FORMAT": environ.get("LOG_FORMAT") or ("text" if local else "json"),
        "LOG_LEVEL": environ.get("LOG_LEVEL") or "INFO",
        "METRICS_TOKEN": environ.get("METRICS_TOKEN") or None,
        "READYZ_TIMEOUT": float(environ.get("READYZ_TIMEOUT") or 2),
    }


def apply_settings(app: Flask, environ: Mapping[str, str]) -> None:
    """Put the settings in `app.config`, keeping any that create_app's overrides set."""
    for key, value in observability_settings(environ, is_local(app)).items():
        app.config.setdefault(key, value)
    if app.config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")


def is_local(app: Flask) -> bool:
    """Whether `app` runs for development or the tests (not in production)."""
    return bool(app.debug or app.testing)
