"""Background jobs: RQ queues on Redis, or inline in the calling process when no Redis is configured.

Jobs take ids (never ORM objects), are enqueued only after the transaction that caused them has
committed (``enqueue_after_commit``), and each run gets an application context — so a database session —
of its own: in the worker a clean session per job, and inline one apart from the session whose commit
enqueued it (SQLAlchemy cannot emit SQL from that session's ``after_commit`` hook).

A request that must not wait for its inline jobs (the officers' console: a broadcast to everyone, an import) calls
``inline_jobs_in_background()``: its inline jobs then run on a background thread of the process, each with an app
context of its own, and the page that started them shows their progress. Such a thread dies with its process; RQ
(``REDIS_URL``) is the durable way.
"""
import logging
import threading

import click
from flask import current_app, g, has_request_context
from flask.cli import with_appcontext
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.worker import SimpleWorker
from sqlalchemy import event

from raf_network.extensions import db
from raf_network.log_setup import job_context

log = logging.getLogger(__name__)

QUEUES = ("notifications", "default")


def redis_connection():
    """The app's Redis client (created on first use; ``from_url`` itself does not connect)."""
    client = current_app.extensions.get("redis_client")
    if client is None:
        url = current_app.config["REDIS_URL"]
        if not url:
            raise RuntimeError("REDIS_URL is not configured")
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        current_app.extensions["redis_client"] = client
    return client


def queue_get(name="default"):
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection(), default_timeout=current_app.config["JOB_TIMEOUT"])


def enqueue(func, *args, queue="default", job_id=None, retry=None, **kwargs):
    """Run ``func(*args)`` in the background (RQ) or, without Redis, right now in this process.

    If Redis is configured but unreachable, the job runs inline instead of being dropped: jobs are
    idempotent, so a job that also reaches the queue later does no harm. Returns the RQ job, or None
    when the job ran inline.
    """
    meta = {"request_id": g.get("request_id")} if has_request_context() else {}
    if not current_app.config["JOBS_INLINE"]:
        try:
            return queue_get(queue).enqueue(
                func, *args, job_id=job_id, retry=retry, meta=meta,
                job_timeout=current_app.config["JOB_TIMEOUT"], **kwargs,
            )
        except RedisError as exc:
            log.warning("Redis unavailable (%s); running job %s inline instead", exc.__class__.__name__,
                        func.__name__)
    _run_inline(func, args, kwargs, meta)
    return None


# Set on ``g`` by ``inline_jobs_in_background``: this request's inline jobs run on a background thread.
BACKGROUND_FLAG = "raf_inline_jobs_in_background"


def inline_jobs_in_background():
    """For the rest of this request, jobs that run inline (no Redis) run on a background thread of this process
    instead of holding up the response. With RQ nothing changes."""
    g.setdefault(BACKGROUND_FLAG, True)


def _run_inline(func, args, kwargs, meta):
    """Run a job now, in its own app context. Its failure is logged, never raised: the transaction that
    caused it has committed, and the request that committed it must not fail now (RQ would record the
    failure apart from the request in the same way)."""
    context = current_app.app_context()  # a new context of this app: pushed where the job runs
    if has_request_context() and g.get(BACKGROUND_FLAG):
        log.info("running job %s inline on a background thread", func.__name__)
        threading.Thread(target=_run_in, args=(context, func, args, kwargs, meta), daemon=True,
                         name=f"inline-job-{func.__name__}").start()
        return
    log.info("running job %s inline", func.__name__)
    _run_in(context, func, args, kwargs, meta)


def _run_in(context, func, args, kwargs, meta):
    token = job_context.set({"job_id": f"inline:{func.__name__}", **meta})
    try:
        with context:
            func(*args, **kwargs)
    except Exception:
        log.exception("job %s failed (inline)", func.__name__)
    finally:
        job_context.reset(token)


def worker_hooks_run():
    """Run the app's worker hooks (``app.extensions["worker_hooks"]``, registered by blueprints): they re-enqueue
    work that a dead worker left unfinished. RQ's own check for abandoned jobs waits JOB_TIMEOUT + 60 s and runs at
    10-minute maintenance ticks. A failing hook is logged, never fatal to the worker."""
    for hook in current_app.extensions.get("worker_hooks", ()):
        try:
            hook()
        except Exception:
            log.exception("worker hook %s failed", getattr(hook, "__name__", hook))


class AppWorker(SimpleWorker):
    """RQ's in-process worker, with each job's id and originating request id in every log line, which runs the
    worker hooks when it starts and at each maintenance tick (``maintenance_interval``, 10 minutes)."""

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        worker_hooks_run()

    def execute_job(self, job, queue):
        token = job_context.set({"job_id": job.id, "request_id": (job.meta or {}).get("request_id")})
        try:
            with current_app.app_context():  # a clean database session per job
                return super().execute_job(job, queue)
        finally:
            job_context.reset(token)


def enqueue_after_commit(func, *args, **kwargs):
    """Enqueue once the current database transaction commits; nothing happens if it rolls back."""
    session = db.session()

    @event.listens_for(session, "after_commit", once=True)
    def _after_commit(_session):
        enqueue(func, *args, **kwargs)

    @event.listens_for(session, "after_rollback", once=True)
    def _after_rollback(_session):
        if event.contains(session, "after_commit", _after_commit):
            event.remove(session, "after_commit", _after_commit)


@click.command("worker")
@click.option("--queue", "queues", multiple=True, help="Queues to listen on (default: all, in priority order).")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@with_appcontext
def worker_command(queues, burst):
    """Run an RQ worker (with its scheduler, for retries with backoff) inside the app context."""
    names = list(queues) or list(QUEUES)
    connection = redis_connection()
    worker = AppWorker([queue_get(name) for name in names], connection=connection)
    worker.work(burst=burst, with_scheduler=True, logging_level=current_app.config["LOG_LEVEL"])


__all__ = ["AppWorker", "Retry", "enqueue", "enqueue_after_commit", "inline_jobs_in_background", "queue_get",
           "redis_connection"]
