"""The alumni-network half of the released app's contract (../shared/contract/mobile-client.md) as data, and a
checker. Written from the contract's text, not from our schemas, so that a schema change cannot quietly change it.
(The lead folds ``SHAPES`` into ``tests/contract.py`` at merge and keeps one ``shape_errors``.)

Type names: ``int``, ``string``, ``bool``, ``date`` (YYYY-MM-DD), ``time`` (HH:MM:SS), ``datetime`` (ISO 8601, as
``datetime.fromisoformat`` parses it), ``path`` (a string starting with ``/``), another shape's name, ``[Shape]`` for a
list of them; a trailing ``?`` means the app accepts null there. Extra fields are fine (the app ignores them).
"""
import re
from datetime import date, datetime, time

SHAPES = {
    "AlumniUser": {"id": "int", "full_name": "string", "biography": "string", "profile_picture": "path?",
                   "social_id_1": "string?"},
    "Company": {"id": "int", "name": "string"},
    "Post": {"id": "int", "title": "string", "text": "string", "date_created": "datetime", "author": "AlumniUser",
             "comments": "[PostComment]"},
    "PostComment": {"id": "int", "text": "string", "date_created": "datetime", "author": "AlumniUser"},
    "AcademicHistory": {"id": "int", "alumni_user": "int", "student_number": "string", "start_date": "date",
                        "end_date": "date?", "academic_degree": "AcademicDegree", "thesis": "ThesisDefense?"},
    "AcademicDegree": {"id": "int", "ects": "int", "name": "string", "title": "string", "level": "string",
                       "level_name": "string"},
    "ThesisDefense": {"id": "int", "grade": "int", "date": "date", "thesis_title": "string", "abstract": "string",
                      "mentor": "string", "commission_member_1": "string", "commission_member_2": "string",
                      "commission_member_3": "string"},
    "EmploymentHistory": {"id": "int", "company": "Company", "role": "string", "description": "string",
                          "start_date": "date?", "end_date": "date?"},
}

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def _parses(parse, value):
    try:
        parse(value)
    except ValueError:
        return False
    return True


SCALARS = {
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "string": lambda value: isinstance(value, str),
    "bool": lambda value: isinstance(value, bool),
    "date": lambda value: isinstance(value, str) and bool(DATE.match(value)) and _parses(date.fromisoformat, value),
    "time": lambda value: isinstance(value, str) and bool(TIME.match(value)) and _parses(time.fromisoformat, value),
    "datetime": lambda value: isinstance(value, str) and _parses(datetime.fromisoformat, value),
    "path": lambda value: isinstance(value, str) and value.startswith("/") and not value.startswith("//"),
}


def shape_errors(value, type_name, path="$"):
    """Every way ``value`` is not what the app reads as ``type_name`` (``[]`` when it can read it)."""
    nullable = type_name.endswith("?")
    type_name = type_name.rstrip("?")
    if value is None:
        return [] if nullable else [f"{path}: is null, but the app reads it as non-nullable {type_name}"]
    if type_name.startswith("["):
        item_type = type_name[1:-1]
        if not isinstance(value, list):
            return [f"{path}: is {type(value).__name__}, not a list of {item_type}"]
        return [error for index, item in enumerate(value)
                for error in shape_errors(item, item_type, f"{path}[{index}]")]
    if type_name in SCALARS:
        return [] if SCALARS[type_name](value) else [f"{path}: {value!r} is not a {type_name}"]
    if not isinstance(value, dict):
        return [f"{path}: is {type(value).__name__}, not a {type_name} object"]
    errors = []
    for name, field_type in SHAPES[type_name].items():
        if name not in value:
            errors.append(f"{path}.{name}: is missing")
        else:
            errors.extend(shape_errors(value[name], field_type, f"{path}.{name}"))
    return errors
