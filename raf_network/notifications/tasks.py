"""RQ jobs of the ``notifications`` queue. They take ids and are idempotent (see services).

``raf_network.jobs`` gives each run an application context (and database session) of its own, in the
worker and inline alike, and logs an inline job's failure instead of failing the request that caused it.
"""
import logging
from contextlib import contextmanager

from flask import current_app
from rq import get_current_job

from raf_network.extensions import db
from raf_network.jobs import queue_get
from raf_network.notifications import services

log = logging.getLogger(__name__)


class PushRetryPending(Exception):
    """Some devices failed transiently; raising makes RQ run the job again after the next backoff interval."""


@contextmanager
def _job_context():
    """The current RQ job (None inline) and the log ``extra`` naming it; a failure rolls back and raises."""
    job = get_current_job()
    try:
        yield job, ({"job_id": job.id} if job is not None else {})
    except Exception:
        db.session.rollback()
        raise


def timetable_change_notify(delivery_id: int):
    """Notify the subscribers of what a webhook delivery (``WebhookDelivery.changes``) changed."""
    from raf_network.webhook.models import WebhookDelivery  # the webhook blueprint owns it

    with _job_context() as (_job, extra):
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            log.warning("webhook delivery %s does not exist; nothing to notify", delivery_id, extra=extra)
            return []
        changes = delivery.changes or {}
        db.session.rollback()
        ids = services.timetable_changes_notify(changes=changes, source=f"webhook:{delivery_id}")
        log.info("webhook delivery %s: notifications %s", delivery_id, ids, extra=extra)
        return ids


def exam_schedule_notify(period_id: int, exam_ids: list[int]):
    """Notify the attendees of the courses whose exams an import announced (``courses.exam_import``)."""
    with _job_context() as (_job, extra):
        ids = services.exam_schedule_notify(period_id=period_id, exam_ids=exam_ids)
        log.info("exam period %s: notifications %s", period_id, ids, extra=extra)
        return ids


def notification_push(notification_id: int):
    """Push one notification to its recipients' devices; retried (only the failed tokens) with backoff.

    Safe to run again at any time, also while another run of it is under way (``services.notifications_recover``
    enqueues it again for fan-outs a dead worker left unfinished)."""
    with _job_context() as (job, extra):
        # Inline there is no retry; in RQ the last run gives up on transient failures instead of raising.
        final_attempt = job is None or not job.retries_left
        run = services.notification_push_run(notification_id=notification_id, final_attempt=final_attempt)
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
            retry=services.push_retry(), job_timeout=current_app.config["JOB_TIMEOUT"],
        )
