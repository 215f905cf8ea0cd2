"""Announcements by the faculty's staff to an audience: everyone, a role, a course's or a timetable entry's
subscribers, or named users; and where their pushes stand (the officers' console shows it)."""
import logging
import uuid

from sqlalchemy import func, insert, literal, select

from raf_network.courses.models import Course, ScheduleEntry
from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.notifications.models import (
    DEFERRED,
    PENDING,
    RETRY,
    SENDING,
    Notification,
    NotificationRecipient,
    PushDelivery,
)
from raf_network.notifications.notify import chunks
from raf_network.notifications.tasks import push_after_commit
from raf_network.notifications.texts import announcement_texts
from raf_network.users.models import Device, Subscription, User

log = logging.getLogger(__name__)


def _audience_clause(audience):
    """A condition on User for the one audience key; NotFound (404) locates a reference to nothing."""
    def invalid(key, message):
        return NotFound("the audience names something that does not exist",
                        errors={"json": {"audience": {key: [message]}}})

    if audience.get("all"):
        return literal(True)
    if "role" in audience:
        return User.role == audience["role"]
    if "course_id" in audience:
        course_id = audience["course_id"]
        if db.session.scalar(select(Course.id).where(Course.id == course_id, Course.deleted_at.is_(None))) is None:
            raise invalid("course_id", f"course {course_id} does not exist")
        return User.id.in_(
            select(Subscription.user_id).join(ScheduleEntry, ScheduleEntry.id == Subscription.schedule_entry_id)
            .where(ScheduleEntry.course_id == course_id, ScheduleEntry.deleted_at.is_(None))
        )
    if "schedule_entry_id" in audience:
        entry_id = audience["schedule_entry_id"]
        if db.session.scalar(select(ScheduleEntry.id).where(
                ScheduleEntry.id == entry_id, ScheduleEntry.deleted_at.is_(None))) is None:
            raise invalid("schedule_entry_id", f"timetable entry {entry_id} does not exist")
        return User.id.in_(select(Subscription.user_id).where(Subscription.schedule_entry_id == entry_id))
    user_ids = sorted(set(audience["user_ids"]))
    known = set()
    for chunk in chunks(user_ids):
        known.update(db.session.scalars(select(User.id).where(User.id.in_(chunk))))
    unknown = [user_id for user_id in user_ids if user_id not in known]
    if unknown:
        raise invalid("user_ids", f"unknown user ids: {', '.join(map(str, unknown[:20]))}")
    return User.id.in_(user_ids)


def broadcast_create(*, sender_id, title, body, audience, data=None, dry_run=False):
    """Announce to an audience: an inbox row per active user in it, and a push to their devices.

    ``dry_run`` counts the recipients without storing or sending anything.
    """
    audience_users = select(User.id).where(User.is_active, _audience_clause(audience))
    if dry_run:
        recipients = db.session.scalar(select(func.count()).select_from(audience_users.subquery()))
        devices = db.session.scalar(select(func.count(Device.id)).where(Device.user_id.in_(audience_users)))
        db.session.rollback()
        return {"notification_id": None, "recipients": recipients, "devices": devices, "dry_run": True}
    source = f"broadcast:{uuid.uuid4().hex}"
    notification = Notification(
        category="announcement", source=source, group_key="", texts=announcement_texts(title=title, body=body),
        data={**(data or {}), "type": "announcement"}, urgent=False, created_by_id=sender_id,
    )
    db.session.add(notification)
    db.session.flush()
    db.session.execute(insert(NotificationRecipient).from_select(
        ["notification_id", "user_id", "source"],
        select(literal(notification.id), User.id, literal(source)).where(User.is_active, _audience_clause(audience)),
    ))
    recipients = select(NotificationRecipient.user_id).where(NotificationRecipient.notification_id == notification.id)
    notification.recipient_count = db.session.scalar(select(func.count()).select_from(recipients.subquery()))
    devices = db.session.scalar(select(func.count(Device.id)).where(Device.user_id.in_(recipients)))
    push_after_commit([notification.id])
    summary = {"notification_id": notification.id, "recipients": notification.recipient_count, "devices": devices,
               "dry_run": False}
    db.session.commit()
    log.info("broadcast %s by user %s to %d recipient(s)", summary["notification_id"], sender_id,
             summary["recipients"])
    return summary


def _broadcast(notification_id):
    notification = db.session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.source.like("broadcast:%")))
    if notification is None:
        raise NotFound(f"broadcast {notification_id} does not exist")
    return notification


def broadcast_progress(*, notification_id):
    """Where a broadcast's push stands (two queries): the notification with its outcome counts (sent, failed,
    pruned = dead tokens whose devices were removed, retry, deferred) and its deliveries by status; ``finished`` once
    nothing is waiting to be sent or in flight (deferred and retried pushes go out later, by their own jobs)."""
    notification = _broadcast(notification_id)
    by_status = dict(db.session.execute(
        select(PushDelivery.status, func.count(PushDelivery.id))
        .where(PushDelivery.notification_id == notification_id).group_by(PushDelivery.status)
    ).all())
    in_flight = by_status.get(PENDING, 0) + by_status.get(SENDING, 0)
    planned = sum(by_status.values())
    return {
        "notification": notification, "planned": planned, "in_flight": in_flight,
        "sent": notification.sent_count, "failed": notification.failed_count,
        "pruned": notification.invalid_token_count, "retry": by_status.get(RETRY, 0),
        "deferred": by_status.get(DEFERRED, 0),
        "finished": notification.pushed_at is not None or (planned > 0 and in_flight == 0),
    }


def broadcast_list(*, limit=20):
    """The latest broadcasts, newest first, with their outcome counts (one query)."""
    return db.session.scalars(
        select(Notification).where(Notification.source.like("broadcast:%"))
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ).all()
