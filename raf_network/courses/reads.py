"""Reads of the catalogue: the queries in the contract's order, and the hot reads served as cached ready-to-send
bytes (``raf_network.cache``: ETag/304, gzip, exactly invalidated by every catalogue change)."""
import json

from sqlalchemy import case, literal, select
from sqlalchemy.orm import contains_eager

from raf_network.cache import cache_key_for, cached_body
from raf_network.courses.models import KIND_TO_TYPE, Course, ExamEntry, ExamPeriod, ScheduleEntry
from raf_network.courses.schemas import CourseSchema, ExamEntrySchema, ExamPeriodSchema, ScheduleEntrySchema
from raf_network.errors import NotFound
from raf_network.extensions import db


def _json_bytes(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


TYPE_ORDER = case((ScheduleEntry.kind.in_(["P", "PiV"]), literal("LEC")), else_=literal("LAB"))


def schedule_sort_key(entry):
    """The contract's order: course name (case-insensitive, the same on every database), type, day
    (Monday first), start time."""
    return (entry.course.name.casefold(), entry.type, entry.day, entry.start_time, entry.id)


def schedule_entries_query(*, course=None, group=None, day=None, type=None, professor=None, classroom=None):
    """Live timetable entries with their course loaded in the same query (see ``schedule_sort_key``)."""
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
    key = cache_key_for("schedule", filters)

    def build():
        entries = sorted(db.session.scalars(schedule_entries_query(**filters)).all(), key=schedule_sort_key)
        return _json_bytes(ScheduleEntrySchema(many=True).dump(entries))

    return cached_body(key, ("schedule", "courses"), build)


def course_list():
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
