"""The cheaper hot-read path (see docs/benchmarks.md) keeps the read's behaviour: its one Redis round trip
survives what the connection pool used to absorb, and skipping the parse of an empty query changes no
answer."""
import pytest
import redis

from raf_network.courses import services
from raf_network.courses.routes import CatalogueParser
from raf_network.courses.schemas import ExamEntriesQuerySchema, ScheduleQuerySchema


@pytest.fixture
def seeded_pg(pg_app):
    with pg_app.app_context():
        services.seed_run()
    return pg_app


def _generations_connection(app):
    from raf_network.cache import _state

    with app.app_context():
        return _state().generations_connection.connection


def _server_closes(connection, redis_url):
    """Close this one connection from the server side, as an idle timeout or a restart would (only this
    one: the Redis server may be shared)."""
    host, port = connection._sock.getsockname()[:2]
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    finally:
        client.close()


def test_a_connection_closed_by_the_server_is_replaced_without_an_outage(seeded_pg, redis_url, caplog):
    client = seeded_pg.test_client()
    client.get("/api/course-schedule")
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    _server_closes(_generations_connection(seeded_pg), redis_url)
    response = client.get("/api/course-schedule")
    assert response.status_code == 200 and response.headers["X-Cache"] == "hit-local"
    assert not any("cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_reply_left_unread_is_never_taken_for_the_next_one(seeded_pg):
    client = seeded_pg.test_client()
    client.get("/api/course-schedule")
    connection = _generations_connection(seeded_pg)
    connection.send_command("ECHO", "stray")  # as if a request had died between sending and reading
    assert connection.can_read(timeout=2)  # the stray reply has arrived
    response = client.get("/api/course-schedule")
    assert response.status_code == 200 and response.headers["X-Cache"] == "hit-local"


def test_a_change_is_seen_by_the_next_read_of_another_process(make_pg_app):
    first, second = make_pg_app(), make_pg_app()
    with first.app_context():
        services.seed_run()
    reader = second.test_client()
    before = reader.get("/api/course-schedule")
    assert reader.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    text = services.BUNDLED_SCHEDULE.read_text(encoding="utf-8").replace('"Kolarac2"', '"Kolarac9"', 1)
    with first.app_context():
        services.schedule_import(text=text)
    after = reader.get("/api/course-schedule", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["X-Cache"] == "miss" and b"Kolarac9" in after.data


def test_only_schemas_that_load_an_empty_query_as_nothing_skip_parsing():
    schedule, exam_entries = ScheduleQuerySchema(), ExamEntriesQuerySchema()
    parser = CatalogueParser([schedule, exam_entries])
    assert schedule.load({}) == {}
    assert id(schedule) in parser._nothing_from_empty_query  # all optional, no schema hooks
    assert id(exam_entries) not in parser._nothing_from_empty_query  # a required field


@pytest.mark.parametrize("query", ["", "?", "?&"])
def test_the_whole_timetable_without_filters(seeded, query):
    response = seeded.test_client().get(f"/api/course-schedule{query}")
    assert response.status_code == 200 and len(response.get_json()) == 326


@pytest.mark.parametrize("query", ["?day=", "?bogus=1", "?group=", "?day=XYZ"])
def test_any_query_string_is_still_validated(seeded, query):
    response = seeded.test_client().get(f"/api/course-schedule{query}")
    assert response.status_code == 422 and response.get_json()["code"] == 422
