"""The RAF timetable CSV and its values: parsed row by row, bad rows reported with their lines, nothing written."""

import pytest
from sqlalchemy import func, select

from raf_network.courses.csv_import import schedule_csv_parse, schedule_import
from raf_network.courses.models import Course, ScheduleEntry
from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from tests.conftest import shared_data_text


def test_the_real_file_gives_326_entries_and_74_courses_without_the_bom():
    parsed = schedule_csv_parse(shared_data_text("raspored.csv"))
    assert parsed.errors == []
    assert len(parsed.schedule) == 326
    assert len(parsed.courses) == 74
    assert all(not course["name"].startswith("\ufeff") for course in parsed.courses)
    assert {entry["kind"] for entry in parsed.schedule} == {"P", "V", "D", "PiV"}
    first = parsed.schedule[0]
    assert first["course"] == "poslovne-aplikacije" and first["day"] == 1  # UTO, padded with NBSPs


def test_bad_rows_are_reported_with_line_numbers():
    text = (
        '"Uvod u programiranje","P","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
        '"Uvod u programiranje","X","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
        '"Uvod u programiranje","V","Someone","101","FOO","11:15-13","Raf01"\n'
        '"Too","few"\n'
        '"Uvod u programiranje","P","Urosevic Dragan","101","PON","11:15-13","Kolarac2"\n'
    )
    errors = schedule_csv_parse(text).errors
    assert any(e.startswith("line 2:") and "class kind" in e for e in errors)
    assert any(e.startswith("line 3:") and "day" in e for e in errors)
    assert any(e.startswith("line 4:") and "7 columns" in e for e in errors)
    assert any(e.startswith("line 5:") and "line 1" in e for e in errors)


def test_import_with_a_bad_row_writes_nothing(app):
    good = shared_data_text("raspored.csv")
    with app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            schedule_import(text=good.rstrip("\n") + '\n"Bad","P","x","101","PON","13-11","R"\n')
        assert "line 327" in raised.value.errors["rows"][0]
        assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)) == 0
        assert db.session.scalar(select(func.count()).select_from(Course)) == 0


