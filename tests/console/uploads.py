"""Helpers of the upload pages' tests (Ispiti, Raspored): a file posted as a browser does, the planned task an
upload made, waiting for a confirmed task's job."""
import io
import re
import time

from sqlalchemy import select

from raf_network.console.models import ConsoleTask
from raf_network.courses.csv_import import schedule_import
from raf_network.extensions import db

REVIEW = re.compile(r"/console/(?:exams|timetable)/uploads/(\d+)$")


def upload(staff, path, content, *, name="datoteka.csv", token=True, **fields):
    data = {"file": (io.BytesIO(content if isinstance(content, bytes) else content.encode("utf-8")), name),
            **fields}
    return staff.post(path, data, token=token, content_type="multipart/form-data")


def planned_task_id(response):
    """The id of the planned task an accepted upload redirected to."""
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(REVIEW.search(response.headers["Location"]).group(1))


def task_of(app, task_id):
    with app.app_context():
        task = db.session.get(ConsoleTask, task_id)
        db.session.expunge(task)
        return task


def task_wait(app, task_id, *, timeout=30):
    """The task once its job has finished (the embedded default runs it on a background thread)."""
    deadline = time.monotonic() + timeout
    while True:
        task = task_of(app, task_id)
        if task.state in ("done", "failed") or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def tasks_count(app):
    with app.app_context():
        return len(db.session.scalars(select(ConsoleTask.id)).all())


def timetable_load(app, text):
    with app.app_context():
        schedule_import(text=text)
