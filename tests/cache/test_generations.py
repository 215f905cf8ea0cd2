"""Generations live in the database and move with the change that bumps them: a rolled-back change retires
nothing, a committed one retires exactly its families, and every process sharing the database sees it."""
import pytest
from sqlalchemy import select

from raf_network.cache import cache_families_invalidate
from raf_network.cache.generations import generations_read
from raf_network.cache.models import CacheGeneration
from raf_network.extensions import db
from tests.cache.conftest import classroom_served, timetable_set
from tests.conftest import _make_app


def _generations(app):
    with app.app_context():
        return generations_read(db.session, ["courses", "exams", "schedule"])


def test_a_bump_commits_with_its_change_and_a_rollback_retires_nothing(app):
    before = _generations(app)
    with app.app_context():
        db.session.begin()  # the change's transaction
        cache_families_invalidate(["exams"])
        db.session.rollback()
    assert _generations(app) == before
    with app.app_context():
        db.session.begin()
        cache_families_invalidate(["exams"])
        assert _generations(app) == before  # not visible before commit
        db.session.commit()
    after = _generations(app)
    assert after["exams"] > before["exams"] and after["courses"] == before["courses"]


def test_a_new_generation_is_never_below_the_clock_so_an_old_backup_cannot_reuse_one(app):
    import time

    with app.app_context():
        db.session.add(CacheGeneration(family="schedule", generation=7))  # as restored from an old dump
        db.session.commit()
        started = time.time_ns()
        cache_families_invalidate(["schedule"])
        assert db.session.scalar(select(CacheGeneration.generation)
                                 .where(CacheGeneration.family == "schedule")) >= started


def test_invalidation_is_exact_per_family(app):
    timetable_set(app, "Kolarac2")
    client = app.test_client()
    client.get("/api/course-schedule")
    client.get("/api/examination-periods")
    with app.app_context():
        cache_families_invalidate(["exams"])
    assert client.get("/api/course-schedule").headers["X-Cache"].startswith("hit")
    assert client.get("/api/examination-periods").headers["X-Cache"] in ("miss", "bypass")


def test_unknown_families_are_refused(embedded_app):
    with embedded_app.app_context(), pytest.raises(ValueError, match="unknown cache family"):
        cache_families_invalidate(["timetable"])


def test_embedded_default_another_process_sees_a_change_on_its_next_read(embedded_app):
    """Two processes on one SQLite file (the server of `make run` and the CLI beside it): each has a cache of its
    own in memory, and the change of one is what the other serves on its very next read."""
    url = embedded_app.config["SQLALCHEMY_DATABASE_URI"]
    other = _make_app(url, redis_url=None)
    timetable_set(embedded_app, "Kolarac2")
    server = other.test_client()
    assert classroom_served(server) == "Kolarac2"
    assert server.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    timetable_set(embedded_app, "Raf06")  # "the CLI"
    response = server.get("/api/course-schedule")
    assert response.headers["X-Cache"] == "miss" and response.get_json()[0]["classroom"] == "Raf06"
