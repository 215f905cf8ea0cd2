"""Importing one exam period from the RAF exam office's schedule file (``flask import-exams``; later the
officers' console: upload → dry run → confirm).

The file (see ../shared/data/README.md, ``kol_nedelja.csv``): UTF-8 with a byte-order mark, ``;``-separated, no
header; columns 0 course name (with diacritics, sometimes a programme suffix such as ``(RN)``), 1 teacher(s),
2 classroom(s), 3 time(s) as free text, 4 day name, 5 date ``DD.MM.`` without the year; the rest are the
office's own notes.

Four steps, each a function of its own: ``exam_schedule_parse`` reads the rows (an unreadable row is an error
naming its line), ``CourseMatcher`` finds each row's course in the catalogue (diacritics folded, case and
spacing ignored, the programme suffix set aside, then rapidfuzz for typos, refusing near ties),
``exam_import_plan`` describes the period and its exams to the catalogue planner (``catalogue_plan``), and
``exam_schedule_import`` writes the plan with ``catalogue_write`` in one transaction, then invalidates the cache
as a webhook change does and hands the newly announced exams to the notification pipeline.
"""
import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz, process
from sqlalchemy import select

from raf_network.courses.catalogue import ChangeSet, catalogue_plan
from raf_network.courses.changes import catalogue_change_apply
from raf_network.courses.models import Course, ExamEntry, ExamPeriod
from raf_network.courses.values import course_code_for
from raf_network.errors import ValidationFailed
from raf_network.extensions import db
from raf_network.schemas import CONTROL_CHARACTERS

# Columns of the exam office's file; only the first six matter to the app.
NAME, PROFESSOR, CLASSROOM, TIME, DAY, DATE = range(6)
MIN_COLUMNS = 6
# The calendar years an import may place the DD.MM. dates in (the CLI's --year, the console's "Godina").
YEAR_MIN, YEAR_MAX = 2000, 2100
# What the catalogue's columns hold (raf_network/courses/models.py: ExamEntry).
MAX_LENGTHS = {"time": 50, "classroom": 100, "professor": 200}
DATE_CELL = re.compile(r"^(\d{1,2})\.\s*(\d{1,2})\.?(?:\s*(\d{4})\.?)?$")
# Serbian day names as the office writes them (diacritics folded), Monday first like date.weekday().
DAY_NAMES = ("ponedeljak", "utorak", "sreda", "cetvrtak", "petak", "subota", "nedelja")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SUFFIX = re.compile(r"\s*\(([^()]*)\)$")
# A fuzzy match needs this WRatio score (0–100), and must beat the runner-up by more than the margin: two
# courses about as close as each other (Englesk → Engleski 1 / Engleski 3) are ambiguous, never a guess.
MATCH_THRESHOLD = 80.0
AMBIGUITY_MARGIN = 3.0
CANDIDATES_SHOWN = 3


# --------------------------------------------------------------------------------------------------
# Names and dates
# --------------------------------------------------------------------------------------------------

def name_normalize(name):
    """The form names are compared in: diacritics folded (č ć → c, š → s, ž → z, đ → dj), case folded,
    spacing (also non-breaking) collapsed. ``Računarska  grafika`` → ``racunarska grafika``."""
    text = name.replace("đ", "dj").replace("Đ", "Dj")
    text = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return " ".join(text.casefold().split())


def name_base(normalized):
    """A normalized name without its trailing programme suffix: ``engleski 1 (rn i ri)`` → ``engleski 1``."""
    return SUFFIX.sub("", normalized).strip() or normalized


def academic_year_of(today):
    """The first calendar year of the academic year (October–September) that contains ``today``."""
    return today.year if today.month >= 10 else today.year - 1


def year_for(month, *, year, today):
    """The calendar year of a ``DD.MM.`` date: ``year`` when given, else the academic year containing ``today``
    decides (October–December its first calendar year, January–September the next)."""
    if year is not None:
        return year
    first = academic_year_of(today)
    return first if month >= 10 else first + 1


def period_external_id(name):
    """The catalogue key of an imported period: its name decides (case and spacing ignored)."""
    normalized = " ".join(name.casefold().split())
    return f"import-{course_code_for(name)[:40]}-{hashlib.sha1(normalized.encode()).hexdigest()[:8]}"


def exam_external_id(period_key, natural_key):
    """Stable id of an exam row: its period and the row's natural key (course as written, date, time)."""
    return "exam-" + hashlib.sha1("|".join((period_key, *natural_key)).encode("utf-8")).hexdigest()[:20]


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------

@dataclass
class ExamRow:
    line: int
    name: str
    professor: str | None
    classroom: str
    time: str
    date: date
    natural_key: tuple


@dataclass
class ParsedExamSchedule:
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)    # "line N: problem" — any of them refuses the file
    warnings: list = field(default_factory=list)  # "line N: problem" — reported, the row is imported


def _cells(row):
    return [cell.replace("\u00a0", " ").strip() for cell in row]


def _row_date(cell, *, year, today):
    """``18.11.`` (or ``18.11.2023.``) → a date; ValueError naming the problem."""
    match = DATE_CELL.match(cell)
    if not match:
        raise ValueError(f"date {cell!r} is not like 18.11.")
    day, month, written_year = int(match[1]), int(match[2]), match[3]
    try:
        return date(int(written_year) if written_year else year_for(month, year=year, today=today), month, day)
    except ValueError:
        raise ValueError(f"impossible date {cell!r}") from None


def _row_problems(cells):
    problems = []
    if not cells[NAME]:
        problems.append("empty course name")
    for name, index in (("time", TIME), ("classroom", CLASSROOM), ("professor", PROFESSOR)):
        if len(cells[index]) > MAX_LENGTHS[name]:
            problems.append(f"{name} is longer than {MAX_LENGTHS[name]} characters")
    if any(CONTROL_CHARACTERS.search(cells[index]) for index in range(MIN_COLUMNS)):
        problems.append("control characters in a cell")
    return problems


def _weekday_warning(line, day_cell, when):
    """A warning when the day-name column disagrees with the date (a wrong year shows up here first)."""
    if not day_cell:
        return None
    written = name_normalize(day_cell)
    if written not in DAY_NAMES:
        return f"line {line}: unknown day name {day_cell!r}"
    if DAY_NAMES.index(written) != when.weekday():
        return f"line {line}: {day_cell} {when:%d.%m.}, but {when:%d.%m.%Y.} is a {WEEKDAYS[when.weekday()]}"
    return None


def exam_schedule_parse(text, *, year=None, today=None):
    """Read the exam office's file. ``year``: the calendar year of every ``DD.MM.`` date (default: the academic
    year containing ``today``). Collects every unreadable row (errors) and every day name that disagrees with
    its date (warnings), each with its line number."""
    today = today or date.today()
    parsed = ParsedExamSchedule()
    seen = {}
    day_names = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")
    for row in reader:
        line, cells = reader.line_num, _cells(row)
        if not any(cells):
            continue
        if len(cells) < MIN_COLUMNS:
            parsed.errors.append(f"line {line}: expected at least {MIN_COLUMNS} columns (course; teacher; "
                                 f"classroom; time; day; date), found {len(cells)}")
            continue
        problems = _row_problems(cells)
        try:
            when = _row_date(cells[DATE], year=year, today=today)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            parsed.errors.extend(f"line {line}: {problem}" for problem in problems)
            continue
        natural_key = (name_normalize(cells[NAME]), when.isoformat(), " ".join(cells[TIME].split()))
        if natural_key in seen:
            parsed.errors.append(f"line {line}: same course, date and time as line {seen[natural_key]}")
            continue
        seen[natural_key] = line
        if warning := _weekday_warning(line, cells[DAY], when):
            parsed.warnings.append(warning)
        day_names.append((cells[DAY], when))
        parsed.rows.append(ExamRow(line=line, name=cells[NAME], professor=cells[PROFESSOR] or None,
                                   classroom=cells[CLASSROOM], time=cells[TIME], date=when, natural_key=natural_key))
    if parsed.warnings and (fitting := _years_fitting(day_names, today)):
        parsed.warnings.append(f"the day names fit the year {fitting}: pass --year {fitting}")
    return parsed


def _years_fitting(day_names, today):
    """The most recent year (of the last ten, and the next) in which every day name agrees with its date."""
    named = [(name_normalize(cell), when) for cell, when in day_names if name_normalize(cell) in DAY_NAMES]
    if not named:
        return None
    for candidate in range(today.year + 1, today.year - 10, -1):
        try:
            if all(DAY_NAMES.index(name) == when.replace(year=candidate).weekday() for name, when in named):
                return candidate
        except ValueError:  # 29.02. in a year without it
            continue
    return None


# --------------------------------------------------------------------------------------------------
# Matching course names
# --------------------------------------------------------------------------------------------------

@dataclass
class CourseMatch:
    """How a name of the file matched: ``exact`` (after normalising), ``fuzzy`` (a clear best above the
    threshold), ``ambiguous`` or ``unmatched`` (then not imported). ``candidates``: (course name, score)."""

    status: str
    code: str | None = None
    course: str | None = None
    score: float = 0.0
    candidates: list = field(default_factory=list)

    @property
    def matched(self):
        return self.status in ("exact", "fuzzy")


class CourseMatcher:
    """Matches the exam office's course names to the catalogue's courses (``(code, name)`` pairs)."""

    def __init__(self, courses):
        self.names = {}    # normalized name → [(code, name)]
        for code, name in courses:
            self.names.setdefault(name_normalize(name), []).append((code, name))
        self.choices = list(self.names)

    def match(self, name):
        normalized = name_normalize(name)
        for key in (normalized, name_base(normalized)):  # "Engleski 1 (IT)" as written, then "Engleski 1"
            if key in self.names:
                return self._exact(self.names[key])
        return self._fuzzy(name_base(normalized))

    def _exact(self, courses):
        if len(courses) == 1:
            code, name = courses[0]
            return CourseMatch("exact", code=code, course=name, score=100.0)
        return CourseMatch("ambiguous", candidates=[(name, 100.0) for _, name in courses])

    def _fuzzy(self, normalized):
        ranked = process.extract(normalized, self.choices, scorer=fuzz.WRatio, limit=CANDIDATES_SHOWN + 1)
        candidates = [(course_name, round(score, 1)) for choice, score, _ in ranked
                      for _, course_name in self.names[choice]][:CANDIDATES_SHOWN]
        if not ranked or ranked[0][1] < MATCH_THRESHOLD:
            return CourseMatch("unmatched", candidates=candidates)
        best_choice, best_score, _ = ranked[0]
        close = len(ranked) > 1 and best_score - ranked[1][1] <= AMBIGUITY_MARGIN
        if close or len(self.names[best_choice]) > 1:
            return CourseMatch("ambiguous", score=round(best_score, 1), candidates=candidates)
        code, course_name = self.names[best_choice][0]
        return CourseMatch("fuzzy", code=code, course=course_name, score=round(best_score, 1), candidates=candidates)


def catalogue_matcher():
    """A matcher over the catalogue's live courses."""
    rows = db.session.execute(select(Course.code, Course.name).where(Course.deleted_at.is_(None))).all()
    return CourseMatcher([(row.code, row.name) for row in rows])


# --------------------------------------------------------------------------------------------------
# The report, the plan and the import
# --------------------------------------------------------------------------------------------------

@dataclass
class ExamImportReport:
    """What an import read, matched and (unless a dry run) changed. Every list item names its file line."""

    period: str
    start_date: date
    end_date: date
    visible: bool
    rows_read: int
    matches: list          # (ExamRow, CourseMatch) per readable row, in file order
    warnings: list
    dry_run: bool = False
    changes: ChangeSet = field(default_factory=ChangeSet)
    period_id: int | None = None

    @property
    def imported(self):
        return sum(1 for _, match in self.matches if match.matched)

    def unmatched(self, status):
        """(line, name, candidates) of the rows whose name matched ``status`` (unmatched/ambiguous)."""
        return [(row.line, row.name, match.candidates) for row, match in self.matches if match.status == status]


@dataclass
class ExamImportPlan:
    report: ExamImportReport
    plan: object  # CataloguePlan


def _refusal(message, *, report=None, row_errors=()):
    """The ValidationFailed of a refused file, listing what refused it (bad rows, unmatched/ambiguous names)."""
    errors = {"rows": list(row_errors)} if row_errors else {}
    for status in ("unmatched", "ambiguous") if report is not None else ():
        listed = report.unmatched(status)
        if listed:
            errors[status] = [f"line {line}: {name!r} — best candidates: {candidates_text(candidates)}"
                              for line, name, candidates in listed]
    return ValidationFailed(message, errors=errors or None)


def candidates_text(candidates):
    """``[("Engleski 1", 82.4), …]`` → ``"Engleski 1 (82.4), …"``."""
    return ", ".join(f"{name} ({score:g})" for name, score in candidates) or "none"


def _period_name_check(period):
    if not period.strip() or len(period) > 200 or CONTROL_CHARACTERS.search(period):
        raise ValidationFailed("the period name must be 1–200 printable characters; nothing was imported")


def exam_import_plan(*, parsed, period, start=None, end=None, visible=None, strict=False):
    """Match the parsed rows and plan the period with its exams (reads only; writes nothing).

    ``visible``: True/False sets it; None keeps a stored period's visibility (a new period is hidden).
    Raises ValidationFailed when a row is unreadable, no row matched, the dates are inverted, or — with
    ``strict`` — any name is unmatched or ambiguous.
    """
    period = " ".join(period.split())
    _period_name_check(period)
    if parsed.errors:
        raise _refusal(f"{len(parsed.errors)} unreadable row(s); nothing was imported", row_errors=parsed.errors)
    if not parsed.rows:
        raise ValidationFailed("the file has no exam rows; nothing was imported")
    matcher = catalogue_matcher()
    period_key = period_external_id(period)
    stored = db.session.execute(select(ExamPeriod.id, ExamPeriod.visible, ExamPeriod.deleted_at)
                                .where(ExamPeriod.external_id == period_key)).first()
    if visible is None:
        visible = bool(stored and stored.deleted_at is None and stored.visible)
    dates = [row.date for row in parsed.rows]
    report = ExamImportReport(
        period=period, start_date=start or min(dates), end_date=end or max(dates), visible=visible,
        rows_read=len(parsed.rows), matches=[(row, matcher.match(row.name)) for row in parsed.rows],
        warnings=list(parsed.warnings), period_id=stored.id if stored else None,
    )
    report.warnings += [f"line {row.line}: {row.date:%d.%m.%Y.} is outside the period" for row in parsed.rows
                        if not report.start_date <= row.date <= report.end_date]
    if report.end_date < report.start_date:
        raise ValidationFailed(f"the period ends ({report.end_date}) before it starts ({report.start_date})")
    if strict and any(not match.matched for _, match in report.matches):
        raise _refusal("strict: some course names did not match exactly one course; nothing was imported",
                       report=report)
    if not report.imported:
        raise _refusal("no row matched a course of the catalogue; nothing was imported", report=report)
    exams = [{"id": exam_external_id(period_key, row.natural_key), "period": period_key, "course": match.code,
              "date": row.date, "time": row.time, "classroom": row.classroom, "professor": row.professor}
             for row, match in report.matches if match.matched]
    plan = catalogue_plan(
        exam_periods=[{"id": period_key, "name": period, "start_date": report.start_date,
                       "end_date": report.end_date, "visible": visible}],
        exams=exams, deleted={"exams": _stale_exams(stored, {exam["id"] for exam in exams})},
    )
    report.changes = plan.changes
    return ExamImportPlan(report=report, plan=plan)


def _stale_exams(stored_period, keys):
    """Live exams of the stored period that the file no longer lists: re-importing replaces the period's exams."""
    if stored_period is None:
        return []
    stored = db.session.scalars(select(ExamEntry.external_id).where(
        ExamEntry.period_id == stored_period.id, ExamEntry.deleted_at.is_(None)))
    return sorted(set(stored) - keys)


def exam_schedule_import(*, text, period, year=None, start=None, end=None, visible=None, dry_run=False,
                         strict=False, today=None, source=None, expected_fingerprint=None):
    """Import one exam period from the exam office's file (see the module docstring); returns the report.

    The period is keyed by its name: importing the same name again replaces its exams, other periods are
    untouched. All of it is one transaction, committed as one catalogue change (``courses.changes``): the cache
    is invalidated as for a webhook change, and the subscribers of the courses whose exams were announced (a
    visible period's new or moved exams) get one notification per import. ``dry_run`` plans and reports but
    writes nothing. ``source`` records who made the change (default ``import-exams:<period>``);
    ``expected_fingerprint``: see ``changes.catalogue_change_apply``. Raises
    ValidationFailed (nothing written) as ``exam_import_plan`` does.
    """
    parsed = exam_schedule_parse(text, year=year, today=today)
    planned = exam_import_plan(parsed=parsed, period=period, start=start, end=end, visible=visible, strict=strict)
    report = planned.report
    if dry_run:
        report.dry_run = True
        db.session.rollback()
        return report
    catalogue_change_apply(plan=planned.plan, source=source or f"import-exams:{report.period}",
                           expected_fingerprint=expected_fingerprint)
    db.session.commit()
    report.period_id = db.session.scalar(
        select(ExamPeriod.id).where(ExamPeriod.external_id == period_external_id(period)))
    return report
