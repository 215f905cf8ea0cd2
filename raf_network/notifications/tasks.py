"""The push job of the ``notifications`` queue, and how it is queued: after the commit that created the notification,
again when quiet hours end, again with backoff for the devices that failed transiently, and again by recovery
when a worker died mid fan-out. It takes an id and is idempotent (see ``fanout``).

``raf_network.jobs`` gives each run an application context (and database session) of its own, in the worker and
inline alike, and logs an inline job's failure instead of failing the request that caused it.
"""
import logging
from datetime import datetime, timedelta, timezone

from flask import current_app
from rq import get_current_job
from sqlalchemy import exists, or_, select

from raf_network.extensions import db
from raf_network.jobs import Retry, enqueue, enqueue_after_commit, queue_get
from raf_network.notifications.fanout import UNFINISHED_STATUSES, notification_push_run
from raf_network.notifications.models import Notification, PushDelivery

log = logging.getLogger(__name__)


class PushRetryPending(Exception):
    """Some devices failed transiently; raising makes RQ run the job again after the next backoff interval."""


def push_retry():
    """RQ retry policy of push jobs: one retry per configured interval (exponential backoff)."""
    intervals = current_app.config["PUSH_RETRY_INTERVALS"]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def push_after_commit(notification_ids):
    """Queue the push of these notifications once the current transaction commits."""
    for notification_id in notification_ids:
        enqueue_after_commit(notification_push, notification_id, queue="notifications", retry=push_retry())


def notification_push(notification_id: int):
    """Push one notification to its recipients' devices; retried (only the failed tokens) with backoff.

    Safe to run again at any time, also while another run of it is under way (``notifications_recover`` enqueues
    it again for fan-outs a dead worker left unfinished)."""
    job = get_current_job()
    extra = {"job_id": job.id} if job is not None else {}
    # Inline there is no retry; in RQ the last run gives up on transient failures instead of raising.
    final_attempt = job is None or not job.retries_left
    try:
        run = notification_push_run(notification_id=notification_id, final_attempt=final_attempt)
    except Exception:
        db.session.rollback()
        raise
    log.info("notification %s: %d sent, %d failed, %d dead token(s), %d to retry, %d batch(es), %d chunk(s)",
             notification_id, run.sent, run.failed, run.invalid_tokens, run.retry, run.batches, run.chunks,
             extra=extra)
    if run.deferred_until and job is not None:
        _deferred_schedule(notification_id, run.deferred_until)
    if run.retry and not final_attempt:
        raise PushRetryPending(f"notification {notification_id}: {run.retry} device(s) to retry")


def _deferred_schedule(notification_id, moments):
    """Run the push again when quiet hours end (one job per distinct end; a repeat overwrites the same id)."""
    queue = queue_get("notifications")
    for moment in moments:
        queue.enqueue_at(
            moment, notification_push, notification_id,
            job_id=f"notification-{notification_id}-at-{int(moment.timestamp())}",
            retry=push_retry(), job_timeout=current_app.config["JOB_TIMEOUT"],
        )


def notifications_recover():
    """Enqueue the push job again for every fan-out a dead worker left unfinished; returns the notification ids.

    RQ itself only notices a job whose worker died after JOB_TIMEOUT + 60 s, and then only at a maintenance tick
    (10 min); so workers run this when they start and at each maintenance tick (``app.extensions["worker_hooks"]``),
    and operators can run ``flask notifications recover``. Interrupted means not marked pushed, created within
    PUSH_RECOVER_WINDOW, and either never planned or with deliveries pending or claimed. Retries and deferred
    pushes are not touched: the RQ scheduler holds their jobs. A fan-out still running elsewhere is harmless to
    enqueue again: the two runs share the work through their claims.
    """
    since = datetime.now(timezone.utc) - timedelta(seconds=current_app.config["PUSH_RECOVER_WINDOW"])
    unfinished = exists().where(PushDelivery.notification_id == Notification.id,
                                PushDelivery.status.in_(UNFINISHED_STATUSES))
    unplanned = ~exists().where(PushDelivery.notification_id == Notification.id)
    notification_ids = list(db.session.scalars(
        select(Notification.id)
        .where(Notification.pushed_at.is_(None), Notification.created_at >= since, or_(unfinished, unplanned))
        .order_by(Notification.id)
    ))
    db.session.rollback()
    for notification_id in notification_ids:
        enqueue(notification_push, notification_id, queue="notifications", retry=push_retry())
    if notification_ids:
        log.warning("recovery: push of notification(s) %s enqueued again (interrupted fan-out)", notification_ids)
    return notification_ids
