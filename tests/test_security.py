"""Security headers on every response, strict CSP on the docs page, HSTS only behind TLS, CORS off by default."""
import base64
import hashlib
import re

import pytest

from tests.conftest import _make_app


@pytest.mark.parametrize("path", ["/healthz", "/api/course-schedule", "/api/no-such-route", "/api/openapi.json"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    assert "Access-Control-Allow-Origin" not in response.headers


def test_docs_page_csp_allows_only_this_app_and_its_own_inline_script(client):
    response = client.get("/api/docs")
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    inline = re.search(rb"<script>(.*?)</script>", response.data, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(inline).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "script-src 'self'" in csp
    assert "http" not in csp  # no third-party origin at all


def test_docs_work_offline_every_asset_is_served_by_the_app(client):
    """The page references no external host, and each asset it loads answers 200 from this app."""
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert not re.search(r"(?:src|href)=[\"'](?:https?:)?//", html), "an external asset"
    assets = re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", html)
    assert len(assets) == 3  # the stylesheet and two scripts
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.mimetype in ("text/css", "text/javascript", "application/javascript"), asset
        assert len(response.data) > 1000
    assert client.get("/api/docs/assets/../../openapi.json").status_code == 404
    assert client.get("/api/docs/assets/index.html").status_code == 404  # only what the page loads


def test_hsts_behind_a_tls_terminating_router(embedded_app, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "1")
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None)
    response = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https",
                                                         "X-Forwarded-For": "203.0.113.9"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # Without trusting the router, a client cannot claim TLS for itself.
    untrusted = embedded_app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in untrusted.headers


def test_cors_only_for_configured_origins(embedded_app, monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://admin.raf.rs")
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None)
    client = app.test_client()
    allowed = client.options("/api/course-schedule", headers={"Origin": "https://admin.raf.rs",
                                                             "Access-Control-Request-Method": "GET"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://admin.raf.rs"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    other = client.get("/api/course-schedule", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_tokens_and_secrets_never_reach_the_logs(pg_app, caplog):
    """Bearer tokens, refresh tokens, the webhook secret and signatures appear in no log line, even at
    DEBUG and on failures (revoked token, bad signature, unexpected error)."""
    import json
    import logging

    from raf_network.log_setup import JsonFormatter
    from tests.factories import token_for, user_create
    from tests.webhook.helpers import deliver, signed_headers

    user_id = user_create(pg_app)
    token = token_for(pg_app, user_id)
    secret = pg_app.config["WEBHOOK_SECRET"]
    client = pg_app.test_client()
    with caplog.at_level(logging.DEBUG):
        client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        refreshed = client.post("/api/auth/refresh", json={"refresh_token": "rt-not-valid-" + "x" * 40})
        client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
        client.get("/api/me", headers={"Authorization": f"Bearer {token}"})  # revoked now: 401
        body = json.dumps({"type": "courses.delta", "timestamp": "2026-11-26T10:00:00Z", "data": {}}).encode()
        headers = signed_headers(pg_app, body)
        deliver(pg_app, body, headers={**headers, "webhook-signature": "v1,Zm9yZ2VkLXNpZ25hdHVyZQ=="})
        deliver(pg_app, body, headers=headers)
    assert refreshed.status_code == 401
    formatter = JsonFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert caplog.records, "expected the app to log something"
    for secret_value in (token, secret, secret.removeprefix("whsec_"), headers["webhook-signature"],
                         "rt-not-valid-"):
        assert secret_value not in lines
