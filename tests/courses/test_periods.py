"""Exam periods as officers manage them: every period with its exam count in one query, and visibility as a
catalogue change — the cached GET /api/examination-periods changes at once, recorded, a no-op when already so."""
import pytest
from sqlalchemy import func, select

from raf_network.courses.exam_import import exam_schedule_import
from raf_network.courses.models import CatalogueChange, ExamPeriod
from raf_network.courses.periods import period_list, period_visibility_set
from raf_network.errors import NotFound
from raf_network.extensions import db
from tests.conftest import count_queries
from tests.factories import bearer, user_create

EXAMS = ("Diskretne strukture;N. N.;6;9-12;Subota;18.11.\n"
         "Uvod u programiranje (RN);N. N.;Rg7;10-13;Nedelja;19.11.\n")


def _period(app, name, *, visible, text=EXAMS):
    with app.app_context():
        exam_schedule_import(text=text, period=name, year=2023, visible=visible)
        return db.session.scalar(select(ExamPeriod.id).where(ExamPeriod.name == name))


@pytest.fixture
def timetable(app, raspored_text):
    from raf_network.courses.csv_import import schedule_import

    with app.app_context():
        schedule_import(text=raspored_text)
    return app


def test_every_period_is_listed_with_its_exam_count_in_one_query(timetable):
    app = timetable
    shown = _period(app, "Rok A", visible=True)
    hidden = _period(app, "Rok B", visible=False, text=EXAMS.splitlines()[0])
    with app.app_context(), count_queries(app) as statements:
        listed = period_list()
    assert len(statements) == 1
    # Latest first (same start date: the later one first).
    assert [(row.id, row.visible, row.exam_count) for row in listed] == [(hidden, False, 1), (shown, True, 2)]
    for number in range(5):
        _period(app, f"Rok {number}x", visible=False)
    with app.app_context(), count_queries(app) as more:
        assert len(period_list()) == 7
    assert len(more) == 1


def test_hiding_and_showing_changes_the_cached_api_at_once(timetable):
    app = timetable
    period_id = _period(app, "Januarski rok", visible=True)
    client, headers = app.test_client(), bearer(app, user_create(app, role="student"))
    assert [p["id"] for p in client.get("/api/examination-periods", headers=headers).json] == [period_id]
    assert len(client.get(f"/api/examination-entries?examination_period={period_id}", headers=headers).json) == 2
    with app.app_context():
        changes = period_visibility_set(period_id=period_id, visible=False, source="console:1")
        assert changes.updated["exam_periods"] and changes.change_id is not None
        assert db.session.get(CatalogueChange, changes.change_id).source == "console:1"
    assert client.get("/api/examination-periods", headers=headers).json == []
    assert client.get(f"/api/examination-entries?examination_period={period_id}", headers=headers).json == []
    with app.app_context():
        period_visibility_set(period_id=period_id, visible=True)
    assert [p["id"] for p in client.get("/api/examination-periods", headers=headers).json] == [period_id]


def test_visibility_already_so_changes_nothing_and_unknown_periods_are_404(timetable):
    app = timetable
    period_id = _period(app, "Rok", visible=True)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(CatalogueChange))
        assert period_visibility_set(period_id=period_id, visible=True).empty
        assert db.session.scalar(select(func.count()).select_from(CatalogueChange)) == before
        with pytest.raises(NotFound):
            period_visibility_set(period_id=999999, visible=True)
