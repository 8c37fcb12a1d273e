"""The 双随机、一公开 disclosure portal: public site, open data and clerks' workbench."""
import os
from pathlib import Path

from flask import Flask

from .config import Config
from .extensions import csrf, db, htmx, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class=Config, **overrides) -> Flask:
    """Build the application: config, extensions, blueprints, errors, CLI."""
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("PORTAL_INSTANCE_PATH") \
        or str(ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_object(config_class(app.instance_path))
    app.config.update(overrides)

    _init_extensions(app)
    _register_blueprints(app)

    from . import objections
    objections.init_app(app)

    from . import errors, web
    errors.register(app)
    web.register(app)

    from . import cli
    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    from .database import configure_engine

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from . import models  # noqa: F401  (register tables)


def _register_blueprints(app: Flask) -> None:
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    for module_name in ("portal.auth", "portal.admin"):
        module = __import__(module_name, fromlist=["bp"])
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
