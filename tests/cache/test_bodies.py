"""Cached bodies: shared across processes through Redis, bytes only (never pickles), and optional — reads keep
working from the database when the shared store is down."""
import logging

import pytest
import redis

from raf_network.cache import subscriber_stop
from raf_network.cache.bodies import BytesSerializer, CachedBody
from tests.cache.conftest import timetable_set


@pytest.fixture
def two_processes(make_pg_app):
    """Two app instances on the same PostgreSQL and Redis, like two gunicorn workers."""
    first, second = make_pg_app(), make_pg_app()
    timetable_set(first, "Kolarac2")
    return first, second


def test_a_body_built_by_one_process_is_served_by_another_from_redis(two_processes):
    first, second = two_processes
    built = first.test_client().get("/api/course-schedule")
    assert built.headers["X-Cache"] == "miss"
    shared = second.test_client().get("/api/course-schedule")
    assert shared.headers["X-Cache"] == "hit" and shared.data == built.data
    assert second.test_client().get("/api/course-schedule").headers["X-Cache"] == "hit-local"


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


def test_a_body_survives_packing_byte_for_byte():
    body = CachedBody.build('[{"ime":"Đorđe Čolić"}]'.encode())
    again = CachedBody.unpack(body.pack())
    assert (again.etag, again.raw, again.gz) == (body.etag, body.raw, body.gz)


def test_reads_succeed_from_the_database_when_redis_is_down(pg_url, monkeypatch, caplog):
    from raf_network import create_app
    from tests.conftest import _truncate_all

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    app = create_app("testing")
    _truncate_all(app)
    try:
        with caplog.at_level(logging.WARNING):
            timetable_set(app, "Kolarac2")  # commits; the announcement fails and is logged, not raised
            first = app.test_client().get("/api/course-schedule")
            timetable_set(app, "Raf06")
            second = app.test_client().get("/api/course-schedule")
    finally:
        subscriber_stop(app)  # it keeps trying to subscribe, in the background
    assert first.status_code == 200 and first.headers["X-Cache"] == "bypass"
    assert first.get_json()[0]["classroom"] == "Kolarac2"
    # Fresh all the same: without a subscription the generations come from the database.
    assert second.status_code == 200 and second.get_json()[0]["classroom"] == "Raf06"
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)
    assert any("could not announce" in record.getMessage() for record in caplog.records)


def test_a_filter_value_cannot_poison_another_filter_sets_cache_entry(app, raspored_text):
    """`?classroom=Raf%26course%3D<id>` (one filter whose value holds `&course=`) and `?classroom=Raf&course=<id>`
    (two filters) once shared a cache key: whichever came first decided what the other read."""
    from raf_network.courses.csv_import import schedule_import

    with app.app_context():
        schedule_import(text=raspored_text)
    client = app.test_client()
    entries = client.get("/api/course-schedule?classroom=Raf").get_json()
    course_id = entries[0]["course"]["id"]
    poison = client.get("/api/course-schedule", query_string={"classroom": f"Raf&course={course_id}"})
    assert poison.status_code == 200 and poison.get_json() == []
    honest = client.get(f"/api/course-schedule?classroom=Raf&course={course_id}")
    expected = [entry for entry in entries if entry["course"]["id"] == course_id]
    assert honest.get_json() == expected != []
