"""`flask import-exams`: reading the exam office's file, matching its course names, and importing a period —
on the real RAF files in ../shared/data and on small files written here."""
from datetime import date

import pytest
from sqlalchemy import func, select

from raf_network.courses import exam_import
from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.csv_import import schedule_import
from raf_network.courses.exam_import import (
    CourseMatcher,
    exam_schedule_import,
    exam_schedule_parse,
    name_base,
    name_normalize,
    year_for,
)
from raf_network.courses.models import ExamEntry, ExamPeriod
from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from tests.conftest import report_figure
from tests.stubs.files import FileServerStub

REAL_PERIOD = "Kolokvijumska nedelja 1, 2023/24"
REPORTED = []
COURSES = [{"code": "ds", "name": "Diskretne strukture"}, {"code": "uup", "name": "Uvod u programiranje"},
           {"code": "eng1", "name": "Engleski 1"}, {"code": "rg", "name": "Racunarska grafika"}]
# Three rows in the office's format (a Saturday, a Sunday, a Monday of January 2027).
SMALL = (
    "\ufeffDiskretne strukture;Irena Jovanović;6,9;9-10.30, 11-12.30;Subota;23.01.;ri,rn;1;;99\r\n"
    "Uvod u programiranje (RN);Dragan Urošević;1,2,3;9-12;Nedelja;24.01.;rn\r\n"
    "Računarska grafika;Dragan Mašulović;4;15-16;Ponedeljak;25.01.;rn;3"
)


def _catalogue(app, courses=COURSES):
    with app.app_context():
        catalogue_write(catalogue_plan(courses=courses))
        db.session.commit()


def _import(app, text=SMALL, period="Januarski kolokvijumi 2027", **options):
    options.setdefault("year", 2027)
    with app.app_context():
        return exam_schedule_import(text=text, period=period, **options)


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _live_exams(app):
    with app.app_context():
        return {row.external_id: row for row in db.session.scalars(
            select(ExamEntry).where(ExamEntry.deleted_at.is_(None)))}


# ---- names, dates, rows ----

@pytest.mark.parametrize("name, normalized", [
    ("Računarska grafika", "racunarska grafika"), ("Bežične i  mobilne KOMUNIKACIJE", "bezicne i mobilne komunikacije"),
    ("Animirana grafika, Milan Đurić", "animirana grafika, milan djuric"), ("Ćirilica žar", "cirilica zar"),
    ("Dizajn i razvoj veb\u00a0strana", "dizajn i razvoj veb strana"),
    (" Uvod u programiranje (RN) ", "uvod u programiranje (rn)"),
])
def test_names_are_compared_folded(name, normalized):
    assert name_normalize(name) == normalized


@pytest.mark.parametrize("name, base", [
    ("engleski 1 (it)", "engleski 1"), ("engleski 1 (rn i ri)", "engleski 1"), ("c# programiranje", "c# programiranje"),
    ("(rn)", "(rn)"),
])
def test_a_trailing_programme_suffix_is_set_aside(name, base):
    assert name_base(name) == base


@pytest.mark.parametrize("today, month, year", [
    (date(2026, 12, 1), 11, 2026), (date(2026, 12, 1), 1, 2027), (date(2027, 3, 1), 11, 2026),
    (date(2027, 3, 1), 6, 2027), (date(2027, 10, 1), 1, 2028), (date(2027, 9, 30), 10, 2026),
])
def test_the_academic_year_decides_the_year_by_default(today, month, year):
    assert year_for(month, year=None, today=today) == year
    assert year_for(month, year=2023, today=today) == 2023


def test_the_real_file_reads_79_rows_and_its_day_names_prove_2023(kol_nedelja_text):
    parsed = exam_schedule_parse(kol_nedelja_text, year=2023)
    assert (len(parsed.rows), parsed.errors, parsed.warnings) == (79, [], [])
    first = parsed.rows[0]
    assert (first.line, first.name, first.professor, first.classroom, first.time, first.date) == (
        1, "C# programiranje", "Milos Milosavljevic", "5", "9-14", date(2023, 11, 18))
    assert {row.date for row in parsed.rows} == {date(2023, 11, day) for day in range(18, 27)}
    # Read in December 2026 without --year, the dates fall in 2026: every day name disagrees, and the report
    # names the year that fits.
    guessed = exam_schedule_parse(kol_nedelja_text, today=date(2026, 12, 1))
    assert guessed.rows[0].date == date(2026, 11, 18) and len(guessed.warnings) == 80
    assert guessed.warnings[0] == "line 1: Subota 18.11., but 18.11.2026. is a Wednesday"
    assert guessed.warnings[-1] == "the day names fit the year 2023: pass --year 2023"
    # In the academic year 2023/24 itself, the default is right.
    assert exam_schedule_parse(kol_nedelja_text, today=date(2024, 2, 1)).warnings == []


@pytest.mark.parametrize("line, problem", [
    ("Diskretne strukture;I. J.;6;9-12;Subota;31.02.", "line 2: impossible date '31.02.'"),
    ("Diskretne strukture;I. J.;6;9-12;Subota;18-11", "line 2: date '18-11' is not like 18.11."),
    ("Diskretne strukture;I. J.;6;9-12;Subota", "line 2: expected at least 6 columns"),
    (";I. J.;6;9-12;Subota;18.11.", "line 2: empty course name"),
    ("Diskretne strukture;I. J.;6;" + "9-10, " * 10 + ";Subota;18.11.", "line 2: time is longer than 50 characters"),
    ("Diskretne strukture;I. J.;6;9-10.30, 11-12.30;Subota;23.01.", "line 2: same course, date and time as line 1"),
])
def test_unreadable_rows_are_errors_naming_their_line(line, problem):
    parsed = exam_schedule_parse(SMALL.splitlines()[0] + "\n" + line + "\n", year=2027)
    assert len(parsed.errors) == 1 and parsed.errors[0].startswith(problem), parsed.errors


def test_a_year_written_in_the_cell_and_blank_lines_are_accepted():
    parsed = exam_schedule_parse("\n\nDiskretne strukture;;6;9-12;Petak;24.11.2023.\n;;;;;\n", year=2027)
    assert parsed.errors == [] and parsed.warnings == []
    assert [(row.line, row.date, row.professor) for row in parsed.rows] == [(3, date(2023, 11, 24), None)]


# ---- matching ----

@pytest.fixture
def matcher():
    more = [("eng3", "Engleski 3"), ("asp", "Algoritmi i strukture podataka")]
    return CourseMatcher([(course["code"], course["name"]) for course in COURSES] + more)


@pytest.mark.parametrize("name, code, status", [
    ("Računarska grafika", "rg", "exact"), ("DISKRETNE  STRUKTURE", "ds", "exact"),
    ("Engleski 1 (IT)", "eng1", "exact"),
    ("Uvod u programiranje (RN)", "uup", "exact"), ("Diskretne struktre", "ds", "fuzzy"),
    ("Algoritmi i strukture podataka (RI)", "asp", "exact"), ("Algoritmi i struktur podataka (RN)", "asp", "fuzzy"),
])
def test_names_match_their_course(matcher, name, code, status):
    match = matcher.match(name)
    assert (match.status, match.code) == (status, code)


def test_two_courses_about_equally_close_are_ambiguous_with_their_scores(matcher):
    match = matcher.match("Englesk (MD)")
    assert match.status == "ambiguous" and match.code is None
    assert [name for name, _ in match.candidates[:2]] == ["Engleski 1", "Engleski 3"]
    assert match.candidates[0][1] == match.candidates[1][1] > exam_import.MATCH_THRESHOLD


def test_a_name_like_no_course_is_unmatched_with_the_best_candidates(matcher):
    match = matcher.match("Kvantno računarstvo")
    assert match.status == "unmatched" and len(match.candidates) == 3
    assert all(score < exam_import.MATCH_THRESHOLD for _, score in match.candidates)


def test_two_catalogue_courses_with_the_same_folded_name_are_ambiguous():
    match = CourseMatcher([("a", "Računarska grafika"), ("b", "Racunarska grafika")]).match("racunarska grafika")
    assert match.status == "ambiguous" and {name for name, _ in match.candidates} == {"Računarska grafika",
                                                                                       "Racunarska grafika"}


# ---- importing: the real files ----

def test_the_real_colloquium_week_matches_78_of_79_rows(app, raspored_text, kol_nedelja_text):
    with app.app_context():
        schedule_import(text=raspored_text)
    report = _import(app, kol_nedelja_text, REAL_PERIOD, year=2023, visible=True)
    statuses = [match.status for _, match in report.matches]
    assert (report.rows_read, report.imported, statuses.count("exact")) == (79, 78, 78)
    assert report.unmatched("unmatched") == []
    [(line, name, candidates)] = report.unmatched("ambiguous")
    assert (line, name) == (11, "Englesk (MD)") and [c[0] for c in candidates[:2]] == ["Engleski 1", "Engleski 3"]
    assert report.changes.counts == {"created": 1 + 78, "updated": 0, "removed": 0} and report.warnings == []
    if not REPORTED:  # once, not per backend
        REPORTED.append(True)
        report_figure("exams", f"kol_nedelja.csv: {report.rows_read} rows, {statuses.count('exact')} matched exactly "
                               f"after normalising, ambiguous: {name} ({exam_import.candidates_text(candidates[:2])})")

    client = app.test_client()
    [period] = client.get("/api/examination-periods").get_json()
    assert (period["name"], period["start_date"], period["end_date"]) == (REAL_PERIOD, "2023-11-18", "2023-11-26")
    exams = client.get(f"/api/examination-entries?examination_period={period['id']}").get_json()
    assert len(exams) == 78
    discrete = next(exam for exam in exams if exam["course"]["name"] == "Diskretne strukture")
    assert (discrete["date"], discrete["time"], discrete["classroom"], discrete["professor"]) == (
        "2023-11-19", "9-10.30, 11-12.30, 13-14.30", "6,9,10,11,20,21", "Irena Jovanović")
    english = sorted((exam["date"], exam["course"]["name"]) for exam in exams
                     if exam["course"]["name"].startswith("Engleski"))
    assert english == [("2023-11-18", "Engleski 1"), ("2023-11-18", "Engleski 1"), ("2023-11-19", "Engleski 3")]


# ---- importing: replacement, refusals, dry runs, visibility ----

def test_importing_the_same_period_again_replaces_its_exams_and_leaves_others_alone(app):
    _catalogue(app)
    first = _import(app)
    assert first.changes.counts == {"created": 1 + 3, "updated": 0, "removed": 0}
    other = _import(app, SMALL.splitlines()[0], period="Drugi rok")
    assert other.changes.counts["created"] == 2
    before = _live_exams(app)

    assert _import(app).changes.empty  # the same file again: nothing changes

    moved = SMALL.replace("4;15-16;Ponedeljak;25.01.", "Rg7;15-16;Ponedeljak;25.01.")  # a new classroom
    replaced = "\n".join(moved.splitlines()[1:] + ["Engleski 1 (IT);Vera Vrbica;11;14-15;Utorak;26.01."])
    report = _import(app, replaced, period="  januarski   KOLOKVIJUMI 2027 ")  # the same period, by its name
    assert report.changes.counts == {"created": 1, "updated": 2, "removed": 1}  # the period's name, and Rg7
    after = _live_exams(app)
    assert len(after) == 3 + 1
    ds_keys = [key for key, row in before.items() if row.time == "9-10.30, 11-12.30"]
    assert len(ds_keys) == 2  # one per period; the "Drugi rok" one is untouched
    assert sum(key in after for key in ds_keys) == 1
    assert {row.classroom for row in after.values()} >= {"Rg7", "11"}
    assert _count(app, ExamPeriod) == 2 and _count(app, ExamEntry) == 3 + 1 + 1


def test_an_unreadable_row_refuses_the_file_and_writes_nothing(app):
    _catalogue(app)
    bad = SMALL + "\nDiskretne strukture;I. J.;6;9-12;Subota;31.02.\nKratak;red\n"
    with pytest.raises(ValidationFailed) as refused:
        _import(app, bad, visible=True)
    assert refused.value.errors["rows"] == ["line 4: impossible date '31.02.'",
                                            "line 5: expected at least 6 columns (course; teacher; classroom; time; "
                                            "day; date), found 2"]
    assert _count(app, ExamPeriod) == 0 and _count(app, ExamEntry) == 0


def test_strict_refuses_a_file_with_an_unmatched_or_ambiguous_name(app):
    _catalogue(app, COURSES + [{"code": "eng3", "name": "Engleski 3"}])
    text = SMALL + "\nEnglesk (MD);Bojana Ćuk;21;16.30-17.30;Utorak;26.01.\nFizika;X;1;9-10;Utorak;26.01."
    with pytest.raises(ValidationFailed) as refused:
        _import(app, text, strict=True)
    assert refused.value.errors["ambiguous"][0].startswith("line 4: 'Englesk (MD)' — best candidates: Engleski 1 (")
    assert refused.value.errors["unmatched"][0].startswith("line 5: 'Fizika' — best candidates: ")
    assert _count(app, ExamPeriod) == 0 and _count(app, ExamEntry) == 0
    # Without --strict the three good rows go in and the two others are reported.
    report = _import(app, text)
    assert report.imported == 3 and [line for line, _, _ in report.unmatched("ambiguous")] == [4]
    assert [name for _, name, _ in report.unmatched("unmatched")] == ["Fizika"]
    assert _count(app, ExamEntry) == 3


def test_a_file_matching_no_course_is_refused(app):
    _catalogue(app, [{"code": "x", "name": "Nešto sasvim drugo"}])
    with pytest.raises(ValidationFailed) as refused:
        _import(app)
    assert "no row matched" in refused.value.message and len(refused.value.errors["unmatched"]) == 3
    assert _count(app, ExamPeriod) == 0


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(app):
    _catalogue(app)
    report = _import(app, dry_run=True, visible=True)
    assert report.dry_run and report.imported == 3 and report.changes.counts["created"] == 4
    assert [(row.line, match.code) for row, match in report.matches] == [(1, "ds"), (2, "uup"), (3, "rg")]
    assert _count(app, ExamPeriod) == 0 and _count(app, ExamEntry) == 0


def test_a_period_is_hidden_until_made_visible_and_keeps_its_visibility(app):
    _catalogue(app)
    client = app.test_client()
    report = _import(app)
    assert not report.visible and client.get("/api/examination-periods").get_json() == []
    assert _import(app, visible=True).visible
    [period] = client.get("/api/examination-periods").get_json()
    assert (period["start_date"], period["end_date"]) == ("2027-01-23", "2027-01-25")  # earliest and latest date
    assert _import(app).visible  # re-imported without the flag: still visible
    assert not _import(app, visible=False).visible
    assert client.get("/api/examination-periods").get_json() == []


def test_explicit_start_and_end_and_an_inverted_period(app):
    _catalogue(app)
    report = _import(app, start=date(2027, 1, 20), end=date(2027, 1, 24), visible=True)
    assert (report.start_date, report.end_date) == (date(2027, 1, 20), date(2027, 1, 24))
    assert report.warnings == ["line 3: 25.01.2027. is outside the period"]
    with pytest.raises(ValidationFailed):
        _import(app, start=date(2027, 2, 1), end=date(2027, 1, 1))


def test_an_import_invalidates_the_cached_exam_list(app):
    _catalogue(app)
    _import(app, visible=True)
    client = app.test_client()
    [period] = client.get("/api/examination-periods").get_json()
    path = f"/api/examination-entries?examination_period={period['id']}"
    before = client.get(path)
    assert client.get(path).headers["X-Cache"].startswith("hit")
    _import(app, SMALL.replace("4;15-16", "Rg7;15-16"))
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "Rg7" in {exam["classroom"] for exam in after.get_json()}


# ---- the command ----

def _write(tmp_path, text, name="kol.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_command_imports_and_reports(app, runner, tmp_path):
    _catalogue(app, COURSES + [{"code": "eng3", "name": "Engleski 3"}])
    path = _write(tmp_path, SMALL + "\nEnglesk (MD);Bojana Ćuk;21;16.30-17.30;Utorak;26.01.")
    result = runner.invoke(args=["import-exams", path, "--period", "Januar 2027", "--year", "2027", "--visible"])
    assert result.exit_code == 0, result.output
    assert "Januar 2027 (2027-01-23 – 2027-01-26, visible): 4 rows read, 3 entries imported" in result.output
    assert "line 4: Englesk (MD) — best candidates: Engleski 1 (" in result.output
    assert "exams: created 4, updated 0, removed 0" in result.output
    assert _count(app, ExamEntry) == 3


def test_the_command_dry_run_prints_the_match_table(app, runner, tmp_path):
    _catalogue(app)
    path = _write(tmp_path, SMALL.replace("Diskretne strukture", "Diskretne struktre"))
    result = runner.invoke(args=["import-exams", path, "--period", "P", "--year", "2027", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "line   1  23.01.2027  Diskretne struktre  →  Diskretne strukture (fuzzy, " in result.output
    assert "line   2  24.01.2027  Uvod u programiranje (RN)  →  Uvod u programiranje\n" in result.output
    assert "dry run, nothing written; it would have created 4" in result.output
    assert _count(app, ExamPeriod) == 0


def test_the_command_refuses_bad_rows_and_strict_misses_with_a_non_zero_exit(app, runner, tmp_path):
    _catalogue(app)
    bad = runner.invoke(args=["import-exams", _write(tmp_path, SMALL + "\nX;Y;1;9;Subota;32.01."), "--period", "P"])
    assert bad.exit_code == 1 and "line 4: impossible date '32.01.'" in bad.output
    strict = runner.invoke(args=["import-exams", _write(tmp_path, SMALL + "\nFizika;X;1;9-10;Utorak;26.01.", "s.csv"),
                                 "--period", "P", "--strict"])
    assert strict.exit_code == 1 and "line 4: 'Fizika'" in strict.output
    missing = runner.invoke(args=["import-exams", str(tmp_path / "nope.csv"), "--period", "P"])
    assert missing.exit_code == 1 and "no such file" in missing.output
    assert _count(app, ExamPeriod) == 0


def test_the_command_reads_a_url(app, runner, kol_nedelja_text, raspored_text):
    files = {"/raspored.csv": raspored_text.encode(), "/kol.csv": kol_nedelja_text.encode()}
    with FileServerStub(files) as server:
        timetable = runner.invoke(args=["import-schedule", server.url("/raspored.csv")])
        assert timetable.exit_code == 0 and "created 400" in timetable.output, timetable.output
        exams = runner.invoke(args=["import-exams", server.url("/kol.csv"), "--period", REAL_PERIOD, "--year", "2023"])
    assert exams.exit_code == 0 and "79 rows read, 78 entries imported" in exams.output, exams.output
    assert server.requests == ["/raspored.csv", "/kol.csv"]


@pytest.mark.parametrize("stub, path, config, message", [
    ({"status": {"/gone.csv": 404}}, "/gone.csv", {}, "answered 404 Not Found"),
    ({"status": {"/broken.csv": 503}}, "/broken.csv", {}, "answered 503 Service Unavailable"),
    ({}, "/big.csv", {"IMPORT_MAX_BYTES": 100}, "larger than IMPORT_MAX_BYTES (100 bytes)"),
    ({"no_length": ["/big.csv"]}, "/big.csv", {"IMPORT_MAX_BYTES": 100}, "larger than IMPORT_MAX_BYTES (100 bytes)"),
    ({"delay": {"/slow.csv": 2}}, "/slow.csv", {"IMPORT_FETCH_TIMEOUT": 0.2}, "did not answer within 0.2 s"),
])
def test_a_url_that_cannot_be_read_is_a_clear_error(app, runner, stub, path, config, message):
    app.config.update(config)
    files = {"/big.csv": SMALL.encode() * 10, "/slow.csv": SMALL.encode()}
    with FileServerStub(files, **stub) as server:
        result = runner.invoke(args=["import-exams", server.url(path), "--period", "P"])
    assert result.exit_code == 1 and message in result.output, result.output
    assert _count(app, ExamPeriod) == 0


def test_an_unreachable_host_and_a_file_that_is_not_utf8(app, runner, tmp_path):
    with FileServerStub({}) as server:
        closed = server.url("/kol.csv")  # nothing listens there once the stub has stopped
    result = runner.invoke(args=["import-exams", closed, "--period", "P"])
    assert result.exit_code == 1 and "is unreachable" in result.output
    latin2 = tmp_path / "cp1250.csv"
    latin2.write_bytes("Računarska grafika;X;4;9;Subota;18.11.".encode("cp1250"))
    result = runner.invoke(args=["import-schedule", str(latin2)])
    assert result.exit_code == 1 and "is not UTF-8 text" in result.output
