"""The released app's contract (../shared/contract/mobile-client.md) as data, and a checker.

``SHAPES`` holds every shape the app parses — the timetable and exam half and the alumni-network half — with
the type each field is read as and whether it may be null. ``shape_errors(value, shape)`` lists every way a
value breaks it (``[]`` when the app can read it). Extra fields are fine, as in the app; a missing field, a
null where the app reads a non-nullable type, or a value of another type or format is an error.

Written from the contract's text, not from our schemas, so a schema change cannot quietly change it.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime, time


@dataclass(frozen=True)
class Field:
    """How the app reads one field: ``kind`` is a scalar kind (below), ``shape`` names a nested shape
    (with ``many`` for an array of them); ``nullable`` only where the contract says the app accepts null."""

    kind: str
    nullable: bool = False
    shape: str | None = None
    many: bool = False
    choices: tuple = ()


def _scalar(kind):
    return Field(kind)


INT = _scalar("int")
STRING = _scalar("string")
DATE = _scalar("date")          # "YYYY-MM-DD"
TIME = _scalar("time")          # "HH:MM:SS" (the app keeps the first five characters)
DATETIME = _scalar("datetime")  # ISO 8601, Dart's DateTime.parse
MEDIA_PATH = _scalar("media_path")  # a path relative to the server root, starting with "/"
HANDLE = _scalar("handle")      # a LinkedIn handle such as "jelena-zoric", not a URL


def one_of(*values):
    return Field("choice", choices=tuple(values))


def nested(shape):
    return Field("object", shape=shape)


def array_of(shape):
    return Field("object", shape=shape, many=True)


def nullable(field):
    return Field(field.kind, nullable=True, shape=field.shape, many=field.many, choices=field.choices)


DAY_CODES = ("PON", "UTO", "SRE", "ČET", "PET", "SUB", "NED")
# The contract names three roles the app knows; "admin" is this backend's operator role, which the app shows as
# "unknown" (it does not crash on it). Anything else is a bug.
ROLES = ("student", "alumni", "faculty_administrator", "admin")

SHAPES = {
    # ---- sign-in, user, timetable, exams ----
    "SignIn": {"token": STRING},
    "User": {"id": INT, "first_name": STRING, "last_name": STRING, "email": STRING, "role": one_of(*ROLES)},
    "Course": {"id": INT, "name": STRING},
    "CourseScheduleEntry": {
        "id": INT, "course": nested("Course"),
        "professor": nullable(STRING),  # "may be null → shown empty"
        "type": one_of("LEC", "LAB"), "day": one_of(*DAY_CODES),
        "start_time": TIME, "end_time": TIME, "classroom": STRING, "groups": STRING,
    },
    "Subscription": {"id": INT, "course_schedule_entry": nested("CourseScheduleEntry")},
    "ExaminationPeriod": {"id": INT, "name": STRING, "start_date": DATE, "end_date": DATE},
    "ExaminationEntry": {"id": INT, "time": STRING, "classroom": STRING, "professor": STRING, "date": DATE,
                         "course": nested("Course")},
    # ---- the alumni network ----
    "AlumniUser": {"id": INT, "full_name": STRING, "biography": STRING,
                   "profile_picture": nullable(MEDIA_PATH), "social_id_1": nullable(HANDLE)},
    "Company": {"id": INT, "name": STRING},
    "Post": {"id": INT, "title": STRING, "text": STRING, "date_created": DATETIME, "author": nested("AlumniUser"),
             "comments": array_of("PostComment")},
    "PostComment": {"id": INT, "text": STRING, "date_created": DATETIME, "author": nested("AlumniUser")},
    "AcademicHistory": {"id": INT, "alumni_user": INT, "student_number": STRING, "start_date": DATE,
                        "end_date": nullable(DATE), "academic_degree": nested("AcademicDegree"),
                        "thesis": nullable(nested("ThesisDefense"))},
    "AcademicDegree": {"id": INT, "ects": INT, "name": STRING, "title": STRING, "level": STRING,
                       "level_name": STRING},
    "ThesisDefense": {"id": INT, "grade": INT, "date": DATE, "thesis_title": STRING, "abstract": STRING,
                      "mentor": STRING, "commission_member_1": STRING, "commission_member_2": STRING,
                      "commission_member_3": STRING},
    "EmploymentHistory": {"id": INT, "company": nested("Company"), "role": STRING, "description": STRING,
                          "start_date": nullable(DATE), "end_date": nullable(DATE)},
}

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_PATTERN = re.compile(r"^\d{2}:\d{2}:\d{2}$")
URL_PATTERN = re.compile(r"^[a-z][a-z0-9+.-]*://|^www\.|/", re.IGNORECASE)


def _parses(parse, value):
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _scalar_error(field, value):
    """Why ``value`` is not what the app reads for this scalar field, or None."""
    if field.kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "is not an integer"
    if not isinstance(value, str):
        return "is not a string"
    problems = {
        "date": lambda: DATE_PATTERN.match(value) and _parses(date.fromisoformat, value),
        "time": lambda: TIME_PATTERN.match(value) and _parses(time.fromisoformat, value),
        "datetime": lambda: _parses(datetime.fromisoformat, value),
        "media_path": lambda: value.startswith("/") and not value.startswith("//"),
        "handle": lambda: not URL_PATTERN.search(value),
        "choice": lambda: value in field.choices,
        "string": lambda: True,
    }
    expected = {"date": "a YYYY-MM-DD date", "time": "an HH:MM:SS time", "datetime": "an ISO 8601 date-time",
                "media_path": "a path starting with /", "handle": "a handle, not a URL",
                "choice": f"one of {', '.join(field.choices)}", "string": "a string"}
    return None if problems[field.kind]() else f"is {value!r}, not {expected[field.kind]}"


def shape_errors(value, shape, path="$"):
    """Every way ``value`` breaks the contract's ``shape`` (a name in SHAPES), as ``"path: problem"``."""
    if not isinstance(value, dict):
        return [f"{path}: is {type(value).__name__}, not an object ({shape})"]
    errors = []
    for name, field in SHAPES[shape].items():
        errors.extend(field_errors(value, name, field, f"{path}.{name}"))
    return errors


def field_errors(container, name, field, path):
    if name not in container:
        return [f"{path}: is missing"]
    value = container[name]
    if value is None:
        return [] if field.nullable else [f"{path}: is null, but the app reads it as non-nullable"]
    if field.shape is None:
        problem = _scalar_error(field, value)
        return [f"{path}: {problem}"] if problem else []
    if not field.many:
        return shape_errors(value, field.shape, path)
    if not isinstance(value, list):
        return [f"{path}: is not an array of {field.shape}"]
    return [error for index, item in enumerate(value) for error in shape_errors(item, field.shape, f"{path}[{index}]")]


def list_errors(value, shape, path="$"):
    """A response the app parses as a plain JSON array of ``shape``."""
    if not isinstance(value, list):
        return [f"{path}: is not an array"]
    return [error for index, item in enumerate(value) for error in shape_errors(item, shape, f"{path}[{index}]")]
