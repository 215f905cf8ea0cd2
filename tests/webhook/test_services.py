"""Signature rules, configuration, and the hand-off to the notification queue on the real Redis."""
import pytest
from rq import Queue

from config import ConfigError, ProductionConfig, webhook_keys_parse
from raf_network.errors import Unauthorized
from raf_network.extensions import db
from raf_network.jobs import redis_connection
from raf_network.webhook.models import WebhookDelivery
from raf_network.webhook.services import signature_verify
from tests.webhook.helpers import deliver, delta, raf_snapshot

# The Standard Webhooks specification's published test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_test_vector_verifies(embedded_app):
    body = b'{"test": 2432232314}'
    embedded_app.config["WEBHOOK_SECRET"] = SECRET
    with embedded_app.app_context():
        signature = SPEC_SIGNATURE
        signature_verify(webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp="1614265330",
                         signatures=signature, body=body, now=1614265330 + 299)
        with pytest.raises(Unauthorized):
            signature_verify(webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp="1614265330",
                             signatures=signature, body=body + b" ", now=1614265330)
        with pytest.raises(Unauthorized, match="5 minutes"):
            signature_verify(webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp="1614265330",
                             signatures=signature, body=body, now=1614265330 + 301)


def test_production_refuses_to_start_without_a_webhook_secret(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        ProductionConfig().validate()
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec_not base64!")
    with pytest.raises(ConfigError, match="whsec_"):
        ProductionConfig()


def test_several_secrets_are_parsed_for_rotation():
    assert len(webhook_keys_parse(f"{SECRET} whsec_{'A' * 32}")) == 2
    assert webhook_keys_parse(None) == []


def test_changes_are_enqueued_on_the_notifications_queue_after_commit(make_pg_app):
    app = make_pg_app(JOBS_INLINE=False)
    applied = deliver(app, raf_snapshot()).get_json()
    unchanged = deliver(app, raf_snapshot()).get_json()
    rejected = deliver(app, delta(schedule=[{"id": "x"}]))
    assert rejected.status_code == 422 and unchanged["status"] == "applied"
    with app.app_context():
        jobs = Queue("notifications", connection=redis_connection()).jobs
        change_id = db.session.get(WebhookDelivery, applied["delivery"]).change_id
    assert change_id is not None
    assert [(job.func_name, job.args) for job in jobs] == [
        ("raf_network.notifications.catalogue_changes.catalogue_change_notify", (change_id,))]
