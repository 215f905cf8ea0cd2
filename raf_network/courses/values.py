"""Values of catalogue data as the sources write them: day codes, time ranges, student groups, and the stable keys
derived for sources that have none (the CSV). Shared by the CSV import, the schemas and the webhook."""
import hashlib
import re
import unicodedata
from datetime import time

from raf_network.courses.models import DAY_CODES, ENGLISH_DAY_CODES

TIME_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")
GROUP_PATTERN = re.compile(r"^[0-9A-Za-z]{1,16}$")


def day_index(code):
    """``PON``…``NED`` or ``MON``…``SUN`` (any case, padding ignored) → 0…6; ValueError otherwise."""
    cleaned = code.replace("\u00a0", " ").strip().upper()
    for codes in (DAY_CODES, ENGLISH_DAY_CODES):
        if cleaned in codes:
            return codes.index(cleaned)
    if cleaned == "CET":  # the Serbian code typed without its diacritic
        return 3
    raise ValueError(f"unknown day {code.strip()!r}; expected one of {', '.join(DAY_CODES)}")


def time_range_parse(text):
    """``11:15-13`` → (11:15, 13:00). The end must come after the start."""
    match = TIME_RANGE.match(text)
    if not match:
        raise ValueError(f"time range {text!r} is not like 11:15-13 or 09:15-12:00")
    start_h, start_m, end_h, end_m = match.groups()
    try:
        start = time(int(start_h), int(start_m or 0))
        end = time(int(end_h), int(end_m or 0))
    except ValueError:
        raise ValueError(f"time range {text!r} has an impossible time") from None
    if end <= start:
        raise ValueError(f"time range {text!r} ends before it starts")
    return start, end


def groups_parse(text):
    """``"101, 102,103"`` → ``["101", "102", "103"]``."""
    groups = [group.strip() for group in text.split(",") if group.strip()]
    if not groups:
        raise ValueError("no student groups")
    for group in groups:
        if not GROUP_PATTERN.match(group):
            raise ValueError(f"group {group!r} is not alphanumeric")
    return groups


def course_code_for(name):
    """Deterministic course code for sources that have only names (the CSV): an ASCII slug."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "dj").replace("Đ", "Dj"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return slug[:64] or "course-" + hashlib.sha1(name.encode()).hexdigest()[:12]


def entry_id_for(*, course_code, kind, groups, day, start):
    """Deterministic external id of a CSV row, from its natural key (course, kind, groups, day, time)."""
    natural_key = "|".join([course_code, kind, ",".join(groups), str(day), start.strftime("%H:%M")])
    return "csv-" + hashlib.sha1(natural_key.encode("utf-8")).hexdigest()[:16]
