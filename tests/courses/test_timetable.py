"""A timetable upload's dry run: the readable diff (created / updated old → new / removed), who it concerns, the
guard's verdict — written nothing, at a cost that does not grow with the file."""
from sqlalchemy import func, select

from raf_network.courses.csv_import import schedule_import
from raf_network.courses.models import CatalogueChange, ScheduleEntry
from raf_network.courses.timetable import timetable_dry_run
from raf_network.extensions import db
from raf_network.notifications.catalogue_changes import timetable_change_audience
from raf_network.users.models import Subscription
from tests.conftest import count_queries
from tests.factories import user_create


def _room_changed(text, old, new):
    """The timetable with the first row's classroom changed."""
    first, rest = text.split("\n", 1)
    assert first.endswith(f'"{old}"')
    return first[: -len(old) - 2] + f'"{new}"' + "\n" + rest


def _entry_id(app, classroom, course_fragment):
    from raf_network.courses.models import Course

    with app.app_context():
        return db.session.scalar(select(ScheduleEntry.id).join(Course, Course.id == ScheduleEntry.course_id)
                                 .where(ScheduleEntry.classroom == classroom, Course.name.contains(course_fragment)))


def test_the_dry_run_shows_each_change_readably_and_writes_nothing(app, raspored_text):
    with app.app_context():
        schedule_import(text=raspored_text)
    lines = raspored_text.splitlines()
    edited = _room_changed(raspored_text, "Raf04 (u)", "Raf99 (u)")
    edited = edited.replace(lines[1] + "\n", "")  # a row removed
    edited = edited.rstrip("\n") + '\n"Nov predmet","P","Nastavnik Novi","101","PON","08:15-10","Raf01 (a)"\n'  # added
    removed_id = _entry_id(app, "Rg07 (u)", "Uvod u programiranje")
    changed_id = _entry_id(app, "Raf04 (u)", "Poslovne aplikacije")
    students = [user_create(app, role="student") for _ in range(3)]
    with app.app_context():
        db.session.add_all([Subscription(user_id=students[0], schedule_entry_id=changed_id),
                            Subscription(user_id=students[1], schedule_entry_id=removed_id),
                            Subscription(user_id=students[1], schedule_entry_id=changed_id)])
        db.session.commit()
        before = db.session.scalar(select(func.count()).select_from(CatalogueChange))
        dry_run = timetable_dry_run(text=edited)
        audience = timetable_change_audience(changes=dry_run.plan.changes.to_json())
        assert db.session.scalar(select(func.count()).select_from(CatalogueChange)) == before
        assert db.session.get(ScheduleEntry, changed_id).classroom == "Raf04 (u)"
    assert audience == {students[0], students[1]}
    (updated,) = dry_run.updated
    assert (updated["course"], updated["kind"], updated["day"], updated["start"], updated["end"],
            updated["groups"]) == ("Poslovne aplikacije", "V", "UTO", "11:15", "13:00", "101")
    assert updated["changes"] == [["classroom", "Raf04 (u)", "Raf99 (u)"]]
    (removed,) = dry_run.removed
    assert (removed["course"], removed["kind"], removed["day"], removed["classroom"]) == (
        "Uvod u programiranje", "D", "PON", "Rg07 (u)")
    (created,) = dry_run.created
    assert (created["course"], created["day"], created["start"], created["classroom"]) == (
        "Nov predmet", "PON", "08:15", "Raf01 (a)")
    assert dry_run.new_courses == ["Nov predmet"]
    summary = dry_run.to_json()
    assert summary["over_limit"] is False and summary["live_before"] == 326


def test_a_course_moved_to_another_is_shown_by_name(embedded_app, raspored_text):
    with embedded_app.app_context():
        schedule_import(text=raspored_text)
        first, rest = raspored_text.split("\n", 1)
        moved = first.replace('"Poslovne aplikacije"', '"Diskretne strukture"', 1)
        dry_run = timetable_dry_run(text=moved + "\n" + rest)
    # The natural key includes the course: a row moved to another course is a new entry and a removed one.
    assert [entry["course"] for entry in dry_run.created] == ["Diskretne strukture"]
    assert [entry["course"] for entry in dry_run.removed] == ["Poslovne aplikacije"]


def test_the_dry_run_costs_the_same_whatever_the_size_of_the_file(embedded_app, raspored_text):
    app = embedded_app
    lines = raspored_text.splitlines()
    small, whole = "\n".join(lines[:20]) + "\n", raspored_text
    with app.app_context():
        schedule_import(text="\n".join(lines[:10]) + "\n")
    costs = []
    for text in (small, whole):
        with app.app_context(), count_queries(app) as statements:
            dry_run = timetable_dry_run(text=text)
            timetable_change_audience(changes=dry_run.plan.changes.to_json())
        costs.append(len(statements))
    assert costs[0] == costs[1], costs
