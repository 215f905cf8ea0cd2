"""Helpers for the webhook tests: real signed deliveries, the real RAF timetable as a payload, and
snapshots of what must stay untouched (catalogue tables, cache generations and ETags)."""
import itertools
import json
import time
from datetime import date
from datetime import time as clock

from sqlalchemy import select

from raf_network.courses import services as course_services
from raf_network.courses.models import DAY_CODES, Course, ExamEntry, ExamPeriod, ScheduleEntry
from raf_network.extensions import cache, db
from raf_network.webhook.models import WebhookDelivery
from raf_network.webhook.services import signature_sign

URL = "/api/webhooks/courses"
CATALOGUE_MODELS = (Course, ScheduleEntry, ExamPeriod, ExamEntry)
CATALOGUE_TABLES = ("course", "schedule_entry", "exam_period", "exam_entry")
# The cache families the catalogue reads are built from (the network has a family of its own, which the
# catalogue reads below never create).
CACHE_FAMILIES = tuple(sorted(set(course_services.CACHE_FAMILY.values())))
READS = ("/api/courses", "/api/course-schedule", "/api/examination-periods")
_ids = itertools.count(1)


def json_value(value):
    if isinstance(value, clock):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def raf_snapshot(timestamp="2026-11-26T09:00:00Z", **extra):
    """The bundled real RAF timetable (schedule_csv_parse) as a courses.snapshot payload."""
    parsed = course_services.schedule_csv_parse(course_services.BUNDLED_SCHEDULE.read_text(encoding="utf-8"))
    assert not parsed.errors
    schedule = [{**entry, "day": DAY_CODES[entry["day"]], "start": json_value(entry["start"]),
                 "end": json_value(entry["end"])} for entry in parsed.schedule]
    return {"type": "courses.snapshot", "timestamp": timestamp, **extra,
            "data": {"courses": parsed.courses, "schedule": schedule, "exam_periods": [], "exams": []}}


def delta(timestamp="2026-11-26T10:00:00Z", **data):
    return {"type": "courses.delta", "timestamp": timestamp, "data": data}


def signed_headers(app, body, *, webhook_id=None, timestamp=None, secret=None):
    webhook_id = webhook_id or f"msg_test_{next(_ids)}"
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = signature_sign(webhook_id=webhook_id, timestamp=timestamp, body=body,
                               secret=secret or app.config["WEBHOOK_SECRET"])
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def deliver(app, payload, *, client=None, headers=None, **sign):
    """POST a payload (dict → JSON, or raw bytes) with valid signature headers (unless ``headers``)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = headers if headers is not None else signed_headers(app, body, **sign)
    return (client or app.test_client()).post(URL, data=body, headers=headers, content_type="application/json")


def catalogue_rows(app):
    """Every row of every catalogue table, all columns: the 'byte-for-byte unchanged' comparison."""
    with app.app_context():
        return {model.__tablename__: [tuple(row) for row in db.session.execute(
            select(*model.__table__.columns).order_by(model.id))] for model in CATALOGUE_MODELS}


def cache_state(app):
    """The cache generations of every family and the ETag of every catalogue read."""
    client = app.test_client()
    etags = {path: client.get(path).headers.get("ETag") for path in READS}  # reads create missing generations
    with app.app_context():
        generations = {family: cache.get(f"gen:{family}") for family in CACHE_FAMILIES}
    assert None not in generations.values()
    return generations, etags


def deliveries(app):
    with app.app_context():
        return db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def catalogue_writes(statements):
    """The INSERT/UPDATE/DELETE statements among ``statements`` that touch a catalogue table."""
    writes = []
    for statement in statements:
        words = statement.split()
        verb = words[0].upper() if words else ""
        table = {"INSERT": 2, "UPDATE": 1, "DELETE": 2}.get(verb)
        if table is not None and len(words) > table and words[table].strip('"') in CATALOGUE_TABLES:
            writes.append(statement)
    return writes


def entry_row(app, external_id):
    with app.app_context():
        return db.session.scalar(select(ScheduleEntry).where(ScheduleEntry.external_id == external_id))
