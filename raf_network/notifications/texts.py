"""What a notification says, in Serbian (Latin, the default) and English.

Timetable changes are summarised per user: one change reads like
"Uvod u programiranje, predavanja: Kolarac2 → Raf06 (a)"; several read "3 izmene u vašem rasporedu".
Exams likewise: "Kolokvijum iz Diskretne strukture: 19.11.2023., 9-14, učionica 6,9"; several read
"3 kolokvijuma u periodu Kolokvijumska nedelja 1, 2023/24".
"""
from raf_network.courses.models import DAY_CODES, ENGLISH_DAY_CODES

LOCALES = ("sr-Latn", "en")
DEFAULT_LOCALE = "sr-Latn"

_WORDS = {
    "sr-Latn": {
        "LEC": "predavanja", "LAB": "vežbe",
        "title_change": "Izmena u rasporedu", "title_changes": "Izmene u rasporedu",
        "title_cancelled": "Otkazan čas", "cancelled": "otkazano",
        "professor": "nastavnik", "groups": "grupe", "course": "predmet",
    },
    "en": {
        "LEC": "lecture", "LAB": "lab",
        "title_change": "Timetable change", "title_changes": "Timetable changes",
        "title_cancelled": "Class cancelled", "cancelled": "cancelled",
        "professor": "teacher", "groups": "groups", "course": "course",
    },
}


def locale_of(value):
    return value if value in LOCALES else DEFAULT_LOCALE


def _changes_count(count, locale):
    if locale == "en":
        return f"{count} changes in your timetable"
    # Serbian plural: 2–4 (but not 12–14) take "izmene", the rest "izmena".
    word = "izmene" if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14) else "izmena"
    return f"{count} {word} u vašem rasporedu"


def _day(code, locale):
    if locale == "en" and code in DAY_CODES:
        return ENGLISH_DAY_CODES[DAY_CODES.index(code)]
    return code


def _describe_fields(fields, locale):
    """``{"classroom": ["Kolarac2", "Raf06 (a)"], …}`` → ``"Kolarac2 → Raf06 (a)"`` (several joined by "; ")."""
    words = _WORDS[locale]
    parts = []
    if "day" in fields:
        old, new = fields["day"]
        parts.append(f"{_day(old, locale)} → {_day(new, locale)}")
    if "start_time" in fields or "end_time" in fields:
        start = fields.get("start_time")
        end = fields.get("end_time")
        old = "–".join(filter(None, [start[0] if start else None, end[0] if end else None]))
        new = "–".join(filter(None, [start[1] if start else None, end[1] if end else None]))
        parts.append(f"{old} → {new}")
    if "classroom" in fields:
        old, new = fields["classroom"]
        parts.append(f"{old} → {new}")
    for name in ("professor", "groups", "course"):
        if name in fields:
            old, new = fields[name]
            parts.append(f"{words[name]}: {old or '—'} → {new or '—'}")
    if "kind" in fields:
        old, new = fields["kind"]
        parts.append(f"{old} → {new}")
    return "; ".join(parts)


def timetable_texts(changes):
    """Title and body per locale for one user's list of entry changes (see services.entry_change)."""
    texts = {}
    for locale in LOCALES:
        words = _WORDS[locale]
        if len(changes) == 1:
            change = changes[0]
            subject = f"{change['course']}, {words[change['type']]}"
            if change["change"] == "cancelled":
                when = f"{_day(change['day'], locale)} {change['start']}"
                title, body = words["title_cancelled"], f"{subject} ({when}): {words['cancelled']}"
            else:
                title, body = words["title_change"], f"{subject}: {_describe_fields(change['fields'], locale)}"
        else:
            title, body = words["title_changes"], _changes_count(len(changes), locale)
        texts[locale] = {"title": title, "body": body}
    return texts


def announcement_texts(*, title, body):
    """An announcement is written once, by a person; every locale shows it as written."""
    return {locale: {"title": title, "body": body} for locale in LOCALES}


def _exams_count(count, period, locale):
    if locale == "en":
        return f"{count} exams in {period}"
    # Serbian: 1, 21, 31 … (but not 11) "kolokvijum"; every other count "kolokvijuma".
    word = "kolokvijum" if count % 10 == 1 and count % 100 != 11 else "kolokvijuma"
    return f"{count} {word} u periodu {period}"


def _exam_line(exam, locale):
    """One exam: course, date, and the time and classroom when the office gave them."""
    if locale == "en":
        parts = [f"{exam['course']} exam: {exam['date']:%d %b %Y}", exam["time"],
                 f"room {exam['classroom']}" if exam["classroom"] else ""]
    else:
        parts = [f"Kolokvijum iz {exam['course']}: {exam['date']:%d.%m.%Y.}", exam["time"],
                 f"učionica {exam['classroom']}" if exam["classroom"] else ""]
    return ", ".join(part for part in parts if part)


def exam_texts(*, period, exams):
    """Title (the period's name) and body per locale for one user's announced exams (dicts with course, date,
    time, classroom)."""
    return {locale: {"title": period,
                     "body": _exam_line(exams[0], locale) if len(exams) == 1 else _exams_count(len(exams), period,
                                                                                                locale)}
            for locale in LOCALES}
