"""One settings class per environment. Each names the environment variables it reads, with
their defaults, in `from_environ`; create_app reads them when it builds an app, not at import."""

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

#: Development and testing only; production refuses to start with it.
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"


class ConfigError(RuntimeError):
    """The environment lacks a setting this configuration cannot run without."""


def database_url(url: str) -> str:
    """Spell a PostgreSQL URL with the psycopg 3 driver, the one the project installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def instance_sqlite_url(instance_path: str) -> str:
    """The development database: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "cardoffice.sqlite3")


#: The BPMN and DMN files the engine deploys: `bpmn/` beside the packages.
BPMN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpmn")


def engine_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The engine's settings from the environment: MAIL_SERVER (default: none, so no mail),
    MAIL_PORT (25), MAIL_SENDER, MAIL_USERNAME, MAIL_PASSWORD, MAIL_STARTTLS ('1' for on),
    BASE_URL (links in mail), BPMN_DIR, DEPLOY_BPMN_ON_START ('0' for off: BPMN_DIR is then
    deployed only by `flask workflows deploy`), and TRUSTED_PROXIES (0: how many proxies in
    front set X-Forwarded-For/-Proto, so that login limits count the client's address, not
    the proxy's)."""
    settings = {
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES", "0")),
        "MAIL_SERVER": environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_STARTTLS": environ.get("MAIL_STARTTLS") == "1",
        "BPMN_DIR": environ.get("BPMN_DIR", BPMN_DIR),
    }
    for name in ("MAIL_SENDER", "BASE_URL"):
        if environ.get(name):
            settings[name] = environ[name]
    if environ.get("DEPLOY_BPMN_ON_START"):
        settings["DEPLOY_BPMN_ON_START"] = environ["DEPLOY_BPMN_ON_START"] != "0"
    return settings


class Config:
    """Settings shared by every environment."""

    BPMN_DIR = BPMN_DIR
    #: Deploy BPMN_DIR when the app starts (tests deploy their own files).
    DEPLOY_BPMN_ON_START = True
    MAIL_SENDER = "cardoffice@cup.edu.cn"
    BASE_URL = "http://127.0.0.1:5000"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: A login lasts this long after the user's last request (every request renews the
    #: cookie): an unattended counter PC does not stay logged in overnight.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    SESSION_REFRESH_EACH_REQUEST = True
    #: Languages of the UI and of DomainError messages; the first is the default.
    LANGUAGES = ("zh", "en")
    #: werkzeug's password hash; "scrypt" alone means its default cost.
    PASSWORD_HASH_METHOD = "scrypt"
    #: Failed logins counted over this many minutes; past either limit, logins are refused.
    #: The largest request body accepted (uploads: rosters, attachments of at most 5 MB).
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_MAX_FAILURES_PER_USER = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 50

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
        """The settings read from environment variables (a subclass names them)."""
        return {}

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> None:
        """Raise ConfigError if the final settings cannot run; nothing to check by default."""


class DevelopmentConfig(Config):
    """`flask run` on a laptop: SQLite file in the instance folder, a fixed secret key."""

    DEBUG = True

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
        """SECRET_KEY (default: DEV_SECRET_KEY), DATABASE_URL (default: instance SQLite file)."""
        return engine_settings(environ) | {
            "SECRET_KEY": environ.get("SECRET_KEY", DEV_SECRET_KEY),
            "SQLALCHEMY_DATABASE_URI": database_url(
                environ.get("DATABASE_URL") or instance_sqlite_url(instance_path)
            ),
        }


class TestingConfig(Config):
    """The test suite: SQLite in memory unless TEST_DATABASE_URL, CSRF off (tests turn it on)."""

    TESTING = True
    WTF_CSRF_ENABLED = False
    DEPLOY_BPMN_ON_START = False
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # cheap: the suite hashes many passwords

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
        """SECRET_KEY (default: DEV_SECRET_KEY), TEST_DATABASE_URL (default: SQLite in memory)."""
        return {
            "SECRET_KEY": environ.get("SECRET_KEY", DEV_SECRET_KEY),
            "SQLALCHEMY_DATABASE_URI": database_url(
                environ.get("TEST_DATABASE_URL") or "sqlite://"
            ),
        }


#: libpq's limits for a database host that vanishes without refusing connections: seconds,
#: not minutes, before a request gets its 503 (connect timeout, TCP keepalives, and how long
#: unacknowledged data may wait).
PG_CONNECT_ARGS = {
    "connect_timeout": 5, "keepalives_idle": 30, "keepalives_interval": 10,
    "keepalives_count": 3, "tcp_user_timeout": 30000,
}  # fmt: skip


class ProductionConfig(Config):
    """gunicorn behind a proxy: PostgreSQL and a real secret key, both from the environment."""

    SESSION_COOKIE_SECURE = True
    # A pooled connection is tested before use, so the app serves again without a restart
    # once PostgreSQL is back.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
        """SECRET_KEY (no default), DATABASE_URL (no default, postgresql+psycopg://...)."""
        url = database_url(environ["DATABASE_URL"]) if environ.get("DATABASE_URL") else None
        settings = engine_settings(environ) | {
            "SECRET_KEY": environ.get("SECRET_KEY"),
            "SQLALCHEMY_DATABASE_URI": url,
        }
        if url and url.startswith("postgresql"):
            options = cls.SQLALCHEMY_ENGINE_OPTIONS | {"connect_args": PG_CONNECT_ARGS}
            settings["SQLALCHEMY_ENGINE_OPTIONS"] = options
        return settings

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> None:
        """Refuse to start without DATABASE_URL or with a missing or development secret key."""
        required = {"SECRET_KEY": "SECRET_KEY", "DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}
        missing = [name for name, key in required.items() if not settings.get(key)]
        if missing:
            raise ConfigError(f"production needs the environment variables {', '.join(missing)}")
        if settings["SECRET_KEY"] == DEV_SECRET_KEY:
            raise ConfigError("production refuses the development SECRET_KEY")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_class(name: str) -> type[Config]:
    """The settings class for an environment name ('development', 'testing', 'production')."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"unknown configuration {name!r}; choose one of {', '.join(CONFIGS)}"
        ) from None
