"""PostgreSQL restarted under load: requests in flight fail cleanly (503 in the error format, never a
500 or a dropped connection) and the same web process reconnects by itself (pool pre-ping)."""
import threading
import time

import pytest
import requests

from tests.conftest import _make_app, real_data_seed, report_figure
from tests.processes import PrivatePostgres, WebProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    server.start()
    yield server
    server.close()


def test_postgres_restart_under_load(private_postgres):
    from flask_migrate import upgrade

    app = _make_app(private_postgres.url, redis_url=None)
    with app.app_context():
        upgrade()
    real_data_seed(app)
    with app.app_context():
        from raf_network.extensions import db

        db.engine.dispose()
    web = WebProcess({"DATABASE_URL": private_postgres.url}, workers=2)
    pid = web.process.pid
    outcomes, problems = {}, []
    stop = threading.Event()

    def load():
        session = requests.Session()
        while not stop.is_set():
            try:
                # An uncached read: every request reaches the database.
                response = session.get(web.url + "/api/courses/1", timeout=10)
            except requests.RequestException as exc:
                problems.append(f"connection failed: {exc.__class__.__name__}")
                continue
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            if response.status_code != 200:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text[:200]
                if response.status_code != 503 or not isinstance(body, dict) or \
                        set(body) < {"code", "status", "message"}:
                    problems.append(f"{response.status_code}: {body}")

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        private_postgres.restart()  # the fault: fast shutdown (in-flight sessions terminated), then start
        time.sleep(2.5)
        stop.set()
        for thread in threads:
            thread.join(15)
        after = [web.get("/api/courses/1").status_code for _ in range(10)]
        assert web.process.poll() is None and web.process.pid == pid  # no restart of the app
    finally:
        stop.set()
        log_tail = open(web.log.name).read()
        web.close()
    assert problems == [], (problems[:5], [line for line in log_tail.splitlines() if "ERROR" in line][:3])
    assert outcomes.get(200, 0) > 0
    assert after == [200] * 10, "the app did not reconnect after PostgreSQL came back"
    report_figure("faults", f"PostgreSQL restarted under load: 1 restart injected, "
                            f"{sum(outcomes.values())} responses checked {dict(sorted(outcomes.items()))}")
