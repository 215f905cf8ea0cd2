"""The phones (and browsers) of an account that receive pushes, keyed by their FCM registration tokens."""
import logging
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.users.models import Device

log = logging.getLogger(__name__)


def _now():
    return datetime.now(timezone.utc)


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
