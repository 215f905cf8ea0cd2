"""RAF Network backend: ``create_app(config)`` builds the Flask app; nothing happens at import time."""
import logging
import os
from pathlib import Path

from flask import Flask

from config import CONFIGS, Config
from raf_network.json_input import StrictJSONProvider, StrictRequest


class RafNetworkFlask(Flask):
    """Flask, decoding every JSON body with the app's one decoder (``json_input``), ``request.get_json()`` included."""

    json_provider_class = StrictJSONProvider
    request_class = StrictRequest


def create_app(config=None, **overrides):
    """Build the app.

    ``config``: a name from ``config.CONFIGS`` (default: ``APP_ENV``, else ``production``), a config
    class or instance. ``overrides``: settings that win over the environment (tests use them).
    """
    app = RafNetworkFlask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    settings = _config_object(config)
    for key, value in overrides.items():
        setattr(settings, key, value)
    app.config.from_object(settings)
    settings.validate()

    register_logging(app)
    register_extensions(app)
    register_errorhandlers(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_commands(app)
    return app


def _config_object(config):
    if config is None:
        config = os.environ.get("APP_ENV", "production")
    if isinstance(config, str):
        try:
            config = CONFIGS[config]
        except KeyError:
            raise ValueError(f"unknown config {config!r}; one of {sorted(CONFIGS)}") from None
    if isinstance(config, type):
        config = config()
    if not isinstance(config, Config):
        raise TypeError("config must be a name, a Config subclass or instance")
    return config


def register_logging(app):
    from raf_network.log_setup import logging_configure

    logging_configure(app)


def register_extensions(app):
    from raf_network import cache as response_cache
    from raf_network.console.session import ConsoleSessionInterface
    from raf_network.extensions import (
        BoundedIntConverter,
        api,
        bounded_int_schema,
        cache,
        db,
        limiter_init_app,
        migrate,
    )

    # The API is bearer-only and never reads or sets a cookie; only the officers' console (/console) has a session.
    app.session_interface = ConsoleSessionInterface()

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]).parent.mkdir(
            parents=True, exist_ok=True
        )
    db.init_app(app)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(_session_remove)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    cache.init_app(app)
    response_cache.init_app(app)
    limiter_init_app(app)
    app.url_map.converters["int"] = BoundedIntConverter
    api.init_app(app)
    api.register_converter(BoundedIntConverter, bounded_int_schema)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _sqlite_pragmas(app)


def _session_remove(_exc):
    """End the request's session even if the database went away mid-request: a rollback on a
    connection the server terminated must not turn an already built response into a 500."""
    from raf_network.extensions import db

    try:
        db.session.remove()
    except Exception:
        app_logger = logging.getLogger(__name__)
        app_logger.warning("discarding a session whose connection was lost", exc_info=True)
        db.session.registry.clear()


def _sqlite_pragmas(app):
    from sqlalchemy import event

    from raf_network.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        # SQLite's own lower() folds ASCII only, so a search for "šaponjić" never found "Šaponjić"; Python's, as
        # PostgreSQL's (UTF-8 locale), folds every letter. No index is built on lower(), so none is affected.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def register_errorhandlers(app):
    from raf_network.errors import register_errorhandlers as errorhandlers_register
    from raf_network.extensions import api

    errorhandlers_register(app, api)


def register_blueprints(app):
    from raf_network import api_docs, console, courses, health, network, notifications, users, webhook
    from raf_network.extensions import api
    from raf_network.users import models as _user_models  # noqa: F401  (registers the tables)
    from raf_network.users.auth import security_scheme_register
    from raf_network.webhook import services as webhook_services

    security_scheme_register(api)
    api.register_blueprint(health.blp)
    api.register_blueprint(courses.blp)
    api.register_blueprint(users.blp)
    api.register_blueprint(webhook.blp)
    api.register_blueprint(notifications.blp)
    api.register_blueprint(network.blp)
    app.register_blueprint(api_docs.blp)  # a plain Flask blueprint: static files, not part of the API spec
    console.init_app(app)  # the officers' web UI: plain Flask too (pages, not API operations)
    app.extensions["metrics_collectors"] = [webhook_services.delivery_outcome_metrics]


def register_request_hooks(app):
    from raf_network.extensions import unknown_query_refuse
    from raf_network.log_setup import request_id_assign, request_id_header
    from raf_network.metrics import request_finished, request_started
    from raf_network.security import proxy_fix_install, security_headers
    from raf_network.users.auth import personal_cache_control, request_authenticate

    proxy_fix_install(app)
    app.before_request(request_started)
    app.before_request(request_id_assign)
    # Before the view runs, so before any @blp.arguments parsing: anonymous bad bodies are 401, not 422.
    app.before_request(request_authenticate)
    app.before_request(unknown_query_refuse)  # after authentication: anonymous callers get 401 first
    app.after_request(personal_cache_control)
    app.after_request(request_id_header)
    app.after_request(security_headers)
    app.after_request(request_finished)


def register_commands(app):
    from raf_network.courses.cli import import_exams_command, import_schedule_command, seed_command
    from raf_network.jobs import worker_command
    from raf_network.network.cli import network_cli
    from raf_network.notifications.cli import notifications_cli
    from raf_network.users.cli import users_cli
    from raf_network.webhook.cli import webhook_cli

    app.cli.add_command(seed_command)
    app.cli.add_command(import_schedule_command)
    app.cli.add_command(import_exams_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(webhook_cli)
    app.cli.add_command(network_cli)
    app.cli.add_command(notifications_cli)
