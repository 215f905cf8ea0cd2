"""The push fan-out engine: one notification to every device of its recipients, batched, claimed, sent, recorded.

``notification_push_run`` walks the recipients' devices in batches of at most ``PUSH_BATCH_SIZE`` with a constant
number of statements per batch, and per chunk of ``PUSH_CHUNK_SIZE`` claims the ``push_delivery`` rows, sends them
(``push.push_send``) and records their outcomes right away; a claim left by a dead run is sent again, so no push
is lost. The job that runs it (with retries and quiet hours) is ``tasks.notification_push``.
"""
import logging
import secrets
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, text, update

from raf_network.extensions import db
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
from raf_network.notifications.preferences import PREFERENCE_OF_CATEGORY, quiet_until
from raf_network.notifications.texts import LOCALES, locale_of
from raf_network.sql import insert_ignore
from raf_network.users.models import Device, User

log = logging.getLogger(__name__)


def _utcnow():
    return datetime.now(timezone.utc)


def _chunks(values, size):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]



# --------------------------------------------------------------------------------------------------
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
        db.session.execute(insert_ignore(PushDelivery), planned)
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
