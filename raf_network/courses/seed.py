"""``flask seed``: the catalogue's starting data, read in place from ``SEED_DATA_DIR`` (never copied into the
repository), or — without that folder — a small demo data set this module writes itself.

Real data (``../shared/data`` beside the repository by default): ``raspored.csv``, the real RAF timetable,
imported like ``flask import-schedule``; ``kol_nedelja.csv``, the real first colloquium week of 2023/24, imported
through the exam importer as a visible period. Demo data: fictional courses, timetable and exam period in the
same two file formats, generated here and imported the same way; every name says DEMO.
Both steps are idempotent: seeding again changes nothing.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from flask import current_app

from raf_network.courses.catalogue import ChangeSet
from raf_network.courses.csv_import import schedule_import
from raf_network.courses.exam_import import DAY_NAMES, academic_year_of, exam_schedule_import

TIMETABLE_FILE = "raspored.csv"
EXAMS_FILE = "kol_nedelja.csv"
# kol_nedelja.csv has no year in its dates; its README says 18–26 Nov 2023, and its day names agree (the importer
# warns when they do not).
REAL_EXAM_PERIOD = "Kolokvijumska nedelja 1, 2023/24"
REAL_EXAM_YEAR = 2023

DEMO_EXAM_PERIOD = "DEMO — primer ispitnog roka"
# Fictional courses (name, teacher, classroom, groups): nothing here is RAF's.
DEMO_COURSES = (
    ("DEMO Programiranje 1", "Demo Nastavnik A", "Demo sala 1", "101, 102"),
    ("DEMO Matematika 1", "Demo Nastavnik B", "Demo sala 2", "101, 102"),
    ("DEMO Baze podataka", "Demo Nastavnik C", "Demo lab 1", "201"),
    ("DEMO Računarske mreže", "Demo Nastavnik D", "Demo lab 2", "201"),
)
DEMO_DAYS = ("PON", "UTO", "SRE", "ČET", "PET")


@dataclass
class SeedReport:
    """What ``flask seed`` loaded, from where, and what it changed."""

    demo: bool
    notes: list = field(default_factory=list)
    timetable: ChangeSet = field(default_factory=ChangeSet)
    exams: object = None  # ExamImportReport, or None when there was no exam file

    @property
    def counts(self):
        steps = [self.timetable] + ([self.exams.changes] if self.exams is not None else [])
        return {kind: sum(step.counts[kind] for step in steps) for kind in ("created", "updated", "removed")}


class SeedDataMissing(Exception):
    """No real data in SEED_DATA_DIR, and demo data is not allowed here (production)."""


def seed_run(*, demo_allowed=True, today=None):
    """Load the real RAF files from ``SEED_DATA_DIR``, or the demo data set when its timetable is not there
    (``demo_allowed``; otherwise SeedDataMissing: fictional courses must not reach a production database)."""
    folder = Path(current_app.config["SEED_DATA_DIR"])
    timetable = folder / TIMETABLE_FILE
    if not timetable.is_file():
        reason = f"{timetable} not found (SEED_DATA_DIR={folder})"
        if not demo_allowed:
            raise SeedDataMissing(reason)
        return _demo_seed(reason, today=today or date.today())
    report = SeedReport(demo=False, notes=[f"real RAF data from {folder}"])
    # Seeding replaces whatever timetable was loaded before (the demo one, say): a deliberate mass change.
    report.timetable = schedule_import(text=timetable.read_text(encoding="utf-8"), force=True)
    exams = folder / EXAMS_FILE
    if exams.is_file():
        report.exams = exam_schedule_import(text=exams.read_text(encoding="utf-8"), period=REAL_EXAM_PERIOD,
                                            year=REAL_EXAM_YEAR, visible=True)
    else:
        report.notes.append(f"{exams} not found: no exam period loaded")
    return report


def _demo_seed(reason, *, today):
    report = SeedReport(demo=True, notes=[reason, "seeded the project's DEMO data set instead: fictional courses, "
                                                  "timetable and exam period, every name labelled DEMO"])
    report.timetable = schedule_import(text=demo_timetable_csv(), force=True)
    year, exams_text = demo_exams_csv(today=today)
    report.exams = exam_schedule_import(text=exams_text, period=DEMO_EXAM_PERIOD, year=year, visible=True)
    return report


def demo_timetable_csv():
    """The demo timetable in the RAF timetable format: a lecture and a lab per demo course."""
    rows = []
    for index, (name, teacher, classroom, groups) in enumerate(DEMO_COURSES):
        day = DEMO_DAYS[index % len(DEMO_DAYS)]
        rows.append([name, "P", teacher, groups, day, "09:15-11", classroom])
        rows.append([name, "V", f"{teacher} (asistent)", groups, DEMO_DAYS[(index + 2) % len(DEMO_DAYS)],
                     "11:15-13", classroom])
    return "".join(",".join(f'"{cell}"' for cell in row) + "\n" for row in rows)


def demo_exams_csv(*, today):
    """(year, text): the demo exam period in the exam office's format, on weekdays from the last Monday of
    January of the current academic year (so seeding again within the year changes nothing)."""
    year = academic_year_of(today) + 1
    start = date(year, 1, 31)
    start -= timedelta(days=start.weekday())
    lines = []
    for index, (name, teacher, classroom, _groups) in enumerate(DEMO_COURSES):
        when = start + timedelta(days=index)
        lines.append(";".join([name, teacher, classroom, "9-12", DAY_NAMES[when.weekday()].capitalize(),
                               f"{when:%d.%m.}", "demo"]))
    return year, "\n".join(lines) + "\n"
