"""The 双随机、一公开 disclosure portal: public site, open data and clerks' workbench."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config
from .config import ROOT, Config
from .extensions import csrf, db, htmx, login_manager, migrate


def create_app(config_class=Config, **overrides) -> Flask:
    """Build the application. Reads like a table of contents; each step is one function.

    `overrides` set settings for this app only (tests, benches, scripts):
    `create_app(TestConfig, DATABASE_URL="sqlite:///…", FIXED_NOW="2026-11-23T02:00:00+00:00")`.
    """
    settings = config.load(config_class, overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(settings)

    _trust_proxies(app)
    from . import logs
    logs.init_app(app)  # first: every later hook and handler logs with the request id

    _init_extensions(app)
    from . import security
    security.init_app(app)  # before the blueprints: their <int:…> rules use its converter
    _register_blueprints(app)

    from . import limits, objections
    objections.init_app(app)
    limits.init_app(app)  # after the blueprints: limits attach to their routes
    from . import caching
    caching.init_app(app)  # after the limits: a 304 is counted like any request

    from . import search
    search.init_app(app)  # the after-commit hook that applies the search change log
    # Security headers (CSP, framing): `portal.security`, registered here.

    from . import errors, web
    errors.register(app)
    web.register(app)

    from . import cli
    cli.register(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto only from the configured number of proxies (0: nobody).

    The client address keys rate limits and sign-in back-off; trusting a header any client
    can send would let one attacker pose as many addresses (or as everyone's).
    """
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def _init_extensions(app: Flask) -> None:
    from .database import configure_engine

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    from . import models  # noqa: F401  (register tables)
    from . import embargo
    embargo.install_hooks()  # keeps the surprise-task embargo current on every write


def _register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
