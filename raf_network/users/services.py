"""Users behaviour: sign-in and sessions, profiles and roles, devices, timetable subscriptions, calendar feed.

Functions are keyword-only and own their transaction (they commit); the HTTP routes and the
``flask users`` commands call the same ones.
"""
import logging
import re
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from raf_network.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from raf_network.extensions import db
from raf_network.users.auth import (
    access_changed,
    access_token_issue,
    session_create,
    session_tokens_issue,
    token_hash,
)
from raf_network.users.google import google_id_token_verify
from raf_network.users.models import ROLES, AuthSession, Device, RefreshToken, User
from raf_network.users.signals import user_access_changing, user_deleting, user_signed_in, user_updated

log = logging.getLogger(__name__)

# `mmarkovic1021rn`: the first run of digits, and the letters right after it (the study programme).
STUDENT_LOCAL_PART = re.compile(r"(\d+)([a-z]*)")
# Fields a user may change about themselves (PATCH /api/me).
EDITABLE_FIELDS = ("first_name", "last_name", "phone", "bio", "links", "locale")


def _now():
    return datetime.now(timezone.utc)


def _aware(moment):
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


# --------------------------------------------------------------------------------------------------
# Roles and accounts
# --------------------------------------------------------------------------------------------------

def role_for_email(email, *, student_domain):
    """(role, student number) for an address, by the original backend's rule.

    Faculty domain with digits in the local part → student, ``mmarkovic1021rn`` → ``RN10/21`` (letters after
    the digits upper-cased, the first two digits, ``/``, the rest); faculty domain without digits → staff
    (``faculty_administrator``); any other domain → ``alumni``.
    """
    local, _, domain = email.strip().lower().rpartition("@")
    if domain != student_domain.lower():
        return "alumni", None
    match = STUDENT_LOCAL_PART.search(local)
    if match is None:
        return "faculty_administrator", None
    digits, letters = match.groups()
    student_number = f"{letters.upper()}{digits[:2]}/{digits[2:]}" if len(digits) > 2 else None
    return "student", student_number


def user_by_email(*, email):
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with e-mail {email.strip().lower()!r}")
    return user


def user_create(*, email, role, first_name="", last_name=""):
    """An account made by an operator (``flask users create``); the role counts as set by an admin."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", errors={"role": [f"one of {', '.join(ROLES)}"]})
    if email.count("@") != 1 or email.startswith("@") or email.endswith("@"):
        raise ValidationFailed(f"{email!r} is not an e-mail address", errors={"email": ["not an e-mail address"]})
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email!r} already exists")
    derived_role, student_number = role_for_email(email, student_domain=current_app.config["STUDENT_EMAIL_DOMAIN"])
    user = User(email=email, role=role, role_set_by_admin=True, first_name=first_name, last_name=last_name,
                student_number=student_number if derived_role == "student" else None, links=[])
    db.session.add(user)
    db.session.commit()
    return user


def _actor_check(actor, user, *, role=None):
    """What a signed-in staff member (the console) may do to an account; ``actor`` None is an operator at the CLI.

    Only an admin grants the admin role or changes an admin's account, and nobody changes their own role or
    disables themselves there (the last admin could lock everyone out)."""
    if actor is None:
        return
    if actor.id == user.id:
        raise Forbidden("you cannot change your own role or disable your own account")
    if actor.role != "admin" and (role == "admin" or user.role == "admin"):
        raise Forbidden("only an admin may grant the admin role or change an admin's account")


def user_role_set(*, email, role, actor=None):
    """An operator (or, with ``actor``, a staff member in the console) sets a role; sign-in never changes it
    afterwards. A changed role ends the person's console sessions (``user_access_changing``)."""
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", errors={"role": [f"one of {', '.join(ROLES)}"]})
    user = user_by_email(email=email)
    _actor_check(actor, user, role=role)
    if user.role != role:
        access_changed()
        user_access_changing.send(user)
    user.role, user.role_set_by_admin = role, True
    db.session.commit()
    return user


def user_active_set(*, email, active, actor=None):
    """Disable (ending every session at once, the console's too) or re-enable an account."""
    user = user_by_email(email=email)
    _actor_check(actor, user)
    user.is_active = active
    if not active:
        _sessions_revoke(user_id=user.id)
        user_access_changing.send(user)
    db.session.commit()
    return user


def user_list():
    return db.session.scalars(select(User).order_by(User.email)).all()


def user_search(*, text="", role=None, page=1, page_size=25):
    """A page of accounts whose e-mail or name contains ``text`` (case-insensitive), by e-mail, and the total."""
    query = select(User)
    if text:
        pattern = "%" + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        name = func.lower(User.first_name + " " + User.last_name)
        query = query.where(or_(User.email.like(pattern, escape="\\"), name.like(pattern, escape="\\")))
    if role:
        query = query.where(User.role == role)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    users = db.session.scalars(query.order_by(User.email).limit(page_size).offset((page - 1) * page_size)).all()
    return users, total


def user_token_issue(*, email):
    """A fresh access token in a new session (``flask users token``: for operators and scripts)."""
    user = user_by_email(email=email)
    if not user.is_active:
        raise Forbidden("this account is disabled")
    auth_session = session_create(user=user)
    db.session.flush()
    token, _ = access_token_issue(user=user, auth_session=auth_session)
    db.session.commit()
    return token


def user_update(*, user, changes):
    """Apply validated profile changes (only ``EDITABLE_FIELDS``)."""
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS:
            raise ValidationFailed(f"{name} cannot be changed", errors={name: ["cannot be changed"]})
        setattr(user, name, value)
    db.session.commit()
    user_updated.send(user)
    return user


def user_delete(*, user_id):
    """Delete an account and everything personal: devices, subscriptions, sessions and refresh tokens go
    with it through ON DELETE CASCADE (as do the tables of later features that point at the user). Receivers of
    ``user_deleting`` (the alumni network) act in the same transaction."""
    user = db.session.get(User, user_id)
    if user is not None:
        user_deleting.send(user)
    access_changed()
    db.session.execute(delete(User).where(User.id == user_id))
    db.session.commit()


# --------------------------------------------------------------------------------------------------
# Sign-in and sessions
# --------------------------------------------------------------------------------------------------

def user_sign_in_google(*, id_token):
    """Verify a Google ID token, create the account on first sign-in, start a session.

    Returns (user, tokens). Later sign-ins refresh the names and never change a role an admin set.
    """
    user = user_google_account(identity=google_id_token_verify(id_token))
    auth_session = session_create(user=user)
    db.session.flush()
    tokens = session_tokens_issue(user=user, auth_session=auth_session)
    db.session.commit()
    user_signed_in.send(user)
    return user, tokens


def user_google_account(*, identity):
    """The account a verified Google identity signs in to (no commit: the caller's sign-in transaction).

    Created at the first sign-in with the role of its e-mail address; later sign-ins refresh the names and never
    change a role an admin set. Forbidden for a disabled account, Unauthorized for another Google account than the
    one recorded for the address. The app's sign-in and the officers' console share it."""
    role, student_number = role_for_email(identity.email, student_domain=current_app.config["STUDENT_EMAIL_DOMAIN"])
    user = db.session.scalar(select(User).where(User.email == identity.email))
    if user is None:
        user = User(email=identity.email, role=role, student_number=student_number, links=[],
                    first_name=identity.given_name or "", last_name=identity.family_name or "")
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            # The same person's first sign-in from two phones at once: the other request created it.
            db.session.rollback()
            user = db.session.scalar(select(User).where(User.email == identity.email))
    if not user.is_active:
        raise Forbidden("this account is disabled")
    _google_account_check(user, identity)
    if identity.given_name:
        user.first_name = identity.given_name
    if identity.family_name:
        user.last_name = identity.family_name
    if not user.role_set_by_admin:
        if user.role != role:
            access_changed()
        user.role, user.student_number = role, student_number
    user.last_login_at = _now()
    return user


def _google_account_check(user, identity):
    """Record the Google account of the first sign-in; refuse another Google account for the same e-mail."""
    if user.google_sub is None:
        user.google_sub = identity.subject
    elif user.google_sub != identity.subject:
        log.warning("Google sign-in refused for user %s (%s): the token is from another Google account than the "
                    "one recorded at first sign-in (the address may have been re-created); after checking, "
                    "`flask users clear-google-sub %s` lets the new account in", user.id, user.email, user.email)
        raise Unauthorized("this e-mail address now belongs to a different Google account than the one that "
                           "created this account; ask the faculty's support to check it")


def user_google_sub_clear(*, email):
    """Forget the Google account recorded for ``email`` (``flask users clear-google-sub``): the next sign-in
    records whichever account it comes from."""
    user = user_by_email(email=email)
    previous, user.google_sub = user.google_sub, None
    db.session.commit()
    log.warning("Google account of user %s (%s) cleared by an operator", user.id, user.email)
    return user, previous


def session_refresh(*, refresh_token):
    """Exchange a refresh token for a new access token and the next refresh token (rotation).

    A refresh token that was already exchanged is a replay (it leaked, or the client lost the race):
    its whole session (the token family) is revoked.
    """
    row = db.session.execute(
        select(RefreshToken, AuthSession, User)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(RefreshToken.token_hash == token_hash(refresh_token))
    ).first()
    if row is None:
        raise Unauthorized("the refresh token is invalid")
    stored, auth_session, user = row
    if auth_session.revoked_at is not None:
        raise Unauthorized("the refresh token has been revoked")
    if not user.is_active:
        raise Unauthorized("this account is disabled")
    now = _now()
    if _aware(stored.expires_at) <= now:
        raise Unauthorized("the refresh token has expired")
    # Claim the token atomically, so two concurrent uses cannot both succeed.
    claimed = db.session.execute(
        update(RefreshToken).where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None)).values(used_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not claimed:
        db.session.execute(
            update(AuthSession).where(AuthSession.id == auth_session.id).values(revoked_at=now),
            execution_options={"synchronize_session": False},
        )
        access_changed()
        db.session.commit()
        log.warning("refresh token reused; session %s of user %s revoked", auth_session.id, user.id)
        raise Unauthorized("the refresh token was already used; this session has been ended")
    tokens = session_tokens_issue(user=user, auth_session=auth_session)
    db.session.commit()
    return tokens


def session_end(*, user, auth_session, device_token=None):
    """Log out: revoke the session (its access and refresh tokens) and remove the phone it registered
    (``device_token`` if given, else the session's). Only the caller's own device is ever removed."""
    auth_session.revoked_at = _now()
    access_changed()
    token = device_token or auth_session.device_token
    if token:
        db.session.execute(delete(Device).where(Device.user_id == user.id, Device.token == token))
    db.session.commit()


def _sessions_revoke(*, user_id):
    access_changed()
    db.session.execute(
        update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=_now()),
        execution_options={"synchronize_session": False},
    )
