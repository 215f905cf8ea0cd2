"""Course catalogue behaviour: reading the timetable, importing it, and applying changes with a diff.

``catalogue_plan`` + ``catalogue_write`` are the one way data enters the catalogue: ``flask seed``,
``flask import-schedule`` and the webhook all describe the desired state as plain items and get back a
``ChangeSet`` (created / updated with old → new / removed). Nothing is written when nothing changed.
Callers own the transaction: they commit, then call ``catalogue_cache_invalidate(changes)``.
"""
import csv
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

from sqlalchemy import case, insert, literal, select, update

from raf_network.cache import cache_families_invalidate, cached_body
from raf_network.courses.models import (
    DAY_CODES,
    ENGLISH_DAY_CODES,
    KIND_TO_TYPE,
    Course,
    ExamEntry,
    ExamPeriod,
    ScheduleEntry,
)
from raf_network.errors import NotFound, ValidationFailed
from raf_network.extensions import db

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BUNDLED_SCHEDULE = DATA_DIR / "raspored.csv"
BUNDLED_EXAMS = DATA_DIR / "exams_sample.json"

FAMILIES = ("courses", "schedule", "exam_periods", "exams")
# Which cached responses each family of data feeds (see raf_network.cache).
CACHE_FAMILY = {"courses": "courses", "schedule": "schedule", "exam_periods": "exams", "exams": "exams"}

TIME_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")
GROUP_PATTERN = re.compile(r"^[0-9A-Za-z]{1,16}$")


# --------------------------------------------------------------------------------------------------
# Value helpers shared by the CSV importer, the schemas and the webhook
# --------------------------------------------------------------------------------------------------

def day_index(code):
    """``PON``…``NED`` or ``MON``…``SUN`` (any case, padding ignored) → 0…6; ValueError otherwise."""
    cleaned = code.replace("\u00a0", " ").strip().upper()
    for codes in (DAY_CODES, ENGLISH_DAY_CODES):
        if cleaned in codes:
            return codes.index(cleaned)
    if cleaned == "CET":  # the Serbian code typed without its diacritic
        return 3
    raise ValueError(f"unknown day {code.strip()!r}; expected one of {', '.join(DAY_CODES)}")


def time_range_parse(text):
    """``11:15-13`` → (11:15, 13:00). The end must come after the start."""
    match = TIME_RANGE.match(text)
    if not match:
        raise ValueError(f"time range {text!r} is not like 11:15-13 or 09:15-12:00")
    start_h, start_m, end_h, end_m = match.groups()
    try:
        start = time(int(start_h), int(start_m or 0))
        end = time(int(end_h), int(end_m or 0))
    except ValueError:
        raise ValueError(f"time range {text!r} has an impossible time") from None
    if end <= start:
        raise ValueError(f"time range {text!r} ends before it starts")
    return start, end


def groups_parse(text):
    """``"101, 102,103"`` → ``["101", "102", "103"]``."""
    groups = [group.strip() for group in text.split(",") if group.strip()]
    if not groups:
        raise ValueError("no student groups")
    for group in groups:
        if not GROUP_PATTERN.match(group):
            raise ValueError(f"group {group!r} is not alphanumeric")
    return groups


def course_code_for(name):
    """Deterministic course code for sources that have only names (the CSV): an ASCII slug."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "dj").replace("Đ", "Dj"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return slug[:64] or "course-" + hashlib.sha1(name.encode()).hexdigest()[:12]


def entry_id_for(*, course_code, kind, groups, day, start):
    """Deterministic external id of a CSV row, from its natural key (course, kind, groups, day, time)."""
    natural_key = "|".join([course_code, kind, ",".join(groups), str(day), start.strftime("%H:%M")])
    return "csv-" + hashlib.sha1(natural_key.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# CSV import
# --------------------------------------------------------------------------------------------------

@dataclass
class ParsedSchedule:
    courses: list = field(default_factory=list)
    schedule: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # "line N: problem"


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
        try:
            groups = groups_parse(groups_text)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            day = day_index(day_text)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            start, end = time_range_parse(time_text)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            result.errors.extend(f"line {line}: {problem}" for problem in problems)
            continue
        code = course_code_for(name)
        if courses.setdefault(code, name) != name:
            result.errors.append(f"line {line}: course {name!r} collides with {courses[code]!r}")
            continue
        external_id = entry_id_for(course_code=code, kind=kind, groups=groups, day=day, start=start)
        if external_id in seen:
            result.errors.append(f"line {line}: same course, kind, groups, day and time as line {seen[external_id]}")
            continue
        seen[external_id] = line
        result.schedule.append({
            "id": external_id, "course": code, "kind": kind, "professor": professor or None,
            "groups": groups, "day": day, "start": start, "end": end, "classroom": classroom,
        })
    result.courses = [{"code": code, "name": name} for code, name in courses.items()]
    return result


def schedule_import(*, text, source="import"):
    """Import a timetable CSV: it replaces the whole timetable (courses are upserted, never removed).

    Returns the ChangeSet; raises ValidationFailed (nothing written) when any row is bad.
    """
    parsed = schedule_csv_parse(text)
    if parsed.errors:
        raise ValidationFailed(
            f"{len(parsed.errors)} bad row(s); nothing was imported", errors={"rows": parsed.errors}
        )
    if not parsed.schedule:
        raise ValidationFailed("the file has no timetable rows; nothing was imported")
    plan = catalogue_plan(courses=parsed.courses, schedule=parsed.schedule, replace={"schedule"})
    changes = catalogue_write(plan)
    db.session.commit()
    catalogue_cache_invalidate(changes)
    return changes


def seed_run():
    """Load the bundled real RAF timetable and a sample examination period. Idempotent."""
    parsed = schedule_csv_parse(BUNDLED_SCHEDULE.read_text(encoding="utf-8"))
    if parsed.errors:  # the bundled file is tested; this guards against a broken edit of it
        raise ValidationFailed("the bundled timetable is invalid", errors={"rows": parsed.errors})
    exams = json.loads(BUNDLED_EXAMS.read_text(encoding="utf-8"))
    for period in exams["exam_periods"]:
        period["start_date"] = date.fromisoformat(period["start_date"])
        period["end_date"] = date.fromisoformat(period["end_date"])
    for exam in exams["exams"]:
        exam["date"] = date.fromisoformat(exam["date"])
    plan = catalogue_plan(
        courses=parsed.courses, schedule=parsed.schedule,
        exam_periods=exams["exam_periods"], exams=exams["exams"], replace={"schedule"},
    )
    changes = catalogue_write(plan)
    db.session.commit()
    catalogue_cache_invalidate(changes)
    return changes


# --------------------------------------------------------------------------------------------------
# Apply with a diff
# --------------------------------------------------------------------------------------------------

@dataclass
class ChangeSet:
    """What an apply changed. ``updated[family][key]`` maps field → [old, new] (JSON-friendly)."""

    created: dict = field(default_factory=lambda: {family: [] for family in FAMILIES})
    updated: dict = field(default_factory=lambda: {family: {} for family in FAMILIES})
    removed: dict = field(default_factory=lambda: {family: [] for family in FAMILIES})

    @property
    def counts(self):
        return {
            "created": sum(len(v) for v in self.created.values()),
            "updated": sum(len(v) for v in self.updated.values()),
            "removed": sum(len(v) for v in self.removed.values()),
        }

    @property
    def empty(self):
        return not any(self.counts.values())

    def families(self):
        return {
            family for family in FAMILIES
            if self.created[family] or self.updated[family] or self.removed[family]
        }

    def to_json(self):
        return {"created": self.created, "updated": self.updated, "removed": self.removed}

    @classmethod
    def from_json(cls, data):
        return cls(created=data["created"], updated=data["updated"], removed=data["removed"])


@dataclass
class CataloguePlan:
    """A validated, not yet written apply: rows to insert, update and soft-delete, and the diff."""

    changes: ChangeSet
    live_entries_before: int
    course_inserts: list = field(default_factory=list)
    course_updates: list = field(default_factory=list)
    entry_inserts: list = field(default_factory=list)  # course given by code until written
    entry_updates: list = field(default_factory=list)
    period_inserts: list = field(default_factory=list)
    period_updates: list = field(default_factory=list)
    exam_inserts: list = field(default_factory=list)
    exam_updates: list = field(default_factory=list)
    deletes: dict = field(default_factory=lambda: {family: [] for family in FAMILIES})

    @property
    def removed_share(self):
        """Share of the live timetable this plan removes (the webhook's mass-deletion guard)."""
        if not self.live_entries_before:
            return 0.0
        return len(self.deletes["schedule"]) / self.live_entries_before


def _json_value(value):
    if isinstance(value, (time,)):
        return value.strftime("%H:%M")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _diff(current, desired, fields_, display=None):
    """{field: [old, new]} for the fields that differ. ``display`` maps a field's value for humans."""
    changed = {}
    for name in fields_:
        old, new = current[name], desired[name]
        if old != new:
            show = (display or {}).get(name, _json_value)
            changed[name] = [show(old), show(new)]
    return changed


def catalogue_plan(*, courses=(), schedule=(), exam_periods=(), exams=(), replace=(), deleted=None):
    """Validate the desired state against the stored one and compute what to write.

    Items are plain dicts (see ``schedule_csv_parse`` and the webhook schemas): courses by ``code``,
    the rest by their external ``id``. Families named in ``replace`` are complete: stored rows absent
    from them are removed. ``deleted`` names rows to remove explicitly (deltas). Raises ValidationFailed
    with located errors (``{family: {index: {field: [message]}}}``); writes nothing.
    """
    replace = set(replace)
    deleted = {family: list((deleted or {}).get(family) or []) for family in FAMILIES}
    errors = {}
    changes = ChangeSet()
    now = datetime.now(timezone.utc)

    def error(family, index, field_name, message):
        errors.setdefault(family, {}).setdefault(index, {}).setdefault(field_name, []).append(message)

    stored_courses = {
        row.code: row for row in db.session.execute(
            select(Course.id, Course.code, Course.name, Course.deleted_at)
        )
    }
    stored_entries = {
        row.external_id: row for row in db.session.execute(
            select(ScheduleEntry.id, ScheduleEntry.external_id, ScheduleEntry.course_id, ScheduleEntry.kind,
                   ScheduleEntry.professor, ScheduleEntry.groups, ScheduleEntry.day, ScheduleEntry.start_time,
                   ScheduleEntry.end_time, ScheduleEntry.classroom, ScheduleEntry.sequence,
                   ScheduleEntry.deleted_at)
        )
    }
    stored_periods = {
        row.external_id: row for row in db.session.execute(
            select(ExamPeriod.id, ExamPeriod.external_id, ExamPeriod.name, ExamPeriod.start_date,
                   ExamPeriod.end_date, ExamPeriod.visible, ExamPeriod.deleted_at)
        )
    }
    stored_exams = {
        row.external_id: row for row in db.session.execute(
            select(ExamEntry.id, ExamEntry.external_id, ExamEntry.period_id, ExamEntry.course_id, ExamEntry.date,
                   ExamEntry.time, ExamEntry.classroom, ExamEntry.professor, ExamEntry.deleted_at)
        )
    }
    code_by_course_id = {row.id: code for code, row in stored_courses.items()}
    period_key_by_id = {row.id: key for key, row in stored_periods.items()}
    plan = CataloguePlan(
        changes=changes,
        live_entries_before=sum(1 for row in stored_entries.values() if row.deleted_at is None),
    )

    # ---- courses ----
    incoming_courses = {}
    for index, item in enumerate(courses):
        code = item["code"]
        if code in incoming_courses:
            error("courses", index, "code", f"course {code!r} appears twice")
            continue
        incoming_courses[code] = item
        current = stored_courses.get(code)
        if current is None:
            plan.course_inserts.append({"code": code, "name": item["name"]})
            changes.created["courses"].append(code)
        elif current.deleted_at is not None:
            plan.course_updates.append({"id": current.id, "name": item["name"], "deleted_at": None, "updated_at": now})
            changes.created["courses"].append(code)
        elif current.name != item["name"]:
            plan.course_updates.append({"id": current.id, "name": item["name"], "updated_at": now})
            changes.updated["courses"][code] = {"name": [current.name, item["name"]]}
    live_courses = {code for code, row in stored_courses.items() if row.deleted_at is None} | set(incoming_courses)
    removed_courses = set()
    if "courses" in replace:
        removed_courses |= {code for code, row in stored_courses.items()
                            if row.deleted_at is None and code not in incoming_courses}
    for index, code in enumerate(deleted["courses"]):
        if code in incoming_courses:
            error("deleted.courses", index, "code", f"course {code!r} is both upserted and deleted")
        elif code not in stored_courses:
            error("deleted.courses", index, "code", f"unknown course {code!r}")
        elif stored_courses[code].deleted_at is None:
            removed_courses.add(code)
    live_courses -= removed_courses

    def course_ref(family, index, code):
        if code not in live_courses:
            error(family, index, "course", f"unknown course {code!r}: neither in this payload nor stored")
            return None
        return code

    # ---- timetable entries ----
    entry_fields = ("course_id", "kind", "professor", "groups", "day", "start_time", "end_time", "classroom")
    entry_display = {
        "course_id": lambda course_id: code_by_course_id.get(course_id, course_id),
        "day": lambda day: DAY_CODES[day],
    }
    incoming_entries = set()
    for index, item in enumerate(schedule):
        key = item["id"]
        if key in incoming_entries:
            error("schedule", index, "id", f"entry {key!r} appears twice")
            continue
        incoming_entries.add(key)
        if course_ref("schedule", index, item["course"]) is None:
            continue
        desired = {
            "course_code": item["course"], "kind": item["kind"], "professor": item.get("professor"),
            "groups": ", ".join(item["groups"]), "day": item["day"], "start_time": item["start"],
            "end_time": item["end"], "classroom": item["classroom"],
        }
        if desired["end_time"] <= desired["start_time"]:
            error("schedule", index, "end", "the class ends before it starts")
            continue
        current = stored_entries.get(key)
        if current is None:
            plan.entry_inserts.append({"external_id": key, **desired})
            changes.created["schedule"].append(key)
            continue
        # An existing course keeps its id; a new course's id is known only once written.
        stored = stored_courses.get(item["course"])
        desired["course_id"] = stored.id if stored is not None else None
        changed = _diff(current._mapping, desired, entry_fields, entry_display)
        if desired["course_id"] is None:
            changed["course_id"] = [code_by_course_id.get(current.course_id), item["course"]]
        if current.deleted_at is not None:
            plan.entry_updates.append({"id": current.id, **desired, "deleted_at": None,
                                       "sequence": current.sequence + 1, "updated_at": now})
            changes.created["schedule"].append(key)
        elif changed:
            plan.entry_updates.append({"id": current.id, **desired, "sequence": current.sequence + 1,
                                       "updated_at": now})
            if "course_id" in changed:
                changed["course"] = changed.pop("course_id")
            changes.updated["schedule"][key] = changed
    removed_entries = set()
    if "schedule" in replace:
        removed_entries |= {key for key, row in stored_entries.items()
                            if row.deleted_at is None and key not in incoming_entries}
    for index, key in enumerate(deleted["schedule"]):
        if key in incoming_entries:
            error("deleted.schedule", index, "id", f"entry {key!r} is both upserted and deleted")
        elif key not in stored_entries:
            error("deleted.schedule", index, "id", f"unknown timetable entry {key!r}")
        elif stored_entries[key].deleted_at is None:
            removed_entries.add(key)

    # ---- examination periods ----
    period_fields = ("name", "start_date", "end_date", "visible")
    incoming_periods = set()
    for index, item in enumerate(exam_periods):
        key = item["id"]
        if key in incoming_periods:
            error("exam_periods", index, "id", f"exam period {key!r} appears twice")
            continue
        incoming_periods.add(key)
        desired = {"name": item["name"], "start_date": item["start_date"], "end_date": item["end_date"],
                   "visible": item.get("visible", True)}
        if desired["end_date"] < desired["start_date"]:
            error("exam_periods", index, "end_date", "the period ends before it starts")
            continue
        current = stored_periods.get(key)
        if current is None:
            plan.period_inserts.append({"external_id": key, **desired})
            changes.created["exam_periods"].append(key)
        elif current.deleted_at is not None:
            plan.period_updates.append({"id": current.id, **desired, "deleted_at": None, "updated_at": now})
            changes.created["exam_periods"].append(key)
        else:
            changed = _diff(current._mapping, desired, period_fields)
            if changed:
                plan.period_updates.append({"id": current.id, **desired, "updated_at": now})
                changes.updated["exam_periods"][key] = changed
    live_periods = {key for key, row in stored_periods.items() if row.deleted_at is None} | incoming_periods
    removed_periods = set()
    if "exam_periods" in replace:
        removed_periods |= {key for key, row in stored_periods.items()
                            if row.deleted_at is None and key not in incoming_periods}
    for index, key in enumerate(deleted["exam_periods"]):
        if key in incoming_periods:
            error("deleted.exam_periods", index, "id", f"exam period {key!r} is both upserted and deleted")
        elif key not in stored_periods:
            error("deleted.exam_periods", index, "id", f"unknown exam period {key!r}")
        elif stored_periods[key].deleted_at is None:
            removed_periods.add(key)
    live_periods -= removed_periods

    # ---- exams ----
    exam_fields = ("period_id", "course_id", "date", "time", "classroom", "professor")
    incoming_exams = set()
    for index, item in enumerate(exams):
        key = item["id"]
        if key in incoming_exams:
            error("exams", index, "id", f"exam {key!r} appears twice")
            continue
        incoming_exams.add(key)
        if course_ref("exams", index, item["course"]) is None:
            continue
        if item["period"] not in live_periods:
            error("exams", index, "period",
                  f"unknown exam period {item['period']!r}: neither in this payload nor stored")
            continue
        desired = {"period_key": item["period"], "course_code": item["course"], "date": item["date"],
                   "time": item["time"], "classroom": item["classroom"], "professor": item.get("professor")}
        current = stored_exams.get(key)
        if current is None:
            plan.exam_inserts.append({"external_id": key, **desired})
            changes.created["exams"].append(key)
            continue
        stored_course = stored_courses.get(item["course"])
        stored_period = stored_periods.get(item["period"])
        comparable = {**desired, "course_id": stored_course.id if stored_course else None,
                      "period_id": stored_period.id if stored_period else None}
        changed = _diff(current._mapping, comparable, exam_fields, {
            "course_id": lambda course_id: code_by_course_id.get(course_id, course_id),
            "period_id": lambda period_id: period_key_by_id.get(period_id, period_id),
        })
        if current.deleted_at is not None or changed:
            update_row = {"id": current.id, **desired, "updated_at": now}
            if current.deleted_at is not None:
                update_row["deleted_at"] = None
                changes.created["exams"].append(key)
            else:
                changes.updated["exams"][key] = {
                    {"course_id": "course", "period_id": "period"}.get(name, name): values
                    for name, values in changed.items()
                }
            plan.exam_updates.append(update_row)
    removed_exams = set()
    if "exams" in replace:
        removed_exams |= {key for key, row in stored_exams.items()
                          if row.deleted_at is None and key not in incoming_exams}
    for index, key in enumerate(deleted["exams"]):
        if key in incoming_exams:
            error("deleted.exams", index, "id", f"exam {key!r} is both upserted and deleted")
        elif key not in stored_exams:
            error("deleted.exams", index, "id", f"unknown exam {key!r}")
        elif stored_exams[key].deleted_at is None:
            removed_exams.add(key)
    # Exams of a removed period go with it.
    removed_exams |= {key for key, row in stored_exams.items()
                      if row.deleted_at is None and key not in incoming_exams
                      and period_key_by_id.get(row.period_id) in removed_periods}

    # ---- a removed course must not leave live rows pointing at it ----
    if removed_courses:
        removed_course_ids = {stored_courses[code].id for code in removed_courses}
        still_used = {
            code_by_course_id[row.course_id] for key, row in stored_entries.items()
            if row.deleted_at is None and key not in removed_entries and key not in incoming_entries
            and row.course_id in removed_course_ids
        } | {
            code_by_course_id[row.course_id] for key, row in stored_exams.items()
            if row.deleted_at is None and key not in removed_exams and key not in incoming_exams
            and row.course_id in removed_course_ids
        }
        for code in sorted(still_used):
            errors.setdefault("courses", {}).setdefault(code, {}).setdefault("code", []).append(
                f"course {code!r} would be removed while timetable entries or exams still use it"
            )

    if errors:
        raise ValidationFailed("the catalogue data is invalid; nothing was written", errors=errors)

    plan.deletes["courses"] = [stored_courses[code].id for code in sorted(removed_courses)]
    plan.deletes["schedule"] = [stored_entries[key].id for key in sorted(removed_entries)]
    plan.deletes["exam_periods"] = [stored_periods[key].id for key in sorted(removed_periods)]
    plan.deletes["exams"] = [stored_exams[key].id for key in sorted(removed_exams)]
    changes.removed["courses"] = sorted(removed_courses)
    changes.removed["schedule"] = sorted(removed_entries)
    changes.removed["exam_periods"] = sorted(removed_periods)
    changes.removed["exams"] = sorted(removed_exams)
    return plan


def catalogue_write(plan):
    """Write a plan in the current transaction (no commit). Returns its ChangeSet."""
    if plan.changes.empty:
        return plan.changes
    now = datetime.now(timezone.utc)
    session = db.session
    if plan.course_inserts:
        session.execute(insert(Course), [{**row, "created_at": now, "updated_at": now} for row in plan.course_inserts])
    if plan.course_updates:
        session.execute(update(Course), plan.course_updates)
    needs_ids = plan.entry_inserts or plan.entry_updates or plan.exam_inserts or plan.exam_updates
    course_ids = {code: id_ for code, id_ in session.execute(select(Course.code, Course.id))} if needs_ids else {}
    if plan.period_inserts:
        session.execute(insert(ExamPeriod), [{**row, "created_at": now, "updated_at": now}
                                             for row in plan.period_inserts])
    if plan.period_updates:
        session.execute(update(ExamPeriod), plan.period_updates)
    period_ids = {key: id_ for key, id_ in session.execute(select(ExamPeriod.external_id, ExamPeriod.id))} if (
        plan.exam_inserts or plan.exam_updates) else {}

    def entry_row(row):
        row = dict(row)
        row["course_id"] = course_ids[row.pop("course_code")]
        return row

    def exam_row(row):
        row = dict(row)
        row["course_id"] = course_ids[row.pop("course_code")]
        row["period_id"] = period_ids[row.pop("period_key")]
        return row

    if plan.entry_inserts:
        session.execute(insert(ScheduleEntry), [
            {**entry_row(row), "sequence": 0, "created_at": now, "updated_at": now} for row in plan.entry_inserts
        ])
    if plan.entry_updates:
        session.execute(update(ScheduleEntry), [entry_row(row) for row in plan.entry_updates])
    if plan.exam_inserts:
        session.execute(insert(ExamEntry), [
            {**exam_row(row), "created_at": now, "updated_at": now} for row in plan.exam_inserts
        ])
    if plan.exam_updates:
        session.execute(update(ExamEntry), [exam_row(row) for row in plan.exam_updates])
    for model, family in ((ScheduleEntry, "schedule"), (ExamEntry, "exams"),
                          (ExamPeriod, "exam_periods"), (Course, "courses")):
        ids = plan.deletes[family]
        if not ids:
            continue
        values = {"deleted_at": now, "updated_at": now}
        if model is ScheduleEntry:
            values["sequence"] = ScheduleEntry.sequence + 1
        for chunk_start in range(0, len(ids), 1000):
            session.execute(
                update(model).where(model.id.in_(ids[chunk_start:chunk_start + 1000])).values(**values),
                execution_options={"synchronize_session": False},
            )
    return plan.changes


def catalogue_cache_invalidate(changes):
    """Retire the cached responses built from what changed (after commit; once per change set)."""
    cache_families_invalidate({CACHE_FAMILY[family] for family in changes.families()})


# --------------------------------------------------------------------------------------------------
# Reads (served as cached bytes; see raf_network.cache)
# --------------------------------------------------------------------------------------------------

def _json_bytes(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


TYPE_ORDER = case((ScheduleEntry.kind.in_(["P", "PiV"]), literal("LEC")), else_=literal("LAB"))


def schedule_sort_key(entry):
    """The contract's order: course name (case-insensitive, the same on every database), type, day
    (Monday first), start time."""
    return (entry.course.name.casefold(), entry.type, entry.day, entry.start_time, entry.id)


def schedule_entries_query(*, course=None, group=None, day=None, type=None, professor=None, classroom=None):
    """Live timetable entries with their course loaded in the same query (see ``schedule_sort_key``)."""
    from sqlalchemy.orm import contains_eager

    query = (
        select(ScheduleEntry)
        .join(ScheduleEntry.course)
        .options(contains_eager(ScheduleEntry.course))
        .where(ScheduleEntry.deleted_at.is_(None), Course.deleted_at.is_(None))
        .order_by(Course.name, TYPE_ORDER, ScheduleEntry.day, ScheduleEntry.start_time, ScheduleEntry.id)
    )
    if course is not None:
        query = query.where(ScheduleEntry.course_id == course)
    if group is not None:
        query = query.where((literal(", ") + ScheduleEntry.groups + literal(", ")).contains(
            f", {group}, ", autoescape=True))
    if day is not None:
        query = query.where(ScheduleEntry.day == day)
    if type is not None:
        query = query.where(ScheduleEntry.kind.in_([k for k, t in KIND_TO_TYPE.items() if t == type]))
    if professor is not None:
        query = query.where(ScheduleEntry.professor.icontains(professor, autoescape=True))
    if classroom is not None:
        query = query.where(ScheduleEntry.classroom.icontains(classroom, autoescape=True))
    return query


def schedule_list(**filters):
    """The timetable, as cached ready-to-send JSON bytes. Filters as in ``schedule_entries_query``."""
    from raf_network.courses.schemas import ScheduleEntrySchema

    key = "schedule:" + "&".join(f"{name}={value}" for name, value in sorted(filters.items()) if value is not None)

    def build():
        entries = sorted(db.session.scalars(schedule_entries_query(**filters)).all(), key=schedule_sort_key)
        return _json_bytes(ScheduleEntrySchema(many=True).dump(entries))

    return cached_body(key, ("schedule", "courses"), build)


def course_list():
    from raf_network.courses.schemas import CourseSchema

    def build():
        courses = sorted(
            db.session.scalars(select(Course).where(Course.deleted_at.is_(None))).all(),
            key=lambda course: (course.name.casefold(), course.id),
        )
        return _json_bytes(CourseSchema(many=True).dump(courses))

    return cached_body("courses", ("courses",), build)


def course_get(*, course_id):
    course = db.session.scalar(select(Course).where(Course.id == course_id, Course.deleted_at.is_(None)))
    if course is None:
        raise NotFound(f"course {course_id} does not exist")
    return course


def schedule_entry_get(*, entry_id):
    entry = db.session.scalar(
        schedule_entries_query().where(ScheduleEntry.id == entry_id)
    )
    if entry is None:
        raise NotFound(f"timetable entry {entry_id} does not exist")
    return entry


def exam_period_list():
    from raf_network.courses.schemas import ExamPeriodSchema

    def build():
        periods = db.session.scalars(
            select(ExamPeriod)
            .where(ExamPeriod.visible.is_(True), ExamPeriod.deleted_at.is_(None))
            .order_by(ExamPeriod.start_date, ExamPeriod.id)
        ).all()
        return _json_bytes(ExamPeriodSchema(many=True).dump(periods))

    return cached_body("exam-periods", ("exams",), build)


def exam_entry_list(*, examination_period):
    """Exams of a visible period, by date then time. An unknown or hidden period gives an empty list."""
    from sqlalchemy.orm import contains_eager

    from raf_network.courses.schemas import ExamEntrySchema

    def build():
        entries = db.session.scalars(
            select(ExamEntry)
            .join(ExamEntry.course).join(ExamEntry.period)
            .options(contains_eager(ExamEntry.course), contains_eager(ExamEntry.period))
            .where(
                ExamEntry.period_id == examination_period,
                ExamEntry.deleted_at.is_(None), Course.deleted_at.is_(None),
                ExamPeriod.deleted_at.is_(None), ExamPeriod.visible.is_(True),
            )
            .order_by(ExamEntry.date, ExamEntry.time, ExamEntry.id)
        ).all()
        return _json_bytes(ExamEntrySchema(many=True).dump(entries))

    return cached_body(f"exam-entries:{examination_period}", ("exams", "courses"), build)
