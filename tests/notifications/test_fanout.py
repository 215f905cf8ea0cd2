"""The fan-out (notifications/fanout.py and the push job in tasks.py) against a local FCM stub: retries of the
failed tokens only, claims and leases (never twice, nothing lost), recovery, batches, quiet hours."""
import time

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from raf_network.extensions import db
from raf_network.jobs import queue_get, redis_connection
from raf_network.notifications.models import Notification, PushDelivery
from raf_network.notifications.tasks import notification_push
from raf_network.users.models import Device
from tests.factories import user_create
from tests.notifications.conftest import broadcast_to, count, device_add, notification_get, tokens_left


def test_transient_failures_are_retried_by_the_worker_for_the_failed_tokens_only(make_pg_app, fcm_settings, fcm_stub):
    app = make_pg_app(JOBS_INLINE=False, **fcm_settings)
    fcm_stub.script("quota", "QUOTA_EXCEEDED", "ok")
    fcm_stub.script("flaky", "UNAVAILABLE", "INTERNAL", "ok")
    for token in ("steady", "quota", "flaky"):
        device_add(app, user_create(app), token)
    result = broadcast_to(app)

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
    notification = notification_get(app, result["notification_id"])
    assert (notification.sent_count, notification.failed_count, notification.retry_count) == (3, 0, 3)
    assert notification.pushed_at is not None
    assert tokens_left(app) == {"steady", "quota", "flaky"}

    # Running the job yet again (a duplicate enqueue, a manual re-run) sends nothing.
    with app.app_context():
        queue_get("notifications").enqueue(notification_push, result["notification_id"])
        SimpleWorker([queue_get("notifications")], connection=redis_connection()).work(burst=True)
    assert fcm_stub.received == 6


def test_a_token_still_failing_after_the_last_retry_is_given_up(make_pg_app, fcm_settings, fcm_stub):
    app = make_pg_app(JOBS_INLINE=False, **{**fcm_settings, "PUSH_RETRY_INTERVALS": [0]})
    fcm_stub.script("down", "UNAVAILABLE")
    device_add(app, user_create(app), "down")
    result = broadcast_to(app)
    with app.app_context():
        SimpleWorker([queue_get("notifications")], connection=redis_connection()).work(burst=True)
    assert fcm_stub.tokens_received() == ["down", "down"]  # the first try and one retry
    notification = notification_get(app, result["notification_id"])
    assert (notification.sent_count, notification.failed_count, notification.retry_count) == (0, 1, 1)
    assert tokens_left(app) == {"down"}


def _claims_of_a_run(app, notification_id, token, *, claimed_at=None):
    """As if a run of the push job had claimed every delivery of the notification and then stopped."""
    from datetime import datetime, timezone

    with app.app_context():
        db.session.execute(PushDelivery.__table__.update()
                           .where(PushDelivery.notification_id == notification_id)
                           .values(status="sending", claim_token=token,
                                   claimed_at=claimed_at or datetime.now(timezone.utc)))
        db.session.execute(Notification.__table__.update().where(Notification.id == notification_id)
                           .values(sent_count=0, pushed_at=None))
        db.session.commit()


def test_a_re_run_never_sends_twice_what_was_recorded(fcm_app, fcm_stub):
    for number in range(5):
        device_add(fcm_app, user_create(fcm_app), f"tok-{number}")
    result = broadcast_to(fcm_app)
    assert fcm_stub.sent == 5
    with fcm_app.app_context():
        notification_push(result["notification_id"])
        notification_push(result["notification_id"])
    assert fcm_stub.received == 5
    assert count(fcm_app, PushDelivery) == 5


def test_claims_of_a_run_that_died_are_sent_again_once_and_recorded_once(fcm_app, fcm_stub):
    for number in range(5):
        device_add(fcm_app, user_create(fcm_app), f"tok-{number}")
    result = broadcast_to(fcm_app)
    fcm_stub.requests.clear()
    # The worker was killed between claim and record: its claims are fresh, but no live run holds their token
    # (on PostgreSQL a run holds an advisory lock on it for as long as its process lives).
    _claims_of_a_run(fcm_app, result["notification_id"], token=424242)
    with fcm_app.app_context():
        notification_push(result["notification_id"])  # at once: the dead run is seen dead, no lease to wait for
        notification_push(result["notification_id"])
    assert sorted(fcm_stub.tokens_received()) == [f"tok-{number}" for number in range(5)]
    notification = notification_get(fcm_app, result["notification_id"])
    assert notification.sent_count == 5 and notification.pushed_at is not None
    assert count(fcm_app, PushDelivery, PushDelivery.status == "sent") == 5


def test_claims_of_a_live_run_are_left_to_it_until_its_lease_expires(make_pg_app, fcm_settings, fcm_stub):
    from raf_network.notifications.fanout import _Claimer

    app = make_pg_app(**fcm_settings, PUSH_CLAIM_LEASE=1.5, PUSH_HTTP_TIMEOUT=0.2)
    for number in range(3):
        device_add(app, user_create(app), f"tok-{number}")
    result = broadcast_to(app)
    fcm_stub.requests.clear()
    with app.app_context(), _Claimer() as hung:
        # A run that is alive (its lock is held) but stuck: its claims are sent again only after the lease.
        _claims_of_a_run(app, result["notification_id"], token=hung.token)
        started = time.monotonic()
        notification_push(result["notification_id"])
        waited = time.monotonic() - started
    assert waited >= 1.4
    assert sorted(fcm_stub.tokens_received()) == ["tok-0", "tok-1", "tok-2"]
    assert notification_get(app, result["notification_id"]).sent_count == 3


def test_recovery_enqueues_only_interrupted_recent_fan_outs_and_the_worker_runs_it_when_it_starts(
        make_pg_app, fcm_settings, fcm_stub):
    from datetime import datetime, timedelta, timezone

    from raf_network.jobs import AppWorker
    from raf_network.notifications.tasks import notifications_recover

    app = make_pg_app(**fcm_settings)
    for number in range(4):
        device_add(app, user_create(app), f"tok-{number}")
    done, interrupted, old = (broadcast_to(app)["notification_id"] for _ in range(3))
    with app.app_context():
        db.session.execute(PushDelivery.__table__.update()
                           .where(PushDelivery.notification_id.in_([interrupted, old]))
                           .where(PushDelivery.device_id.in_(select(Device.id).where(Device.token != "tok-0")))
                           .values(status="pending"))
        db.session.execute(Notification.__table__.update().where(Notification.id.in_([interrupted, old]))
                           .values(pushed_at=None))
        db.session.execute(Notification.__table__.update().where(Notification.id == old)
                           .values(created_at=datetime.now(timezone.utc) - timedelta(days=2)))
        db.session.commit()
    fcm_stub.requests.clear()

    worker_app = make_pg_app(**fcm_settings, JOBS_INLINE=False)
    with worker_app.app_context():
        assert notifications_recover() == [interrupted]
        queue = queue_get("notifications")
        queue.empty()
        # A worker starting up does the same (worker hooks), then runs what it enqueued.
        AppWorker([queue], connection=redis_connection()).work(burst=True)
    assert sorted(fcm_stub.tokens_received()) == ["tok-1", "tok-2", "tok-3"]
    assert notification_get(app, interrupted).pushed_at is not None
    assert notification_get(app, old).pushed_at is None  # outside PUSH_RECOVER_WINDOW: a stale alert is not sent
    assert notification_get(app, done).sent_count == 4


@pytest.mark.slow
def test_a_large_fan_out_sends_batches_of_at_most_500(make_pg_app, fcm_settings, fcm_stub):
    from tests.notifications.conftest import devices_bulk

    app = make_pg_app(**fcm_settings)
    users = [user_create(app) for _ in range(3)]
    devices_bulk(app, [(users[number % 3], f"bulk-{number}") for number in range(1100)])
    result = broadcast_to(app)
    assert fcm_stub.sent == 1100 and len(set(fcm_stub.tokens_received())) == 1100
    assert notification_get(app, result["notification_id"]).sent_count == 1100


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
    result = broadcast_to(app)
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
    notification = notification_get(app, result["notification_id"])
    assert (notification.sent_count, notification.deferred_count) == (2, 0) and notification.pushed_at is not None
