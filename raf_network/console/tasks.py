"""Long console actions (imports) as background jobs, with a progress page.

A page registers what a kind of task does with ``task_runner(kind, page=...)``. Two ways in:

- **dry run, then confirm** (the exam-schedule and timetable uploads): the page checks the upload and shows its
  plan; ``task_plan`` stores the file's text, its options and that plan as a *planned* task; the officer's
  confirmation (``task_start``) queues it — at most once, within ``PLAN_TTL`` — and the job applies exactly the
  stored text;
- **started at once** (the portal import): ``task_start_new``.

The job (``task_run``) takes only the task's id, as every job here does: RQ with ``REDIS_URL``, otherwise a
background thread of the web process (``jobs.inline_jobs_in_background``; it dies with its process, RQ is the
durable way). A runner reports progress through the callback it gets; the state moves queued → running → done or
failed, with the runner's result (JSON) or its error. A task left running by a worker that died is marked failed by
``tasks_recover`` (a worker hook) once ``JOB_TIMEOUT`` and a minute have passed.
"""
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import defer

from raf_network.console.models import ConsoleTask
from raf_network.errors import ApiError, Conflict, NotFound
from raf_network.extensions import db
from raf_network.jobs import enqueue_after_commit

log = logging.getLogger(__name__)

PLAN_TTL = timedelta(hours=1)
ACTIVE_STATES = ("queued", "running")


@dataclass(frozen=True)
class Runner:
    kind: str
    run: object  # run(task, progress) -> result (a JSON-able dict)
    page: str  # the console endpoint the task's page links back to


RUNNERS = {}


def task_runner(kind, *, page):
    """Register ``run(task, progress)`` as what a task of ``kind`` does; ``progress(done, total)`` may be called
    as it goes. It returns the result (JSON) and commits its own work; raising fails the task (nothing it did
    uncommitted is kept)."""
    def register(run):
        RUNNERS[kind] = Runner(kind=kind, run=run, page=page)
        return run
    return register


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now():
    return datetime.now(timezone.utc)


def _aware(moment):
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def task_plan(*, kind, label, created_by, params=None, input_text=None, plan=None):
    """Store a checked upload and its plan as a planned task (nothing is applied yet). Commits."""
    if kind not in RUNNERS:
        raise ValueError(f"no runner for console task kind {kind!r}")
    task = ConsoleTask(kind=kind, state="planned", label=label[:255], created_by_id=created_by.id,
                       params=params or {}, input_text=input_text,
                       input_sha256=text_sha256(input_text) if input_text is not None else None, plan=plan or {})
    db.session.add(task)
    db.session.commit()
    return task


def task_get(*, task_id, kind=None):
    task = db.session.get(ConsoleTask, task_id)
    if task is None or (kind is not None and task.kind != kind):
        raise NotFound("no such task")
    return task


def task_start(*, task_id, kind, input_sha256, params=None):
    """Queue a planned task: the officer confirmed its dry run. ``input_sha256`` (carried by the confirmation form)
    must be the stored file's, so what runs is what was shown. ``params``: options the confirmation adds (the
    timetable's "I know" to a mass deletion), stored by the statement that queues it, so a refused confirmation
    adds nothing. Refused (409) if it was already confirmed or cancelled, or when its dry run is older than
    ``PLAN_TTL``. Commits; the job is enqueued after the commit."""
    task = task_get(task_id=task_id, kind=kind)
    if task.input_sha256 != input_sha256:
        raise Conflict("this confirmation is for another upload")
    if task.state == "planned" and _aware(task.created_at) < _now() - PLAN_TTL:
        raise Conflict("the dry run is more than an hour old; upload the file again")
    # One confirmation wins even when two arrive at once: the state moves only from "planned".
    values = {"state": "queued", **({"params": {**(task.params or {}), **params}} if params else {})}
    moved = db.session.execute(update(ConsoleTask).where(ConsoleTask.id == task.id, ConsoleTask.state == "planned")
                               .values(**values))
    if moved.rowcount != 1:
        db.session.rollback()
        raise Conflict("this upload was already confirmed or cancelled")
    enqueue_after_commit(task_run, task.id)
    db.session.commit()
    return task_get(task_id=task.id)


def task_cancel(*, task_id, kind):
    """Drop a planned task (the officer did not confirm its dry run). Commits."""
    task = task_get(task_id=task_id, kind=kind)
    moved = db.session.execute(update(ConsoleTask).where(ConsoleTask.id == task.id, ConsoleTask.state == "planned")
                               .values(state="cancelled", finished_at=_now(), input_text=None))
    if moved.rowcount != 1:
        db.session.rollback()
        raise Conflict("this upload was already confirmed or cancelled")
    db.session.commit()


def task_start_new(*, kind, label, created_by, params=None):
    """A task that needs no dry run (the portal import), queued at once. Refused (409) while another task of the
    same kind is queued or running — also when two starts arrive at the same moment: the task holds its kind in
    ``exclusive_kind`` (unique) until it finishes, so the second insert fails. Commits; the job is enqueued after
    the commit."""
    if kind not in RUNNERS:
        raise ValueError(f"no runner for console task kind {kind!r}")
    tasks_recover()  # without a worker (the embedded default) nothing else would: a dead thread's task must not block
    active = db.session.scalar(select(ConsoleTask.id).where(ConsoleTask.kind == kind,
                                                            ConsoleTask.state.in_(ACTIVE_STATES)).limit(1))
    if active is not None:
        raise Conflict(f"task {active} of this kind is still running")
    task = ConsoleTask(kind=kind, state="queued", exclusive_kind=kind, label=label[:255],
                       created_by_id=created_by.id, params=params or {})
    db.session.add(task)
    try:
        db.session.flush()
    except IntegrityError:  # another start committed its task between the check above and this insert
        db.session.rollback()
        raise Conflict("another task of this kind was started at the same moment and is running") from None
    enqueue_after_commit(task_run, task.id)
    db.session.commit()
    return task


def task_list(*, kind, limit=10):
    """The latest tasks of ``kind`` (planned ones included), newest first, without their uploaded text: one query."""
    return db.session.scalars(select(ConsoleTask).options(defer(ConsoleTask.input_text, raiseload=True))
                              .where(ConsoleTask.kind == kind).order_by(ConsoleTask.id.desc()).limit(limit)).all()


def _progress_write(task_id, done, total):
    # Its own short transaction beside the runner's, so the progress page sees it while the runner works.
    # Best effort: progress that cannot be written (SQLite busy) is skipped, never fatal to the task.
    try:
        with db.engine.begin() as connection:
            connection.execute(update(ConsoleTask).where(ConsoleTask.id == task_id)
                               .values(progress_done=done, progress_total=total))
    except OperationalError as exc:
        log.debug("progress of console task %s not written: %s", task_id, exc)


def task_run(task_id):
    """The job: run a queued task once. A task that is not queued (already run by a retried job, or cancelled) is
    left alone."""
    claimed = db.session.execute(update(ConsoleTask).where(ConsoleTask.id == task_id, ConsoleTask.state == "queued")
                                 .values(state="running", started_at=_now()))
    db.session.commit()
    if claimed.rowcount != 1:
        log.info("console task %s is not queued; nothing to do", task_id)
        return
    task = db.session.get(ConsoleTask, task_id)
    runner = RUNNERS[task.kind]
    try:
        result = runner.run(task, lambda done, total: _progress_write(task_id, done, total))
    except Exception as exc:
        db.session.rollback()
        message = exc.message if isinstance(exc, ApiError) else f"{exc.__class__.__name__}: {exc}"
        if not isinstance(exc, ApiError):
            log.exception("console task %s (%s) failed", task_id, task.kind)
        _finish(task_id, state="failed", error=message[:4000])
        return
    _finish(task_id, state="done", result=result or {})


def _finish(task_id, *, state, result=None, error=""):
    db.session.execute(update(ConsoleTask).where(ConsoleTask.id == task_id)
                       .values(state=state, result=result or {}, error=error, finished_at=_now(),
                               input_text=None, exclusive_kind=None))
    db.session.commit()


def tasks_recover():
    """A task left running past ``JOB_TIMEOUT`` + 60 s — by a worker that died, or by a web process whose
    background thread died with it — is marked failed (its import ran in one transaction, so it applied nothing).
    A worker hook, and run before an exclusive task starts (the embedded default has no worker). Commits."""
    cutoff = _now() - timedelta(seconds=current_app.config["JOB_TIMEOUT"] + 60)
    stale = db.session.execute(
        update(ConsoleTask).where(ConsoleTask.state == "running", ConsoleTask.started_at < cutoff)
        .values(state="failed", finished_at=_now(), exclusive_kind=None,
                error="the worker running this task stopped; start it again"))
    db.session.commit()
    if stale.rowcount:
        log.warning("marked %d console task(s) left running by a stopped worker as failed", stale.rowcount)
