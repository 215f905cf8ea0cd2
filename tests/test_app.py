"""The app factory, configuration and the one error format."""
import logging
import os

import pytest

from config import ConfigError, ProductionConfig, database_url_normalize


def test_heroku_postgres_url_is_rewritten_for_psycopg3():
    assert database_url_normalize("postgres://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert database_url_normalize("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert database_url_normalize("sqlite:///x.db") == "sqlite:///x.db"


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from raf_network import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app("production")


def test_production_starts_with_its_secrets(monkeypatch, tmp_path):
    from raf_network import create_app

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_" + "A" * 32)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/p.db")
    app = create_app(ProductionConfig)
    assert app.config["SECRET_KEY"] == "x" * 32


def test_unset_database_url_means_sqlite_in_instance_folder(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = DevelopmentConfig()
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SQLALCHEMY_DATABASE_URI.endswith("/instance/raf_network.db")
    assert config.CACHE_TYPE == "SimpleCache" and config.JOBS_INLINE is True


def test_redis_url_switches_on_redis_cache_and_rq(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.setenv("REDIS_URL", "redis://example:6379/0")
    config = DevelopmentConfig()
    assert config.CACHE_TYPE.endswith("BytesRedisCache") and config.JOBS_INLINE is False


def test_bad_integer_setting_is_a_clear_error(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.setenv("CATALOGUE_MAX_AGE", "soon")
    with pytest.raises(ConfigError, match="CATALOGUE_MAX_AGE"):
        DevelopmentConfig()


def test_creating_the_app_connects_to_nothing(monkeypatch, tmp_path):
    """Nothing connects at creation: an unreachable database and Redis do not stop the factory."""
    from raf_network import create_app

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app("testing")
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_unknown_route_is_json_404(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404 and response.get_json()["status"] == "Not Found"
    assert response.get_json()["message"]


def test_wrong_method_is_json_405_with_allow(client):
    response = client.post("/api/course-schedule")
    assert response.status_code == 405
    assert response.get_json()["status"] == "Method Not Allowed"
    assert "GET" in response.headers["Allow"]


def test_unexpected_failure_is_json_500_without_trace_and_logged_with_request_id(app, caplog):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", headers={"X-Request-ID": "req-123"})
    body = response.get_json()
    assert response.status_code == 500 and body["code"] == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert "req-123" in body["message"] and response.headers["X-Request-ID"] == "req-123"
    assert any("req-123" in record.getMessage() and record.exc_info for record in caplog.records)


def test_request_id_is_generated_when_absent_or_unsafe(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b<script>"}).headers["X-Request-ID"]
    assert unsafe != "a b<script>" and len(unsafe) == 32


def test_database_outage_is_503_in_the_error_format(monkeypatch):
    from raf_network import create_app

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("REDIS_URL", raising=False)
    client = create_app("testing").test_client()
    response = client.get("/api/courses")
    assert response.status_code == 503
    assert response.get_json()["status"] == "Service Unavailable"
    assert response.headers["Retry-After"] == "5"


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"


def test_readyz_names_what_is_down(monkeypatch):
    from raf_network import create_app

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    response = create_app("testing").test_client().get("/readyz")
    assert response.status_code == 503
    assert "database" in response.get_json()["status"] and "redis" in response.get_json()["status"]


def test_openapi_spec_and_docs_are_served(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/course-schedule", "/api/courses", "/api/courses/{course_id}",
                 "/api/examination-periods", "/api/examination-entries", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    assert client.get("/api/docs").status_code == 200


def test_a_value_the_database_cannot_store_is_422_not_500(pg_app):
    """The safety net behind validation: PostgreSQL refusing a value (NUL byte) is the client's fault."""
    from sqlalchemy import text

    from raf_network.extensions import db

    @pg_app.route("/unvalidated")
    def unvalidated():
        db.session.execute(text("SELECT CAST(:value AS text)"), {"value": "a\x00b"})
        return {}

    response = pg_app.test_client().get("/unvalidated")
    assert response.status_code == 422 and response.get_json()["code"] == 422


def test_no_cookie_session_is_opened_or_set(embedded_app):
    """Bearer tokens only: outside the officers' console (/console) Flask's cookie session (and its per-request
    signing serializer) is not used, whatever cookie a client sends."""
    import flask

    from raf_network.extensions import NoSession

    client = embedded_app.test_client()
    client.set_cookie("session", "eyJ4IjoxfQ.forged.signature")
    client.set_cookie("raf_console", "eyJ4IjoxfQ.forged.signature")
    response = client.get("/api/course-schedule")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    for path in ("/", "/api/me", "/consoles"):
        with embedded_app.test_request_context(path, headers={"Cookie": "session=eyJ4IjoxfQ.forged; raf_console=x"}):
            assert isinstance(flask.session, NoSession) and dict(flask.session) == {}
            with pytest.raises(RuntimeError, match="no cookie sessions"):
                flask.session["user"] = 1


LIMITS_PROBE = """
import json, os, sys
from raf_network import create_app
from raf_network.extensions import db
app = create_app("testing", RATELIMIT_DEFAULT="2/minute")
with app.app_context():
    db.create_all()
client = app.test_client()
spared = {path: [client.get(path).status_code for _ in range(4)]
          for path in ("/api/course-schedule", "/api/courses", "/healthz", "/api/companies")}
limited = [client.get("/api/openapi.json").status_code for _ in range(3)]
print(json.dumps({"spared": spared, "limited": limited}))
"""


def test_app_wide_limits_spare_only_the_unlimited_blueprints(tmp_path):
    """The request filter exempts the catalogue, health and network blueprints from every limit (they declare none;
    the hot reads skip the limiter's work), and nothing else: with an app-wide limit configured, the others are
    limited. (In a process of its own: an app-wide limit stays on the limiter object once set.) Route limits
    (sign-in, refresh, webhook) are tested with their routes."""
    import json
    import subprocess
    import sys

    from tests.processes import ROOT

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.db'}", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    probe = subprocess.run([sys.executable, "-c", LIMITS_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=60)
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert all(status in (200, 401) for statuses in result["spared"].values() for status in statuses), result
    assert result["limited"] == [200, 200, 429]

