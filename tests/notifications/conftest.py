"""Fixtures for notifications: a small timetable, devices, subscriptions, and a local FCM stub."""
from datetime import datetime, time, timezone

import pytest
from sqlalchemy import func, insert, select

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.extensions import db
from raf_network.notifications.broadcasts import broadcast_create
from raf_network.notifications.models import Notification
from raf_network.users.models import Device, Subscription
from tests.stubs.fcm import FcmStub, service_account

COURSE = {"code": "uup", "name": "Uvod u programiranje"}


def entry(external_id, **fields):
    item = {"id": external_id, "course": "uup", "kind": "P", "professor": "Prof. A", "groups": ["101"],
            "day": 0, "start": time(10, 15), "end": time(12, 0), "classroom": "Kolarac2"}
    item.update(fields)
    return item


def timetable_apply(app, items):
    """Make ``items`` the whole timetable, as the webhook would; returns ChangeSet.to_json()."""
    with app.app_context():
        changes = catalogue_write(catalogue_plan(courses=[COURSE], schedule=items, replace={"schedule"}))
        db.session.commit()
        return changes.to_json()


def entry_id(app, external_id):
    from raf_network.courses.models import ScheduleEntry

    with app.app_context():
        return db.session.scalar(select(ScheduleEntry.id).where(ScheduleEntry.external_id == external_id))


def subscribe(app, user_id, *external_ids):
    with app.app_context():
        for external_id in external_ids:
            db.session.add(Subscription(user_id=user_id, schedule_entry_id=entry_id(app, external_id)))
        db.session.commit()


def device_add(app, user_id, token, *, platform="android", last_seen_at=None):
    with app.app_context():
        device = Device(user_id=user_id, token=token, platform=platform,
                        last_seen_at=last_seen_at or datetime.now(timezone.utc))
        db.session.add(device)
        db.session.commit()
        return device.id


def devices_bulk(app, rows):
    """rows: (user_id, token) pairs, inserted in one statement."""
    with app.app_context():
        db.session.execute(insert(Device), [{"user_id": u, "token": t, "platform": "android"} for u, t in rows])
        db.session.commit()


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def broadcast_to(app, **audience):
    """An announcement (to everyone unless ``audience``) through the service; its result."""
    with app.app_context():
        return broadcast_create(sender_id=None, title="Obaveštenje", body="Sutra nema nastave",
                                audience=audience or {"all": True}, data={"url": "https://raf.edu.rs"})


def notification_get(app, notification_id):
    with app.app_context():
        return db.session.get(Notification, notification_id)


def tokens_left(app):
    with app.app_context():
        return set(db.session.scalars(select(Device.token)))


@pytest.fixture
def fcm_stub():
    stub = FcmStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def fcm_settings(fcm_stub, tmp_path):
    """Settings for the real firebase-admin path against the stub, with an offline service account."""
    credentials = service_account(tmp_path, token_uri=f"{fcm_stub.url}/token")
    return {"PUSH_BACKEND": "fcm", "FIREBASE_CREDENTIALS": str(credentials), "FCM_URL": fcm_stub.url,
            "PUSH_RETRY_INTERVALS": [1, 1]}


@pytest.fixture
def fcm_app(make_pg_app, fcm_settings):
    """PostgreSQL + Redis, jobs inline, pushes through firebase-admin to the stub."""
    return make_pg_app(**fcm_settings)
