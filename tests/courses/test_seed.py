"""`flask seed`: the real RAF files read in place from SEED_DATA_DIR, or the project's labelled demo data without
them; idempotent either way."""
from datetime import date

from sqlalchemy import func, select

from raf_network.courses.exam_import import exam_schedule_parse
from raf_network.courses.models import Course, ExamEntry, ExamPeriod, ScheduleEntry
from raf_network.courses.seed import DEMO_EXAM_PERIOD, REAL_EXAM_PERIOD, demo_exams_csv, seed_run
from raf_network.extensions import db
from tests.conftest import real_data_seed


def _counts(app):
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model)
                                                       .where(model.deleted_at.is_(None)))
                for model in (Course, ScheduleEntry, ExamPeriod, ExamEntry)}


def test_the_real_data_seeds_once_and_a_second_seed_changes_nothing(app):
    first = real_data_seed(app)
    assert first.counts == {"created": 74 + 326 + 1 + 78, "updated": 0, "removed": 0}
    assert [(line, name) for line, name, _ in first.exams.unmatched("ambiguous")] == [(11, "Englesk (MD)")]
    second = real_data_seed(app)
    assert second.counts == {"created": 0, "updated": 0, "removed": 0}
    assert _counts(app) == {"course": 74, "schedule_entry": 326, "exam_period": 1, "exam_entry": 78}
    [period] = app.test_client().get("/api/examination-periods").get_json()
    assert period["name"] == REAL_EXAM_PERIOD


def test_without_the_folder_the_labelled_demo_data_is_seeded(app, tmp_path):
    app.config["SEED_DATA_DIR"] = str(tmp_path / "nonexistent")
    with app.app_context():
        first = seed_run(today=date(2026, 12, 1))
        second = seed_run(today=date(2027, 3, 15))  # later in the same academic year: the same data
    assert first.demo and "DEMO" in " ".join(first.notes) and str(tmp_path / "nonexistent") in first.notes[0]
    assert first.counts["created"] == _counts(app)["course"] + 8 + 1 + 4 and first.exams.unmatched("ambiguous") == []
    assert second.counts == {"created": 0, "updated": 0, "removed": 0}
    client = app.test_client()
    courses = client.get("/api/courses").get_json()
    assert len(courses) == 4 and all(course["name"].startswith("DEMO ") for course in courses)
    [period] = client.get("/api/examination-periods").get_json()
    assert period["name"] == DEMO_EXAM_PERIOD and period["start_date"] == "2027-01-25"
    exams = client.get(f"/api/examination-entries?examination_period={period['id']}").get_json()
    assert len(exams) == 4 and all(exam["course"]["name"].startswith("DEMO ") for exam in exams)
    assert len(client.get("/api/course-schedule").get_json()) == 8


def test_the_demo_exam_file_is_consistent_in_any_academic_year():
    for today in (date(2026, 12, 1), date(2031, 9, 30), date(2031, 10, 1)):
        year, text = demo_exams_csv(today=today)
        parsed = exam_schedule_parse(text, year=year)
        assert parsed.errors == [] and parsed.warnings == [] and len(parsed.rows) == 4
        assert all(row.date.month == 1 and row.date.weekday() < 5 for row in parsed.rows)


def test_the_command_says_what_it_loaded(app, runner, tmp_path, shared_data):
    app.config["SEED_DATA_DIR"] = str(tmp_path)
    demo = runner.invoke(args=["seed"])
    assert demo.exit_code == 0 and "seeded the project's DEMO data set instead" in demo.output, demo.output
    app.config["SEED_DATA_DIR"] = str(shared_data)
    real = runner.invoke(args=["seed"])
    assert real.exit_code == 0 and f"real RAF data from {shared_data}" in real.output, real.output
    assert "79 rows read, 78 entries imported" in real.output and "line 11: Englesk (MD)" in real.output
    again = runner.invoke(args=["seed"])
    assert "in all: created 0, updated 0, removed 0" in again.output


def test_production_refuses_demo_data_unless_asked(app, runner, tmp_path):
    app.config.update(SEED_DATA_DIR=str(tmp_path), ENV_NAME="production")
    refused = runner.invoke(args=["seed"])
    assert refused.exit_code == 1 and "loads no DEMO data unless --demo" in refused.output
    assert _counts(app)["course"] == 0
    allowed = runner.invoke(args=["seed", "--demo"])
    assert allowed.exit_code == 0 and _counts(app)["course"] == 4


def test_a_folder_with_the_timetable_only_or_a_broken_exam_file(app, runner, tmp_path, raspored_text):
    (tmp_path / "raspored.csv").write_text(raspored_text, encoding="utf-8")  # a temporary copy, outside the repo
    app.config["SEED_DATA_DIR"] = str(tmp_path)
    timetable_only = runner.invoke(args=["seed"])
    assert timetable_only.exit_code == 0 and "kol_nedelja.csv not found: no exam period loaded" in timetable_only.output
    (tmp_path / "kol_nedelja.csv").write_text("Diskretne strukture;I. J.;6;9-12;Subota;31.02.", encoding="utf-8")
    broken = runner.invoke(args=["seed"])
    assert broken.exit_code == 1 and "line 1: impossible date '31.02.'" in broken.output, broken.output
    assert _counts(app)["exam_period"] == 0 and _counts(app)["schedule_entry"] == 326
