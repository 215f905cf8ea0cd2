"""/metrics in Prometheus format: requests by endpoint, latency, cache results, queue depth."""
import re

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import _make_app, real_data_seed


def _samples(text):
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_count_requests_latency_and_cache_results(pg_app):
    real_data_seed(pg_app)
    client = pg_app.test_client()
    before = _samples(client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        client.get("/api/course-schedule")
    client.get("/api/course-schedule?day=XYZ")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    after = _samples(response.get_data(as_text=True))

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("raf_http_requests_total", method="GET", endpoint="/api/course-schedule", status="200") == 3
    assert delta("raf_http_requests_total", method="GET", endpoint="/api/course-schedule", status="422") == 1
    assert delta("raf_http_request_duration_seconds_count", method="GET", endpoint="/api/course-schedule") == 4
    assert delta("raf_response_cache_total", result="miss") >= 1
    assert delta("raf_response_cache_total", result="hit-local") >= 1
    assert re.search(r'raf_queue_depth\{queue="notifications"\}', response.get_data(as_text=True)) or \
        pg_app.config["JOBS_INLINE"]


def test_queue_depth_is_reported_with_rq(make_pg_app):
    app = make_pg_app(JOBS_INLINE=False)
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert _samples(text)[("raf_queue_depth", (("queue", "notifications"),))] == 0


def test_metrics_token_is_enforced_when_configured(embedded_app, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret")
    app = _make_app(embedded_app.config["SQLALCHEMY_DATABASE_URI"], redis_url=None)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_webhook_outcomes_come_from_the_delivery_records(pg_app):
    from raf_network.extensions import db
    from raf_network.webhook.models import WebhookDelivery

    with pg_app.app_context():
        for status in ("applied", "applied", "rejected"):
            db.session.add(WebhookDelivery(webhook_id=f"msg-{status}-{db.session.new.__len__()}", signature="valid",
                                           status=status, http_status=200, raw_body=b"{}"))
        db.session.commit()
    samples = _samples(pg_app.test_client().get("/metrics").get_data(as_text=True))
    assert samples[("raf_webhook_deliveries", (("status", "applied"),))] == 2
    assert samples[("raf_webhook_deliveries", (("status", "rejected"),))] == 1
    assert samples[("raf_webhook_deliveries", (("status", "failed"),))] == 0
