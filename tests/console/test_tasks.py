"""Console tasks: a planned upload runs once, only when confirmed with its own file's hash and within an hour; a
failing runner leaves nothing behind; a dead worker's task is marked failed; the progress page shows it all."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text

from raf_network.console import tasks
from raf_network.console.models import ConsoleTask
from raf_network.errors import Conflict, NotFound
from raf_network.extensions import db
from raf_network.users.models import User
from tests.console.helpers import ConsoleClient, page_text

KIND = "test_echo"


@pytest.fixture
def echo_runner(monkeypatch):
    """A runner that counts its runs, reports progress, and writes (or fails after writing) an account."""
    runs = []

    def run(task, progress):
        runs.append(task.id)
        progress(1, 2)
        db.session.add(User(email=f"task{task.id}@raf.rs", role="student"))
        if task.params.get("fail"):
            raise RuntimeError("the file <b>broke</b>")
        db.session.commit()
        progress(2, 2)
        return {"summary": [["Redova", len((task.input_text or "").splitlines())], ["Oznaka", "<i>x</i>"]]}

    monkeypatch.setitem(tasks.RUNNERS, KIND, tasks.Runner(kind=KIND, run=run, page="console.dashboard"))
    return runs


def _staff(app):
    with app.app_context():
        return db.session.scalar(select(User).where(User.role == "faculty_administrator"))


def _plan(app, staff, text="a\nb\nc\n", **params):
    with app.test_request_context():
        return tasks.task_plan(kind=KIND, label="probni uvoz", created_by=_staff(app), params=params,
                               input_text=text, plan={"rows": 3}).id


def test_a_confirmed_plan_runs_once_and_its_page_shows_the_outcome(app, echo_runner):
    staff = ConsoleClient(app)
    task_id = _plan(app, staff)
    assert "Čeka potvrdu" in page_text(staff.get(f"/console/tasks/{task_id}"))
    with app.test_request_context():
        with pytest.raises(Conflict):
            tasks.task_start(task_id=task_id, kind=KIND, input_sha256=tasks.text_sha256("another file"))
        assert echo_runner == []
        tasks.task_start(task_id=task_id, kind=KIND, input_sha256=tasks.text_sha256("a\nb\nc\n"))
        with pytest.raises(Conflict):  # a second confirmation (a double click) runs nothing more
            tasks.task_start(task_id=task_id, kind=KIND, input_sha256=tasks.text_sha256("a\nb\nc\n"))
        tasks.task_run(task_id)  # a retried job finds it done and does nothing
        with pytest.raises(NotFound):
            tasks.task_get(task_id=task_id, kind="portal_import")
    assert echo_runner == [task_id]
    with app.app_context():
        task = db.session.get(ConsoleTask, task_id)
        assert (task.state, task.progress_done, task.progress_total) == ("done", 2, 2)
        assert task.input_text is None and task.finished_at is not None  # the upload is not kept once applied
    html = page_text(staff.get(f"/console/tasks/{task_id}"))
    assert "Završeno" in html and "<td>3</td>" in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and "<i>x</i>" not in html  # results are escaped
    assert 'http-equiv="refresh"' not in html


def test_a_failing_runner_fails_the_task_and_keeps_nothing_it_wrote(app, echo_runner):
    staff = ConsoleClient(app)
    task_id = _plan(app, staff, fail=True)
    with app.test_request_context():
        tasks.task_start(task_id=task_id, kind=KIND, input_sha256=tasks.text_sha256("a\nb\nc\n"))
    with app.app_context():
        task = db.session.get(ConsoleTask, task_id)
        assert task.state == "failed" and "RuntimeError" in task.error
        assert db.session.scalar(select(func.count()).select_from(User).where(User.email.like("task%"))) == 0
    html = page_text(staff.get(f"/console/tasks/{task_id}"))
    assert "Neuspelo" in html and "&lt;b&gt;broke&lt;/b&gt;" in html


def test_an_old_or_cancelled_plan_cannot_be_confirmed(app, echo_runner):
    staff = ConsoleClient(app)
    old, cancelled = _plan(app, staff), _plan(app, staff)
    with app.test_request_context():
        db.session.get(ConsoleTask, old).created_at = datetime.now(timezone.utc) - timedelta(hours=2)
        db.session.commit()
        with pytest.raises(Conflict, match="more than an hour"):
            tasks.task_start(task_id=old, kind=KIND, input_sha256=tasks.text_sha256("a\nb\nc\n"))
        tasks.task_cancel(task_id=cancelled, kind=KIND)
        with pytest.raises(Conflict):
            tasks.task_start(task_id=cancelled, kind=KIND, input_sha256=tasks.text_sha256("a\nb\nc\n"))
    assert echo_runner == []


def test_a_task_started_at_once_is_refused_while_another_runs(app, echo_runner):
    staff = ConsoleClient(app)
    with app.test_request_context():
        first = tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app), params={}).id
        # It ran inline (done); pretend it is still running, as it would be with a worker.
        db.session.get(ConsoleTask, first).state = "running"
        db.session.commit()
        with pytest.raises(Conflict):
            tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app))
    assert len(echo_runner) == 1 and staff.get(f"/console/tasks/{first}").status_code == 200


def test_two_starts_at_the_same_moment_start_one_task(pg_app, echo_runner):
    """The check-then-insert race: another start's task is inserted but not yet committed, so the check cannot see
    it; the unique ``exclusive_kind`` makes this start wait for it and then refuse (409), adding nothing."""
    app = pg_app
    ConsoleClient(app)
    outcome = []

    def start():
        with app.test_request_context():
            try:
                outcome.append(tasks.task_start_new(kind=KIND, label="drugi", created_by=_staff(app)).id)
            except Conflict as exc:
                outcome.append(exc)

    with app.app_context():
        with db.engine.connect() as other, db.engine.connect() as watcher:
            other.execute(insert(ConsoleTask).values(kind=KIND, state="queued", exclusive_kind=KIND, label="prvi"))
            racer = threading.Thread(target=start)
            racer.start()
            deadline = time.monotonic() + 10
            holder = other.scalar(text("SELECT pg_backend_pid()"))
            while True:  # until the racer waits for this transaction (activity is read once per transaction)
                waiting = watcher.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                              "WHERE :holder = ANY(pg_blocking_pids(pid))"), {"holder": holder})
                watcher.rollback()
                if waiting:
                    break
                assert time.monotonic() < deadline and racer.is_alive(), outcome
                time.sleep(0.02)
            other.commit()
            racer.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
        assert db.session.scalar(select(func.count()).select_from(ConsoleTask).where(ConsoleTask.kind == KIND)) == 1
    assert echo_runner == []


def test_a_finished_exclusive_task_frees_its_kind(app, echo_runner):
    ConsoleClient(app)
    with app.test_request_context():
        first = tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app)).id
        second = tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app)).id
        assert [db.session.get(ConsoleTask, task_id).exclusive_kind for task_id in (first, second)] == [None, None]
    assert len(echo_runner) == 2


def test_a_task_a_dead_worker_left_running_is_marked_failed(app, echo_runner):
    staff = ConsoleClient(app)
    fresh, stale = _plan(app, staff), _plan(app, staff)
    with app.app_context():
        now = datetime.now(timezone.utc)
        db.session.get(ConsoleTask, fresh).state = "running"
        db.session.get(ConsoleTask, fresh).started_at = now
        db.session.get(ConsoleTask, stale).state = "running"
        db.session.get(ConsoleTask, stale).started_at = now - timedelta(seconds=app.config["JOB_TIMEOUT"] + 120)
        db.session.commit()
        tasks.tasks_recover()
        assert db.session.get(ConsoleTask, fresh).state == "running"
        assert db.session.get(ConsoleTask, stale).state == "failed"
    assert 'http-equiv="refresh"' in page_text(staff.get(f"/console/tasks/{fresh}"))
    assert staff.get("/console/tasks/999999").status_code == 404


def test_a_task_a_dead_thread_left_running_does_not_block_the_next_one(app, echo_runner):
    """The embedded default has no worker to run the hook: starting an exclusive task recovers stale ones first."""
    ConsoleClient(app)
    with app.test_request_context():
        first = tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app)).id
        task = db.session.get(ConsoleTask, first)
        task.state, task.started_at = "running", datetime.now(timezone.utc) - timedelta(hours=1)
        db.session.commit()
        second = tasks.task_start_new(kind=KIND, label="uvoz", created_by=_staff(app)).id
        assert db.session.get(ConsoleTask, first).state == "failed"
        assert db.session.get(ConsoleTask, second).state == "done"
