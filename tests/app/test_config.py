"""create_app's settings: by name, class or overrides; production refuses to start half-set."""

import pytest

from app import create_app, resolve_config
from app.config import (
    DEV_SECRET_KEY,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    database_url,
    engine_settings,
)

PG = "postgresql+psycopg://card:pw@db.internal:5432/cardoffice"


@pytest.mark.parametrize(
    ("config", "environ", "expected"),
    [
        (None, {}, DevelopmentConfig),
        (None, {"APP_CONFIG": "testing"}, TestingConfig),
        ("production", {}, ProductionConfig),
        (TestingConfig, {"APP_CONFIG": "production"}, TestingConfig),
        ({"DEBUG": False}, {"APP_CONFIG": "testing"}, TestingConfig),
        ({"APP_CONFIG": "testing"}, {"APP_CONFIG": "production"}, TestingConfig),
    ],
)
def test_resolve_config(config, environ, expected):
    assert resolve_config(config, environ)[0] is expected


def test_overrides_apply_and_lose_the_config_name():
    assert resolve_config({"APP_CONFIG": "testing", "X": 1}, {}) == (TestingConfig, {"X": 1})


def test_unknown_config_name_is_refused():
    with pytest.raises(ConfigError, match="staging"):
        create_app("staging")


def test_development_defaults_to_a_sqlite_file_in_the_instance_folder():
    settings = DevelopmentConfig.from_environ({}, "/srv/instance")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////srv/instance/cardoffice.sqlite3"
    assert settings["SECRET_KEY"] == DEV_SECRET_KEY


def test_testing_uses_memory_unless_test_database_url():
    assert TestingConfig.from_environ({}, "/i")["SQLALCHEMY_DATABASE_URI"] == "sqlite://"
    settings = TestingConfig.from_environ({"TEST_DATABASE_URL": "postgresql://u@h/t"}, "/i")
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/t"


def test_testing_app_settings(app):
    assert app.testing and not app.config["WTF_CSRF_ENABLED"]


@pytest.mark.parametrize(
    "environ",
    [{}, {"SECRET_KEY": "s" * 32}, {"DATABASE_URL": PG}, {"DATABASE_URL": PG, "SECRET_KEY": ""}],
)
def test_production_refuses_to_start_without_its_settings(monkeypatch, environ):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="production needs"):
        create_app("production")


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ConfigError, match="development SECRET_KEY"):
        create_app("production")


def test_production_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://card:pw@db.internal:5432/cardoffice")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    app = create_app("production")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == PG
    assert app.config["SECRET_KEY"] == "s" * 32
    assert not app.debug and app.config["SESSION_COOKIE_SECURE"]
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_pre_ping"] and options["connect_args"]["connect_timeout"] == 5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_uses_psycopg(url, expected):
    assert database_url(url) == expected


def test_deploying_bpmn_at_start_is_switched_off_by_the_environment():
    assert engine_settings({"DEPLOY_BPMN_ON_START": "0"})["DEPLOY_BPMN_ON_START"] is False
    assert engine_settings({"DEPLOY_BPMN_ON_START": "1"})["DEPLOY_BPMN_ON_START"] is True
    assert "DEPLOY_BPMN_ON_START" not in engine_settings({})  # the configuration's own default
