"""What a change of the catalogue means for students: the subscribers of a changed or removed timetable entry, and
the students attending a course whose exams were announced in a visible period, each get one notification per
change (a summary of what concerns them).

``catalogue_changed`` (``courses.changes``, sent after every committed catalogue change, whatever made it) queues
``catalogue_change_notify(change_id)``; the job reads the recorded change set, so it is idempotent: a re-run finds
the same notifications and inbox rows (keyed by ``catalogue-change:<id>:<kind>`` and the group of recipients).
"""
import hashlib
import json
import logging
from collections import defaultdict

from sqlalchemy import select

from raf_network.courses.models import (
    DAY_CODES,
    KIND_TO_TYPE,
    CatalogueChange,
    Course,
    ExamEntry,
    ExamPeriod,
    ScheduleEntry,
)
from raf_network.extensions import db
from raf_network.jobs import enqueue
from raf_network.notifications.notify import MAX_DETAILS_CHARS, TIMEZONE, chunks, notification_create, utcnow
from raf_network.notifications.texts import exam_texts, timetable_texts
from raf_network.users.models import Subscription, User

log = logging.getLogger(__name__)

# An exam change students hear about: a new exam, or one whose date, time, classroom or course changed.
ANNOUNCED_FIELDS = {"date", "time", "classroom", "course", "period"}


def on_catalogue_changed(_sender=None, *, change_id):
    """The ``catalogue_changed`` receiver (connected by the blueprint): queue the notification job."""
    enqueue(catalogue_change_notify, change_id, queue="notifications")


def catalogue_change_notify(change_id: int):
    """The job: notify the students a recorded catalogue change affects; returns the notification ids."""
    record = db.session.get(CatalogueChange, change_id)
    if record is None:
        log.warning("catalogue change %s does not exist; nothing to notify", change_id)
        return []
    changes, source = record.changes, f"catalogue-change:{change_id}"
    ids = timetable_changes_notify(changes=changes, source=f"{source}:timetable")
    ids += exam_changes_notify(changes=changes, source=f"{source}:exams")
    db.session.commit()
    log.info("catalogue change %s (%s): notifications %s", change_id, record.source, ids)
    return ids


# --------------------------------------------------------------------------------------------------
# Timetable changes
# --------------------------------------------------------------------------------------------------

def _entry_change(row, fields, *, cancelled):
    return {
        "entry_id": row.id, "course": row.name, "type": KIND_TO_TYPE.get(row.kind, "LEC"),
        "change": "cancelled" if cancelled else "updated", "fields": {} if cancelled else (fields or {}),
        "day": DAY_CODES[row.day], "start": row.start_time.strftime("%H:%M"),
    }


def _is_soon(change, today):
    """A change to a class today or tomorrow (either its old or its new day) is urgent."""
    days = {change["day"], *change["fields"].get("day", [])}
    soon = {DAY_CODES[today], DAY_CODES[(today + 1) % 7]}
    return bool(days & soon)


def _details(changes):
    details = [{"entry_id": change["entry_id"], "change": change["change"], "fields": change["fields"]}
               for change in changes]
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DETAILS_CHARS:  # too many to detail: the app reloads the timetable by ids
        text = json.dumps([{"entry_id": c["entry_id"], "change": c["change"]} for c in changes][:100])
    return text


def _subscribers_by_entries(entry_ids):
    """{(entry ids a user attends, sorted): [user ids]} for the changed entries."""
    per_user = defaultdict(list)
    for chunk in chunks(sorted(entry_ids)):
        rows = db.session.execute(
            select(Subscription.user_id, Subscription.schedule_entry_id)
            .join(User, User.id == Subscription.user_id)
            .where(Subscription.schedule_entry_id.in_(chunk), User.is_active)
        )
        for user_id, entry_id in rows:
            per_user[user_id].append(entry_id)
    groups = defaultdict(list)
    for user_id, attended in per_user.items():
        groups[tuple(sorted(attended))].append(user_id)
    return groups


def _changed_entries(changes):
    """{entry id: its change} for the timetable entries ``changes`` updates or removes (as stored)."""
    updated = (changes.get("updated") or {}).get("schedule") or {}
    removed = set((changes.get("removed") or {}).get("schedule") or [])
    entries = {}
    for chunk in chunks(sorted(set(updated) | removed)):
        rows = db.session.execute(
            select(ScheduleEntry.id, ScheduleEntry.external_id, ScheduleEntry.kind, ScheduleEntry.day,
                   ScheduleEntry.start_time, Course.name)
            .join(Course, Course.id == ScheduleEntry.course_id)
            .where(ScheduleEntry.external_id.in_(chunk))
        )
        for row in rows:
            entries[row.id] = _entry_change(row, updated.get(row.external_id),
                                            cancelled=row.external_id in removed)
    return entries


def timetable_change_audience(*, changes):
    """The ids of the people a timetable change concerns: the active subscribers of the entries it updates or
    removes — whom ``timetable_changes_notify`` notifies. ``changes`` is ``ChangeSet.to_json()``, applied or only
    planned (a dry run shows it before anything is written). Two queries per thousand such entries."""
    entries = _changed_entries(changes)
    return {user_id for user_ids in (_subscribers_by_entries(entries).values() if entries else ())
            for user_id in user_ids}


def timetable_changes_notify(*, changes, source):
    """One notification per group of subscribers attending the same changed or removed entries (a summary of their
    changes); everyone else gets nothing. ``changes`` is ``ChangeSet.to_json()``. No commit."""
    entries = _changed_entries(changes)
    today = utcnow().astimezone(TIMEZONE).weekday()
    notification_ids = []
    for signature, user_ids in _subscribers_by_entries(entries).items() if entries else ():
        group_changes = [entries[entry_id] for entry_id in signature]
        notification_ids.append(notification_create(
            category="timetable_change", source=source, user_ids=user_ids,
            group_key=hashlib.sha1(",".join(map(str, signature)).encode()).hexdigest(),
            texts=timetable_texts(group_changes),
            data={"type": "timetable_change", "schedule_entry_ids": ",".join(map(str, signature)),
                  "changes": _details(group_changes)},
            urgent=any(_is_soon(change, today) for change in group_changes),
        ))
    return notification_ids


# --------------------------------------------------------------------------------------------------
# Exam schedules
# --------------------------------------------------------------------------------------------------

def _exams_announced(period_id, exam_ids):
    """The live exams among ``exam_ids`` of the period, with their course names, by date and time."""
    exams = []
    for chunk in chunks(sorted(set(exam_ids))):
        exams += db.session.execute(
            select(ExamEntry.id, ExamEntry.course_id, ExamEntry.date, ExamEntry.time, ExamEntry.classroom,
                   Course.name.label("course"))
            .join(Course, Course.id == ExamEntry.course_id)
            .where(ExamEntry.id.in_(chunk), ExamEntry.period_id == period_id, ExamEntry.deleted_at.is_(None),
                   Course.deleted_at.is_(None))
        ).all()
    return sorted(exams, key=lambda exam: (exam.date, exam.time, exam.id))


def _attendees_by_course(course_ids):
    """{user id: {course ids}}: active users subscribed to a live timetable entry of these courses."""
    courses_of = defaultdict(set)
    for chunk in chunks(sorted(course_ids)):
        rows = db.session.execute(
            select(Subscription.user_id, ScheduleEntry.course_id).distinct()
            .join(ScheduleEntry, ScheduleEntry.id == Subscription.schedule_entry_id)
            .join(User, User.id == Subscription.user_id)
            .where(ScheduleEntry.course_id.in_(chunk), ScheduleEntry.deleted_at.is_(None), User.is_active)
        )
        for user_id, course_id in rows:
            courses_of[user_id].add(course_id)
    return courses_of


def _exam_details(exams):
    details = [{"exam_id": exam.id, "course": exam.course, "date": exam.date.isoformat(), "time": exam.time,
                "classroom": exam.classroom} for exam in exams]
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DETAILS_CHARS:  # too many to detail: the app reloads the period's exams by id
        text = json.dumps([{"exam_id": exam.id} for exam in exams][:100])
    return text


def _announced_exam_ids(changes):
    """{period id: exam ids} students should hear about: every live exam of a visible period the change created or
    made visible, and elsewhere in visible periods the new exams and those whose date, time, classroom or course
    changed."""
    created, updated = changes.get("created") or {}, changes.get("updated") or {}
    periods = list(created.get("exam_periods", [])) + [
        key for key, fields in updated.get("exam_periods", {}).items() if "visible" in fields]
    exams = set(created.get("exams", [])) | {
        key for key, fields in updated.get("exams", {}).items() if ANNOUNCED_FIELDS & set(fields)}
    announced = defaultdict(set)
    for column, keys in ((ExamPeriod.external_id, periods), (ExamEntry.external_id, sorted(exams))):
        for chunk in chunks(keys):
            rows = db.session.execute(
                select(ExamEntry.period_id, ExamEntry.id).join(ExamPeriod, ExamPeriod.id == ExamEntry.period_id)
                .where(column.in_(chunk), ExamPeriod.visible.is_(True), ExamPeriod.deleted_at.is_(None),
                       ExamEntry.deleted_at.is_(None)))
            for period_id, exam_id in rows:
                announced[period_id].add(exam_id)
    return announced


def exam_changes_notify(*, changes, source):
    """For each visible period with announced exams (``_announced_exam_ids``): one notification per group of students
    attending the same of those exams' courses (subscribed to one of their timetable entries). No commit."""
    notification_ids = []
    for period_id, exam_ids in sorted(_announced_exam_ids(changes).items()):
        period = db.session.get(ExamPeriod, period_id)
        exams = _exams_announced(period_id, exam_ids)
        groups = defaultdict(list)
        for user_id, course_ids in _attendees_by_course({exam.course_id for exam in exams}).items():
            groups[tuple(exam.id for exam in exams if exam.course_id in course_ids)].append(user_id)
        today = utcnow().astimezone(TIMEZONE).date()
        for signature, user_ids in groups.items():
            mine = [exam for exam in exams if exam.id in signature]
            notification_ids.append(notification_create(
                category="exams", source=f"{source}:{period_id}", user_ids=user_ids,
                group_key=hashlib.sha1(",".join(map(str, signature)).encode()).hexdigest(),
                texts=exam_texts(period=period.name, exams=[
                    {"course": exam.course, "date": exam.date, "time": exam.time, "classroom": exam.classroom}
                    for exam in mine]),
                data={"type": "exams", "examination_period_id": str(period_id),
                      "exam_ids": ",".join(map(str, signature)), "exams": _exam_details(mine)},
                urgent=any(0 <= (exam.date - today).days <= 1 for exam in mine),  # an exam today or tomorrow
            ))
    return notification_ids
