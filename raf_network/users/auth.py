"""Who is calling: signed JWT access tokens and the one guard every blueprint uses.

An access token names its user (``sub``) and its sign-in session (``sid``). Every request checks both
in one query, so logout (session revoked), disabling a user and changing a role take effect on the next
request even for a long-lived token. 401: no, invalid, expired or revoked token. 403: wrong role.

A session also holds rotating refresh tokens (``RefreshToken``), stored only as their sha256.
"""
import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from functools import wraps

import jwt
from flask import current_app, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import select

from raf_network.errors import Forbidden, Unauthorized
from raf_network.extensions import db, view_for_request
from raf_network.users.models import ROLES, AuthSession, RefreshToken, User

ALGORITHM = "HS256"
ISSUER = "raf-network"
BEARER_SCHEME = "bearerAuth"

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


def access_token_verify(token):
    """The (user, session) a token stands for, checked against the database. Raises Unauthorized."""
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
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise Unauthorized("the access token is invalid") from None
    row = db.session.execute(
        select(User, AuthSession)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == str(claims["sid"]))
    ).first()
    if row is None:
        raise Unauthorized("the access token has been revoked")
    user, auth_session = row
    if auth_session.revoked_at is not None:
        raise Unauthorized("the access token has been revoked")
    if not user.is_active:
        raise Unauthorized("this account is disabled")
    return user, auth_session


def _bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def current_user():
    """The authenticated caller (inside a route guarded by ``auth_required``)."""
    return g.current_user


def current_session():
    """The sign-in session of the caller's access token (inside a route guarded by ``auth_required``)."""
    return g.auth_session


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
            if g.get("auth_session") is None:
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
    user, auth_session = access_token_verify(_bearer_token())
    if roles and user.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    g.current_user, g.auth_session = user, auth_session


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
