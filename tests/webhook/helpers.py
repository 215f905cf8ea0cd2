"""Helpers for the webhook tests: real signed deliveries, the real RAF timetable as a payload, and
snapshots of what must stay untouched (catalogue tables, cache generations and ETags)."""
import itertools
import json
import time
from datetime import date
from datetime import time as clock

from sqlalchemy import select

from raf_network.cache import FAMILIES as CACHE_FAMILIES
from raf_network.cache.generations import generations_read
from raf_network.courses.csv_import import schedule_csv_parse
from raf_network.courses.models import DAY_CODES, Course, ExamEntry, ExamPeriod, ScheduleEntry
from raf_network.extensions import db
from raf_network.webhook.models import WebhookDelivery
from raf_network.webhook.services import signature_sign
from tests.conftest import shared_data_text

URL = "/api/webhooks/courses"
CATALOGUE_MODELS = (Course, ScheduleEntry, ExamPeriod, ExamEntry)
CATALOGUE_TABLES = ("course", "schedule_entry", "exam_period", "exam_entry")
READS = ("/api/courses", "/api/course-schedule", "/api/examination-periods")
_ids = itertools.count(1)


def json_value(value):
    if isinstance(value, clock):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def raf_snapshot(timestamp="2026-11-26T09:00:00Z", **extra):
    """The real RAF timetable (../shared/data/raspored.csv, schedule_csv_parse) as a courses.snapshot payload."""
    parsed = schedule_csv_parse(shared_data_text("raspored.csv"))
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
    """The cache generations of every family (the network's too: a delivery must not touch it) and the ETag of every
    catalogue read."""
    client = app.test_client()
    etags = {path: client.get(path).headers.get("ETag") for path in READS}
    with app.app_context():
        generations = generations_read(db.session, CACHE_FAMILIES)
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


def delivery_add(app, *, webhook_id=None, status="applied", type="courses.delta", received_at=None, body=b"{}",
                 error=None, http_status=None, **fields):
    """A delivery record written straight into the log (as an earlier delivery left it). Returns its id."""
    with app.app_context():
        delivery = WebhookDelivery(
            webhook_id=webhook_id or f"msg_log_{next(_ids)}", status=status, type=type, signature="valid",
            http_status=http_status or {"applied": 200, "duplicate": 200, "rejected": 422, "failed": 500}[status],
            raw_body=body, error=error, **({"received_at": received_at} if received_at else {}), **fields)
        db.session.add(delivery)
        db.session.commit()
        return delivery.id
