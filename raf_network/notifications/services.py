"""Notifications: who gets what (timetable changes, announcements), the inbox, preferences, and the push fan-out.

Services own their transactions. Pushes leave through RQ jobs enqueued after commit
(``raf_network.notifications.tasks``); the fan-out (``notification_push_run``) walks the recipients' devices in
batches of at most 500 with a constant number of statements per batch, and per chunk of ``PUSH_CHUNK_SIZE`` claims
the ``push_delivery`` rows, sends them, and records their outcomes right away. A claim left by a dead run is sent
again (``notifications_recover`` restarts interrupted fan-outs), so no push is lost; what is exactly-once is our
record per device, the wire is at-least-once for the pushes in flight when a worker dies (see the README).
"""
import hashlib
import json
import logging
import secrets
import time as clock
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, delete, exists, func, insert, literal, or_, select, text, update

from raf_network.courses.models import DAY_CODES, KIND_TO_TYPE, Course, ScheduleEntry
from raf_network.errors import NotFound, ValidationFailed
from raf_network.extensions import db
from raf_network.jobs import Retry, enqueue, enqueue_after_commit
from raf_network.notifications import push
from raf_network.notifications.models import (
    DEFERRED,
    FAILED,
    INVALID_TOKEN,
    PENDING,
    RETRY,
    SENDING,
    SENT,
    Notification,
    NotificationPreference,
    NotificationRecipient,
    PushDelivery,
)
from raf_network.notifications.texts import LOCALES, announcement_texts, locale_of, timetable_texts
from raf_network.users.models import Device, Subscription, User

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Belgrade")
PREFERENCE_OF_CATEGORY = {"timetable_change": "timetable_changes", "announcement": "announcements",
                          "comment": "comments"}
PREFERENCES = tuple(PREFERENCE_OF_CATEGORY.values())
MAX_DETAILS_CHARS = 2500  # FCM's data payload is limited to 4 KB in all


def _utcnow():
    return datetime.now(timezone.utc)


def _chunks(values, size=1000):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _insert_ignore(model):
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite alike."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model).on_conflict_do_nothing()


def push_retry():
    """RQ retry policy of push jobs: one retry per configured interval (exponential backoff)."""
    intervals = current_app.config["PUSH_RETRY_INTERVALS"]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def _push_after_commit(notification_ids):
    from raf_network.notifications.tasks import notification_push

    for notification_id in notification_ids:
        enqueue_after_commit(notification_push, notification_id, queue="notifications", retry=push_retry())


# --------------------------------------------------------------------------------------------------
# Timetable changes
# --------------------------------------------------------------------------------------------------

def _entry_change(row, fields, *, cancelled):
    return {
        "entry_id": row.id, "course": row.name, "type": KIND_TO_TYPE.get(row.kind, "LEC"),
        "change": "cancelled" if cancelled else "updated", "fields": {} if cancelled else (fields or {}),
        "day": DAY_CODES[row.day], "start": row.start_time.strftime("%H:%M"),
    }


def _is_soon(change, today):
    """A change to a class today or tomorrow (either its old or its new day) is urgent."""
    days = {change["day"], *change["fields"].get("day", [])}
    soon = {DAY_CODES[today], DAY_CODES[(today + 1) % 7]}
    return bool(days & soon)


def _details(changes):
    details = [{"entry_id": change["entry_id"], "change": change["change"], "fields": change["fields"]}
               for change in changes]
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DETAILS_CHARS:  # too many to detail: the app reloads the timetable by ids
        text = json.dumps([{"entry_id": c["entry_id"], "change": c["change"]} for c in changes][:100])
    return text


def _subscribers_by_entries(entry_ids):
    """{(entry ids a user attends, sorted): [user ids]} for the changed entries."""
    per_user = defaultdict(list)
    for chunk in _chunks(sorted(entry_ids)):
        rows = db.session.execute(
            select(Subscription.user_id, Subscription.schedule_entry_id)
            .join(User, User.id == Subscription.user_id)
            .where(Subscription.schedule_entry_id.in_(chunk), User.is_active)
        )
        for user_id, entry_id in rows:
            per_user[user_id].append(entry_id)
    groups = defaultdict(list)
    for user_id, attended in per_user.items():
        groups[tuple(sorted(attended))].append(user_id)
    return groups


def timetable_changes_notify(*, changes, source):
    """Tell each subscriber of a changed or removed timetable entry, once per change set.

    ``changes`` is ``ChangeSet.to_json()``; ``source`` names the change set ("webhook:<id>") and makes this
    idempotent: re-running it finds the same notifications and inbox rows. Subscribers attending the same
    changed entries share one notification (a summary of their changes); everyone else gets nothing.
    Returns the notification ids; their pushes are enqueued after this commits.
    """
    updated = (changes.get("updated") or {}).get("schedule") or {}
    removed = set((changes.get("removed") or {}).get("schedule") or [])
    external_ids = sorted(set(updated) | removed)
    entries = {}
    for chunk in _chunks(external_ids):
        rows = db.session.execute(
            select(ScheduleEntry.id, ScheduleEntry.external_id, ScheduleEntry.kind, ScheduleEntry.day,
                   ScheduleEntry.start_time, Course.name)
            .join(Course, Course.id == ScheduleEntry.course_id)
            .where(ScheduleEntry.external_id.in_(chunk))
        )
        for row in rows:
            entries[row.id] = _entry_change(row, updated.get(row.external_id),
                                            cancelled=row.external_id in removed)
    if not entries:
        return []
    today = _utcnow().astimezone(TIMEZONE).weekday()
    notification_ids = []
    for signature, user_ids in _subscribers_by_entries(entries).items():
        group_changes = [entries[entry_id] for entry_id in signature]
        notification_id = _notification_upsert(
            category="timetable_change", source=source,
            group_key=hashlib.sha1(",".join(map(str, signature)).encode()).hexdigest(),
            texts=timetable_texts(group_changes),
            data={"type": "timetable_change", "schedule_entry_ids": ",".join(map(str, signature)),
                  "changes": _details(group_changes)},
            urgent=any(_is_soon(change, today) for change in group_changes),
        )
        for chunk in _chunks(user_ids):
            db.session.execute(_insert_ignore(NotificationRecipient), [
                {"notification_id": notification_id, "user_id": user_id, "source": source} for user_id in chunk
            ])
        _recipient_count_refresh(notification_id)
        notification_ids.append(notification_id)
    _push_after_commit(notification_ids)
    db.session.commit()
    log.info("timetable change %s: %d notification(s) for %d entries", source, len(notification_ids), len(entries))
    return notification_ids


def notification_create(*, category, source, texts, data, user_ids, group_key="", urgent=False,
                        created_by_id=None) -> int:
    """One notification for ``user_ids`` (the active ones), pushed after the caller's transaction commits.

    Idempotent by (``source``, ``group_key``): calling it again finds the same notification and adds only the
    inbox rows it lacks (one per user); the push job, enqueued again, sends nothing twice. No commit: the
    notification is stored with whatever caused it. ``category`` is one of ``PREFERENCE_OF_CATEGORY``."""
    if category not in PREFERENCE_OF_CATEGORY:
        raise ValueError(f"unknown notification category {category!r}")
    notification_id = _notification_upsert(category=category, source=source, group_key=group_key, texts=texts,
                                           data=data, urgent=urgent)
    if created_by_id is not None:
        db.session.execute(update(Notification).where(Notification.id == notification_id,
                                                      Notification.created_by_id.is_(None))
                           .values(created_by_id=created_by_id))
    for chunk in _chunks(sorted(set(user_ids))):
        active = db.session.scalars(select(User.id).where(User.id.in_(chunk), User.is_active)).all()
        if active:
            db.session.execute(_insert_ignore(NotificationRecipient), [
                {"notification_id": notification_id, "user_id": user_id, "source": source} for user_id in active
            ])
    _recipient_count_refresh(notification_id)
    _push_after_commit([notification_id])
    return notification_id


def _notification_upsert(*, category, source, group_key, texts, data, urgent):
    db.session.execute(_insert_ignore(Notification), [{
        "category": category, "source": source, "group_key": group_key, "texts": texts, "data": data,
        "urgent": urgent,
    }])
    return db.session.scalar(
        select(Notification.id).where(Notification.source == source, Notification.group_key == group_key)
    )


def _recipient_count_refresh(notification_id):
    count = (select(func.count(NotificationRecipient.id))
             .where(NotificationRecipient.notification_id == notification_id).scalar_subquery())
    db.session.execute(update(Notification).where(Notification.id == notification_id)
                       .values(recipient_count=count))


# --------------------------------------------------------------------------------------------------
# Announcements
# --------------------------------------------------------------------------------------------------

def _audience_clause(audience):
    """A condition on User for the one audience key; ValidationFailed (422) locates a bad reference."""
    def invalid(key, message):
        return ValidationFailed("the audience is invalid", errors={"json": {"audience": {key: [message]}}})

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
    for chunk in _chunks(user_ids):
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
    _push_after_commit([notification.id])
    summary = {"notification_id": notification.id, "recipients": notification.recipient_count, "devices": devices,
               "dry_run": False}
    db.session.commit()
    log.info("broadcast %s by user %s to %d recipient(s)", summary["notification_id"], sender_id,
             summary["recipients"])
    return summary


# --------------------------------------------------------------------------------------------------
# Inbox
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Preferences
# --------------------------------------------------------------------------------------------------

def _preferences_dump(preference):
    quiet = None
    if preference is not None and preference.quiet_start is not None:
        quiet = {"start": preference.quiet_start, "end": preference.quiet_end}
    return {
        **{name: getattr(preference, name) if preference else True for name in PREFERENCES},
        "quiet_hours": quiet,
        "timezone": TIMEZONE.key,
    }


def preferences_get(*, user_id):
    return _preferences_dump(db.session.get(NotificationPreference, user_id))


def preferences_update(*, user_id, changes):
    """Change some preferences; ``quiet_hours: None`` switches quiet hours off."""
    preference = db.session.get(NotificationPreference, user_id)
    if preference is None:
        preference = NotificationPreference(user_id=user_id, **dict.fromkeys(PREFERENCES, True))
        db.session.add(preference)
    for name in PREFERENCES:
        if name in changes:
            setattr(preference, name, changes[name])
    if "quiet_hours" in changes:
        quiet = changes["quiet_hours"]
        preference.quiet_start = quiet["start"] if quiet else None
        preference.quiet_end = quiet["end"] if quiet else None
    db.session.commit()
    return _preferences_dump(preference)


def quiet_until(moment, start, end):
    """When quiet hours [start, end) (Belgrade local times) containing ``moment`` end, in UTC; else None."""
    local = moment.astimezone(TIMEZONE)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= now < end, local.date()
    else:  # spans midnight, e.g. 22:00–07:00
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=TIMEZONE).astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------

def devices_prune(*, days):
    """Remove devices not seen for ``days`` days (their tokens are most likely dead). Returns how many."""
    cutoff = _utcnow() - timedelta(days=days)
    result = db.session.execute(delete(Device).where(Device.last_seen_at < cutoff),
                                execution_options={"synchronize_session": False})
    db.session.commit()
    log.info("pruned %d device(s) not seen since %s", result.rowcount, cutoff.isoformat())
    return result.rowcount


# --------------------------------------------------------------------------------------------------
# Push fan-out
#
# Each run of the push job is a claimer with a random token. Per chunk it claims deliveries (status "sending",
# its token, claimed_at), commits, sends them, and records their outcomes in the next commit, only on rows it
# still holds. A claim is stale once its run is dead — on PostgreSQL every run holds an advisory lock on its token
# for as long as its process lives, so a SIGKILL frees it at once — or, where liveness cannot be seen (SQLite, a
# hung process), once its lease (PUSH_CLAIM_LEASE) has expired. Stale claims are due again, like pending ones.
#
# Exactly once: the recorded outcome of each delivery (one row, one final status, counted once). At least once:
# the wire. A chunk sent but not yet recorded when its worker dies is sent again by the next run; FCM has no
# idempotency key, so the pushes of that chunk that had reached FCM arrive twice (at most PUSH_CHUNK_SIZE per kill),
# and their collapse id makes the device show one.
# --------------------------------------------------------------------------------------------------

# pg_advisory_lock(CLAIM_LOCK_CLASS, token) is held by every live run (the two-key form: apart from the webhook's
# one-key locks). Any constant int4 of ours alone: "push" in ASCII.
CLAIM_LOCK_CLASS = 0x70757368
UNFINISHED_STATUSES = (PENDING, SENDING)
WAIT_POLL_SECONDS = 0.2


@dataclass
class PushRun:
    """What one run of the push job did (counts per device)."""

    sent: int = 0
    failed: int = 0
    invalid_tokens: int = 0
    retry: int = 0
    batches: int = 0
    chunks: int = 0
    lost_claims: int = 0  # outcomes not recorded because another run took the claim over (lease overrun)
    deferred_until: list = field(default_factory=list)  # when deferred pushes fall due (UTC)


class _Claimer:
    """One run of the push job as the holder of claims: a random token, advertised as alive on PostgreSQL by a
    session advisory lock on a connection of its own, which the server releases when the process dies."""

    def __init__(self):
        self.token = secrets.randbelow(2**31 - 2) + 1
        self._connection = None

    def __enter__(self):
        if db.engine.dialect.name == "postgresql":
            self._connection = db.engine.connect()
            self._connection.execute(text("SELECT pg_advisory_lock(:class, :token)"),
                                     {"class": CLAIM_LOCK_CLASS, "token": self.token})
            self._connection.commit()
        return self

    def __exit__(self, *exc_info):
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:class, :token)"),
                                     {"class": CLAIM_LOCK_CLASS, "token": self.token})
            self._connection.commit()
        except Exception:  # noqa: BLE001 — never hand a connection that may still hold the lock back to the pool
            log.warning("could not release push claimer lock %s; discarding its connection", self.token)
            self._connection.invalidate()
        finally:
            self._connection.close()


def _claimers_alive():
    """Tokens of the runs alive now (PostgreSQL), or None where that cannot be seen (SQLite: leases only)."""
    if db.engine.dialect.name != "postgresql":
        return None
    return set(db.session.scalars(text(
        "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND classid = :class AND objsubid = 2 "
        "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ), {"class": CLAIM_LOCK_CLASS}))


def _lease():
    return timedelta(seconds=current_app.config["PUSH_CLAIM_LEASE"])


def _claim_stale(now, dead_tokens):
    """A claim nobody will record: its run is dead, or its lease has expired (or it predates leases)."""
    stale = or_(PushDelivery.claimed_at.is_(None), PushDelivery.claimed_at < now - _lease())
    if dead_tokens:
        stale = or_(stale, PushDelivery.claim_token.in_(dead_tokens))
    return and_(PushDelivery.status == SENDING, stale)


def _due(now, dead_tokens):
    return or_(PushDelivery.status.in_((PENDING, RETRY)),
               and_(PushDelivery.status == DEFERRED, PushDelivery.not_before <= now),
               _claim_stale(now, dead_tokens))


def notification_push_run(*, notification_id, final_attempt=True):
    """Push a notification to its recipients' devices: plan a delivery per device, then send what is due.

    Idempotent: a delivery is sent by whoever claims it, and its outcome recorded once; a re-run sends only
    ``pending``, ``retry``, due ``deferred`` deliveries and stale claims (a dead run's), and waits for live runs'
    claims to be recorded (or to go stale), so it finishes with nothing in flight.
    ``final_attempt``: transient failures become ``failed`` instead of waiting for a retry.
    """
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        log.warning("notification %s no longer exists; nothing to push", notification_id)
        return PushRun()
    category, urgent = notification.category, notification.urgent
    collapse_id = f"raf-notification-{notification_id}"
    contents = {
        locale: push.PushContent(
            title=text["title"], body=text["body"], locale=locale, category=category, collapse_id=collapse_id,
            data={**{key: str(value) for key, value in notification.data.items()},
                  "notification_id": str(notification_id)},
        )
        for locale, text in notification.texts.items()
    }
    db.session.commit()
    run = PushRun()
    batch_size = current_app.config["PUSH_BATCH_SIZE"]
    with _Claimer() as claimer:
        _deliveries_plan(notification_id, category=category, urgent=urgent, batch_size=batch_size)
        _deliveries_send(notification_id, contents=contents, run=run, final_attempt=final_attempt,
                         claimer=claimer)
    _push_finish(notification_id, run)
    return run


def _deliveries_plan(notification_id, *, category, urgent, batch_size):
    """A pending (or, in quiet hours, deferred) delivery row per device of a recipient who wants this push."""
    wants = getattr(NotificationPreference, PREFERENCE_OF_CATEGORY[category])
    cursor = 0
    while True:
        rows = db.session.execute(
            select(Device.id, NotificationPreference.quiet_start, NotificationPreference.quiet_end)
            .join(NotificationRecipient, NotificationRecipient.user_id == Device.user_id)
            .join(User, User.id == Device.user_id)
            .outerjoin(NotificationPreference, NotificationPreference.user_id == Device.user_id)
            .outerjoin(PushDelivery, and_(PushDelivery.notification_id == notification_id,
                                          PushDelivery.device_id == Device.id))
            .where(NotificationRecipient.notification_id == notification_id, Device.id > cursor,
                   PushDelivery.id.is_(None), User.is_active,
                   or_(NotificationPreference.user_id.is_(None), wants))
            .order_by(Device.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        cursor = rows[-1].id
        now = _utcnow()
        planned = []
        for device_id, quiet_start, quiet_end in rows:
            until = None
            if not urgent and quiet_start is not None and quiet_end is not None:
                until = quiet_until(now, quiet_start, quiet_end)
            planned.append({"notification_id": notification_id, "device_id": device_id,
                            "status": DEFERRED if until else PENDING, "not_before": until, "attempts": 0})
        db.session.execute(_insert_ignore(PushDelivery), planned)
        db.session.commit()


def _deliveries_send(notification_id, *, contents, run, final_attempt, claimer):
    """Send what is due, pass after pass, until no other live run holds a claim on this notification."""
    waited_since = None
    while True:
        claimed = _deliveries_send_pass(notification_id, contents=contents, run=run, final_attempt=final_attempt,
                                        claimer=claimer)
        held = db.session.scalar(select(func.count(PushDelivery.id)).where(
            PushDelivery.notification_id == notification_id, PushDelivery.status == SENDING,
            PushDelivery.device_id.is_not(None)))
        db.session.commit()
        if not held:
            _orphans_settle(notification_id, run)
            return
        # Another run's claims: recorded in a moment if it is alive, due again once it is seen dead or its lease
        # expires. Wait for either, so that this run ends with every delivery of the notification settled.
        waited_since = None if claimed else (waited_since or clock.monotonic())
        if waited_since is not None and clock.monotonic() - waited_since > 2 * _lease().total_seconds():
            log.warning("notification %s: %d claim(s) of another run neither recorded nor stale; leaving them "
                        "to it (or to recovery)", notification_id, held)
            return
        clock.sleep(WAIT_POLL_SECONDS)


def _orphans_settle(notification_id, run):
    """Deliveries whose device was removed before they were sent (or while a dead run held them) are failed:
    there is nothing left to send them to, and they must not keep the push unfinished."""
    now = _utcnow()
    settled = db.session.execute(
        update(PushDelivery)
        .where(PushDelivery.notification_id == notification_id, PushDelivery.device_id.is_(None),
               or_(PushDelivery.status.in_((PENDING, RETRY, DEFERRED)), _claim_stale(now, [])))
        .values(status=FAILED, error="DEVICE_REMOVED", updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if settled:
        db.session.execute(update(Notification).where(Notification.id == notification_id)
                           .values(failed_count=Notification.failed_count + settled))
        run.failed += settled
    db.session.commit()


def _deliveries_send_pass(notification_id, *, contents, run, final_attempt, claimer):
    """One keyset walk over the due deliveries; returns how many this run claimed."""
    config = current_app.config
    alive = _claimers_alive()
    dead_tokens = []
    if alive is not None:
        dead_tokens = [token for token in db.session.scalars(
            select(PushDelivery.claim_token).distinct()
            .where(PushDelivery.notification_id == notification_id, PushDelivery.status == SENDING,
                   PushDelivery.claim_token.is_not(None))
        ) if token not in alive]
    if dead_tokens:
        log.warning("notification %s: claims of %d dead run(s) are sent again", notification_id, len(dead_tokens))
    default = contents.get(LOCALES[0]) or next(iter(contents.values()))
    claimed_total = 0
    cursor = 0
    while True:
        rows = db.session.execute(
            select(PushDelivery.id, PushDelivery.device_id, Device.token, User.locale)
            .join(Device, Device.id == PushDelivery.device_id)
            .join(User, User.id == Device.user_id)
            .where(PushDelivery.notification_id == notification_id, PushDelivery.id > cursor,
                   _due(_utcnow(), dead_tokens))
            .order_by(PushDelivery.id)
            .limit(config["PUSH_BATCH_SIZE"])
        ).all()
        if not rows:
            db.session.commit()
            return claimed_total
        cursor = rows[-1].id
        run.batches += 1
        sent = None  # (batch, results) sent and not yet recorded: recorded in the commit claiming the next chunk
        for chunk in _chunks(rows, config["PUSH_CHUNK_SIZE"]):
            batch = _chunk_claim(chunk, claimer=claimer, dead_tokens=dead_tokens)
            if sent is not None:
                _outcomes_record(notification_id, *sent, run=run, final_attempt=final_attempt, claimer=claimer)
                sent = None
            db.session.commit()  # the claim before anything of this chunk is sent
            if not batch:
                continue
            claimed_total += len(batch)
            items = [push.PushItem(token=row.token, content=contents.get(locale_of(row.locale), default))
                     for row in batch]
            sent = (batch, push.push_send(items, notification_id=notification_id))
            run.chunks += 1
        if sent is not None:
            _outcomes_record(notification_id, *sent, run=run, final_attempt=final_attempt, claimer=claimer)
            db.session.commit()


def _chunk_claim(chunk, *, claimer, dead_tokens):
    """The claim (committed by the caller before anything is sent): rows still due become this run's."""
    now = _utcnow()
    claimed = set(db.session.scalars(
        update(PushDelivery)
        .where(PushDelivery.id.in_([row.id for row in chunk]), _due(now, dead_tokens))
        .values(status=SENDING, claim_token=claimer.token, claimed_at=now, attempts=PushDelivery.attempts + 1,
                updated_at=now)
        .returning(PushDelivery.id),
        execution_options={"synchronize_session": False},
    ))
    return [row for row in chunk if row.id in claimed]


_STATUS_OF_OUTCOME = {push.SENT: SENT, push.INVALID_TOKEN: INVALID_TOKEN, push.RETRY: RETRY, push.FAILED: FAILED}


def _outcomes_record(notification_id, batch, results, *, run, final_attempt, claimer):
    """One UPDATE per (status, error) group on the rows this run still holds, one DELETE for dead tokens, one
    counter update from what was actually recorded. A row taken over by another run (this one overran its lease)
    keeps that run's outcome: counted once, by the run that recorded it."""
    groups = defaultdict(list)
    for row, result in zip(batch, results, strict=True):
        status = _STATUS_OF_OUTCOME[result.outcome]
        if status == RETRY and final_attempt:
            status = FAILED
        groups[(status, result.error)].append(row.id)
    now = _utcnow()
    counts = defaultdict(int)
    dead_devices = []
    for (status, error), ids in groups.items():
        recorded = db.session.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_(ids), PushDelivery.status == SENDING,
                   PushDelivery.claim_token == claimer.token)
            .values(status=status, error=error, updated_at=now)
            .returning(PushDelivery.device_id),
            execution_options={"synchronize_session": False},
        ).scalars().all()
        counts[status] += len(recorded)
        if status == INVALID_TOKEN:
            dead_devices.extend(device_id for device_id in recorded if device_id is not None)
    lost = len(batch) - sum(counts.values())
    if lost:
        run.lost_claims += lost
        log.warning("notification %s: %d claim(s) were taken over by another run before their outcome was "
                    "recorded (this run overran PUSH_CLAIM_LEASE); those pushes may have been sent twice",
                    notification_id, lost)
    if dead_devices:
        db.session.execute(delete(Device).where(Device.id.in_(dead_devices)),
                           execution_options={"synchronize_session": False})
        log.info("removed %d device(s) whose FCM token is dead", len(dead_devices))
    db.session.execute(update(Notification).where(Notification.id == notification_id).values(
        sent_count=Notification.sent_count + counts[SENT],
        failed_count=Notification.failed_count + counts[FAILED],
        invalid_token_count=Notification.invalid_token_count + counts[INVALID_TOKEN],
        retry_count=Notification.retry_count + counts[RETRY],
    ))
    run.sent += counts[SENT]
    run.failed += counts[FAILED]
    run.invalid_tokens += counts[INVALID_TOKEN]
    run.retry += counts[RETRY]


def _aware(moment):
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _push_finish(notification_id, run):
    """Store the deferred count; the push is done (``pushed_at``) once no delivery waits or is in flight."""
    waiting = db.session.execute(
        select(PushDelivery.status, PushDelivery.not_before, func.count(PushDelivery.id))
        .where(PushDelivery.notification_id == notification_id,
               PushDelivery.status.in_((DEFERRED, RETRY, *UNFINISHED_STATUSES)))
        .group_by(PushDelivery.status, PushDelivery.not_before)
    ).all()
    deferred = sum(count for status, _, count in waiting if status == DEFERRED)
    run.deferred_until = sorted({_aware(not_before) for status, not_before, _ in waiting
                                 if status == DEFERRED and not_before is not None})
    values = {"deferred_count": deferred}
    if not waiting:
        values["pushed_at"] = _utcnow()
    db.session.execute(update(Notification).where(Notification.id == notification_id).values(**values))
    db.session.commit()


def deliveries_pending_retry(*, notification_id):
    return db.session.scalar(select(func.count(PushDelivery.id)).where(
        PushDelivery.notification_id == notification_id, PushDelivery.status == RETRY))


def notifications_recover():
    """Enqueue the push job again for every fan-out a dead worker left unfinished; returns the notification ids.

    RQ itself only notices a job whose worker died after JOB_TIMEOUT + 60 s, and then only at a maintenance tick
    (10 min); so workers run this when they start and at each maintenance tick (``app.extensions["worker_hooks"]``),
    and operators can run ``flask notifications recover``. Interrupted means not marked pushed, created within
    PUSH_RECOVER_WINDOW, and either never planned or with deliveries pending or claimed. Retries and deferred
    pushes are not touched: the RQ scheduler holds their jobs. A fan-out still running elsewhere is harmless to
    enqueue again: the two runs share the work through their claims.
    """
    since = _utcnow() - timedelta(seconds=current_app.config["PUSH_RECOVER_WINDOW"])
    unfinished = exists().where(PushDelivery.notification_id == Notification.id,
                                PushDelivery.status.in_(UNFINISHED_STATUSES))
    unplanned = ~exists().where(PushDelivery.notification_id == Notification.id)
    notification_ids = list(db.session.scalars(
        select(Notification.id)
        .where(Notification.pushed_at.is_(None), Notification.created_at >= since, or_(unfinished, unplanned))
        .order_by(Notification.id)
    ))
    db.session.rollback()
    from raf_network.notifications.tasks import notification_push

    for notification_id in notification_ids:
        enqueue(notification_push, notification_id, queue="notifications", retry=push_retry())
    if notification_ids:
        log.warning("recovery: push of notification(s) %s enqueued again (interrupted fan-out)", notification_ids)
    return notification_ids
