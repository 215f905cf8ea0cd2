"""Applying catalogue changes with a diff (courses/catalogue.py): one plan, bulk writes, a change set."""
from datetime import date, time

import pytest
from sqlalchemy import func, select

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.models import ScheduleEntry
from raf_network.errors import ValidationFailed
from raf_network.extensions import db


def _entry(**overrides):
    item = {"id": "uup-p-1", "course": "UUP", "kind": "P", "professor": "Urosevic Dragan",
            "groups": ["101", "102"], "day": 0, "start": time(11, 15), "end": time(13), "classroom": "Kolarac2"}
    item.update(overrides)
    return item


def _apply(**kwargs):
    plan = catalogue_plan(**kwargs)
    changes = catalogue_write(plan)
    db.session.commit()
    return changes


def test_apply_reports_created_updated_with_old_and_new_and_removed(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        created = _apply(courses=[course], schedule=[_entry(), _entry(id="uup-v-1", kind="V")])
        assert created.created["schedule"] == ["uup-p-1", "uup-v-1"]
        changed = _apply(courses=[course], schedule=[_entry(classroom="Raf06 (a)")], replace={"schedule"})
        assert changed.updated["schedule"] == {"uup-p-1": {"classroom": ["Kolarac2", "Raf06 (a)"]}}
        assert changed.removed["schedule"] == ["uup-v-1"]
        entry = db.session.scalar(select(ScheduleEntry).where(ScheduleEntry.external_id == "uup-p-1"))
        assert entry.sequence == 1 and entry.classroom == "Raf06 (a)"
        removed = db.session.scalar(select(ScheduleEntry).where(ScheduleEntry.external_id == "uup-v-1"))
        assert removed.deleted_at is not None  # soft-deleted, still there for history
        assert _apply(courses=[course], schedule=[_entry(classroom="Raf06 (a)")]).empty


def test_apply_rejects_unknown_references_and_writes_nothing(pg_app):
    with pg_app.app_context():
        with pytest.raises(ValidationFailed) as raised:
            catalogue_plan(schedule=[_entry(), _entry(id="x", course="NOPE")])
        assert raised.value.errors["schedule"][0]["course"]
        assert raised.value.errors["schedule"][1]["course"]
        assert db.session.scalar(select(func.count()).select_from(ScheduleEntry)) == 0


def test_apply_rejects_removing_a_course_still_in_use(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        _apply(courses=[course], schedule=[_entry()])
        with pytest.raises(ValidationFailed, match="invalid"):
            catalogue_plan(deleted={"courses": ["UUP"]})


def test_removed_share_for_the_mass_deletion_guard(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    with pg_app.app_context():
        _apply(courses=[course], schedule=[_entry(id=f"e{i}", start=time(8 + i), end=time(9 + i)) for i in range(4)])
        plan = catalogue_plan(schedule=[_entry(id="e0", start=time(8), end=time(9))], replace={"schedule"})
        assert plan.removed_share == 0.75


def test_exams_follow_their_period_when_it_is_removed(pg_app):
    course = {"code": "UUP", "name": "Uvod u programiranje"}
    period = {"id": "jan", "name": "Januar", "start_date": date(2027, 1, 18), "end_date": date(2027, 2, 7)}
    exam = {"id": "jan-uup", "period": "jan", "course": "UUP", "date": date(2027, 1, 20), "time": "9-14",
            "classroom": "Raf06 (a)", "professor": "Urosevic Dragan"}
    with pg_app.app_context():
        _apply(courses=[course], exam_periods=[period], exams=[exam])
        changes = _apply(deleted={"exam_periods": ["jan"]})
        assert changes.removed["exam_periods"] == ["jan"] and changes.removed["exams"] == ["jan-uup"]
