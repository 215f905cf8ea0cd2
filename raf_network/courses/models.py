"""The course catalogue: courses, weekly timetable entries, examination periods and their exams.

Every row carries the external service's stable key (``code`` for courses, ``external_id`` for the
rest) and is soft-deleted (``deleted_at``) when the service drops it, so history and notifications can
still refer to it; the API shows only rows where ``deleted_at`` is null.
"""
from datetime import date, datetime, time

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, SmallInteger, String, Time, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from raf_network.extensions import db

# Day codes as the mobile app shows them, Monday first; the database stores the index.
DAY_CODES = ("PON", "UTO", "SRE", "ČET", "PET", "SUB", "NED")
ENGLISH_DAY_CODES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# The source's own class kinds, and what the app's two-valued `type` makes of them.
KIND_TO_TYPE = {"P": "LEC", "PiV": "LEC", "V": "LAB", "D": "LAB"}
KINDS = tuple(KIND_TO_TYPE)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=func.now(), onupdate=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class Course(TimestampMixin, db.Model):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class ScheduleEntry(TimestampMixin, db.Model):
    __tablename__ = "schedule_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    kind: Mapped[str] = mapped_column(String(3))
    professor: Mapped[str | None] = mapped_column(String(200))
    groups: Mapped[str] = mapped_column(String(500))
    day: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    classroom: Mapped[str] = mapped_column(String(100))
    # Bumped on every change, so calendar feeds (iCalendar SEQUENCE) update events in place.
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    course: Mapped[Course] = relationship(lazy="raise")

    @property
    def type(self):
        return KIND_TO_TYPE[self.kind]

    @property
    def day_code(self):
        return DAY_CODES[self.day]


class ExamPeriod(TimestampMixin, db.Model):
    __tablename__ = "exam_period"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    visible: Mapped[bool] = mapped_column(Boolean, default=True)


class ExamEntry(TimestampMixin, db.Model):
    __tablename__ = "exam_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("exam_period.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    time: Mapped[str] = mapped_column(String(50))
    classroom: Mapped[str] = mapped_column(String(100))
    professor: Mapped[str | None] = mapped_column(String(200))

    course: Mapped[Course] = relationship(lazy="raise")
    period: Mapped[ExamPeriod] = relationship(lazy="raise")


class CatalogueChange(db.Model):
    """One committed change of the catalogue, whatever made it (a webhook delivery, an import, a replay, the
    officers' console): its change set (``ChangeSet.to_json()``) and its source. Jobs that react to the change
    (notifying the students it affects) take its id."""

    __tablename__ = "catalogue_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "webhook:<delivery id>", "import-schedule", "import-exams", "seed", "console:<user id>", …
    source: Mapped[str] = mapped_column(String(128))
    changes: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
