"""The web application: `create_app` builds and configures one Flask app."""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import workflows.models  # noqa: F401  (every table on Base.metadata before anything uses it)
from app.api import register_api
from app.auth.accounts import load_user
from app.cli import register_cli
from app.config import Config, config_class
from app.display import register_display
from app.engine import deploy_on_start
from app.errors import register_error_handlers
from app.extensions import csrf, db, login_manager, migrate
from app.i18n import register_i18n
from app.nav import register_nav
from app.observability import register_observability
from app.security_headers import register_security_headers
from app.urls import RowIdConverter
from app.web import register_filters
from ledger.db import configure_engine

#: Alembic's folder, beside the package, so `flask db` works from any working directory.
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")

ConfigArg = type[Config] | str | Mapping[str, Any] | None


def resolve_config(config: ConfigArg, environ: Mapping[str, str]) -> tuple[type[Config], dict]:
    """The settings class and the overrides that `config` names.

    None: the class named by APP_CONFIG (default 'development'). A string: that class. A
    class: itself. A mapping: overrides on the class that its "APP_CONFIG" key or, failing
    that, the environment's APP_CONFIG names.
    """
    if config is None:
        return config_class(environ.get("APP_CONFIG", "development")), {}
    if isinstance(config, str):
        return config_class(config), {}
    if isinstance(config, type):
        return config, {}
    overrides = dict(config)
    name = overrides.pop("APP_CONFIG", None) or environ.get("APP_CONFIG", "development")
    return config_class(name), overrides


def create_app(config: ConfigArg = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers and CLI commands."""
    app = Flask(__name__)
    app.url_map.converters["int"] = RowIdConverter
    config_cls, overrides = resolve_config(config, os.environ)
    app.config.from_object(config_cls)
    app.config.update(config_cls.from_environ(os.environ, app.instance_path))
    app.config.update(overrides)
    config_cls.check(app.config)
    app.json.ensure_ascii = False  # Chinese messages readable in JSON
    _trust_proxies(app, app.config.get("TRUSTED_PROXIES", 0))
    _ensure_instance_folder(app)
    _init_extensions(app)
    _register_blueprints(app)
    register_api(app)
    register_error_handlers(app)
    register_observability(app)
    register_security_headers(app)
    register_cli(app)
    deploy_on_start(app)
    return app


def _trust_proxies(app: Flask, count: int) -> None:
    # Behind nginx, the client's address and scheme come from the proxies' headers.
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def _ensure_instance_folder(app: Flask) -> None:
    # Only when the database lives there: a production instance folder may be read-only.
    if app.instance_path in (app.config.get("SQLALCHEMY_DATABASE_URI") or ""):
        os.makedirs(app.instance_path, exist_ok=True)


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, compare_type=True)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    csrf.init_app(app)
    register_i18n(app)
    register_nav(app)
    register_filters(app)
    register_display(app)
    with app.app_context():
        configure_engine(db.engine)


def _register_blueprints(app: Flask) -> None:
    from app import admin, auth, counter, inbox, instances, main, merchants, portal
    from app.printouts import requests as request_forms

    for blueprint in (auth, main, portal, inbox, counter, merchants, admin, instances):
        app.register_blueprint(blueprint.bp)
    app.register_blueprint(request_forms.bp)
