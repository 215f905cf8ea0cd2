"""Redis stopped while the API serves reads: reads keep succeeding from PostgreSQL, readiness says what
is down, and the cache is used again once Redis is back — with the real gunicorn process."""
import pytest

from tests.conftest import real_data_seed, report_figure
from tests.processes import WebProcess, wait_until

pytestmark = pytest.mark.slow


def test_reads_survive_a_redis_outage(pg_app, pg_url, private_redis):
    real_data_seed(pg_app)
    web = WebProcess({"DATABASE_URL": pg_url, "REDIS_URL": private_redis.url})
    checked = 0
    try:
        first = web.get("/api/course-schedule")
        assert first.status_code == 200 and len(first.json()) == 326
        assert web.get("/api/course-schedule").headers["X-Cache"].startswith("hit")

        private_redis.stop()  # the fault
        for _ in range(40):
            response = web.get("/api/course-schedule")
            checked += 1
            assert response.status_code == 200 and len(response.json()) == 326
            # Built without the shared store, or from the worker's memory checked against the database.
            assert response.headers["X-Cache"] in ("bypass", "hit-local")
            assert response.headers["ETag"] == first.headers["ETag"]
        ready = web.get("/readyz")
        assert ready.status_code == 503 and "redis" in ready.json()["status"]
        assert ready.json()["checks"]["database"] == "ok"

        private_redis.start()  # back (empty: this Redis keeps nothing on disk)
        assert wait_until(lambda: web.get("/readyz").status_code == 200, 15)
        # After the outage back-off, responses are cached in Redis again.
        assert wait_until(lambda: web.get("/api/course-schedule").headers["X-Cache"].startswith("hit"), 20)
    finally:
        web.close()
    report_figure("faults", f"Redis stopped under reads: 1 outage injected, {checked} reads during it, all 200")
