"""With Redis, each process keeps the generations in memory, kept current by the invalidation channel: a change
reaches another process once announced, and within CACHE_RESYNC_SECONDS even if the announcement is lost. Two app
instances stand for two gunicorn workers; a private Redis server is ours to count commands on, stop and restart."""
import time

import pytest
import redis

from raf_network import cache as response_cache
from raf_network.cache import cache_families_invalidate, channel
from tests.cache.conftest import classroom_served, subscribed, subscriber, timetable_set
from tests.processes import wait_until


def _commands(client):
    """Calls per command on the server so far (INFO commandstats), without INFO itself (how we look) and PING
    (the subscriber's health check, if one falls due). The server is private: nobody else calls it."""
    stats = client.info("commandstats")
    return {name: value["calls"] for name, value in stats.items() if name not in {"cmdstat_info", "cmdstat_ping"}}


def _until(predicate, bound, what):
    """Wait for ``predicate`` up to ``bound`` seconds (the guarantee being tested); how long it took."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < bound, f"{what} took longer than {bound} s"
        time.sleep(0.002)
    return time.monotonic() - started


@pytest.fixture
def two_workers(make_pg_app):
    writer, reader = make_pg_app(), make_pg_app()
    timetable_set(writer, "Kolarac2")
    return writer, reader


def test_the_writing_process_reads_its_own_write_at_once(two_workers):
    writer, _ = two_workers
    assert subscribed(writer)
    client = writer.test_client()
    assert classroom_served(client) == "Kolarac2"
    timetable_set(writer, "Raf06")
    assert classroom_served(client) == "Raf06"  # no waiting at all: applied to its own memory at commit


def test_a_change_reaches_another_process_once_announced(two_workers):
    writer, reader = two_workers
    assert subscribed(reader)
    client = reader.test_client()
    assert classroom_served(client) == "Kolarac2"
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    timetable_set(writer, "Raf06")
    # The announcement normally arrives within milliseconds; the guarantee is CACHE_RESYNC_SECONDS (5 s).
    _until(lambda: classroom_served(client) == "Raf06", reader.config["CACHE_RESYNC_SECONDS"], "the change")
    assert subscriber(reader).generations is not None  # still served from memory, now the new generation
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"


def test_the_subscriber_applies_announcements_itself_exactly_per_family(two_workers):
    writer, reader = two_workers
    assert subscribed(reader)
    held = dict(subscriber(reader).generations)
    with writer.app_context():
        cache_families_invalidate(["exams"])
    _until(lambda: subscriber(reader).generations["exams"] != held["exams"], 5, "the announcement")
    now = subscriber(reader).generations
    assert now["courses"] == held["courses"] and now["schedule"] == held["schedule"]


def test_an_announcement_that_arrives_late_never_moves_a_generation_back(two_workers):
    _, reader = two_workers
    assert subscribed(reader)
    held = dict(subscriber(reader).generations)
    subscriber(reader).apply({"schedule": held["schedule"] + 10})
    subscriber(reader).apply({"schedule": held["schedule"] + 5})  # an older one, delivered after the newer
    assert subscriber(reader).generations["schedule"] == held["schedule"] + 10


def test_a_lost_announcement_is_caught_up_within_the_resync_bound(make_pg_app, pg_url):
    """The writer commits but cannot reach Redis to announce: the reader's periodic re-read finds the change."""
    reader = make_pg_app(CACHE_RESYNC_SECONDS=0.5)
    writer = make_pg_app(redis="redis://127.0.0.1:1/0")  # nothing listens there: its announcement is lost
    timetable_set(reader, "Kolarac2")
    assert subscribed(reader)
    client = reader.test_client()
    assert classroom_served(client) == "Kolarac2"
    timetable_set(writer, "Raf06")
    assert classroom_served(client) == "Kolarac2"  # not announced: memory still says the old generation
    waited = _until(lambda: classroom_served(client) == "Raf06", 0.5 + 1.5, "the resync")
    assert waited > 0.0
    channel.subscriber_stop(writer)


def test_a_hot_read_makes_no_redis_command_and_no_query_while_subscribed(make_pg_app, private_redis):
    from tests.conftest import count_queries

    app = make_pg_app(redis=private_redis.url)
    timetable_set(app, "Kolarac2")
    assert subscribed(app)
    client = app.test_client()
    etag = client.get("/api/course-schedule").headers["ETag"]
    observer = redis.Redis.from_url(private_redis.url)  # one connection: its handshake is counted before
    before = _commands(observer)
    with count_queries(app) as statements:
        for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": etag}) * 10:
            response = client.get("/api/course-schedule", headers=headers)
            assert response.status_code in (200, 304) and response.headers["X-Cache"] == "hit-local"
    assert _commands(observer) == before and statements == []
    observer.close()


def test_reads_stay_fresh_while_the_channel_is_down_then_it_recovers(make_pg_app, private_redis):
    reader, writer = make_pg_app(redis=private_redis.url), make_pg_app(redis=private_redis.url)
    timetable_set(writer, "Kolarac2")
    assert subscribed(reader)
    client = reader.test_client()
    assert classroom_served(client) == "Kolarac2"

    private_redis.stop()  # the subscriber's connection is gone, and with it the shared store
    assert wait_until(lambda: subscriber(reader).generations is None, 5, interval=0.01)
    timetable_set(writer, "Raf06")  # committed; its announcement cannot reach Redis
    response = client.get("/api/course-schedule")
    assert response.status_code == 200 and response.get_json()[0]["classroom"] == "Raf06"  # from the database

    private_redis.start()  # back, empty
    assert wait_until(lambda: subscriber(reader).generations is not None, 15, interval=0.01)
    assert classroom_served(client) == "Raf06"
    writer.extensions["response_cache"].down_until = 0.0  # skip the rest of the store's outage back-off
    timetable_set(writer, "Rg07")  # healthy again: announced and seen
    _until(lambda: classroom_served(client) == "Rg07", 5, "the change after recovery")


def test_a_forked_process_starts_its_own_subscriber(two_workers, monkeypatch):
    _, reader = two_workers
    assert subscribed(reader)
    parent = subscriber(reader)
    real_pid = channel.os.getpid()
    monkeypatch.setattr(channel.os, "getpid", lambda: real_pid + 1)  # as in a gunicorn worker
    try:
        assert reader.test_client().get("/api/course-schedule").status_code == 200
        child = subscriber(reader)
        assert child is not parent and child.pid == real_pid + 1
        assert wait_until(lambda: child.generations is not None, 10, interval=0.005)
    finally:
        response_cache.subscriber_stop(reader)
        monkeypatch.undo()
        parent.stop()


def test_the_embedded_default_runs_no_subscriber(embedded_app):
    timetable_set(embedded_app, "Kolarac2")
    client = embedded_app.test_client()
    client.get("/api/course-schedule")
    assert client.get("/api/course-schedule").headers["X-Cache"] == "hit-local"
    assert subscriber(embedded_app) is None


def test_a_resync_never_undoes_a_commit_applied_while_it_read(two_workers, monkeypatch):
    """The periodic resync reads the database, then replaces the held generations; a commit of this process applied
    between the two is newer than what was read, and must survive (read-your-writes)."""
    writer, _ = two_workers
    assert subscribed(writer)
    worker = subscriber(writer)
    held = dict(worker.generations)
    real_read = channel.generations_read

    def read_then_commit_meanwhile(session, families):
        read = real_read(session, families)  # what the database held when the resync read it …
        worker.apply({"schedule": read["schedule"] + 1})  # … and a commit of this process applied right after
        return read

    monkeypatch.setattr(channel, "generations_read", read_then_commit_meanwhile)
    worker._resync()
    assert worker.generations["schedule"] == held["schedule"] + 1
    assert worker.generations["courses"] == held["courses"]
    monkeypatch.setattr(channel, "generations_read", real_read)
    worker._resync()  # with nothing applied meanwhile, the database's values are taken as they are
    with writer.app_context():
        assert worker.generations == real_read(response_cache.db.session, response_cache.FAMILIES)
