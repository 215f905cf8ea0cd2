"""Fixtures shared by the whole suite.

Two kinds of app:
- ``embedded_app``: the zero-configuration default (SQLite file, in-process cache, inline jobs).
- ``pg_app``: the real services — PostgreSQL (``TEST_DATABASE_URL``, default the local ``test`` database's
  server; this run creates and later drops a database of its own there) and Redis (``TEST_REDIS_URL``,
  default DB 15, reserved for tests and flushed before each test).
``app`` runs a test on both. Each test starts from empty tables. An unreachable service skips its tests
loudly on a developer's machine and fails them when ``CI=true``.

Real RAF data is read in place from ../shared/data beside the repository (``shared_data``, ``raspored_text``,
``kol_nedelja_text``, ``shared_data_file``, ``seeded``); missing, it skips loudly here and fails under ``CI=true``.
"""
import os
import shutil
import uuid
import warnings
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import event, text

from config import SHARED_DATA_DIR, database_url_normalize

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(name, reason):
    message = f"{name} unreachable ({reason}): integration tests against it cannot run"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    warnings.warn(message, stacklevel=2)
    pytest.skip(f"SKIPPED LOUDLY — {message}. Start it (see .ci/run) to run these tests.")


def shared_missing(what):
    """Real RAF data (../shared, beside the repository) is missing: skip loudly here, fail under CI=true."""
    message = f"{what} is missing: the tests on real RAF data cannot run"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    warnings.warn(message, stacklevel=2)
    pytest.skip(f"SKIPPED LOUDLY — {message}. Put the project's shared/ folder beside the repository.")


def shared_data_file(name):
    """The path of a real RAF data file in ../shared/data (``SHARED_DATA_DIR``); skips/fails when it is missing.
    Callable from fixtures and helpers alike (never copy these files into the repository)."""
    path = SHARED_DATA_DIR / name
    if not path.is_file():
        shared_missing(str(path))
    return path


def shared_data_text(name):
    return shared_data_file(name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def shared_data():
    """The folder of the real RAF data files (../shared/data)."""
    shared_data_file("raspored.csv")
    shared_data_file("kol_nedelja.csv")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def raspored_text(shared_data):
    """The real RAF timetable (raspored.csv) as text."""
    return (shared_data / "raspored.csv").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def kol_nedelja_text(shared_data):
    """The real first colloquium week of 2023/24 (kol_nedelja.csv) as text."""
    return (shared_data / "kol_nedelja.csv").read_text(encoding="utf-8")


def _with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory):
    """A fresh PostgreSQL database for this test run, migrated to head; dropped at the end."""
    import psycopg

    server_url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(server_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL", str(exc).strip().splitlines()[0])
    name = f"raf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url_normalize(_with_database(server_url, name))
    try:
        _migrate(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def redis_url():
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", str(exc))
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An SQLite database migrated to head once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def _migrate(url):
    from flask_migrate import upgrade

    app = _make_app(url, redis_url=None)
    with app.app_context():
        upgrade()


def _make_app(database_url, *, redis_url, **overrides):
    from raf_network import create_app

    saved = {key: os.environ.get(key) for key in ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_TIMEOUT")}
    os.environ["DATABASE_URL"] = database_url
    # A loaded 2-core CI machine can stall a Redis reply past production's 0.5 s; tests that expect cache
    # hits must not see that as an outage. (Outages themselves are tested with unreachable servers.)
    os.environ["CACHE_REDIS_TIMEOUT"] = "5"
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    try:
        return create_app("testing", **overrides)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _truncate_all(app):
    from raf_network.extensions import db

    with app.app_context():
        tables = [table.name for table in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()


def _flush_redis(url):
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


@pytest.fixture
def make_pg_app(pg_url, redis_url):
    """Build (possibly several) apps on the test PostgreSQL and Redis, as separate processes would be."""
    _flush_redis(redis_url)
    created = []

    def factory(redis=None, **overrides):
        """``redis``: another Redis URL than the test one (e.g. a private server's)."""
        overrides.setdefault("JOBS_INLINE", True)
        app = _make_app(pg_url, redis_url=redis or redis_url, **overrides)
        created.append(app)
        return app

    first = factory()
    _truncate_all(first)
    created.clear()
    yield factory
    from raf_network.cache import subscriber_stop

    for app in created:
        subscriber_stop(app)
        with app.app_context():
            from raf_network.extensions import db

            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def private_redis():
    """A Redis server of this test's own (a free port), to stop and start without touching the shared one."""
    from tests.processes import PrivateRedis

    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture
def pg_app(make_pg_app):
    return make_pg_app()


@pytest.fixture
def embedded_app(sqlite_template, tmp_path):
    path = tmp_path / "raf_network.db"
    shutil.copy(sqlite_template, path)
    return _make_app(f"sqlite:///{path}", redis_url=None)


@pytest.fixture(params=["embedded", "postgres"])
def app(request):
    """Runs the test twice: on the embedded default and on PostgreSQL + Redis."""
    return request.getfixturevalue("embedded_app" if request.param == "embedded" else "pg_app")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def real_data_seed(app):
    """``flask seed``'s service on the real RAF files in ../shared/data (skips/fails like ``shared_data_file``)."""
    from raf_network.courses.seed import seed_run

    shared_data_file("raspored.csv")
    shared_data_file("kol_nedelja.csv")
    app.config["SEED_DATA_DIR"] = str(SHARED_DATA_DIR)
    with app.app_context():
        report = seed_run()
    assert not report.demo
    return report


@pytest.fixture
def seeded(app):
    """The real RAF timetable and colloquium week (../shared/data), loaded with ``flask seed``'s service."""
    real_data_seed(app)
    return app


@contextmanager
def count_queries(app):
    """Counts SQL statements executed on the app's engine inside the block, by this thread (a request of the test
    client; not the cache's background subscriber)."""
    import threading

    from raf_network.extensions import db

    with app.app_context():
        engine = db.engine
    statements = []
    thread = threading.get_ident()

    def before_execute(conn, cursor, statement, *args):
        if threading.get_ident() == thread:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)


# --------------------------------------------------------------------------------------------------
# Figures that tests report (examples tried, faults injected, responses checked), printed at the end.
# --------------------------------------------------------------------------------------------------

FIGURES = []


def report_figure(section, text):
    FIGURES.append((section, text))


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("figures reported by the tests")
    for section, line in FIGURES:
        terminalreporter.write_line(f"[{section}] {line}")
