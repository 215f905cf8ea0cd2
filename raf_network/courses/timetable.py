"""A timetable upload's dry run, for people: what replacing the timetable with a CSV would create, change (old →
new) and remove, entry by entry (course, kind, day, time, classroom, groups), and whether the mass-deletion guard
holds it back. Reads only (``csv_import.schedule_plan`` → ``catalogue_plan``); applying is
``csv_import.schedule_import``.

The cost does not grow with the file: the plan's own reads, one for the courses' names and one per 5000 removed
entries.
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from raf_network.courses.catalogue import IN_CHUNK
from raf_network.courses.csv_import import schedule_plan
from raf_network.courses.guards import mass_deletion_exceeded, mass_deletion_limit
from raf_network.courses.models import DAY_CODES, Course, ScheduleEntry
from raf_network.extensions import db

# The planner's field names (ChangeSet.updated["schedule"]) in the order a person reads an entry.
ENTRY_FIELDS = ("course", "kind", "day", "start_time", "end_time", "classroom", "groups", "professor")


@dataclass
class TimetableDryRun:
    """What a timetable CSV would change. Entries are plain dicts (JSON-able, see ``_entry``); an updated one
    also carries ``changes``: ``[[field, old, new]]`` in ``ENTRY_FIELDS`` order."""

    plan: object  # the CataloguePlan (not JSON; not stored)
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    new_courses: list = field(default_factory=list)
    limit: float = 0.0  # WEBHOOK_MAX_DELETE_SHARE when it was checked
    over_limit: bool = False  # the mass-deletion guard holds it back (applied only with force)

    def to_json(self):
        return {"created": self.created, "updated": self.updated, "removed": self.removed,
                "new_courses": self.new_courses, "counts": self.plan.changes.counts,
                "live_before": self.plan.live_entries_before, "removed_share": round(self.plan.removed_share, 4),
                "limit": self.limit, "over_limit": self.over_limit}


def _entry(*, key, course, kind, day, start, end, classroom, groups, professor):
    return {"id": key, "course": course, "kind": kind, "day": DAY_CODES[day], "start": start.strftime("%H:%M"),
            "end": end.strftime("%H:%M"), "classroom": classroom, "groups": groups, "professor": professor or ""}


def _order(entry):
    return (entry["course"].casefold(), DAY_CODES.index(entry["day"]), entry["start"], entry["id"])


def _stored_entries(keys):
    """The stored (live) entries with these external ids, readable, with their course names."""
    rows = []
    keys = sorted(keys)
    for start in range(0, len(keys), IN_CHUNK):
        rows += db.session.execute(
            select(ScheduleEntry.external_id, ScheduleEntry.kind, ScheduleEntry.day, ScheduleEntry.start_time,
                   ScheduleEntry.end_time, ScheduleEntry.classroom, ScheduleEntry.groups, ScheduleEntry.professor,
                   Course.name)
            .join(Course, Course.id == ScheduleEntry.course_id)
            .where(ScheduleEntry.external_id.in_(keys[start:start + IN_CHUNK]))
        ).all()
    return [_entry(key=row.external_id, course=row.name, kind=row.kind, day=row.day, start=row.start_time,
                   end=row.end_time, classroom=row.classroom, groups=row.groups, professor=row.professor)
            for row in rows]


def timetable_dry_run(*, text):
    """What replacing the timetable with the CSV ``text`` would do (see the module docstring); writes nothing.
    Raises ValidationFailed (bad rows, located by line) as ``schedule_import`` does."""
    parsed, plan = schedule_plan(text=text)
    changes = plan.changes
    names = dict(db.session.execute(select(Course.code, Course.name)).all())
    names.update((course["code"], course["name"]) for course in parsed.courses)
    items = {item["id"]: item for item in parsed.schedule}

    def readable(key):
        item = items[key]
        return _entry(key=key, course=names[item["course"]], kind=item["kind"], day=item["day"],
                      start=item["start"], end=item["end"], classroom=item["classroom"],
                      groups=", ".join(item["groups"]), professor=item.get("professor"))

    dry_run = TimetableDryRun(plan=plan, limit=mass_deletion_limit(), over_limit=mass_deletion_exceeded(plan))
    dry_run.created = sorted((readable(key) for key in changes.created["schedule"]), key=_order)
    for key, fields in changes.updated["schedule"].items():
        shown = [[name, *fields[name]] for name in ENTRY_FIELDS if name in fields]
        for change in shown:
            if change[0] == "course":  # the planner names courses by code
                change[1:] = [names.get(code, code) for code in change[1:]]
        dry_run.updated.append({**readable(key), "changes": shown})
    dry_run.updated.sort(key=_order)
    dry_run.removed = sorted(_stored_entries(changes.removed["schedule"]), key=_order)
    dry_run.new_courses = sorted(names[code] for code in changes.created["courses"])
    db.session.rollback()  # a dry run: nothing read here stays in the session
    return dry_run
