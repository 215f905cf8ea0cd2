"""Creating notifications: one message (its texts and data) for a group of users, an inbox row each, and its push
queued after commit. Every kind of notification — timetable and exam changes, announcements, the network's — is
made here, idempotently: a notification is keyed by its source and group, an inbox row by its user and source."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select, update

from raf_network.extensions import db
from raf_network.notifications.models import Notification, NotificationRecipient
from raf_network.notifications.preferences import PREFERENCE_OF_CATEGORY
from raf_network.notifications.tasks import push_after_commit
from raf_network.sql import insert_ignore
from raf_network.users.models import User

TIMEZONE = ZoneInfo("Europe/Belgrade")
MAX_DETAILS_CHARS = 2500  # FCM's data payload is limited to 4 KB in all


def utcnow():
    return datetime.now(timezone.utc)


def chunks(values, size=1000):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]



def notification_create(*, category, source, texts, data, user_ids, group_key="", urgent=False,
                        created_by_id=None):
    """One notification for ``user_ids`` (active users only get it), its push queued after commit; returns its id.

    Idempotent by (``source``, ``group_key``): called again it finds the same notification, and adds no second
    inbox row for a user (one per user and source). No commit: the caller's transaction. ``category`` is one of
    ``preferences.PREFERENCE_OF_CATEGORY`` (its pushes obey that preference)."""
    if category not in PREFERENCE_OF_CATEGORY:
        raise ValueError(f"unknown notification category {category!r}")
    db.session.execute(insert_ignore(Notification), [{
        "category": category, "source": source, "group_key": group_key, "texts": texts, "data": data,
        "urgent": urgent, "created_by_id": created_by_id,
    }])
    notification_id = db.session.scalar(
        select(Notification.id).where(Notification.source == source, Notification.group_key == group_key))
    for chunk in chunks(sorted(set(user_ids))):
        db.session.execute(insert_ignore(NotificationRecipient).from_select(
            ["notification_id", "user_id", "source"],
            select(literal(notification_id), User.id, literal(source)).where(User.id.in_(chunk), User.is_active)))
    recipient_count_refresh(notification_id)
    push_after_commit([notification_id])
    return notification_id


def recipient_count_refresh(notification_id):
    count = (select(func.count(NotificationRecipient.id))
             .where(NotificationRecipient.notification_id == notification_id).scalar_subquery())
    db.session.execute(update(Notification).where(Notification.id == notification_id)
                       .values(recipient_count=count))
