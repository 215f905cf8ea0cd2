"""End to end: a signed webhook delta that moves a class to another room reaches its subscribers — and only
them — as one push per device (firebase-admin against the local FCM stub) and one inbox entry per user;
dead tokens are gone afterwards. Also through a real RQ worker, and on the embedded default (no Redis, no
FCM: the inbox fills and the would-be pushes are recorded)."""
from sqlalchemy import select

from raf_network.extensions import db
from raf_network.jobs import AppWorker, queue_get
from raf_network.notifications.models import NotificationRecipient, PushLog
from raf_network.users.models import Device, Subscription
from tests.factories import bearer, user_create
from tests.webhook.helpers import deliver, delta, raf_snapshot


def _uup_lecture(snapshot):
    """The real Monday lecture of Uvod u programiranje in Kolarac2, as the service sends it."""
    return next(item for item in snapshot["data"]["schedule"]
                if item["course"] == "uvod-u-programiranje" and item["kind"] == "P" and item["day"] == "PON")


def _other_entry(snapshot, excluded):
    return next(item for item in snapshot["data"]["schedule"] if item["id"] != excluded["id"])


def _world(app):
    """The RAF timetable via the webhook; two subscribers of the lecture (one with a dead second phone) and
    one student subscribed to something else."""
    snapshot = raf_snapshot(timestamp="2026-11-26T09:00:00Z")
    assert deliver(app, snapshot).status_code == 200
    lecture, other = _uup_lecture(snapshot), _other_entry(snapshot, _uup_lecture(snapshot))
    users = {name: user_create(app, role="student", email=f"{name}1021rn@raf.rs") for name in ("ana", "bora", "ceca")}
    with app.app_context():
        from raf_network.courses.models import ScheduleEntry

        ids = dict(db.session.execute(select(ScheduleEntry.external_id, ScheduleEntry.id)).all())
        for name, external_id in (("ana", lecture["id"]), ("bora", lecture["id"]), ("ceca", other["id"])):
            db.session.add(Subscription(user_id=users[name], schedule_entry_id=ids[external_id]))
        for name, token in (("ana", "ana-phone"), ("ana", "ana-old-phone"), ("bora", "bora-phone"),
                            ("ceca", "ceca-phone")):
            db.session.add(Device(user_id=users[name], token=token, platform="android"))
        db.session.commit()
    return users, lecture


def _move(app, lecture, room="Raf06 (a)"):
    response = deliver(app, delta(timestamp="2026-11-26T10:00:00Z", schedule=[{**lecture, "classroom": room}]))
    assert response.status_code == 200 and response.get_json()["updated"] == 1
    return response


def _inbox(app, user_id):
    return app.test_client().get("/api/notifications", headers=bearer(app, user_id)).get_json()["items"]


def test_a_webhook_change_pushes_once_to_each_subscribed_device_through_fcm(fcm_app, fcm_stub):
    fcm_stub.script("ana-old-phone", "UNREGISTERED")
    users, lecture = _world(fcm_app)
    _move(fcm_app, lecture)

    assert sorted(fcm_stub.tokens_received()) == ["ana-old-phone", "ana-phone", "bora-phone"]
    message = next(r["message"] for r in fcm_stub.requests if r["token"] == "ana-phone")
    assert "Kolarac2" in message["notification"]["body"] and "Raf06 (a)" in message["notification"]["body"]
    assert message["data"]["type"] == "timetable_change"
    for name in ("ana", "bora"):
        assert len(_inbox(fcm_app, users[name])) == 1
    assert _inbox(fcm_app, users["ceca"]) == []
    with fcm_app.app_context():
        tokens = set(db.session.scalars(select(Device.token)))
    assert tokens == {"ana-phone", "bora-phone", "ceca-phone"}  # the dead token is gone


def test_the_same_flow_through_a_real_rq_worker(make_pg_app, fcm_settings, fcm_stub):
    app = make_pg_app(**fcm_settings, JOBS_INLINE=False)
    users, lecture = _world(app)
    fcm_stub.requests.clear()
    _move(app, lecture)
    assert fcm_stub.tokens_received() == []  # nothing sent inside the request: it was enqueued
    with app.app_context():
        queue = queue_get("notifications")
        assert queue.count >= 1
        AppWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)
    assert sorted(fcm_stub.tokens_received()) == ["ana-old-phone", "ana-phone", "bora-phone"]
    assert [len(_inbox(app, users[name])) for name in ("ana", "bora", "ceca")] == [1, 1, 0]


def test_on_the_embedded_default_the_inbox_fills_and_pushes_are_recorded(embedded_app):
    users, lecture = _world(embedded_app)
    _move(embedded_app, lecture)
    assert [len(_inbox(embedded_app, users[name])) for name in ("ana", "bora", "ceca")] == [1, 1, 0]
    with embedded_app.app_context():
        recorded = sorted(db.session.scalars(select(PushLog.token)))
        assert recorded == ["ana-old-phone", "ana-phone", "bora-phone"]
        assert db.session.query(NotificationRecipient).count() == 2
