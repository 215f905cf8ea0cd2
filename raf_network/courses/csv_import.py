"""The RAF timetable CSV (see ../shared/data/README.md): parsed row by row, every bad row reported with its line,
and imported as the whole timetable."""
import csv
import io
from dataclasses import dataclass, field

from raf_network.courses.catalogue import catalogue_plan
from raf_network.courses.changes import catalogue_change_apply
from raf_network.courses.guards import mass_deletion_check
from raf_network.courses.models import KIND_TO_TYPE
from raf_network.courses.values import course_code_for, day_index, entry_id_for, groups_parse, time_range_parse
from raf_network.errors import ValidationFailed
from raf_network.extensions import db


@dataclass
class ParsedSchedule:
    courses: list = field(default_factory=list)
    schedule: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # "line N: problem"


def _csv_row_parse(row):
    """One CSV row → (item without id and course code, problems)."""
    name, kind, professor, groups_text, day_text, time_text, classroom = (
        cell.replace("\u00a0", " ").strip() for cell in row
    )
    problems = []
    if not name:
        problems.append("empty course name")
    if kind not in KIND_TO_TYPE:
        problems.append(f"unknown class kind {kind!r}; expected one of P, V, D, PiV")
    if not classroom:
        problems.append("empty classroom")
    def attempt(parse, text):
        try:
            return parse(text)
        except ValueError as exc:
            problems.append(str(exc))
            return None

    groups, day, times = attempt(groups_parse, groups_text), attempt(day_index, day_text), attempt(
        time_range_parse, time_text)
    if problems:
        return None, problems
    return {"name": name, "kind": kind, "professor": professor or None, "groups": groups, "day": day,
            "start": times[0], "end": times[1], "classroom": classroom}, []


def schedule_csv_parse(text):
    """Parse the RAF timetable CSV (see data README). Collects every bad row with its line number."""
    result = ParsedSchedule()
    courses = {}
    seen = {}
    text = text.lstrip("\ufeff")  # the byte-order mark is not part of the first course's name
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 7:
            result.errors.append(f"line {line}: expected 7 columns, found {len(row)}")
            continue
        item, problems = _csv_row_parse(row)
        if problems:
            result.errors.extend(f"line {line}: {problem}" for problem in problems)
            continue
        name = item.pop("name")
        code = course_code_for(name)
        if courses.setdefault(code, name) != name:
            result.errors.append(f"line {line}: course {name!r} collides with {courses[code]!r}")
            continue
        external_id = entry_id_for(course_code=code, kind=item["kind"], groups=item["groups"], day=item["day"],
                                   start=item["start"])
        if external_id in seen:
            result.errors.append(f"line {line}: same course, kind, groups, day and time as line {seen[external_id]}")
            continue
        seen[external_id] = line
        result.schedule.append({"id": external_id, "course": code, **item})
    result.courses = [{"code": code, "name": name} for code, name in courses.items()]
    return result


def schedule_plan(*, text):
    """Parse a timetable CSV and plan it as the whole timetable (reads only; writes nothing): ``(parsed, plan)``.

    Raises ValidationFailed when any row is bad or the file has no rows."""
    parsed = schedule_csv_parse(text)
    if parsed.errors:
        raise ValidationFailed(
            f"{len(parsed.errors)} bad row(s); nothing was imported", errors={"rows": parsed.errors}
        )
    if not parsed.schedule:
        raise ValidationFailed("the file has no timetable rows; nothing was imported")
    return parsed, catalogue_plan(courses=parsed.courses, schedule=parsed.schedule, replace={"schedule"})


def schedule_import(*, text, source="import-schedule", force=False,
                    remedy="Run it again with --force if the timetable really shrank.", expected_fingerprint=None):
    """Import a timetable CSV: it replaces the whole timetable (courses are upserted, never removed), as one
    catalogue change (``changes.catalogue_change_apply``: the cache and the students it affects are told).

    The mass-deletion guard applies (``guards.mass_deletion_check``, as for a webhook snapshot) unless ``force``: a
    file removing more than ``WEBHOOK_MAX_DELETE_SHARE`` of the timetable is refused (409, ``remedy`` saying how to
    insist). ``expected_fingerprint``: see ``changes.catalogue_change_apply``. Returns the ChangeSet; raises
    ValidationFailed (nothing written) when any row is bad.
    """
    _parsed, plan = schedule_plan(text=text)
    mass_deletion_check(plan, force=force, what="this timetable", remedy=remedy)
    changes = catalogue_change_apply(plan=plan, source=source, expected_fingerprint=expected_fingerprint)
    db.session.commit()
    return changes
