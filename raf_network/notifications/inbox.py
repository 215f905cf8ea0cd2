"""A user's inbox: every notification they received (whatever their push preferences), newest first."""
from datetime import datetime, timezone

from sqlalchemy import func, select, update

from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.notifications.models import Notification, NotificationRecipient
from raf_network.notifications.texts import LOCALES, locale_of


def _utcnow():
    return datetime.now(timezone.utc)


def _inbox_item(notification, read_at, locale):
    text = notification.texts.get(locale) or notification.texts.get(LOCALES[0]) or {}
    return {"id": notification.id, "category": notification.category, "title": text.get("title", ""),
            "body": text.get("body", ""), "data": notification.data, "created_at": notification.created_at,
            "read_at": read_at}


def inbox_list(*, user, limit=20, before=None):
    """A user's notifications, newest first (``before``: an id, for the next page), with the unread count."""
    query = (
        select(Notification, NotificationRecipient.read_at)
        .join(NotificationRecipient, NotificationRecipient.notification_id == Notification.id)
        .where(NotificationRecipient.user_id == user.id)
        .order_by(NotificationRecipient.notification_id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(NotificationRecipient.notification_id < before)
    rows = db.session.execute(query).all()
    unread = db.session.scalar(select(func.count(NotificationRecipient.id)).where(
        NotificationRecipient.user_id == user.id, NotificationRecipient.read_at.is_(None)))
    locale = locale_of(user.locale)
    items = [_inbox_item(notification, read_at, locale) for notification, read_at in rows[:limit]]
    return {"items": items, "unread_count": unread,
            "next_before": items[-1]["id"] if len(rows) > limit else None}


def inbox_mark_read(*, user_id, notification_id):
    """Mark one of the user's own notifications read (404 for anyone else's)."""
    result = db.session.execute(
        update(NotificationRecipient)
        .where(NotificationRecipient.user_id == user_id, NotificationRecipient.notification_id == notification_id)
        .values(read_at=func.coalesce(NotificationRecipient.read_at, _utcnow())),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount == 0:
        db.session.rollback()
        raise NotFound(f"notification {notification_id} does not exist")
    db.session.commit()


def inbox_mark_all_read(*, user_id):
    result = db.session.execute(
        update(NotificationRecipient)
        .where(NotificationRecipient.user_id == user_id, NotificationRecipient.read_at.is_(None))
        .values(read_at=_utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount
