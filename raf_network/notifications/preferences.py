"""Which pushes a user wants (a flag per category) and when they must wait (quiet hours, Europe/Belgrade)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from raf_network.extensions import db
from raf_network.notifications.models import NotificationPreference

TIMEZONE = ZoneInfo("Europe/Belgrade")
# Notification category → the preference flag (a column of NotificationPreference) that turns its pushes off.
PREFERENCE_OF_CATEGORY = {"timetable_change": "timetable_changes", "announcement": "announcements",
                          "exams": "exam_schedule", "comment": "comments"}
PREFERENCE_FLAGS = tuple(PREFERENCE_OF_CATEGORY.values())


def _preferences_dump(preference):
    quiet = None
    if preference is not None and preference.quiet_start is not None:
        quiet = {"start": preference.quiet_start, "end": preference.quiet_end}
    return {
        **{flag: getattr(preference, flag) if preference else True for flag in PREFERENCE_FLAGS},
        "quiet_hours": quiet,
        "timezone": TIMEZONE.key,
    }


def preferences_get(*, user_id):
    return _preferences_dump(db.session.get(NotificationPreference, user_id))


def preferences_update(*, user_id, changes):
    """Change some preferences; ``quiet_hours: None`` switches quiet hours off, and so do quiet hours that end
    when they start (an empty interval)."""
    preference = db.session.get(NotificationPreference, user_id)
    if preference is None:
        preference = NotificationPreference(user_id=user_id, **dict.fromkeys(PREFERENCE_FLAGS, True))
        db.session.add(preference)
    for name in PREFERENCE_FLAGS:
        if name in changes:
            setattr(preference, name, changes[name])
    if "quiet_hours" in changes:
        quiet = changes["quiet_hours"]
        if quiet and quiet["start"] == quiet["end"]:
            quiet = None
        preference.quiet_start = quiet["start"] if quiet else None
        preference.quiet_end = quiet["end"] if quiet else None
    db.session.commit()
    return _preferences_dump(preference)


def quiet_until(moment, start, end):
    """When quiet hours [start, end) (Belgrade local times) containing ``moment`` end, in UTC; else None."""
    local = moment.astimezone(TIMEZONE)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= now < end, local.date()
    else:  # spans midnight, e.g. 22:00–07:00
        inside = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=TIMEZONE).astimezone(timezone.utc)
