"""The response cache on the real Redis: shared across processes, exactly invalidated, never pickled,
and optional — reads keep working from the database when Redis is down."""
import logging

import pytest
import redis

from raf_network.cache import BytesSerializer, subscriber_stop
from raf_network.courses import services


@pytest.fixture
def two_processes(make_pg_app):
    """Two app instances on the same PostgreSQL and Redis, like two gunicorn workers."""
    first, second = make_pg_app(), make_pg_app()
    with first.app_context():
        services.seed_run()
    return first, second


def test_a_response_built_by_one_process_is_served_by_another_from_redis(two_processes):
    first, second = two_processes
    built = first.test_client().get("/api/course-schedule")
    assert built.headers["X-Cache"] == "miss"
    shared = second.test_client().get("/api/course-schedule")
    assert shared.headers["X-Cache"] == "hit" and shared.data == built.data
    assert second.test_client().get("/api/course-schedule").headers["X-Cache"] == "hit-local"


def test_a_change_in_one_process_retires_the_response_in_every_process(two_processes):
    first, second = two_processes
    before = second.test_client().get("/api/course-schedule")
    second.test_client().get("/api/course-schedule")  # now held in the second process's memory too
    text = services.BUNDLED_SCHEDULE.read_text(encoding="utf-8").replace('"Kolarac2"', '"Kolarac9"', 1)
    with first.app_context():
        services.schedule_import(text=text)
    after = second.test_client().get("/api/course-schedule")
    assert after.headers["X-Cache"] == "miss" and after.headers["ETag"] != before.headers["ETag"]
    assert b"Kolarac9" in after.data


def test_invalidation_is_exact_per_family(two_processes, redis_url):
    first, _ = two_processes
    client = first.test_client()
    client.get("/api/course-schedule")
    client.get("/api/examination-periods")
    with first.app_context():
        services.cache_families_invalidate(["exams"])
    assert client.get("/api/course-schedule").headers["X-Cache"].startswith("hit")
    assert client.get("/api/examination-periods").headers["X-Cache"] == "miss"


def test_redis_holds_bytes_never_pickles(two_processes, redis_url):
    first, _ = two_processes
    first.test_client().get("/api/course-schedule")
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("raf:resp:schedule:*")
    assert keys
    for key in keys:
        value = client.get(key)
        assert value.startswith(b"=") and b"\x80\x05" not in value[:8]  # no pickle protocol header
    with pytest.raises(TypeError):
        BytesSerializer().dumps({"user": "data"})


def test_reads_succeed_from_the_database_when_redis_is_down(pg_url, monkeypatch, caplog):
    from raf_network import create_app

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    app = create_app("testing")
    with app.app_context():
        from raf_network.extensions import db

        db.session.rollback()
    from tests.conftest import _truncate_all

    _truncate_all(app)
    with app.app_context():
        services.seed_run()  # the change commits; invalidation fails and is logged, not raised
    try:
        with caplog.at_level(logging.WARNING):
            response = app.test_client().get("/api/course-schedule")
    finally:
        subscriber_stop(app)  # it keeps trying to subscribe, in the background
    assert response.status_code == 200 and len(response.get_json()) == 326
    assert response.headers["X-Cache"] == "bypass"
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_filter_value_cannot_poison_another_filter_sets_cache_entry(app):
    """`?classroom=Raf%26course%3D<id>` (one filter whose value holds `&course=`) and `?classroom=Raf&course=<id>`
    (two filters) once shared a cache key: whichever came first decided what the other read."""
    with app.app_context():
        services.seed_run()
    client = app.test_client()
    entries = client.get("/api/course-schedule?classroom=Raf").get_json()
    course_id = entries[0]["course"]["id"]
    poison = client.get("/api/course-schedule", query_string={"classroom": f"Raf&course={course_id}"})
    assert poison.status_code == 200 and poison.get_json() == []
    honest = client.get(f"/api/course-schedule?classroom=Raf&course={course_id}")
    expected = [entry for entry in entries if entry["course"]["id"] == course_id]
    assert honest.get_json() == expected != []
