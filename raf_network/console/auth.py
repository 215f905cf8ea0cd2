"""Who is using the console: sign-in, the console session, the guard on every console view, sign-out, revocation.

Two ways in, both for the ``faculty_administrator`` and ``admin`` roles only:

- **Google** (OpenID Connect authorization-code flow with PKCE S256, Authlib's Flask client, the discovery document
  at ``GOOGLE_OIDC_URL``, the web client ``GOOGLE_WEB_CLIENT_ID``/``_SECRET``). Authlib runs the protocol (state,
  nonce, PKCE verifier, the code exchange); whom to trust is decided by ``users.google.google_id_token_verify`` with
  the web client id as the audience — the same module that verifies the app's tokens — and the account is the one
  the app's sign-in finds or creates (``users.services.user_google_account``).
- **One-time links** (``flask users console-link EMAIL``): a URL under ``PUBLIC_URL`` that signs that staff member in
  once, within 15 minutes. For operators, and for the embedded default where no Google client is configured.

The session: a ``console_session`` row, whose secret (stored as its sha256) travels in the signed cookie session
(``console.session``). Every console request checks it in one query, like the API's bearer check: not signed out,
used within ``CONSOLE_IDLE_TIMEOUT``, the account active and still holding the role it signed in with. Changing a
role or disabling an account (console or CLI) also revokes the rows at once (``user_access_changing``).
"""
import logging
import secrets
from datetime import datetime, timedelta, timezone
from functools import wraps

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from sqlalchemy import select, update

from raf_network.console.audit import audit_record
from raf_network.console.blueprint import blp
from raf_network.console.models import ConsoleLink, ConsoleSession
from raf_network.console.session import SESSION_KEY
from raf_network.errors import ApiError, Forbidden, Unauthorized
from raf_network.extensions import db
from raf_network.users.auth import token_hash
from raf_network.users.google import google_id_token_verify
from raf_network.users.models import User
from raf_network.users.services import user_by_email, user_google_account
from raf_network.users.signals import user_access_changing

log = logging.getLogger(__name__)

STAFF_ROLES = ("faculty_administrator", "admin")
ADMIN_ROLES = ("admin",)
LINK_LIFETIME = timedelta(minutes=15)
LINK_PATH = "/console/link/"
CALLBACK_PATH = "/console/login/google/callback"
NEXT_KEY = "console_next"
# last_seen_at is written at most this often: a page and its assets are one write, not several.
SEEN_WRITE_INTERVAL = timedelta(seconds=30)
# The attribute the guards leave on a view: the roles it admits (tests walk the URL map with it).
CONSOLE_ROLES = "raf_console_roles"


def _now():
    return datetime.now(timezone.utc)


def _aware(moment):
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


class LinkInvalid(Unauthorized):
    """A one-time link that is unknown, used or expired."""


# --------------------------------------------------------------------------------------------------
# One-time links
# --------------------------------------------------------------------------------------------------

def console_link_create(*, email):
    """A URL under ``PUBLIC_URL`` that signs this staff member in once, within 15 minutes. Only the sha256 of its
    secret is stored. Forbidden for any other role or a disabled account; NotFound for an unknown address."""
    user = user_by_email(email=email)
    if user.role not in STAFF_ROLES:
        raise Forbidden(f"{user.email} is {user.role}: the console is for faculty administrators and admins only")
    if not user.is_active:
        raise Forbidden(f"{user.email} is disabled")
    secret = secrets.token_urlsafe(32)
    db.session.add(ConsoleLink(token_hash=token_hash(secret), user_id=user.id, expires_at=_now() + LINK_LIFETIME))
    db.session.commit()
    return current_app.config["PUBLIC_URL"] + LINK_PATH + secret


def console_link_use(*, secret):
    """The staff member a one-time link signs in; the link is spent whatever follows. LinkInvalid when it is
    unknown, used or expired (claimed atomically: two clicks at once sign in once)."""
    now = _now()
    user_id = db.session.scalar(
        update(ConsoleLink)
        .where(ConsoleLink.token_hash == token_hash(secret), ConsoleLink.used_at.is_(None),
               ConsoleLink.expires_at > now)
        .values(used_at=now)
        .returning(ConsoleLink.user_id),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    if user_id is None:
        raise LinkInvalid("this sign-in link has already been used or has expired")
    return db.session.get(User, user_id)


# --------------------------------------------------------------------------------------------------
# Google (OpenID Connect)
# --------------------------------------------------------------------------------------------------

def google_client():
    """This app's Authlib client for Google, or None when ``GOOGLE_WEB_CLIENT_ID`` is not set."""
    oauth = current_app.extensions.get("console_oauth")
    return oauth.google if oauth is not None else None


def google_client_register(app):
    """One Authlib registry per app (each app has its own client settings)."""
    if not app.config["GOOGLE_WEB_CLIENT_ID"]:
        return
    oauth = OAuth()
    oauth.init_app(app)
    oauth.register(
        "google", client_id=app.config["GOOGLE_WEB_CLIENT_ID"], client_secret=app.config["GOOGLE_WEB_CLIENT_SECRET"],
        server_metadata_url=app.config["GOOGLE_OIDC_URL"],
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "default_timeout": 10},
    )
    app.extensions["console_oauth"] = oauth


def console_google_account(*, id_token):
    """The staff account a Google ID token (issued to the console's web client) signs in. Unauthorized for a token
    we should not trust, Forbidden for a disabled account or one that is not staff (nothing is written then)."""
    identity = google_id_token_verify(id_token, audience=[current_app.config["GOOGLE_WEB_CLIENT_ID"]])
    user = user_google_account(identity=identity)
    if user.role not in STAFF_ROLES:
        db.session.rollback()
        raise Forbidden("the console is for faculty administrators and admins only")
    db.session.commit()
    return user


# --------------------------------------------------------------------------------------------------
# The console session
# --------------------------------------------------------------------------------------------------

def console_session_start(*, user, method):
    """Sign ``user`` in on this browser: a new session row, its secret in a fresh cookie session (a new CSRF
    secret too, so nothing from before the sign-in carries over)."""
    secret = secrets.token_urlsafe(32)
    row = ConsoleSession(token_hash=token_hash(secret), user_id=user.id, role=user.role, method=method,
                         ip_address=(request.remote_addr or "")[:64],
                         user_agent=request.headers.get("User-Agent", "")[:255])
    db.session.add(row)
    db.session.commit()
    next_path = session.get(NEXT_KEY)
    session.clear()
    session[SESSION_KEY] = secret
    g.console_user, g.console_session = user, row
    audit_record("sign_in", target=user.email, details={"method": method})
    return next_path


def _ended_because(console_session, user):
    """Why a stored session no longer signs anyone in (None: it does)."""
    if console_session.revoked_at is not None:
        return "Sesija je završena. Prijavite se ponovo."
    if not user.is_active:
        return "Nalog je onemogućen."
    if user.role != console_session.role:
        return "Vaša uloga je promenjena. Prijavite se ponovo."
    idle = timedelta(seconds=current_app.config["CONSOLE_IDLE_TIMEOUT"])
    if _now() - _aware(console_session.last_seen_at) > idle:
        return "Sesija je istekla zbog neaktivnosti. Prijavite se ponovo."
    return None


def console_session_load():
    """``before_request`` of the console: who is signed in on this browser (``g.console_user``, or None)."""
    g.console_user = g.console_session = None
    secret = session.get(SESSION_KEY)
    if not secret:
        return
    row = db.session.execute(
        select(ConsoleSession, User).join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == token_hash(secret))
    ).first()
    if row is None:
        session.pop(SESSION_KEY, None)
        return
    console_session, user = row
    reason = _ended_because(console_session, user)
    now = _now()
    if reason is not None:
        if console_session.revoked_at is None:
            console_session.revoked_at = now
        db.session.commit()
        session.clear()
        flash(reason, "warning")
        return
    if now - _aware(console_session.last_seen_at) > SEEN_WRITE_INTERVAL:
        console_session.last_seen_at = now
        db.session.commit()
    g.console_user, g.console_session = user, console_session


@blp.before_request
def _who():
    if request.endpoint != "console.static":  # a stylesheet needs no session check (nor a last-seen write)
        console_session_load()


def console_session_end():
    """Sign out: the session row is revoked and the cookie session emptied."""
    console_session = g.get("console_session")
    if console_session is not None:
        audit_record("sign_out")
        console_session.revoked_at = _now()
        db.session.commit()
    session.clear()
    g.console_user = g.console_session = None


def console_sessions_revoke(*, user_id):
    """End every console session of an account (no commit: the caller's transaction)."""
    db.session.execute(
        update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=_now()),
        execution_options={"synchronize_session": False},
    )


@user_access_changing.connect
def _access_changing(user, **_kwargs):
    # A changed role or a disabled account (console or `flask users …`): its console sessions end with that commit.
    console_sessions_revoke(user_id=user.id)


def current_console_user():
    """The signed-in staff member (inside a view guarded by ``staff_required``)."""
    return g.console_user


# --------------------------------------------------------------------------------------------------
# Guards
# --------------------------------------------------------------------------------------------------

def _guard(roles):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = g.get("console_user")
            if user is None:
                if request.method == "GET":
                    session[NEXT_KEY] = request.full_path.rstrip("?")
                return redirect(url_for("console.login"))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, CONSOLE_ROLES, roles)
        return wrapper

    return decorator


staff_required = _guard(STAFF_ROLES)
staff_required.__doc__ = "A console view for faculty administrators and admins: anonymous → sign-in page, else 403."
admin_required = _guard(ADMIN_ROLES)
admin_required.__doc__ = "A console view for admins only: anonymous → sign-in page, other roles → 403."


def _safe_next(path):
    """Only a path of the console itself is a place to return to after sign-in (no open redirect)."""
    if path and path.startswith("/console/") and not path.startswith("//") and "\\" not in path:
        return path
    return url_for("console.dashboard")


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------

@blp.get("/login")
def login():
    """The sign-in page: Google, or how to get a one-time link."""
    if g.get("console_user") is not None and g.console_user.role in STAFF_ROLES:
        return redirect(url_for("console.dashboard"))
    return render_template("console/login.html", google=google_client() is not None)


@blp.get("/login/google")
def google_start():
    """Off to Google (a GET link: a form's POST may not be redirected to another host under the console's CSP)."""
    client = google_client()
    if client is None:
        flash("Prijava preko Google naloga nije podešena na ovom serveru.", "warning")
        return redirect(url_for("console.login"))
    try:
        return client.authorize_redirect(current_app.config["PUBLIC_URL"] + CALLBACK_PATH)
    except requests.RequestException:
        log.warning("the OpenID Connect discovery document at %s is unreachable", current_app.config["GOOGLE_OIDC_URL"])
        flash("Google trenutno nije dostupan. Pokušajte ponovo za koji trenutak.", "warning")
        return redirect(url_for("console.login"))


@blp.get("/login/google/callback")
def google_callback():
    """Back from Google: exchange the code (with the PKCE verifier), verify the ID token, sign in."""
    client = google_client()
    if client is None:
        abort(404)
    try:
        token = client.authorize_access_token()
        user = console_google_account(id_token=token.get("id_token") or "")
    except (OAuthError, JoseError, requests.RequestException) as exc:
        # The protocol failed (state, code exchange, Authlib's check of the ID token's nonce and signature).
        log.warning("console Google sign-in failed: %s", exc)
        flash("Prijava preko Google naloga nije uspela. Pokušajte ponovo.", "warning")
        return redirect(url_for("console.login"))
    except Forbidden as exc:
        log.info("console Google sign-in refused: %s", exc.message)
        return render_template("console/error.html", code=403, message=_refusal_text(exc)), 403
    except ApiError as exc:  # Unauthorized (a token we do not trust), 503 (Google's keys unreachable)
        log.warning("console Google sign-in refused: %s", exc.message)
        flash("Prijava preko Google naloga nije uspela: Google nalog nije potvrđen.", "warning")
        return redirect(url_for("console.login"))
    return redirect(_safe_next(console_session_start(user=user, method="google")))


def _refusal_text(exc):
    if "disabled" in exc.message:
        return "Ovaj nalog je onemogućen."
    return "Konzola je namenjena samo službenicima fakulteta i administratorima."


@blp.get("/link/<token>")
def link_sign_in(token):
    """A one-time link: signs its staff member in once, within 15 minutes; used or expired → the sign-in page."""
    try:
        user = console_link_use(secret=token)
    except LinkInvalid:
        flash("Link za prijavu je već iskorišćen ili je istekao. Zatražite novi.", "warning")
        return redirect(url_for("console.login"))
    if not user.is_active or user.role not in STAFF_ROLES:
        flash("Ovaj nalog više ne može da se prijavi u konzolu.", "warning")
        return redirect(url_for("console.login"))
    return redirect(_safe_next(console_session_start(user=user, method="link")))


@blp.post("/logout")
def logout():
    """Sign out (a form with its CSRF token, like every other change)."""
    console_session_end()
    flash("Odjavljeni ste.", "info")
    return redirect(url_for("console.login"))
