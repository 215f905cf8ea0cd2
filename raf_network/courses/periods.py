"""Exam periods as officers manage them: every period (hidden ones too) with its number of exams, and showing or
hiding one in the app.

Visibility is catalogue data: a change goes through ``catalogue_plan`` and ``changes.catalogue_change_apply`` like
every other, so the cached ``GET /api/examination-periods`` (and the period's exams) change at once, the change is
recorded, and a period made visible announces its exams to the students attending them.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from raf_network.courses.catalogue import catalogue_plan
from raf_network.courses.changes import catalogue_change_apply
from raf_network.courses.models import Course, ExamEntry, ExamPeriod
from raf_network.errors import NotFound
from raf_network.extensions import db


@dataclass(frozen=True)
class PeriodSummary:
    id: int
    external_id: str
    name: str
    start_date: date
    end_date: date
    visible: bool
    exam_count: int  # live exams of live courses: what the app lists for the period when it is visible


def period_list():
    """Every live exam period, hidden ones included, latest first, with its exam count: one query."""
    counts = (select(ExamEntry.period_id, func.count().label("exams"))
              .join(Course, Course.id == ExamEntry.course_id)
              .where(ExamEntry.deleted_at.is_(None), Course.deleted_at.is_(None))
              .group_by(ExamEntry.period_id).subquery())
    rows = db.session.execute(
        select(ExamPeriod.id, ExamPeriod.external_id, ExamPeriod.name, ExamPeriod.start_date, ExamPeriod.end_date,
               ExamPeriod.visible, func.coalesce(counts.c.exams, 0).label("exam_count"))
        .outerjoin(counts, counts.c.period_id == ExamPeriod.id)
        .where(ExamPeriod.deleted_at.is_(None))
        .order_by(ExamPeriod.start_date.desc(), ExamPeriod.id.desc())
    ).all()
    return [PeriodSummary(*row) for row in rows]  # the columns in the dataclass's field order


def period_get(*, period_id):
    period = db.session.get(ExamPeriod, period_id)
    if period is None or period.deleted_at is not None:
        raise NotFound(f"exam period {period_id} does not exist")
    return period


def period_visibility_set(*, period_id, visible, source="exam-period-visibility"):
    """Show (``visible=True``) or hide a period in the app, as one catalogue change (``source`` records who:
    ``console:<user id>``). Already so: nothing is written or announced. Commits; returns the ChangeSet. 404 for
    an unknown or removed period."""
    period = period_get(period_id=period_id)
    plan = catalogue_plan(exam_periods=[{"id": period.external_id, "name": period.name,
                                         "start_date": period.start_date, "end_date": period.end_date,
                                         "visible": bool(visible)}])
    changes = catalogue_change_apply(plan=plan, source=source)
    db.session.commit()
    return changes
