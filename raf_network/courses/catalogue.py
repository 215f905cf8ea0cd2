"""The one way data enters the catalogue: ``catalogue_plan`` validates the desired state (plain items, as every
source describes it) against the stored one and computes what to write and the diff (a ``ChangeSet``: created /
updated with old → new / removed); ``catalogue_write`` writes a plan in a few bulk statements. Nothing is written
when nothing changed. Callers go through ``changes.catalogue_change_apply``, which records and announces it.
"""
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from sqlalchemy import func, insert, select, update

from raf_network.courses.models import DAY_CODES, Course, ExamEntry, ExamPeriod, ScheduleEntry
from raf_network.errors import ValidationFailed
from raf_network.extensions import db

FAMILIES = ("courses", "schedule", "exam_periods", "exams")


@dataclass
class ChangeSet:
    """What an apply changed. ``updated[family][key]`` maps field → [old, new] (JSON-friendly)."""

    created: dict = field(default_factory=lambda: {family: [] for family in FAMILIES})
    updated: dict = field(default_factory=lambda: {family: {} for family in FAMILIES})
    removed: dict = field(default_factory=lambda: {family: [] for family in FAMILIES})
    change_id: int | None = None  # the CatalogueChange recording it, once applied (courses.changes)

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

    @property
    def fingerprint(self):
        """A digest of exactly what this change set does: a confirmation compares it with the dry run's."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True, default=str).encode()).hexdigest()


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
    """{field: [old, new]} for the fields that differ (``current``: a stored row). ``display`` maps a field's value
    for humans."""
    changed = {}
    for name in fields_:
        old, new = getattr(current, name), desired[name]
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
    # .all(): one fetchall per statement; iterating the result fetches row by row, which cost ~1/8 of an
    # identical 10,000-entry snapshot's apply (bench/webhook_bench.py).
    if keys is None:
        return {row[key_index]: row for row in connection.execute(query).all()}
    rows = {}
    for chunk in _chunks(keys):
        rows.update((row[key_index], row) for row in connection.execute(query.where(key_column.in_(chunk))).all())
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
        changed = _diff(current, values, ENTRY_FIELDS, {
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
            elif changed := _diff(current, desired, PERIOD_FIELDS):
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
        changed = _diff(current, comparable, EXAM_FIELDS, {
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
