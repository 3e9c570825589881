"""The web's way into the engine: its settings from the Flask config, and deploying `bpmn/`
when the app starts."""

import logging

import click
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from app.extensions import db
from app.uow import unit_of_work
from workflows.context import EngineConfig, MailSettings
from workflows.deploy import deploy_directory
from workflows.errors import InvalidBpmn

log = logging.getLogger(__name__)


def engine_config(app: Flask | None = None) -> EngineConfig:
    """The engine's settings from the app's config (MAIL_*, BASE_URL)."""
    config = (app or current_app).config
    mail = MailSettings(
        host=config.get("MAIL_SERVER"),
        port=int(config.get("MAIL_PORT", 25)),
        sender=config.get("MAIL_SENDER", MailSettings.sender),
        username=config.get("MAIL_USERNAME"),
        password=config.get("MAIL_PASSWORD"),
        starttls=bool(config.get("MAIL_STARTTLS", False)),
    )
    return EngineConfig(base_url=config.get("BASE_URL", EngineConfig.base_url), mail=mail)


def deploy_bpmn(app: Flask) -> list:
    """Deploy the BPMN_DIR files; raises InvalidBpmn and deploys nothing if one is broken."""
    with app.app_context(), unit_of_work():
        return deploy_directory(db.session, app.config["BPMN_DIR"])


def _cli_command_other_than_run() -> bool:
    """Whether a `flask` command other than `run` builds the app: `flask workflows deploy`
    reports its own deployment, and `flask db upgrade` runs before the tables exist."""
    context = click.get_current_context(silent=True)
    names = set()
    while context is not None:
        names.add(context.info_name)
        context = context.parent
    return bool(names) and "run" not in names


def deploy_on_start(app: Flask) -> None:
    """Deploy at start-up unless DEPLOY_BPMN_ON_START is off. A broken file, or a database
    not yet migrated, is logged and the app starts on what is already deployed."""
    if not app.config.get("DEPLOY_BPMN_ON_START") or _cli_command_other_than_run():
        return
    try:
        for result in deploy_bpmn(app):
            if result.outcome != "unchanged":
                log.info("deployed %s %s v%s", result.kind, result.key, result.version)
    except InvalidBpmn as exc:
        log.error("BPMN not deployed: %s", exc.message("en"))
    except IntegrityError:
        log.info("another process deployed the same BPMN first")
    except (OperationalError, ProgrammingError) as exc:
        log.warning("BPMN not deployed (run `flask db upgrade` first): %s", exc.orig)
