"""The personal iCalendar feed, parsed back: weekly events for the semester in Belgrade time, stable UIDs,
SEQUENCE following the catalogue, and a secret URL that rotation kills."""
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import select

from raf_network.courses.catalogue import catalogue_plan, catalogue_write
from raf_network.courses.models import Course, ScheduleEntry
from raf_network.extensions import db
from tests.factories import bearer, user_create

BELGRADE = ZoneInfo("Europe/Belgrade")
SUBSCRIPTIONS = "/api/course-schedule-student-subscriptions"


@pytest.fixture
def feed_app(seeded):
    seeded.config.update(SEMESTER_START=date(2026, 10, 1), SEMESTER_END=date(2027, 1, 15))
    return seeded


def _feed_path(app, headers):
    response = app.test_client().post("/api/me/calendar-token", headers=headers)
    assert response.status_code == 201
    url = response.get_json()["url"]
    assert url.startswith("http") and url.endswith(".ics")
    return urlsplit(url).path


def _calendar(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    return icalendar.Calendar.from_ical(response.data)


def _entries(app, *entry_ids):
    with app.app_context():
        return {entry.id: (entry.external_id, entry.day, entry.start_time, entry.end_time, entry.sequence,
                           entry.classroom)
                for entry in db.session.scalars(select(ScheduleEntry).where(ScheduleEntry.id.in_(entry_ids)))}


def _pick_entries(app):
    """Two entries on different weekdays, one of them on Monday."""
    entries = app.test_client().get("/api/course-schedule").get_json()
    monday = next(entry for entry in entries if entry["day"] == "PON")
    friday = next(entry for entry in entries if entry["day"] == "PET")
    return monday["id"], friday["id"]


def test_feed_has_a_weekly_event_per_subscribed_entry(feed_app):
    app = feed_app
    headers = bearer(app, user_create(app))
    monday_id, friday_id = _pick_entries(app)
    for entry_id in (monday_id, friday_id):
        app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": entry_id}, headers=headers)
    calendar = _calendar(app, _feed_path(app, headers))

    timezones = calendar.walk("VTIMEZONE")
    assert [str(tz["TZID"]) for tz in timezones] == ["Europe/Belgrade"]
    events = calendar.walk("VEVENT")
    assert len(events) == 2
    stored = _entries(app, monday_id, friday_id)
    by_uid = {str(event["UID"]): event for event in events}
    for external_id, day, start, end, sequence, classroom in stored.values():
        event = by_uid[f"entry-{external_id}@raf-network"]
        assert int(event["SEQUENCE"]) == sequence
        assert str(event["LOCATION"]) == classroom
        dtstart, dtend = event.decoded("DTSTART"), event.decoded("DTEND")
        assert event["DTSTART"].params["TZID"] == "Europe/Belgrade"
        assert dtstart.tzinfo is not None and dtstart.utcoffset() == datetime.combine(
            dtstart.date(), start, BELGRADE).utcoffset()
        assert (dtstart.weekday(), dtstart.time(), dtend.time()) == (day, start, end)
        assert date(2026, 10, 1) <= dtstart.date() < date(2026, 10, 8)
        rule = event["RRULE"]
        assert rule["FREQ"] == ["WEEKLY"]
        occurrences = list(rrulestr(event["RRULE"].to_ical().decode(), dtstart=dtstart))
        assert occurrences[0] == dtstart
        assert all(later - earlier in (timedelta(days=7), timedelta(days=7, hours=1))
                   for earlier, later in zip(occurrences, occurrences[1:], strict=False))
        assert occurrences[-1].date() <= date(2027, 1, 15) and occurrences[-1].date() + timedelta(days=7) > date(
            2027, 1, 15)
        # Wall-clock time stays put across the end of summer time (25 October 2026).
        assert {occurrence.astimezone(BELGRADE).time() for occurrence in occurrences} == {start}
    monday_event = by_uid[f"entry-{stored[monday_id][0]}@raf-network"]
    monday_occurrences = list(rrulestr(monday_event["RRULE"].to_ical().decode(),
                                       dtstart=monday_event.decoded("DTSTART")))
    assert monday_occurrences[0].date() == date(2026, 10, 5) and len(monday_occurrences) == 15


def test_feed_needs_no_bearer_and_unknown_secret_is_404(feed_app):
    client = feed_app.test_client()
    response = client.get("/api/calendar/not-a-real-secret.ics")
    assert response.status_code == 404 and response.get_json()["code"] == 404
    path = _feed_path(feed_app, bearer(feed_app, user_create(feed_app)))
    assert client.get(path).status_code == 200
    assert client.get(path.replace(".ics", "x.ics")).status_code == 404


def test_rotation_kills_the_old_url(feed_app):
    headers = bearer(feed_app, user_create(feed_app))
    old = _feed_path(feed_app, headers)
    new = _feed_path(feed_app, headers)
    assert old != new
    assert feed_app.test_client().get(old).status_code == 404
    assert feed_app.test_client().get(new).status_code == 200


def test_feeds_are_personal(feed_app):
    app = feed_app
    alice, bob = bearer(app, user_create(app)), bearer(app, user_create(app))
    monday_id, friday_id = _pick_entries(app)
    app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": monday_id}, headers=alice)
    app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": friday_id}, headers=bob)
    alice_uids = {str(event["UID"]) for event in _calendar(app, _feed_path(app, alice)).walk("VEVENT")}
    bob_uids = {str(event["UID"]) for event in _calendar(app, _feed_path(app, bob)).walk("VEVENT")}
    assert len(alice_uids) == len(bob_uids) == 1 and alice_uids != bob_uids


def test_a_changed_entry_keeps_its_uid_and_bumps_its_sequence(feed_app):
    app = feed_app
    headers = bearer(app, user_create(app))
    monday_id, _ = _pick_entries(app)
    app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": monday_id}, headers=headers)
    path = _feed_path(app, headers)
    before = _calendar(app, path).walk("VEVENT")[0]
    with app.app_context():
        entry = db.session.get(ScheduleEntry, monday_id)
        course_code = db.session.get(Course, entry.course_id).code
        groups = [group.strip() for group in entry.groups.split(",")]
        changes = catalogue_write(catalogue_plan(schedule=[{
            "id": entry.external_id, "course": course_code, "kind": entry.kind, "professor": entry.professor,
            "groups": groups, "day": entry.day, "start": time(7, 0), "end": time(8, 30),
            "classroom": "Novi RAF 1"}]))
        assert changes.updated["schedule"]
        db.session.commit()
    after = _calendar(app, path).walk("VEVENT")[0]
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after.decoded("DTSTART").time() == time(7, 0) and str(after["LOCATION"]) == "Novi RAF 1"


def test_feed_language_follows_the_profile(feed_app):
    app = feed_app
    headers = bearer(app, user_create(app))
    monday_id, _ = _pick_entries(app)
    app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": monday_id}, headers=headers)
    path = _feed_path(app, headers)
    serbian = str(_calendar(app, path).walk("VEVENT")[0]["SUMMARY"])
    app.test_client().patch("/api/me", json={"locale": "en"}, headers=headers)
    english = str(_calendar(app, path).walk("VEVENT")[0]["SUMMARY"])
    assert serbian.endswith(("(predavanja)", "(vežbe)")) and english.endswith(("(lecture)", "(lab)"))


def test_empty_feed_is_still_a_valid_calendar(feed_app):
    calendar = _calendar(feed_app, _feed_path(feed_app, bearer(feed_app, user_create(feed_app))))
    assert calendar.walk("VEVENT") == [] and calendar["VERSION"] == "2.0"


def test_entries_outside_the_semester_are_left_out(feed_app):
    app = feed_app
    app.config.update(SEMESTER_START=date(2027, 1, 12), SEMESTER_END=date(2027, 1, 15))  # Tuesday to Friday
    headers = bearer(app, user_create(app))
    monday_id, friday_id = _pick_entries(app)
    for entry_id in (monday_id, friday_id):
        app.test_client().post(SUBSCRIPTIONS, json={"course_schedule_entry": entry_id}, headers=headers)
    events = _calendar(app, _feed_path(app, headers)).walk("VEVENT")
    assert len(events) == 1 and events[0].decoded("DTSTART").date() == date(2027, 1, 15)


def test_disabled_accounts_feed_is_gone(feed_app):
    user_id = user_create(feed_app, email="gone@raf.rs")
    path = _feed_path(feed_app, bearer(feed_app, user_id))
    assert feed_app.test_cli_runner().invoke(args=["users", "disable", "gone@raf.rs"]).exit_code == 0
    assert feed_app.test_client().get(path).status_code == 404


def test_rotating_needs_a_token(app):
    assert app.test_client().post("/api/me/calendar-token").status_code == 401
