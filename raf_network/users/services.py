"""Users behaviour: sign-in and sessions, profiles and roles, devices, timetable subscriptions, calendar feed.

Functions are keyword-only and own their transaction (they commit); the HTTP routes and the
``flask users`` commands call the same ones.
"""
import logging
import re
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from raf_network.courses.models import Course, ScheduleEntry
from raf_network.courses.reads import schedule_entries_query, schedule_entry_get, schedule_sort_key
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
from raf_network.users.ical import calendar_render
from raf_network.users.models import ROLES, AuthSession, Device, RefreshToken, Subscription, User
from raf_network.users.signals import user_deleting, user_signed_in, user_updated

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


def user_role_set(*, email, role):
    """An operator sets a role; sign-in never changes it afterwards."""
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", errors={"role": [f"one of {', '.join(ROLES)}"]})
    user = user_by_email(email=email)
    if user.role != role:
        access_changed()
    user.role, user.role_set_by_admin = role, True
    db.session.commit()
    return user


def user_active_set(*, email, active):
    """Disable (ending every session at once) or re-enable an account."""
    user = user_by_email(email=email)
    user.is_active = active
    if not active:
        _sessions_revoke(user_id=user.id)
    db.session.commit()
    return user


def user_list():
    return db.session.scalars(select(User).order_by(User.email)).all()


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
    identity = google_id_token_verify(id_token)
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
    auth_session = session_create(user=user)
    db.session.flush()
    tokens = session_tokens_issue(user=user, auth_session=auth_session)
    db.session.commit()
    user_signed_in.send(user)
    return user, tokens


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


# --------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------

def device_register(*, user, auth_session, token, platform, app_version=None, locale=None):
    """Register or refresh the caller's device, keyed by its FCM token. Returns (device, created).

    A token another account registered moves to the caller: a phone has one owner, so a push never reaches
    two people. Beyond ``MAX_DEVICES_PER_USER`` the least recently seen devices are dropped.
    """
    for attempt in range(2):
        device = db.session.scalar(select(Device).where(Device.token == token))
        created = device is None or device.user_id != user.id
        if device is None:
            device = Device(token=token, user_id=user.id)
            db.session.add(device)
        device.user_id = user.id
        device.platform, device.app_version, device.locale = platform, app_version, locale
        device.last_seen_at = _now()
        auth_session.device_token = token
        try:
            db.session.flush()
            break
        except IntegrityError:
            # Registered concurrently by another request: update that row instead.
            db.session.rollback()
            if attempt:
                raise
    stale = db.session.scalars(
        select(Device.id).where(Device.user_id == user.id)
        .order_by(Device.last_seen_at.desc(), Device.id.desc())
        .offset(current_app.config["MAX_DEVICES_PER_USER"])
    ).all()
    if stale:
        db.session.execute(delete(Device).where(Device.id.in_(stale)))
    db.session.commit()
    return device, created


def device_list(*, user):
    return db.session.scalars(
        select(Device).where(Device.user_id == user.id).order_by(Device.last_seen_at.desc(), Device.id.desc())
    ).all()


def device_delete(*, user, token):
    """Remove one of the caller's devices; another user's token is as unknown as a made-up one (404)."""
    removed = db.session.execute(delete(Device).where(Device.user_id == user.id, Device.token == token)).rowcount
    if not removed:
        raise NotFound("no such device")
    db.session.commit()


def devices_prune(*, days):
    """Remove devices not seen for ``days`` days (their tokens are most likely dead). Returns how many."""
    cutoff = _now() - timedelta(days=days)
    result = db.session.execute(delete(Device).where(Device.last_seen_at < cutoff),
                                execution_options={"synchronize_session": False})
    db.session.commit()
    log.info("pruned %d device(s) not seen since %s", result.rowcount, cutoff.isoformat())
    return result.rowcount


# --------------------------------------------------------------------------------------------------
# Timetable subscriptions and the personal timetable
# --------------------------------------------------------------------------------------------------

def _subscriptions_query(*, user_id):
    """The user's subscriptions to live entries, with entry and course loaded in the same query."""
    return (
        select(Subscription)
        .join(Subscription.schedule_entry)
        .join(ScheduleEntry.course)
        .options(contains_eager(Subscription.schedule_entry).contains_eager(ScheduleEntry.course))
        .where(Subscription.user_id == user_id, ScheduleEntry.deleted_at.is_(None), Course.deleted_at.is_(None))
    )


def subscription_list(*, user):
    """The caller's subscriptions in timetable order (one query). Entries removed from the timetable are
    hidden, and come back if the entry does."""
    subscriptions = db.session.scalars(_subscriptions_query(user_id=user.id)).all()
    return sorted(subscriptions, key=lambda subscription: schedule_sort_key(subscription.schedule_entry))


def subscription_create(*, user, entry_id):
    """Subscribe to a live timetable entry. Returns (subscription, created); subscribing twice returns the
    existing subscription. An unknown or removed entry is NotFound."""
    entry = schedule_entry_get(entry_id=entry_id)
    existing_query = _subscriptions_query(user_id=user.id).where(Subscription.schedule_entry_id == entry.id)
    existing = db.session.scalar(existing_query)
    if existing is not None:
        return existing, False
    subscription = Subscription(user_id=user.id, schedule_entry_id=entry.id)
    db.session.add(subscription)
    try:
        db.session.commit()
    except IntegrityError:
        # The same subscribe sent twice at once: the other request created it.
        db.session.rollback()
        return db.session.scalar(existing_query), False
    return db.session.scalar(_subscriptions_query(user_id=user.id).where(Subscription.id == subscription.id)), True


def subscription_delete(*, user, subscription_id):
    """Unsubscribe. Another user's subscription is as unknown as a made-up id (404)."""
    removed = db.session.execute(
        delete(Subscription).where(Subscription.id == subscription_id, Subscription.user_id == user.id)
    ).rowcount
    if not removed:
        raise NotFound(f"subscription {subscription_id} does not exist")
    db.session.commit()


def user_schedule_list(*, user):
    """The timetable entries the user is subscribed to, in timetable order (one query)."""
    query = schedule_entries_query().join(
        Subscription, (Subscription.schedule_entry_id == ScheduleEntry.id) & (Subscription.user_id == user.id)
    )
    return sorted(db.session.scalars(query).all(), key=schedule_sort_key)


# --------------------------------------------------------------------------------------------------
# iCalendar feed
# --------------------------------------------------------------------------------------------------

def calendar_token_rotate(*, user):
    """A new secret for the user's calendar URL; the old URL stops working. Only the hash is stored, so
    the secret is shown this once."""
    secret = secrets.token_urlsafe(32)
    user.calendar_token = token_hash(secret)
    db.session.commit()
    return secret


def calendar_feed(*, secret):
    """The iCalendar feed (bytes) of the account whose calendar secret this is; NotFound otherwise."""
    user = db.session.scalar(
        select(User).where(User.calendar_token == token_hash(secret), User.is_active.is_(True))
    )
    if user is None:
        raise NotFound("no such calendar")
    config = current_app.config
    return calendar_render(entries=user_schedule_list(user=user), semester_start=config["SEMESTER_START"],
                           semester_end=config["SEMESTER_END"], locale=user.locale)
