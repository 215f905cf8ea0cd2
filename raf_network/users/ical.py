"""Renders a personal timetable as an iCalendar feed (RFC 5545) that calendar apps subscribe to.

Each timetable entry is one weekly recurring event for the semester, in Belgrade time. Its UID is stable
(``entry-<external id>@raf-network``) and its SEQUENCE is the entry's ``sequence`` column, which the catalogue
bumps on every change, so calendar apps update events in place instead of duplicating them.
"""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar

TIMEZONE = "Europe/Belgrade"
PRODUCT_ID = "-//RAF Network//Timetable//EN"
LABELS = {
    "sr-Latn": {"LEC": "predavanja", "LAB": "vežbe", "calendar": "RAF raspored",
                "professor": "Nastavnik", "groups": "Grupe"},
    "en": {"LEC": "lecture", "LAB": "lab", "calendar": "RAF timetable",
           "professor": "Teacher", "groups": "Groups"},
}


def event_uid(entry):
    return f"entry-{entry.external_id}@raf-network"


def _utc(moment):
    if moment is None:
        return datetime.now(timezone.utc)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def calendar_render(*, entries, semester_start, semester_end, locale):
    """The feed as bytes. ``entries``: ScheduleEntry rows with their course loaded."""
    labels = LABELS.get(locale, LABELS["sr-Latn"])
    zone = ZoneInfo(TIMEZONE)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", labels["calendar"])
    calendar.add("x-wr-timezone", TIMEZONE)
    calendar.add_component(icalendar.Timezone.from_tzid(
        TIMEZONE, first_date=semester_start - timedelta(days=366), last_date=semester_end + timedelta(days=366)))
    # With a TZID'd start, RFC 5545 wants UNTIL in UTC; the last day of the semester still counts.
    until = datetime.combine(semester_end, time(23, 59, 59), zone).astimezone(timezone.utc)
    for entry in entries:
        first_day = semester_start + timedelta(days=(entry.day - semester_start.weekday()) % 7)
        if first_day > semester_end:
            continue
        event = icalendar.Event()
        event.add("uid", event_uid(entry))
        event.add("sequence", entry.sequence)
        event.add("dtstamp", _utc(entry.updated_at))
        event.add("last-modified", _utc(entry.updated_at))
        event.add("dtstart", datetime.combine(first_day, entry.start_time, zone))
        event.add("dtend", datetime.combine(first_day, entry.end_time, zone))
        event.add("rrule", {"freq": "weekly", "until": until})
        event.add("summary", f"{entry.course.name} ({labels[entry.type]})")
        event.add("location", entry.classroom)
        details = [f"{labels['groups']}: {entry.groups}"]
        if entry.professor:
            details.insert(0, f"{labels['professor']}: {entry.professor}")
        event.add("description", "\n".join(details))
        calendar.add_component(event)
    return calendar.to_ical()
