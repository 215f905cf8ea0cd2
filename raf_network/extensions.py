"""Flask extensions, created unbound; ``create_app`` binds them. Nothing here connects to anything."""
import logging
import math
import time
from functools import wraps

import flask_smorest
from flask import current_app, request
from flask.sessions import NullSession, SessionInterface
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from limits import parse as parse_limit
from marshmallow import RAISE, missing
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from raf_network.errors import Api, ApiError, Unauthorized, ValidationFailed
from raf_network.json_input import json_parse

log = logging.getLogger(__name__)

# Stable constraint names, so Alembic migrations are reproducible on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
cache = Cache()
# Per-client-address limits, declared on the routes that need them (sign-in, refresh, webhook, broadcast).
# The address is the real client's once ProxyFix has read the router's X-Forwarded-For.
limiter = Limiter(key_func=get_remote_address)
# Blueprints whose routes have no rate limit: the catalogue, health and metrics, the alumni network (reads and
# writes by signed-in people; nothing there is a credential to guess).
UNLIMITED_BLUEPRINTS = frozenset({"courses", "health", "network"})


@limiter.request_filter
def _unlimited_blueprint():
    """Flask-Limiter's public request filter: the limits of this app are declared on their routes (``limiter.limit``
    as a view decorator), so a request to a blueprint without any (``UNLIMITED_BLUEPRINTS``: the hot catalogue and
    feed reads, health) ends Flask-Limiter's per-request look for app-wide limits at once. (Measured: this costs
    ~25 µs more per cached read than skipping the hook altogether, which no public API does — docs/benchmarks.md.)"""
    return request.blueprint in UNLIMITED_BLUEPRINTS


def limiter_init_app(app):
    limiter.init_app(app)


def failures_throttle(setting, *, scope):
    """Decorate a view whose credential is in its body (sign-in, refresh): each 401 it answers counts against
    the per-address limit named by the ``setting`` config key (e.g. ``LOGIN_FAILURE_RATE_LIMIT``); past it, a
    failed attempt is 429 (``Retry-After``) instead of 401. Successful attempts are never counted nor refused
    here — a campus behind one address keeps signing in while someone there floods invalid tokens; all
    attempts together are bounded by the route's own limit (``LOGIN_RATE_LIMIT``)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except Unauthorized:
                _failure_count(setting, scope)
                raise

        return wrapper

    return decorator


def _failure_count(setting, scope):
    app = current_app
    if not app.config["RATELIMIT_ENABLED"]:
        return
    item = parse_limit(app.config[setting])
    identifiers = ("raf-failures", scope, get_remote_address())
    try:
        within = limiter.limiter.hit(item, *identifiers)
        reset_at = None if within else limiter.limiter.get_window_stats(item, *identifiers).reset_time
    except Exception:  # the limits' store (Redis) is down: fail open, as Flask-Limiter is configured to
        log.warning("could not count a failed %s attempt; the failure limit is not applied", scope, exc_info=True)
        return
    if reset_at is not None:
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(f"too many failed {scope} attempts from this address; retry in {retry_after} s", code=429,
                       headers={"Retry-After": str(retry_after)})


class NoSession(NullSession):
    """The ``session`` of every request: always empty, and any write is an error."""

    def _fail(self, *args, **kwargs):
        raise RuntimeError("this app has no cookie sessions: clients authenticate with bearer tokens")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class NoSessionInterface(SessionInterface):
    """No Flask cookie session. Flask's default opens one on every request (building a signing
    serializer each time, ~5% of a cached read) for an app that never uses it. Every request gets the
    same empty, write-refusing session; no cookie is read or set."""

    null_session_class = NoSession

    def __init__(self):
        self._session = NoSession()

    def open_session(self, app, request):
        return self._session

    def save_session(self, app, session, response):
        """Nothing to save (Flask does not even call this for a null session)."""


class StrictParser(FlaskParser):
    """Unknown query, body and form fields are errors (422), not silently dropped: allow-list input.

    JSON bodies are decoded by ``raf_network.json_input.json_parse`` (depth bound, no duplicated keys, no
    NaN, no lone surrogates: 400), not by webargs' own ``json.loads``."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: RAISE for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}

    def load_json(self, req, schema):
        if not req.is_json:
            return missing  # as webargs: a body that does not claim to be JSON is not read as JSON
        data = req.get_data(cache=True)
        return json_parse(data) if data else missing


# Left by ``Blueprint.arguments(..., location="query")`` on the view it decorates (carried outward by
# functools.wraps, like every decorator here).
QUERY_ARGUMENTS = "raf_query_arguments"


class Blueprint(flask_smorest.Blueprint):
    """The flask-smorest Blueprint every blueprint of this app uses: strict argument parsing, and views that
    declare no query arguments refuse any query string (``unknown_query_refuse``)."""

    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema, *, location="json", **kwargs):
        decorator = super().arguments(schema, location=location, **kwargs)
        if location not in ("query", "querystring"):
            return decorator

        def marking(func):
            wrapper = decorator(func)
            setattr(wrapper, QUERY_ARGUMENTS, True)
            return wrapper

        return marking


def view_for_request():
    """The function that will handle this request: its MethodView method for the HTTP method, or the view
    function itself; None when nothing matched (404, 405)."""
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    method = getattr(view_class, request.method.lower(), None)
    if method is None and request.method == "HEAD":
        method = getattr(view_class, "get", None)  # as MethodView dispatches it
    return method


def unknown_query_refuse():
    """``before_request``: one rule for every operation of this app's blueprints — a query parameter the
    operation does not declare is 422, also where it declares none (views with query arguments are checked
    by their schema, with ``unknown = RAISE``)."""
    if not request.args or not isinstance(current_app.blueprints.get(request.blueprint), Blueprint):
        return
    view = view_for_request()
    if view is None or getattr(view, QUERY_ARGUMENTS, False):
        return
    unknown = {name: ["Unknown field."] for name in request.args}
    raise ValidationFailed("this operation takes no query parameters", errors={"query": unknown})


INT32_MAX = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` path ids are database integers: a number past int32 cannot name anything, so it is
    a 404 like any unknown id, never a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT32_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bounded_int_schema(_converter):
    return {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX}
