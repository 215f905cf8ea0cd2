"""Freshness of the hot reads without a Redis round trip per request: each process keeps the generations in
memory, kept current by the invalidation channel (see raf_network/cache.py). Two app instances stand for
two gunicorn workers; a private Redis server is ours to count commands on, stop and restart."""
import time

import pytest
import redis

from raf_network import cache as response_cache
from raf_network.courses import services
from tests.conftest import real_data_seed, shared_data_text
from tests.processes import wait_until


def _changed():
    """The real timetable with one classroom changed."""
    return shared_data_text("raspored.csv").replace('"Kolarac2"', '"Kolarac9"', 1)


def _subscriber(app):
    return app.extensions["response_cache"].subscriber


def _subscribed(app, timeout=10.0):
    """Start the app's subscriber (the first hot read does) and wait until it is healthy."""
    app.test_client().get("/api/course-schedule")
    return wait_until(lambda: _subscriber(app).generations is not None, timeout, interval=0.005)


def _commands(client):
    """Calls per command on the server so far (INFO commandstats), without INFO itself (how we look) and
    PING (the subscriber's keep-alive, if one falls due). The server is private: nobody else calls it."""
    stats = client.info("commandstats")
    return {name: value["calls"] for name, value in stats.items() if name not in {"cmdstat_info", "cmdstat_ping"}}


@pytest.fixture
def two_workers(make_pg_app):
    first, second = make_pg_app(), make_pg_app()
    real_data_seed(first)
    return first, second


def test_a_change_through_one_process_reaches_the_other_once_announced(two_workers):
    writer, reader = two_workers
    assert _subscribed(reader)
    client = reader.test_client()
    before = client.get("/api/course-schedule")
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    with writer.app_context():
        services.schedule_import(text=_changed())
    deadline = time.monotonic() + 2.0
    while b"Kolarac9" not in (after := client.get("/api/course-schedule")).data:
        assert time.monotonic() < deadline, "the change never reached the other process"
        time.sleep(0.001)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert _subscriber(reader).generations is not None  # still served from memory, now the new generation
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"


def test_the_announcement_is_applied_by_the_subscriber_itself(two_workers):
    """The in-memory generations follow the channel: no read is needed to learn a change."""
    writer, reader = two_workers
    assert _subscribed(reader)
    held = dict(_subscriber(reader).generations)
    with writer.app_context():
        services.cache_families_invalidate(["exams"])
    assert wait_until(lambda: _subscriber(reader).generations["exams"] != held["exams"], 2, interval=0.001)
    now = _subscriber(reader).generations
    assert now["courses"] == held["courses"] and now["schedule"] == held["schedule"]  # exactly per family


def test_a_hot_read_makes_no_redis_command_while_subscribed(make_pg_app, private_redis):
    app = make_pg_app(redis=private_redis.url)
    real_data_seed(app)
    assert _subscribed(app)
    client = app.test_client()
    etag = client.get("/api/course-schedule").headers["ETag"]
    observer = redis.Redis.from_url(private_redis.url)  # one connection: its handshake is counted before
    before = _commands(observer)
    for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": etag}) * 10:
        response = client.get("/api/course-schedule", headers=headers)
        assert response.status_code in (200, 304) and response.headers["X-Cache"] == "hit-local"
    assert _commands(observer) == before
    observer.close()


def test_reads_fall_back_and_stay_correct_while_the_channel_is_down_then_it_recovers(make_pg_app, private_redis):
    reader, writer = make_pg_app(redis=private_redis.url), make_pg_app(redis=private_redis.url)
    real_data_seed(writer)
    assert _subscribed(reader)
    client = reader.test_client()
    etag = client.get("/api/course-schedule").headers["ETag"]

    private_redis.stop()  # the subscriber's connection is gone, and with it every cache call
    for _ in range(5):  # no read trusts the in-memory generations from the moment the server has gone
        response = client.get("/api/course-schedule")
        assert response.status_code == 200 and len(response.get_json()) == 326
        assert response.headers["X-Cache"] == "bypass" and response.headers["ETag"] == etag
    assert _subscriber(reader).generations is None
    with writer.app_context():
        services.schedule_import(text=_changed())  # committed; its invalidation cannot reach Redis
    changed = client.get("/api/course-schedule")
    assert changed.status_code == 200 and b"Kolarac9" in changed.data  # from the database

    private_redis.start()  # back, empty
    assert wait_until(lambda: _subscriber(reader).generations is not None, 15, interval=0.01)
    reader.extensions["response_cache"].down_until = 0.0  # skip the rest of the outage back-off
    assert wait_until(lambda: client.get("/api/course-schedule").headers["X-Cache"] == "hit-local", 10)
    assert b"Kolarac9" in client.get("/api/course-schedule").data

    # Healthy again: a further change is announced and seen.
    writer.extensions["response_cache"].down_until = 0.0
    with writer.app_context():
        services.schedule_import(text=shared_data_text("raspored.csv"))
    assert wait_until(lambda: b"Kolarac9" not in client.get("/api/course-schedule").data, 2, interval=0.001)


def test_a_forked_process_starts_its_own_subscriber(two_workers, monkeypatch):
    _, reader = two_workers
    assert _subscribed(reader)
    parent = _subscriber(reader)
    real_pid = response_cache.os.getpid()
    monkeypatch.setattr(response_cache.os, "getpid", lambda: real_pid + 1)  # as in a gunicorn worker
    try:
        assert reader.test_client().get("/api/course-schedule").status_code == 200
        child = _subscriber(reader)
        assert child is not parent and child.pid == real_pid + 1
        assert wait_until(lambda: child.generations is not None, 10, interval=0.005)
    finally:
        response_cache.subscriber_stop(reader)
        monkeypatch.undo()
        parent.stop()


def test_the_embedded_default_runs_no_subscriber(embedded_app):
    real_data_seed(embedded_app)
    client = embedded_app.test_client()
    client.get("/api/course-schedule")
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    assert _subscriber(embedded_app) is None
