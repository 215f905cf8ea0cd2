"""Raspored: a timetable CSV → its diff (created / updated old → new / removed, the students affected), nothing
written → confirm (a job, once) or cancel; the webhook's mass-deletion guard with its explicit "I know"; bad rows
422; CSRF, 404, 409; constant queries; the journey in the browser."""
import io

import requests
from sqlalchemy import func, select

from raf_network.console.models import AuditEntry
from raf_network.courses.models import CatalogueChange, Course, ScheduleEntry
from raf_network.extensions import db
from raf_network.users.models import Subscription
from tests.conftest import count_queries
from tests.console.helpers import ConsoleClient, page_text
from tests.console.uploads import planned_task_id, task_of, task_wait, tasks_count, timetable_load, upload
from tests.factories import bearer, user_create

OLD_ROOM, NEW_ROOM = "Raf04 (u)", "Raf99 (novo)"


def _room_changed(text):
    first, rest = text.split("\n", 1)
    assert first.endswith(f'"{OLD_ROOM}"')
    return first[: -len(OLD_ROOM) - 2] + f'"{NEW_ROOM}"\n' + rest


def _changes(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CatalogueChange))


def _live(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ScheduleEntry)
                                 .where(ScheduleEntry.deleted_at.is_(None)))


def _subscribe(app, room):
    student = user_create(app, role="student")
    with app.app_context():
        entry = db.session.scalar(select(ScheduleEntry.id).where(ScheduleEntry.classroom == room).limit(1))
        db.session.add(Subscription(user_id=student, schedule_entry_id=entry))
        db.session.commit()
    return student


def test_the_diff_shows_a_changed_room_and_who_it_concerns_then_applies_once(app, raspored_text):
    timetable_load(app, raspored_text)
    _subscribe(app, OLD_ROOM), _subscribe(app, OLD_ROOM)
    staff = ConsoleClient(app)
    before = _changes(app)
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", _room_changed(raspored_text),
                                     name="raspored.csv"))
    assert _changes(app) == before  # a dry run
    html = page_text(staff.get(f"/console/timetable/uploads/{task_id}"))
    assert 'id="izmenjenih">1<' in html and 'id="uklonjenih">0<' in html and 'id="novih">0<' in html
    assert 'id="pogodjenih">2<' in html
    assert f"sala: <del>{OLD_ROOM}</del> → <ins>{NEW_ROOM}</ins>" in html and "Poslovne aplikacije" in html
    assert "upozorenje" not in html

    sha = task_of(app, task_id).input_sha256
    refused = staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": sha}, token=False)
    assert refused.status_code == 400 and task_of(app, task_id).state == "planned"
    assert staff.post(f"/console/timetable/uploads/{task_id}/confirm",
                      {"input_sha256": sha}).headers["Location"] == f"/console/tasks/{task_id}"
    done = task_wait(app, task_id)
    assert done.state == "done", done.error
    assert ["Izmenjenih stavki", 1] in done.result["summary"]
    assert staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": sha}).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)
                                 .where(ScheduleEntry.classroom == NEW_ROOM)) == 1
        assert db.session.scalar(select(CatalogueChange.source).order_by(CatalogueChange.id.desc()).limit(1)) \
            == f"console:{staff.user_id}"


def test_a_mass_deletion_needs_the_explicit_i_know_recorded_in_the_log(embedded_app, raspored_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    shrunk = "\n".join(raspored_text.splitlines()[:100]) + "\n"  # removes 226 of 326
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", shrunk))
    html = page_text(staff.get(f"/console/timetable/uploads/{task_id}"))
    assert 'id="upozorenje"' in html and "69%" in html and 'id="uklonjenih">226<' in html
    assert "Znam da ovaj raspored uklanja" in html
    sha = task_of(app, task_id).input_sha256
    without = staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": sha})
    assert without.status_code == 409 and "potvrdite da to znate" in page_text(without)
    assert task_of(app, task_id).state == "planned" and _live(app) == 326
    confirmed = staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": sha, "force": "y"})
    assert confirmed.status_code == 302
    assert task_wait(app, task_id).state == "done" and _live(app) == 100
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "timetable_import_confirm"))
        assert entry.details["force"] is True and entry.details["over_limit"] is True


def test_the_job_checks_the_guard_again(embedded_app, raspored_text):
    """A timetable that shrank after the dry run (the guard is checked on the timetable as it is when it runs)."""
    app = embedded_app
    lines = raspored_text.splitlines()
    timetable_load(app, "\n".join(lines[:100]) + "\n")
    staff = ConsoleClient(app)
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", "\n".join(lines[:60]) + "\n"))
    timetable_load(app, raspored_text)  # meanwhile the whole timetable arrived: now it would remove 266 of 326
    staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": task_of(app, task_id).input_sha256})
    failed = task_wait(app, task_id)
    assert failed.state == "failed" and "mass deletion refused" in failed.error and _live(app) == 326


def test_bad_rows_are_422_with_their_lines_and_store_nothing(embedded_app, raspored_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    bad = raspored_text + '\n"Nov predmet","X","N. N.","101","PON","13-11","R"\n"samo","dve"\n'
    response = upload(staff, "/console/timetable/upload", bad)
    html = page_text(response)
    assert response.status_code == 422
    assert "line 327: unknown class kind &#39;X&#39;" in html and "line 328: expected 7 columns" in html
    assert upload(staff, "/console/timetable/upload", "\n\n").status_code == 422  # no rows
    latin2 = upload(staff, "/console/timetable/upload", raspored_text.lstrip("\ufeff").encode("cp1250"))
    assert latin2.status_code == 422 and "UTF-8" in page_text(latin2)
    assert upload(staff, "/console/timetable/upload", raspored_text, token=False).status_code == 400
    assert tasks_count(app) == 0 and _changes(app) == 1


def test_cancel_unknown_ids_and_escaping(embedded_app, raspored_text):
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    hostile = raspored_text + '\n"<script>alert(1)</script>","P","N. N.","101","PON","08:15-10","<b>sala</b>"\n'
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", hostile))
    html = page_text(staff.get(f"/console/timetable/uploads/{task_id}"))
    assert "&lt;script&gt;" in html and "<script>alert" not in html and "&lt;b&gt;sala" in html
    assert staff.post(f"/console/timetable/uploads/{task_id}/cancel").status_code == 302
    assert task_of(app, task_id).state == "cancelled"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Course).where(Course.name.contains("script"))) == 0
    assert staff.get("/console/timetable/uploads/999999").status_code == 404
    assert staff.post("/console/timetable/uploads/999999/cancel").status_code == 404


def test_the_dry_run_costs_the_same_whatever_the_size_of_the_file(embedded_app, raspored_text):
    app = embedded_app
    lines = raspored_text.splitlines()
    timetable_load(app, "\n".join(lines[:10]) + "\n")
    for _ in range(5):
        _subscribe(app, OLD_ROOM)  # the first row's entry, which both files remove
    staff = ConsoleClient(app)
    costs = []
    for text in ("\n".join(lines[1:20]) + "\n", "\n".join(lines[1:]) + "\n"):  # 18 or 315 rows, one removal
        token = staff.csrf_token()
        with count_queries(app) as statements:
            task_id = planned_task_id(upload(staff, "/console/timetable/upload", text, token=token))
        assert task_of(app, task_id).plan["audience"] == 5
        costs.append(len(statements))
    assert costs[0] == costs[1], costs


def test_an_officer_changes_a_room_in_the_browser(staff_page, raspored_text, tmp_path):
    page, server = staff_page.page, staff_page.server
    app = server.app
    timetable_load(app, raspored_text)
    _subscribe(app, OLD_ROOM)
    student = bearer(app, user_create(app, role="student"))

    def rooms():
        schedule = requests.get(server.url + "/api/course-schedule", headers=student, timeout=10).json()
        return {entry["classroom"] for entry in schedule}

    assert NEW_ROOM not in rooms()  # (and the timetable is cached now)
    upload_file = tmp_path / "raspored-nova-sala.csv"
    upload_file.write_text(_room_changed(raspored_text), encoding="utf-8")
    page.goto("/console/")
    page.get_by_role("link", name="Raspored").click()
    page.get_by_label("Datoteka (CSV)").set_input_files(str(upload_file))
    page.get_by_role("button", name="Proveri datoteku").click()
    changed = page.locator("#izmenjene").inner_text()
    assert "Poslovne aplikacije" in changed and OLD_ROOM in changed and NEW_ROOM in changed
    assert page.locator("#pogodjenih").inner_text() == "1"
    assert NEW_ROOM not in rooms()
    page.get_by_role("button", name="Potvrdi uvoz").click()
    page.locator("#stanje-zadatka[data-state=done]").wait_for(timeout=30_000)
    assert NEW_ROOM in rooms() and OLD_ROOM in rooms()  # one entry moved; others keep Raf04


def test_a_confirmation_applies_only_what_its_dry_run_showed(embedded_app, raspored_text):
    """The timetable changed between the dry run and the confirmation (here: another import made the same change):
    the job would now do something else than the diff the officer confirmed, so it applies nothing."""
    app = embedded_app
    timetable_load(app, raspored_text)
    staff = ConsoleClient(app)
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", _room_changed(raspored_text)))
    timetable_load(app, _room_changed(raspored_text).replace(NEW_ROOM, "Raf77 (drugo)"))
    changes = _changes(app)
    staff.post(f"/console/timetable/uploads/{task_id}/confirm", {"input_sha256": task_of(app, task_id).input_sha256})
    failed = task_wait(app, task_id)
    assert failed.state == "failed" and "changed since this file was checked" in failed.error
    assert _changes(app) == changes


def test_an_upload_may_be_as_large_as_a_file_the_cli_imports_and_no_larger(app, raspored_text):
    """The CSRF check reads the form before the view: the upload views' own body limit (IMPORT_MAX_BYTES) must be in
    place before it, while every other console form keeps MAX_CONTENT_LENGTH."""
    staff = ConsoleClient(app)
    size = len(raspored_text.encode("utf-8"))
    app.config.update(MAX_CONTENT_LENGTH=size // 4, IMPORT_MAX_BYTES=size + 1024)
    task_id = planned_task_id(upload(staff, "/console/timetable/upload", raspored_text, name="raspored.csv"))
    assert task_of(app, task_id).input_sha256
    refused = staff.post("/console/users/role", {"user_id": "1", "role": "student", "note": "x" * size})
    assert refused.status_code == 413 and "prevelik" in page_text(refused)

    app.config.update(IMPORT_MAX_BYTES=size - 1)
    before = tasks_count(app)
    too_large = upload(staff, "/console/timetable/upload", raspored_text, name="raspored.csv")
    assert too_large.status_code == 422 and "IMPORT_MAX_BYTES" in page_text(too_large)
    app.config.update(IMPORT_MAX_BYTES=size // 8)
    assert upload(staff, "/console/timetable/upload", raspored_text, name="raspored.csv").status_code == 413
    app.config.update(IMPORT_MAX_BYTES=size + 1024)  # a browser without a console session keeps the small limit
    anonymous = app.test_client().post("/console/timetable/upload", content_type="multipart/form-data",
                                       data={"file": (io.BytesIO(raspored_text.encode("utf-8")), "raspored.csv")})
    assert anonymous.status_code == 413
    assert tasks_count(app) == before
