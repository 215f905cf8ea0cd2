"""Flask extensions, created unbound; ``create_app`` binds them. Nothing here connects to anything."""
import flask_smorest
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from marshmallow import RAISE
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from raf_network.errors import Api

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


class StrictParser(FlaskParser):
    """Unknown query, body and form fields are errors (422), not silently dropped: allow-list input."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: RAISE for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}


class Blueprint(flask_smorest.Blueprint):
    """The flask-smorest Blueprint every blueprint of this app uses (strict argument parsing)."""

    ARGUMENTS_PARSER = StrictParser()


INT32_MAX = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` path ids are database integers: a number past int32 cannot name anything, so it is
    a 404 like any unknown id, never a database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=INT32_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bounded_int_schema(_converter):
    return {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX}
