"""The officers' console: a server-rendered web UI at ``/console/`` for faculty administrators and admins.

A plain Flask blueprint (Jinja templates, Flask-WTF forms, its own CSS; nothing from another host), not part of the
API spec. Its views call the same services the API and the CLI call. Every console request: the cookie session
(``console.session``) and who is signed in (``console.auth``), CSRF checked on every unsafe method, answers never
stored by a cache, errors as pages. Each page is a module of ``console.pages``.
"""
from raf_network.console import auth, pages  # noqa: F401  (their views and hooks register on the blueprint)
from raf_network.console.auth import google_client_register
from raf_network.console.blueprint import NAV, blp, csrf
from raf_network.console.tasks import tasks_recover

__all__ = ["NAV", "blp", "init_app"]


def init_app(app):
    """Register the console on ``app``: the blueprint, CSRF, the Google client (when configured), and the worker
    hook that fails console tasks a dead worker left running."""
    csrf.init_app(app)
    google_client_register(app)
    app.register_blueprint(blp)
    app.extensions.setdefault("worker_hooks", []).append(tasks_recover)
