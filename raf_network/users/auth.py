"""Who is calling: signed JWT access tokens and the one guard every blueprint uses.

An access token names its user (``sub``) and its sign-in session (``sid``). Every request checks that the session
is not revoked, the account active and its role the one required — without a query in the common case: each process
keeps the sessions it verified (``VerifiedSessions``), valid while the ``sessions`` cache family keeps its
generation, and every change that can end or narrow access (logout, a reused refresh token, disabling, a role change,
deleting an account) moves that family to a new generation in its own transaction (``access_changed``). So, like
the cached responses (``raf_network.cache``): the process that made the change refuses the token on its next
request, any other process as soon as the change is announced (milliseconds; at most ``CACHE_RESYNC_SECONDS``), and
without Redis every request reads the generation from the database, where every local process's changes are. A
change made around the services (by hand, in SQL) is still seen within ``SESSION_RECHECK_SECONDS``: no verification
is kept longer than that.
401: no, invalid, expired or revoked token. 403: wrong role.

A session also holds rotating refresh tokens (``RefreshToken``), stored only as their sha256.
"""
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import wraps

import jwt
from flask import current_app, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import select

from raf_network.cache import cache_families_invalidate, generations_key
from raf_network.errors import Forbidden, Unauthorized
from raf_network.extensions import db, view_for_request
from raf_network.users.models import ROLES, AuthSession, RefreshToken, User

ALGORITHM = "HS256"
ISSUER = "raf-network"
BEARER_SCHEME = "bearerAuth"
SESSIONS_FAMILY = "sessions"
VERIFIED_SESSIONS_KEPT = 10_000

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _signing_key():
    return current_app.config.get("JWT_SECRET_KEY") or current_app.config["SECRET_KEY"]


def session_create(*, user, device_token=None):
    """Start a sign-in session for ``user`` (no commit: the caller's transaction)."""
    auth_session = AuthSession(id=secrets.token_hex(16), user_id=user.id, device_token=device_token)
    db.session.add(auth_session)
    return auth_session


def access_token_issue(*, user, auth_session):
    """A signed access token and its lifetime in seconds (``ACCESS_TOKEN_TTL``)."""
    lifetime = int(current_app.config["ACCESS_TOKEN_TTL"])
    now = datetime.now(timezone.utc)
    claims = {
        "iss": ISSUER, "typ": "access", "sub": str(user.id), "sid": auth_session.id,
        "iat": now, "exp": now + timedelta(seconds=lifetime),
        # Unique per token, so a refresh within the same second still yields a new token.
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), lifetime


def token_hash(secret):
    """How secrets handed to clients (refresh tokens, calendar URLs) are stored: their sha256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def refresh_token_issue(*, auth_session):
    """A new refresh token in ``auth_session`` (no commit). Returns the secret; only its hash is stored."""
    secret = secrets.token_urlsafe(32)
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=int(current_app.config["REFRESH_TOKEN_TTL"]))
    db.session.add(RefreshToken(session_id=auth_session.id, token_hash=token_hash(secret), expires_at=expires_at))
    return secret


def session_tokens_issue(*, user, auth_session):
    """What a client receives at sign-in and on refresh (no commit)."""
    access_token, lifetime = access_token_issue(user=user, auth_session=auth_session)
    return {
        "token": access_token, "token_type": "Bearer", "expires_in": lifetime,
        "refresh_token": refresh_token_issue(auth_session=auth_session),
    }


@dataclass(frozen=True)
class Caller:
    """Who a verified access token stands for."""

    user_id: int
    session_id: str
    role: str


class VerifiedSessions:
    """The sessions this process verified: each with the ``sessions`` generation it was verified under and when,
    valid while that generation holds and for at most ``recheck_seconds`` (LRU, ``size`` entries)."""

    def __init__(self, *, recheck_seconds, size=VERIFIED_SESSIONS_KEPT):
        self.recheck_seconds = recheck_seconds
        self.size = size
        self.lock = threading.Lock()
        self.entries = OrderedDict()

    def get(self, session_id, generation):
        with self.lock:
            entry = self.entries.get(session_id)
            if entry is None or entry[0] != generation or time.monotonic() - entry[1] > self.recheck_seconds:
                return None
            self.entries.move_to_end(session_id)
            return entry[2]

    def put(self, generation, caller):
        with self.lock:
            self.entries[caller.session_id] = (generation, time.monotonic(), caller)
            self.entries.move_to_end(caller.session_id)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def access_changed():
    """Call in the transaction of any change that can end or narrow someone's access (a session revoked, an account
    disabled, deleted or given another role): every process verifies sessions against the database again."""
    cache_families_invalidate([SESSIONS_FAMILY])


def _claims(token):
    try:
        claims = jwt.decode(
            token, _signing_key(), algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the access token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("the access token is invalid") from None
    if claims.get("typ") != "access":
        raise Unauthorized("the access token is invalid")
    try:
        return int(claims["sub"]), str(claims["sid"])
    except (TypeError, ValueError):
        raise Unauthorized("the access token is invalid") from None


def access_token_verify(token):
    """The ``Caller`` a token stands for: its signature and expiry checked here, its session and account against
    the database — or this process's memory of that check, while nothing has changed access since. Raises
    Unauthorized."""
    user_id, session_id = _claims(token)
    verified = current_app.extensions["verified_sessions"]
    # The generation first, the database after: a change committed in between is seen by the check itself.
    generation = generations_key([SESSIONS_FAMILY])
    caller = verified.get(session_id, generation)
    if caller is not None and caller.user_id == user_id:
        return caller
    row = db.session.execute(
        select(User.role, User.is_active, AuthSession.revoked_at)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id)
    ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the access token has been revoked")
    if not row.is_active:
        raise Unauthorized("this account is disabled")
    caller = Caller(user_id=user_id, session_id=session_id, role=row.role)
    verified.put(generation, caller)
    return caller


def _bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def current_user():
    """The authenticated caller's account (inside a route guarded by ``auth_required``), loaded on first use: a
    view that does not need it (a cached read) costs no query."""
    user = g.get("current_user")
    if user is None:
        user = g.current_user = _loaded(User, g.caller.user_id)
    return user


def current_session():
    """The sign-in session of the caller's access token (inside a route guarded by ``auth_required``)."""
    auth_session = g.get("auth_session")
    if auth_session is None:
        auth_session = g.auth_session = _loaded(AuthSession, g.caller.session_id)
    return auth_session


def _loaded(model, key):
    row = db.session.get(model, key)
    if row is None:  # deleted since it was verified (the deletion's own request, or a race with it)
        raise Unauthorized("the access token has been revoked")
    return row


# The attribute ``auth_required`` and ``personal_response`` leave on a view (or MethodView method). It survives
# any decorator stacked around it that uses functools.wraps (flask-smorest's and Flask-Limiter's all do).
AUTH_ROLES = "raf_auth_roles"
PERSONAL = "raf_personal_response"
PERSONAL_CACHE_CONTROL = "private, no-store"


def auth_required(*roles):
    """Mark a view (or MethodView method) as needing a valid token, and one of ``roles`` when given.

    ``request_authenticate`` (a ``before_request`` hook the factory registers) authenticates such a request
    before any argument parsing, whatever position this decorator has among the others: an anonymous
    request with a bad body is 401, never 422. Its responses are personal (``Cache-Control: private,
    no-store`` unless the view sets its own). Also documents the bearer security requirement and the
    401/403 answers in the OpenAPI spec.
    """
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            if g.get("caller") is None:
                _authenticate(roles)  # called without the hook (not through a request): still guarded
            return func(*args, **kwargs)

        setattr(wrapper, AUTH_ROLES, roles)
        setattr(wrapper, PERSONAL, True)
        responses = {"401": {"description": "Missing, invalid, expired or revoked token", "content": _ERROR_CONTENT}}
        if roles:
            responses["403"] = {"description": f"Needs one of the roles: {', '.join(roles)}",
                                "content": _ERROR_CONTENT}
        return SmorestBlueprint.doc(security=[{BEARER_SCHEME: []}], responses=responses)(wrapper)

    return decorator


def personal_response(func):
    """Mark a view that needs no bearer token but answers with something personal (sign-in, refresh: the
    tokens themselves): ``Cache-Control: private, no-store`` unless the view sets its own."""
    setattr(func, PERSONAL, True)
    return func


def _authenticate(roles):
    caller = access_token_verify(_bearer_token())
    if roles and caller.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    g.caller = caller


def request_authenticate():
    """``before_request``: authenticate requests to views marked ``auth_required`` before anything reads
    their arguments, and note which responses are personal."""
    view = view_for_request()
    if view is None:
        return
    g.personal_response = getattr(view, PERSONAL, False)
    roles = getattr(view, AUTH_ROLES, None)
    if roles is not None:
        _authenticate(roles)


def personal_cache_control(response):
    """``after_request``: personal responses (errors included) are never stored by a shared cache."""
    if g.get("personal_response") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = PERSONAL_CACHE_CONTROL
    return response


def security_scheme_register(api):
    """The bearer scheme every ``auth_required`` operation names (and, while here, the spec's other shared
    conventions: see ``raf_network.schemas.openapi_conventions_register``)."""
    from raf_network.schemas import openapi_conventions_register

    openapi_conventions_register(api)
    api.spec.components.security_scheme(BEARER_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
