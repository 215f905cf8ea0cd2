"""Course catalogue behaviour: reading the timetable, importing it, and applying changes with a diff.

``catalogue_plan`` + ``catalogue_write`` are the one way data enters the catalogue: ``flask seed``
(``courses/seed.py``), ``flask import-schedule``, ``flask import-exams`` (``courses/exam_import.py``) and the
webhook all describe the desired state as plain items and get back a
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

from sqlalchemy import case, func, insert, literal, select, update

from raf_network.cache import cache_families_invalidate, cache_key_for, cached_body
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


# The stored columns the diff reads, per family; the compared fields are contiguous in each tuple.
COURSE_COLUMNS = (Course.id, Course.code, Course.name, Course.deleted_at)
ENTRY_FIELDS = ("course_id", "kind", "professor", "groups", "day", "start_time", "end_time", "classroom")
ENTRY_COLUMNS = (ScheduleEntry.id, ScheduleEntry.external_id,
                 *(getattr(ScheduleEntry, name) for name in ENTRY_FIELDS),
                 ScheduleEntry.sequence, ScheduleEntry.deleted_at)
PERIOD_FIELDS = ("name", "start_date", "end_date", "visible")
PERIOD_COLUMNS = (ExamPeriod.id, ExamPeriod.external_id, *(getattr(ExamPeriod, name) for name in PERIOD_FIELDS),
                  ExamPeriod.deleted_at)
EXAM_FIELDS = ("period_id", "course_id", "date", "time", "classroom", "professor")
EXAM_COLUMNS = (ExamEntry.id, ExamEntry.external_id, *(getattr(ExamEntry, name) for name in EXAM_FIELDS),
                ExamEntry.deleted_at)
# What a family's items are called in messages, and which field holds their key.
LABELS = {"courses": ("course", "code"), "schedule": ("timetable entry", "id"),
          "exam_periods": ("exam period", "id"), "exams": ("exam", "id")}
IN_CHUNK = 5000  # bound parameters per IN (…) list, well under SQLite's and PostgreSQL's limits


def _chunks(items, size=IN_CHUNK):
    items = list(items)
    return [items[start:start + size] for start in range(0, len(items), size)]


def _rows_by_key(columns, key_column, *conditions, keys=None):
    """Stored rows by their external key: all of them (``keys=None``) or only those with these keys."""
    query = select(*columns).where(*conditions)
    connection = db.session.connection()  # Core: these are plain rows, no ORM entities to track
    key_index = [column.key for column in columns].index(key_column.key)
    if keys is None:
        return {row[key_index]: row for row in connection.execute(query)}
    rows = {}
    for chunk in _chunks(keys):
        rows.update((row[key_index], row) for row in connection.execute(query.where(key_column.in_(chunk))))
    return rows


class _CataloguePlanner:
    """Builds one ``CataloguePlan``, family by family: reads only the stored rows the input can touch
    (everything for a replaced family, the named rows otherwise), collects every error, computes the diff."""

    def __init__(self, *, replace, deleted):
        self.replace = set(replace)
        self.deleted = {family: list((deleted or {}).get(family) or []) for family in FAMILIES}
        self.errors = {}
        self.changes = ChangeSet()
        self.now = datetime.now(timezone.utc)
        self.incoming = {family: set() for family in FAMILIES}
        self.removed = {family: set() for family in FAMILIES}
        self.plan = None

    def error(self, family, index, field_name, message):
        self.errors.setdefault(family, {}).setdefault(index, {}).setdefault(field_name, []).append(message)

    # ---- reading the stored state ----
    def load(self, *, schedule, exams):
        db.session.flush()  # the reads below run on Core rows, which do not autoflush pending ORM changes
        # Courses and periods are small (hundreds); entries and exams are the big tables.
        self.courses = _rows_by_key(COURSE_COLUMNS, Course.code)
        self.periods = _rows_by_key(PERIOD_COLUMNS, ExamPeriod.external_id)
        self.entries = _rows_by_key(ENTRY_COLUMNS, ScheduleEntry.external_id, keys=self._keys("schedule", schedule))
        self.exams = _rows_by_key(EXAM_COLUMNS, ExamEntry.external_id, keys=self._keys("exams", exams))
        self.code_by_course_id = {row.id: code for code, row in self.courses.items()}
        self.period_key_by_id = {row.id: key for key, row in self.periods.items()}
        if "schedule" in self.replace:
            live_entries = sum(1 for row in self.entries.values() if row.deleted_at is None)
        else:
            live_entries = db.session.scalar(
                select(func.count()).select_from(ScheduleEntry).where(ScheduleEntry.deleted_at.is_(None)))
        self.plan = CataloguePlan(changes=self.changes, live_entries_before=live_entries)

    def _keys(self, family, items):
        if family in self.replace:
            return None
        return {item["id"] for item in items} | set(self.deleted[family])

    # ---- shared steps ----
    def first_time(self, family, index, key):
        """False (and an error) when the payload lists the same key twice."""
        if key in self.incoming[family]:
            label, key_field = LABELS[family]
            self.error(family, index, key_field, f"{label} {key!r} appears twice")
            return False
        self.incoming[family].add(key)
        return True

    def removals(self, family, stored):
        """Rows absent from a replaced family, and rows named in ``deleted``."""
        label, key_field = LABELS[family]
        incoming, removed = self.incoming[family], self.removed[family]
        if family in self.replace:
            removed |= {key for key, row in stored.items() if row.deleted_at is None and key not in incoming}
        for index, key in enumerate(self.deleted[family]):
            if key in incoming:
                self.error(f"deleted.{family}", index, key_field, f"{label} {key!r} is both upserted and deleted")
            elif key not in stored:
                self.error(f"deleted.{family}", index, key_field, f"unknown {label} {key!r}")
            elif stored[key].deleted_at is None:
                removed.add(key)

    def course_known(self, family, index, code):
        if code in self.live_courses:
            return True
        self.error(family, index, "course", f"unknown course {code!r}: neither in this payload nor stored")
        return False

    # ---- the four families ----
    def plan_courses(self, courses):
        plan, now = self.plan, self.now
        for index, item in enumerate(courses):
            code, name = item["code"], item["name"]
            if not self.first_time("courses", index, code):
                continue
            current = self.courses.get(code)
            if current is None:
                plan.course_inserts.append({"code": code, "name": name})
                self.changes.created["courses"].append(code)
            elif current.deleted_at is not None:
                plan.course_updates.append({"id": current.id, "name": name, "deleted_at": None, "updated_at": now})
                self.changes.created["courses"].append(code)
            elif current.name != name:
                plan.course_updates.append({"id": current.id, "name": name, "updated_at": now})
                self.changes.updated["courses"][code] = {"name": [current.name, name]}
        self.removals("courses", self.courses)
        live = {code for code, row in self.courses.items() if row.deleted_at is None}
        self.live_courses = (live | self.incoming["courses"]) - self.removed["courses"]

    def plan_schedule(self, schedule):
        for index, item in enumerate(schedule):
            key = item["id"]
            if not self.first_time("schedule", index, key) or not self.course_known("schedule", index, item["course"]):
                continue
            desired = (item["kind"], item.get("professor"), ", ".join(item["groups"]), item["day"],
                       item["start"], item["end"], item["classroom"])
            if item["end"] <= item["start"]:
                self.error("schedule", index, "end", "the class ends before it starts")
                continue
            self._entry_plan(key, item["course"], desired)
        self.removals("schedule", self.entries)

    def _entry_plan(self, key, course_code, desired):
        current = self.entries.get(key)
        # An existing course keeps its id; a new course's id is known only once written.
        stored_course = self.courses.get(course_code)
        course_id = stored_course.id if stored_course is not None else None
        if current is not None and current.deleted_at is None and current[2:10] == (course_id, *desired):
            return  # unchanged: the common case of a re-sent snapshot, decided without building a diff
        values = {"course_code": course_code, **dict(zip(ENTRY_FIELDS[1:], desired, strict=True))}
        if current is None:
            self.plan.entry_inserts.append({"external_id": key, **values})
            self.changes.created["schedule"].append(key)
            return
        values["course_id"] = course_id
        changed = _diff(current._mapping, values, ENTRY_FIELDS, {
            "course_id": lambda id_: self.code_by_course_id.get(id_, id_), "day": lambda day: DAY_CODES[day]})
        if course_id is None:
            changed["course_id"] = [self.code_by_course_id.get(current.course_id), course_code]
        row = {"id": current.id, **values, "sequence": current.sequence + 1, "updated_at": self.now}
        if current.deleted_at is not None:
            row["deleted_at"] = None
            self.changes.created["schedule"].append(key)
        else:
            if "course_id" in changed:
                changed["course"] = changed.pop("course_id")
            self.changes.updated["schedule"][key] = changed
        self.plan.entry_updates.append(row)

    def plan_periods(self, exam_periods):
        plan, now = self.plan, self.now
        for index, item in enumerate(exam_periods):
            key = item["id"]
            if not self.first_time("exam_periods", index, key):
                continue
            desired = {"name": item["name"], "start_date": item["start_date"], "end_date": item["end_date"],
                       "visible": item.get("visible", True)}
            if desired["end_date"] < desired["start_date"]:
                self.error("exam_periods", index, "end_date", "the period ends before it starts")
                continue
            current = self.periods.get(key)
            if current is None:
                plan.period_inserts.append({"external_id": key, **desired})
                self.changes.created["exam_periods"].append(key)
            elif current.deleted_at is not None:
                plan.period_updates.append({"id": current.id, **desired, "deleted_at": None, "updated_at": now})
                self.changes.created["exam_periods"].append(key)
            elif changed := _diff(current._mapping, desired, PERIOD_FIELDS):
                plan.period_updates.append({"id": current.id, **desired, "updated_at": now})
                self.changes.updated["exam_periods"][key] = changed
        self.removals("exam_periods", self.periods)
        live = {key for key, row in self.periods.items() if row.deleted_at is None}
        self.live_periods = (live | self.incoming["exam_periods"]) - self.removed["exam_periods"]

    def plan_exams(self, exams):
        for index, item in enumerate(exams):
            key = item["id"]
            if not self.first_time("exams", index, key) or not self.course_known("exams", index, item["course"]):
                continue
            if item["period"] not in self.live_periods:
                self.error("exams", index, "period",
                           f"unknown exam period {item['period']!r}: neither in this payload nor stored")
                continue
            self._exam_plan(key, item)
        self.removals("exams", self.exams)
        self._exams_of_removed_periods()

    def _exam_plan(self, key, item):
        desired = {"period_key": item["period"], "course_code": item["course"], "date": item["date"],
                   "time": item["time"], "classroom": item["classroom"], "professor": item.get("professor")}
        current = self.exams.get(key)
        if current is None:
            self.plan.exam_inserts.append({"external_id": key, **desired})
            self.changes.created["exams"].append(key)
            return
        stored_course, stored_period = self.courses.get(item["course"]), self.periods.get(item["period"])
        comparable = {**desired, "course_id": stored_course.id if stored_course else None,
                      "period_id": stored_period.id if stored_period else None}
        changed = _diff(current._mapping, comparable, EXAM_FIELDS, {
            "course_id": lambda id_: self.code_by_course_id.get(id_, id_),
            "period_id": lambda id_: self.period_key_by_id.get(id_, id_),
        })
        if current.deleted_at is None and not changed:
            return
        row = {"id": current.id, **desired, "updated_at": self.now}
        if current.deleted_at is not None:
            row["deleted_at"] = None
            self.changes.created["exams"].append(key)
        else:
            self.changes.updated["exams"][key] = {
                {"course_id": "course", "period_id": "period"}.get(name, name): values
                for name, values in changed.items()
            }
        self.plan.exam_updates.append(row)

    def _exams_of_removed_periods(self):
        """Exams of a removed period go with it (unless this payload moves them elsewhere)."""
        period_ids = [self.periods[key].id for key in self.removed["exam_periods"]]
        if not period_ids:
            return
        orphans = _rows_by_key(EXAM_COLUMNS, ExamEntry.external_id, ExamEntry.period_id.in_(period_ids),
                               ExamEntry.deleted_at.is_(None))
        for key, row in orphans.items():
            if key not in self.incoming["exams"]:
                self.exams.setdefault(key, row)
                self.removed["exams"].add(key)

    def check_removed_courses(self):
        """A removed course must not leave live timetable entries or exams pointing at it."""
        code_by_id = {self.courses[code].id: code for code in self.removed["courses"]}
        if not code_by_id:
            return
        still_used = set()
        for model, family in ((ScheduleEntry, "schedule"), (ExamEntry, "exams")):
            users = db.session.execute(select(model.external_id, model.course_id).where(
                model.course_id.in_(list(code_by_id)), model.deleted_at.is_(None)))
            still_used |= {code_by_id[course_id] for key, course_id in users
                           if key not in self.removed[family] and key not in self.incoming[family]}
        for code in sorted(still_used):
            message = f"course {code!r} would be removed while timetable entries or exams still use it"
            if code in self.deleted["courses"]:
                self.error("deleted.courses", self.deleted["courses"].index(code), "code", message)
            else:
                self.error("courses", code, "code", message)

    def finish(self):
        if self.errors:
            raise ValidationFailed("the catalogue data is invalid; nothing was written", errors=self.errors)
        stored = {"courses": self.courses, "schedule": self.entries, "exam_periods": self.periods,
                  "exams": self.exams}
        for family in FAMILIES:
            keys = sorted(self.removed[family])
            self.plan.deletes[family] = [stored[family][key].id for key in keys]
            self.changes.removed[family] = keys
        return self.plan


def catalogue_plan(*, courses=(), schedule=(), exam_periods=(), exams=(), replace=(), deleted=None):
    """Validate the desired state against the stored one and compute what to write.

    Items are plain dicts (see ``schedule_csv_parse`` and the webhook schemas): courses by ``code``,
    the rest by their external ``id``. Families named in ``replace`` are complete: stored rows absent
    from them are removed. ``deleted`` names rows to remove explicitly (deltas). Raises ValidationFailed
    with located errors (``{family: {index: {field: [message]}}}``, ``deleted.<family>`` for ``deleted``);
    writes nothing. Reads the whole of a replaced family, and only the named rows of the others, so a
    one-entry delta costs a handful of small queries whatever the size of the timetable.
    """
    planner = _CataloguePlanner(replace=replace, deleted=deleted)
    planner.load(schedule=schedule, exams=exams)
    planner.plan_courses(courses)
    planner.plan_schedule(schedule)
    planner.plan_periods(exam_periods)
    planner.plan_exams(exams)
    planner.check_removed_courses()
    return planner.finish()


def catalogue_write(plan):
    """Write a plan in the current transaction (no commit): a few bulk statements per family, never one
    per row except for updates (one executemany). Returns its ChangeSet."""
    if plan.changes.empty:
        return plan.changes
    now = datetime.now(timezone.utc)
    _bulk_write(Course, plan.course_inserts, plan.course_updates, now)
    _bulk_write(ExamPeriod, plan.period_inserts, plan.period_updates, now)
    course_ids = period_ids = {}
    if plan.entry_inserts or plan.entry_updates or plan.exam_inserts or plan.exam_updates:
        course_ids = dict(db.session.execute(select(Course.code, Course.id)).all())
    if plan.exam_inserts or plan.exam_updates:
        period_ids = dict(db.session.execute(select(ExamPeriod.external_id, ExamPeriod.id)).all())

    def resolved(row):
        row = dict(row)
        row["course_id"] = course_ids[row.pop("course_code")]
        if "period_key" in row:
            row["period_id"] = period_ids[row.pop("period_key")]
        return row

    _bulk_write(ScheduleEntry, [{**resolved(row), "sequence": 0} for row in plan.entry_inserts],
                [resolved(row) for row in plan.entry_updates], now)
    _bulk_write(ExamEntry, [resolved(row) for row in plan.exam_inserts],
                [resolved(row) for row in plan.exam_updates], now)
    for model, family in ((ScheduleEntry, "schedule"), (ExamEntry, "exams"),
                          (ExamPeriod, "exam_periods"), (Course, "courses")):
        values = {"deleted_at": now, "updated_at": now}
        if model is ScheduleEntry:
            values["sequence"] = ScheduleEntry.sequence + 1
        for ids in _chunks(plan.deletes[family]):
            db.session.execute(update(model).where(model.id.in_(ids)).values(**values),
                               execution_options={"synchronize_session": False})
    return plan.changes


def _bulk_write(model, inserts, updates, now):
    if inserts:
        # Core insert: batched multi-row INSERTs, without the ORM's per-row bookkeeping.
        db.session.execute(insert(model.__table__), [{**row, "created_at": now, "updated_at": now} for row in inserts])
    if updates:
        db.session.execute(update(model), updates)  # ORM bulk UPDATE by primary key (one executemany)


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

    key = cache_key_for("schedule", filters)

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
