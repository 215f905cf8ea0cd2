"""Background jobs: RQ on the real Redis, inline without it, never dropped when Redis is down, and
logged with the job id and the id of the request that caused them."""
import json
import logging

from raf_network.jobs import AppWorker, enqueue, queue_get
from raf_network.log_setup import JsonFormatter

RAN = []


def record_job(value):
    """A job for these tests: remembers its argument and logs a line."""
    RAN.append(value)
    logging.getLogger("tests.jobs").info("job ran with %s", value)


def test_without_redis_jobs_run_inline(embedded_app):
    RAN.clear()
    with embedded_app.test_request_context():
        assert enqueue(record_job, 7) is None
    assert RAN == [7]


def test_with_redis_jobs_wait_in_the_queue_and_a_real_worker_runs_them_with_the_request_id(
        make_pg_app, caplog):
    RAN.clear()
    app = make_pg_app(JOBS_INLINE=False)
    with app.test_request_context(headers={"X-Request-ID": "req-abc"}):
        from flask import g

        g.request_id = "req-abc"
        job = enqueue(record_job, 42, queue="default")
    assert job is not None and RAN == []
    with app.app_context():
        assert queue_get("default").count == 1
        worker = AppWorker([queue_get("default")], connection=queue_get("default").connection)
        with caplog.at_level(logging.INFO, logger="tests.jobs"):
            worker.work(burst=True)
    assert RAN == [42]
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "tests.jobs"]
    assert lines and lines[0]["request_id"] == "req-abc" and lines[0]["job_id"] == job.id


def test_redis_down_runs_the_job_inline_instead_of_dropping_it(make_pg_app):
    RAN.clear()
    app = make_pg_app(JOBS_INLINE=False, REDIS_URL="redis://127.0.0.1:1/0")
    with app.test_request_context():
        assert enqueue(record_job, 9, queue="notifications") is None
    assert RAN == [9]


def test_logging_with_its_own_job_id_extra_still_works(embedded_app, caplog):
    """RQ and our jobs log with extra={"job_id": …}; the request/job stamp must not collide with it."""
    with embedded_app.test_request_context(), caplog.at_level(logging.INFO, logger="tests.jobs"):
        logging.getLogger("tests.jobs").info("with extra", extra={"job_id": "rq-123", "request_id": "r-1"})
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["job_id"] == "rq-123"


def count_courses_job():
    """A job that uses the database, as every real job does."""
    from sqlalchemy import func, select

    from raf_network.courses.models import Course
    from raf_network.extensions import db

    RAN.append(db.session.scalar(select(func.count()).select_from(Course)))


def failing_job():
    raise RuntimeError("job failure")


def test_an_inline_job_enqueued_after_commit_gets_a_session_of_its_own(embedded_app):
    """SQLAlchemy forbids SQL on the committing session inside after_commit; the job must not use it."""
    from raf_network.courses.models import Course
    from raf_network.extensions import db
    from raf_network.jobs import enqueue_after_commit

    RAN.clear()
    with embedded_app.app_context():
        db.session.add(Course(code="uup", name="Uvod u programiranje"))
        enqueue_after_commit(count_courses_job)
        db.session.commit()
    assert RAN == [1]


def test_a_failing_inline_job_is_logged_and_does_not_fail_its_caller(embedded_app, caplog):
    with embedded_app.test_request_context(), caplog.at_level(logging.ERROR):
        assert enqueue(failing_job) is None
    assert any("failing_job failed (inline)" in record.getMessage() and record.exc_info
               for record in caplog.records)
