"""The push sender (notifications/push.py) against a local FCM stub: the message it sends, and what each of FCM's
answers means for the device."""

from sqlalchemy import select

from raf_network.extensions import db
from raf_network.notifications.models import PushDelivery
from tests.factories import user_create
from tests.notifications.conftest import broadcast_to, device_add, notification_get, tokens_left


def test_a_push_is_a_user_visible_alert_with_string_data_sent_with_the_service_account(fcm_app, fcm_stub):
    user = user_create(fcm_app, locale="en")
    device_add(fcm_app, user, "tok-1")
    result = broadcast_to(fcm_app)
    assert result["recipients"] == 1 and result["devices"] == 1
    (request,) = fcm_stub.requests
    message = request["message"]
    assert request["path"] == "/v1/projects/raf-network-test/messages:send"
    assert message["token"] == "tok-1"
    assert message["notification"] == {"title": "Obaveštenje", "body": "Sutra nema nastave"}
    assert message["data"] == {"url": "https://raf.edu.rs", "type": "announcement",
                               "notification_id": str(result["notification_id"])}
    assert message["android"]["priority"] == "high"
    assert message["android"]["notification"]["channel_id"] == "raf_notifications"
    assert message["apns"]["headers"]["apns-priority"] == "10"
    assert message["apns"]["payload"]["aps"]["alert"]["title"] == "Obaveštenje"
    assert message["apns"]["payload"]["aps"]["sound"] == "default"
    # A second copy of this notification (sent again after a worker died mid-send) replaces the first on a phone.
    collapse_id = f"raf-notification-{result['notification_id']}"
    assert message["android"]["collapse_key"] == collapse_id
    assert message["apns"]["headers"]["apns-collapse-id"] == collapse_id
    assert fcm_stub.token_requests == 1  # the access token came from the stub, not Google


def test_dead_tokens_remove_their_devices_and_other_failures_keep_them(fcm_app, fcm_stub):
    answers = {"ok-1": "ok", "ok-2": "ok", "gone": "UNREGISTERED", "other-sender": "SENDER_ID_MISMATCH",
               "invalid": "INVALID_TOKEN", "bad-payload": "INVALID_ARGUMENT",
               "apns-misconfigured": "THIRD_PARTY_AUTH_ERROR"}
    for token, answer in answers.items():
        fcm_stub.script(token, answer)
        device_add(fcm_app, user_create(fcm_app), token)

    result = broadcast_to(fcm_app)

    assert tokens_left(fcm_app) == {"ok-1", "ok-2", "bad-payload", "apns-misconfigured"}
    notification = notification_get(fcm_app, result["notification_id"])
    assert (notification.sent_count, notification.invalid_token_count, notification.failed_count) == (2, 3, 2)
    assert notification.recipient_count == 7 and notification.pushed_at is not None


def test_an_access_token_fcm_no_longer_accepts_is_refreshed_once_and_the_push_resent(fcm_app, fcm_stub):
    fcm_stub.script("tok-1", "AUTH_EXPIRED", "ok")
    device_add(fcm_app, user_create(fcm_app), "tok-1")
    result = broadcast_to(fcm_app)
    assert fcm_stub.tokens_received() == ["tok-1", "tok-1"]
    assert fcm_stub.token_requests == 2  # the first token, then the refresh
    assert notification_get(fcm_app, result["notification_id"]).sent_count == 1


def test_an_answer_that_is_not_fcm_json_is_a_transient_failure(fcm_app, fcm_stub):
    fcm_stub.script("tok-1", "BAD_GATEWAY")
    device_add(fcm_app, user_create(fcm_app), "tok-1")
    result = broadcast_to(fcm_app)
    notification = notification_get(fcm_app, result["notification_id"])
    # Inline there is no retry job: the last attempt gives up, and the device is kept.
    assert (notification.sent_count, notification.failed_count) == (0, 1)
    assert tokens_left(fcm_app) == {"tok-1"}
    with fcm_app.app_context():
        assert db.session.scalar(select(PushDelivery.error)) == "HTTP_502"
