"""The mass-deletion guard, one rule for the webhook's snapshots and for uploaded timetables."""
import pytest
from sqlalchemy import func, select

from raf_network.courses.csv_import import schedule_import, schedule_plan
from raf_network.courses.guards import mass_deletion_check, mass_deletion_exceeded
from raf_network.courses.models import ScheduleEntry
from raf_network.errors import Conflict
from raf_network.extensions import db


def _live(app):
    return db.session.scalar(select(func.count()).select_from(ScheduleEntry).where(ScheduleEntry.deleted_at.is_(None)))


def test_a_timetable_removing_more_than_the_limit_needs_force(embedded_app, raspored_text):
    app = embedded_app
    rows = raspored_text.splitlines()
    with app.app_context():
        schedule_import(text=raspored_text)
        half = "\n".join(rows[:163]) + "\n"  # removes 163 of 326: exactly 50 %, the limit itself is allowed
        _parsed, plan = schedule_plan(text=half)
        assert plan.removed_share == 0.5 and not mass_deletion_exceeded(plan)
        fewer = "\n".join(rows[:162]) + "\n"
        _parsed, plan = schedule_plan(text=fewer)
        assert mass_deletion_exceeded(plan)
        with pytest.raises(Conflict, match=r"this timetable would remove 164 of the 326 .* \(50%\)"):
            mass_deletion_check(plan, force=False, what="this timetable", remedy="")
        mass_deletion_check(plan, force=True, what="this timetable", remedy="")
        db.session.rollback()
        with pytest.raises(Conflict):
            schedule_import(text=fewer, force=False)
        assert _live(app) == 326  # refused: nothing written
        app.config["WEBHOOK_MAX_DELETE_SHARE"] = 0.6
        schedule_import(text=fewer, force=False)  # the same setting as the webhook's decides
        assert _live(app) == 162


def test_the_operators_import_schedule_is_guarded_too_unless_forced(embedded_app, raspored_text, tmp_path):
    app = embedded_app
    full, fewer = tmp_path / "raspored.csv", tmp_path / "fewer.csv"
    full.write_text(raspored_text, encoding="utf-8")
    fewer.write_text("\n".join(raspored_text.splitlines()[:100]) + "\n", encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["import-schedule", str(full)]).exit_code == 0
    refused = runner.invoke(args=["import-schedule", str(fewer)])
    assert refused.exit_code == 1 and "mass deletion refused" in refused.output and "--force" in refused.output
    with app.app_context():
        assert _live(app) == 326
    forced = runner.invoke(args=["import-schedule", str(fewer), "--force"])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert _live(app) == 100
