"""The one seam for "the catalogue changed" (courses/changes.py): a committed change is recorded once, retires
exactly its cache families and is announced after commit; a rolled-back or empty one does nothing. And across
real processes: ``flask import-schedule`` / ``flask import-exams`` beside a running server change what the server
serves on its next read, and notify the affected students once."""
import os
import subprocess
import sys
from datetime import time

import pytest
from sqlalchemy import func, select

from raf_network.cache.generations import generations_read
from raf_network.courses.catalogue import catalogue_plan
from raf_network.courses.changes import catalogue_change_apply, catalogue_changed
from raf_network.courses.models import CatalogueChange
from raf_network.extensions import db
from raf_network.notifications.models import Notification, NotificationRecipient, PushLog
from tests.factories import user_create
from tests.notifications.conftest import device_add, subscribe
from tests.processes import ROOT, WebProcess

COURSE = {"code": "uup", "name": "Uvod u programiranje"}
TIMETABLE = ('"Uvod u programiranje","P","Urosevic Dragan","101","PON","11:15-13","{room}"\n'
             '"Diskretne strukture","V","Zekic Mladen","101","UTO","09:15-11","Raf01"\n')
EXAMS = "Uvod u programiranje (RN);Dragan Urošević;{room};9-14;Subota;23.01.\n"


def _plan(classroom):
    return catalogue_plan(courses=[COURSE], replace={"schedule"}, schedule=[{
        "id": "uup-p", "course": "uup", "kind": "P", "professor": "Prof. A", "groups": ["101"], "day": 0,
        "start": time(10, 15), "end": time(12), "classroom": classroom}])


@pytest.fixture
def announcements():
    received = []

    def receiver(_sender=None, **data):
        received.append(data["change_id"])

    catalogue_changed.connect(receiver)
    yield received
    catalogue_changed.disconnect(receiver)


def test_a_change_is_recorded_retires_its_families_and_is_announced_after_commit(app, announcements):
    with app.app_context():
        before = generations_read(db.session, ["courses", "schedule", "exams"])
        changes = catalogue_change_apply(plan=_plan("Kolarac2"), source="test")
        assert announcements == []  # not before the commit
        db.session.commit()
        after = generations_read(db.session, ["courses", "schedule", "exams"])
        record = db.session.get(CatalogueChange, changes.change_id)
    assert announcements == [changes.change_id]
    assert record.source == "test" and record.changes == changes.to_json()
    assert after["schedule"] > before["schedule"] and after["courses"] > before["courses"]
    assert after["exams"] == before["exams"]


def test_a_rolled_back_change_records_retires_and_announces_nothing(app, announcements):
    with app.app_context():
        before = generations_read(db.session, ["schedule"])
        catalogue_change_apply(plan=_plan("Kolarac2"), source="test")
        db.session.rollback()
        assert generations_read(db.session, ["schedule"]) == before
        assert db.session.scalar(select(func.count()).select_from(CatalogueChange)) == 0
    assert announcements == []


def test_an_empty_change_is_not_recorded_or_announced(app, announcements):
    with app.app_context():
        catalogue_change_apply(plan=_plan("Kolarac2"), source="first")
        db.session.commit()
        again = catalogue_change_apply(plan=_plan("Kolarac2"), source="again")
        db.session.commit()
        assert again.empty and again.change_id is None
        assert db.session.scalar(select(func.count()).select_from(CatalogueChange)) == 1
    assert len(announcements) == 1


# --------------------------------------------------------------------------------------------------
# Two processes: the server of `make run` and the CLI beside it
# --------------------------------------------------------------------------------------------------

def _cli(database_url, *args):
    """A `flask` command in a process of its own, on the embedded default (as an operator runs it)."""
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Notification, NotificationRecipient, PushLog))


def test_imports_beside_a_running_server_are_served_next_read_and_notified_once(embedded_app, tmp_path):
    url = embedded_app.config["SQLALCHEMY_DATABASE_URI"]
    timetable, exams = tmp_path / "raspored.csv", tmp_path / "kolokvijumi.csv"
    timetable.write_text(TIMETABLE.format(room="Kolarac2"), encoding="utf-8")
    assert _cli(url, "import-schedule", str(timetable)).returncode == 0
    student = user_create(embedded_app)
    with embedded_app.app_context():
        from raf_network.courses.models import ScheduleEntry

        entry_key = db.session.scalar(select(ScheduleEntry.external_id).where(ScheduleEntry.classroom == "Kolarac2"))
    subscribe(embedded_app, student, entry_key)
    device_add(embedded_app, student, "student-phone")

    server = WebProcess({"DATABASE_URL": url, "REDIS_URL": "", "PUSH_BACKEND": "log"})
    try:
        first = server.get("/api/course-schedule")
        assert {entry["classroom"] for entry in first.json()} == {"Kolarac2", "Raf01"}
        # Held in the servers' memory (two workers: each builds it once).
        assert "hit-local" in {server.get("/api/course-schedule").headers["X-Cache"] for _ in range(6)}

        timetable.write_text(TIMETABLE.format(room="Raf06 (a)"), encoding="utf-8")
        imported = _cli(url, "import-schedule", str(timetable))
        assert imported.returncode == 0 and "updated 1" in imported.stdout, imported.stderr
        # Both of the server's workers: the next read of each serves the change.
        for _ in range(4):
            served = server.get("/api/course-schedule", headers={"If-None-Match": first.headers["ETag"]})
            assert served.status_code == 200 and "Raf06 (a)" in {entry["classroom"] for entry in served.json()}
        assert _counts(embedded_app) == (1, 1, 1)  # the student, once
        assert _cli(url, "import-schedule", str(timetable)).returncode == 0  # the same file again: no news
        assert _counts(embedded_app) == (1, 1, 1)

        exams.write_text(EXAMS.format(room="Raf06 (a)"), encoding="utf-8")
        imported = _cli(url, "import-exams", str(exams), "--period", "Januarski kolokvijumi", "--year", "2027",
                        "--visible")
        assert imported.returncode == 0, imported.stderr
        periods = server.get("/api/examination-periods").json()
        assert [period["name"] for period in periods] == ["Januarski kolokvijumi"]
        assert _counts(embedded_app) == (2, 2, 2)
        assert _cli(url, "import-exams", str(exams), "--period", "Januarski kolokvijumi", "--year", "2027",
                    "--visible").returncode == 0
        assert _counts(embedded_app) == (2, 2, 2)
    finally:
        server.close()
    with embedded_app.app_context():
        bodies = [row.body for row in db.session.scalars(select(PushLog).order_by(PushLog.id))]
    assert bodies == ["Uvod u programiranje, predavanja: Kolarac2 → Raf06 (a)",
                      "Kolokvijum iz Uvod u programiranje: 23.01.2027., 9-14, učionica Raf06 (a)"]
