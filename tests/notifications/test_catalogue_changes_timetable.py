"""A timetable change set becomes one summary per affected subscriber; nobody else hears about it."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from raf_network.extensions import db
from raf_network.notifications.catalogue_changes import timetable_changes_notify
from raf_network.notifications.models import Notification, NotificationRecipient, PushDelivery, PushLog
from tests.factories import bearer, user_create
from tests.notifications.conftest import count, device_add, entry, subscribe, timetable_apply

BELGRADE = ZoneInfo("Europe/Belgrade")


def _far_day():
    """A weekday that is neither today nor tomorrow in Belgrade (changes to it are not urgent)."""
    return (datetime.now(BELGRADE).weekday() + 3) % 7


def _pushes(app):
    with app.app_context():
        return {row.token: row for row in db.session.scalars(select(PushLog))}


def _notify(app, changes, source="catalogue-change:1:timetable"):
    with app.app_context():
        notification_ids = timetable_changes_notify(changes=changes, source=source)
        db.session.commit()
        return notification_ids


def test_each_subscriber_gets_one_summary_of_their_changes(app):
    day = _far_day()
    timetable_apply(app, [entry("lec", day=day), entry("lab", kind="V", day=day, classroom="Raf01")])
    one, both, bystander = user_create(app), user_create(app), user_create(app)
    english = user_create(app, locale="en")
    subscribe(app, one, "lec")
    subscribe(app, both, "lec", "lab")
    subscribe(app, english, "lec")
    for user_id, token in ((one, "t-one"), (both, "t-both"), (english, "t-en"), (bystander, "t-by")):
        device_add(app, user_id, token)

    changes = timetable_apply(app, [
        entry("lec", day=day, classroom="Raf06 (a)"),
        entry("lab", kind="V", day=day, classroom="Raf01", start=time(14, 15), end=time(16, 0)),
    ])
    _notify(app, changes)

    pushes = _pushes(app)
    assert set(pushes) == {"t-one", "t-both", "t-en"}
    assert pushes["t-one"].body == "Uvod u programiranje, predavanja: Kolarac2 → Raf06 (a)"
    assert pushes["t-one"].title == "Izmena u rasporedu"
    assert pushes["t-en"].body == "Uvod u programiranje, lecture: Kolarac2 → Raf06 (a)"
    assert pushes["t-both"].body == "2 izmene u vašem rasporedu"
    data = pushes["t-both"].data
    assert data["type"] == "timetable_change" and data["notification_id"].isdigit()
    assert len(data["changes"]) and all(isinstance(value, str) for value in data.values())
    assert count(app, NotificationRecipient, NotificationRecipient.user_id == bystander) == 0
    assert count(app, NotificationRecipient) == 3


def test_a_removed_entry_is_reported_cancelled(app):
    day = _far_day()
    timetable_apply(app, [entry("lec", day=day), entry("lab", kind="V", day=day)])
    student = user_create(app)
    subscribe(app, student, "lab")
    device_add(app, student, "t-1")
    _notify(app, timetable_apply(app, [entry("lec", day=day)]))
    push = _pushes(app)["t-1"]
    assert push.title == "Otkazan čas"
    assert push.body.startswith("Uvod u programiranje, vežbe (") and push.body.endswith("10:15): otkazano")


def test_running_again_for_the_same_change_set_duplicates_nothing(app):
    timetable_apply(app, [entry("lec", day=_far_day())])
    students = [user_create(app) for _ in range(3)]
    for number, student in enumerate(students):
        subscribe(app, student, "lec")
        device_add(app, student, f"t-{number}")
    changes = timetable_apply(app, [entry("lec", day=_far_day(), classroom="Raf06")])
    first = _notify(app, changes)
    second = _notify(app, changes)
    assert first == second and len(first) == 1
    assert count(app, Notification) == 1
    assert count(app, NotificationRecipient) == 3
    assert count(app, PushLog) == 3 and count(app, PushDelivery) == 3
    with app.app_context():
        notification = db.session.get(Notification, first[0])
        assert (notification.recipient_count, notification.sent_count) == (3, 3)


def test_a_change_set_without_timetable_changes_notifies_nobody(app):
    timetable_apply(app, [entry("lec")])
    subscribe(app, user_create(app), "lec")
    assert _notify(app, {"created": {"schedule": ["x"]}, "updated": {}, "removed": {}}) == []
    assert count(app, Notification) == 0


def test_quiet_hours_defer_a_change_later_in_the_week_but_not_one_today(app):
    now = datetime.now(BELGRADE)
    today = now.weekday()
    timetable_apply(app, [entry("today", day=today), entry("later", day=_far_day())])
    student = user_create(app)
    subscribe(app, student, "today", "later")
    device_add(app, student, "t-quiet")
    client = app.test_client()
    # Near midnight this window spans it (start > end), which quiet hours allow.
    quiet = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
             "end": (now + timedelta(hours=1)).strftime("%H:%M")}
    response = client.patch("/api/me/notification-preferences", json={"quiet_hours": quiet},
                            headers=bearer(app, student))
    assert response.status_code == 200

    _notify(app, timetable_apply(app, [entry("today", day=today), entry("later", day=_far_day(), classroom="B")]),
            source="webhook:later")
    assert _pushes(app) == {}
    with app.app_context():
        delivery = db.session.scalars(select(PushDelivery)).one()
        assert delivery.status == "deferred" and delivery.not_before is not None
        not_before = delivery.not_before.replace(tzinfo=delivery.not_before.tzinfo or timezone.utc)
        assert timedelta(0) < not_before - datetime.now(timezone.utc) <= timedelta(hours=1, minutes=1)
    assert count(app, NotificationRecipient) == 1  # the inbox records it regardless

    _notify(app, timetable_apply(app, [entry("today", day=today, classroom="C"), entry("later", day=_far_day(),
                                                                                      classroom="B")]),
            source="webhook:today")
    assert set(_pushes(app)) == {"t-quiet"}
