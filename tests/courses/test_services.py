"""Parsing the RAF CSV and applying catalogue changes with a diff."""
from datetime import date, time

import pytest
from sqlalchemy import func, select

from raf_network.courses import services
from raf_network.courses.models import Course, ScheduleEntry
from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from tests.conftest import shared_data_text


def test_the_real_file_gives_326_entries_and_74_courses_without_the_bom():
    parsed = services.schedule_csv_parse(shared_data_text("raspored.csv"))
    assert parsed.errors == []
    assert len(parsed.schedule) == 326
    assert len(parsed.courses) == 74
    assert all(not course["name"].startswith("\ufeff") for course in parsed.courses)
    assert {entry["kind"] for entry in parsed.schedule} == {"P", "V", "D", "PiV"}
    first = parsed.schedule[0]
    assert first["course"] == "poslovne-aplikacije" and first["day"] == 1  # UTO, padded with NBSPs


@pytest.mark.parametrize("text, expected", [
    ("11:15-13", (time(11, 15), time(13, 0))),
    ("09:15-12", (time(9, 15), time(12, 0))),
    ("8-10:30", (time(8, 0), time(10, 30))),
])
def test_time_range_parse(text, expected):
    assert services.time_range_parse(text) == expected


@pytest.mark.parametrize("text", ["13-11", "11:15", "25:00-26", "x-y", "11:75-13"])
def test_time_range_parse_rejects(text):
    with pytest.raises(ValueError):
        services.time_range_parse(text)


def test_day_codes_serbian_english_and_padding():
    assert services.day_index("\u00a0\u00a0PON\u00a0") == 0
    assert services.day_index("ČET") == 3 and services.day_index("thu") == 3
    with pytest.raises(ValueError):
        services.day_index("XYZ")


def test_bad_rows_are_reported_with_line_numbers():
    text = (
        '"Uvod u programiranje","P","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
        '"Uvod u programiranje","X","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
        '"Uvod u programiranje","V","Someone","101","FOO","11:15-13","Raf01"\n'
        '"Too","few"\n'
        '"Uvod u programiranje","P","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
    )
    errors = services.schedule_csv_parse(text).errors
    assert any(e.startswith("line 2:") and "class kind" in e for e in errors)
    assert any(e.startswith("line 3:") and "day" in e for e in errors)
    assert any(e.startswith("line 4:") and "7 columns" in e for e in errors)
    assert any(e.startswith("line 5:") and "line 1" in e for e in errors)


def test_import_with_a_bad_row_writes_nothing(app):
    good = shared_data_text("raspored.csv")
    with app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            services.schedule_import(text=good.rstrip("\n") + '\n"Bad","P","x","101","PON","13-11","R"\n')
        assert "line 327" in raised.value.errors["rows"][0]
        assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)) == 0
        assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def _entry(**overrides):
    item = {"id": "uup-p-1", "course": "UUP", "kind": "P", "professor": "Urosevic Dragan",
            "groups": ["101", "102"], "day": 0, "start": time(11, 15), "end": time(13), "classroom": "Kolarac2"}
    item.update(overrides)
    return item


def _apply(**kwargs):
    plan = services.catalogue_plan(**kwargs)
    changes = services.catalogue_write(plan)
    db.session.commit()
    return changes


def test_apply_reports_created_updated_with_old_and_new_and_removed(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        created = _apply(courses=[course], schedule=[_entry(), _entry(id="uup-v-1", kind="V")])
        assert created.created["schedule"] == ["uup-p-1", "uup-v-1"]
        changed = _apply(courses=[course], schedule=[_entry(classroom="Raf06 (a)")], replace={"schedule"})
        assert changed.updated["schedule"] == {"uup-p-1": {"classroom": ["Kolarac2", "Raf06 (a)"]}}
        assert changed.removed["schedule"] == ["uup-v-1"]
        entry = db.session.scalar(select(ScheduleEntry).where(ScheduleEntry.external_id == "uup-p-1"))
        assert entry.sequence == 1 and entry.classroom == "Raf06 (a)"
        removed = db.session.scalar(select(ScheduleEntry).where(ScheduleEntry.external_id == "uup-v-1"))
        assert removed.deleted_at is not None  # soft-deleted, still there for history
        assert _apply(courses=[course], schedule=[_entry(classroom="Raf06 (a)")]).empty


def test_apply_rejects_unknown_references_and_writes_nothing(pg_app):
    with pg_app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            services.catalogue_plan(schedule=[_entry(), _entry(id="x", course="NOPE")])
        assert raised.value.errors["schedule"][0]["course"]
        assert raised.value.errors["schedule"][1]["course"]
        assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)) == 0


def test_apply_rejects_removing_a_course_still_in_use(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        _apply(courses=[course], schedule=[_entry()])
        with pytest.raises(ValidationFailed, match="invalid"):
            services.catalogue_plan(deleted={"courses": ["UUP"]})


def test_removed_share_for_the_mass_deletion_guard(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        _apply(courses=[course], schedule=[_entry(id=f"e{i}", start=time(8 + i), end=time(9 + i)) for i in range(4)])
        plan = services.catalogue_plan(schedule=[_entry(id="e0", start=time(8), end=time(9))], replace={"schedule"})
        assert plan.removed_share == 0.75


def test_exams_follow_their_period_when_it_is_removed(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    period = {"id": "jan", "name": "Januar", "start_date": date(2027, 1, 18), "end_date": date(2027, 2, 7)}
    exam = {"id": "jan-uup", "period": "jan", "course": "UUP", "date": date(2027, 1, 20), "time": "9-14",
            "classroom": "Raf06 (a)", "professor": "Urosevic Dragan"}
    with pg_app.app_context():
        _apply(courses=[course], exam_periods=[period], exams=[exam])
        changes = _apply(deleted={"exam_periods": ["jan"]})
        assert changes.removed["exam_periods"] == ["jan"] and changes.removed["exams"] == ["jan-uup"]
