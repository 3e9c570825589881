"""Flask extensions, created unbound; create_app binds them to an app."""

from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from ledger.base import Base


class _SharedModel(DeclarativeBase):
    """Flask-SQLAlchemy's model class, on ledger's registry and MetaData.

    Flask-SQLAlchemy 3.1 copies the body of the class it is given into a new declarative base;
    a copy of `Base` carries both its registry and its `type_annotation_map`, which SQLAlchemy
    refuses. This class carries only the registry (which holds the type map) and the MetaData,
    so `db.Model`, `db.metadata` and every model defined on `Base` share one registry.
    """

    registry = Base.registry
    metadata = Base.metadata


db = SQLAlchemy(model_class=_SharedModel)
migrate = Migrate()
csrf = CSRFProtect()

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"
