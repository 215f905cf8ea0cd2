"""A student's own timetable: the timetable entries they attend (the app's subscriptions), and its iCalendar feed."""
import secrets

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from raf_network.courses.models import Course, ScheduleEntry
from raf_network.courses.reads import schedule_entries_query, schedule_entry_get, schedule_sort_key
from raf_network.errors import NotFound
from raf_network.extensions import db
from raf_network.users.auth import (
    token_hash,
)
from raf_network.users.ical import calendar_render
from raf_network.users.models import Subscription, User


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
