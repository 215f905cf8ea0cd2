"""The real firebase-admin path against a local FCM stub: outcomes per token, retries, never twice."""
import time

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from raf_network.extensions import db
from raf_network.jobs import queue_get, redis_connection
from raf_network.notifications.models import Notification, PushDelivery
from raf_network.notifications.services import broadcast_create
from raf_network.notifications.tasks import notification_push
from raf_network.users.models import Device
from tests.factories import user_create
from tests.notifications.conftest import count, device_add


def _broadcast(app, **audience):
    with app.app_context():
        return broadcast_create(sender_id=None, title="Obaveštenje", body="Sutra nema nastave",
                                audience=audience or {"all": True}, data={"url": "https://raf.edu.rs"})


def _notification(app, notification_id):
    with app.app_context():
        return db.session.get(Notification, notification_id)


def _tokens_left(app):
    with app.app_context():
        return set(db.session.scalars(select(Device.token)))


def test_a_push_is_a_user_visible_alert_with_string_data_sent_with_the_service_account(fcm_app, fcm_stub):
    user = user_create(fcm_app, locale="en")
    device_add(fcm_app, user, "tok-1")
    result = _broadcast(fcm_app)
    assert result["recipients"] == 1 and result["devices"] == 1
    (request,) = fcm_stub.requests
    message = request["message"]
    assert request["path"] == "/v1/projects/raf-network-test/messages:send"
    assert message["fid"] == "tok-1"
    assert message["notification"] == {"title": "Obaveštenje", "body": "Sutra nema nastave"}
    assert message["data"] == {"url": "https://raf.edu.rs", "type": "announcement",
                               "notification_id": str(result["notification_id"])}
    assert message["android"]["priority"] == "high"
    assert message["android"]["notification"]["channel_id"] == "raf_notifications"
    assert message["apns"]["headers"]["apns-priority"] == "10"
    assert message["apns"]["payload"]["aps"]["alert"]["title"] == "Obaveštenje"
    assert message["apns"]["payload"]["aps"]["sound"] == "default"
    assert fcm_stub.token_requests == 1  # the access token came from the stub, not Google


def test_dead_tokens_remove_their_devices_and_other_failures_keep_them(fcm_app, fcm_stub):
    answers = {"ok-1": "ok", "ok-2": "ok", "gone": "UNREGISTERED", "other-sender": "SENDER_ID_MISMATCH",
               "invalid": "INVALID_TOKEN", "bad-payload": "INVALID_ARGUMENT",
               "apns-misconfigured": "THIRD_PARTY_AUTH_ERROR"}
    for token, answer in answers.items():
        fcm_stub.script(token, answer)
        device_add(fcm_app, user_create(fcm_app), token)

    result = _broadcast(fcm_app)

    assert _tokens_left(fcm_app) == {"ok-1", "ok-2", "bad-payload", "apns-misconfigured"}
    notification = _notification(fcm_app, result["notification_id"])
    assert (notification.sent_count, notification.invalid_token_count, notification.failed_count) == (2, 3, 2)
    assert notification.recipient_count == 7 and notification.pushed_at is not None


def test_transient_failures_are_retried_by_the_worker_for_the_failed_tokens_only(make_pg_app, fcm_settings, fcm_stub):
    app = make_pg_app(JOBS_INLINE=False, **fcm_settings)
    fcm_stub.script("quota", "QUOTA_EXCEEDED", "ok")
    fcm_stub.script("flaky", "UNAVAILABLE", "INTERNAL", "ok")
    for token in ("steady", "quota", "flaky"):
        device_add(app, user_create(app), token)
    result = _broadcast(app)

    with app.app_context():
        worker = SimpleWorker([queue_get("notifications")], connection=redis_connection())
        worker.work(burst=True, with_scheduler=True)
        assert sorted(fcm_stub.tokens_received()) == ["flaky", "quota", "steady"]
        scheduled = queue_get("notifications").scheduled_job_registry
        # (cleanup=False: a registry cleanup would drop a retry that is already due)
        assert scheduled.get_job_ids(cleanup=False), "the failed job waits for its retry"
        # Two backoff intervals of 1 s: quota recovers on the first retry, flaky on the second.
        deadline = time.monotonic() + 20
        while fcm_stub.received < 6 and time.monotonic() < deadline:
            time.sleep(0.5)
            worker.work(burst=True, with_scheduler=True)

    assert sorted(fcm_stub.tokens_received()) == ["flaky", "flaky", "flaky", "quota", "quota", "steady"]
    assert fcm_stub.sent == 3
    notification = _notification(app, result["notification_id"])
    assert (notification.sent_count, notification.failed_count, notification.retry_count) == (3, 0, 3)
    assert notification.pushed_at is not None
    assert _tokens_left(app) == {"steady", "quota", "flaky"}

    # Running the job yet again (a duplicate enqueue, a manual re-run) sends nothing.
    with app.app_context():
        queue_get("notifications").enqueue(notification_push, result["notification_id"])
        SimpleWorker([queue_get("notifications")], connection=redis_connection()).work(burst=True)
    assert fcm_stub.received == 6


def test_a_token_still_failing_after_the_last_retry_is_given_up(make_pg_app, fcm_settings, fcm_stub):
    app = make_pg_app(JOBS_INLINE=False, **{**fcm_settings, "PUSH_RETRY_INTERVALS": [0]})
    fcm_stub.script("down", "UNAVAILABLE")
    device_add(app, user_create(app), "down")
    result = _broadcast(app)
    with app.app_context():
        SimpleWorker([queue_get("notifications")], connection=redis_connection()).work(burst=True)
    assert fcm_stub.tokens_received() == ["down", "down"]  # the first try and one retry
    notification = _notification(app, result["notification_id"])
    assert (notification.sent_count, notification.failed_count, notification.retry_count) == (0, 1, 1)
    assert _tokens_left(app) == {"down"}


def test_re_running_the_job_after_a_crash_mid_batch_never_sends_twice(fcm_app, fcm_stub):
    for number in range(5):
        device_add(fcm_app, user_create(fcm_app), f"tok-{number}")
    result = _broadcast(fcm_app)
    assert fcm_stub.sent == 5
    with fcm_app.app_context():
        # As if a worker died after claiming (or after sending) and the job ran again.
        db.session.execute(PushDelivery.__table__.update().values(status="sending"))
        db.session.commit()
        notification_push(result["notification_id"])
        notification_push(result["notification_id"])
    assert fcm_stub.received == 5
    assert count(fcm_app, PushDelivery) == 5


@pytest.mark.slow
def test_a_large_fan_out_sends_batches_of_at_most_500(make_pg_app, fcm_settings, fcm_stub):
    from tests.notifications.conftest import devices_bulk

    app = make_pg_app(**fcm_settings)
    users = [user_create(app) for _ in range(3)]
    devices_bulk(app, [(users[number % 3], f"bulk-{number}") for number in range(1100)])
    result = _broadcast(app)
    assert fcm_stub.sent == 1100 and len(set(fcm_stub.tokens_received())) == 1100
    assert _notification(app, result["notification_id"]).sent_count == 1100


def test_a_push_deferred_by_quiet_hours_is_scheduled_and_sent_once_they_end(make_pg_app, fcm_settings, fcm_stub):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.factories import bearer

    app = make_pg_app(JOBS_INLINE=False, **fcm_settings)
    sleeper, awake = user_create(app), user_create(app)
    device_add(app, sleeper, "sleeper")
    device_add(app, awake, "awake")
    now = datetime.now(ZoneInfo("Europe/Belgrade"))
    window = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (now + timedelta(hours=1)).strftime("%H:%M")}
    app.test_client().patch("/api/me/notification-preferences", json={"quiet_hours": window},
                            headers=bearer(app, sleeper))
    result = _broadcast(app)
    with app.app_context():
        worker = SimpleWorker([queue_get("notifications")], connection=redis_connection())
        worker.work(burst=True, with_scheduler=True)
        assert fcm_stub.tokens_received() == ["awake"]
        scheduled = queue_get("notifications").scheduled_job_registry.get_job_ids(cleanup=False)
        assert [job_id.split("-at-")[0] for job_id in scheduled] == [f"notification-{result['notification_id']}"]
        # Quiet hours are over (as when the scheduled job runs): the deferred push goes out, only it.
        db.session.execute(PushDelivery.__table__.update().where(PushDelivery.status == "deferred")
                           .values(not_before=datetime.now(ZoneInfo("UTC")) - timedelta(seconds=1)))
        db.session.commit()
        queue_get("notifications").enqueue(notification_push, result["notification_id"])
        worker.work(burst=True)
    assert sorted(fcm_stub.tokens_received()) == ["awake", "sleeper"]
    notification = _notification(app, result["notification_id"])
    assert (notification.sent_count, notification.deferred_count) == (2, 0) and notification.pushed_at is not None
