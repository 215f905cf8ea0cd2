"""The course service's webhook: verify a delivery (Standard Webhooks), record it, and apply it to the catalogue in
one transaction as one catalogue change (``courses.changes``: the cache and the students it affects are told once
it commits).

Deliveries apply one at a time (a PostgreSQL advisory lock; SQLite serializes writers), and a webhook-id is
applied at most once (``WebhookDelivery.applied_webhook_id`` is unique). A refused delivery is recorded —
``webhook_delivery`` is the audit log — but never touches the catalogue tables or the cache.
"""
import base64
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload

from config import webhook_keys_parse
from raf_network.courses.catalogue import FAMILIES, catalogue_plan
from raf_network.courses.changes import catalogue_change_apply
from raf_network.courses.guards import mass_deletion_check
from raf_network.errors import ApiError, Conflict, NotFound, Unauthorized, ValidationFailed
from raf_network.extensions import db
from raf_network.json_input import json_parse
from raf_network.webhook.models import STATUSES, WebhookDelivery
from raf_network.webhook.schemas import SNAPSHOT, EnvelopeSchema, errors_flatten

log = logging.getLogger(__name__)

TIMESTAMP_TOLERANCE = 5 * 60  # seconds either way, as Standard Webhooks recommends
WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
TIMESTAMP = re.compile(r"^\d{1,12}$")
# pg_advisory_xact_lock key for "applying a webhook delivery" (any constant 64-bit integer, ours alone).
APPLY_LOCK_KEY = int.from_bytes(hashlib.sha256(b"raf_network.webhook.apply").digest()[:8], "big", signed=True)


@dataclass
class DeliveryOutcome:
    """What the sender is told: the delivery record and what it changed (counts)."""

    delivery: int
    status: str
    created: int = 0
    updated: int = 0
    removed: int = 0

    @classmethod
    def of(cls, delivery, status=None):
        return cls(delivery=delivery.id, status=status or delivery.status, created=delivery.created_count,
                   updated=delivery.updated_count, removed=delivery.removed_count)


# --------------------------------------------------------------------------------------------------
# Signatures (Standard Webhooks: HMAC-SHA256 over "{id}.{timestamp}.{body}", base64, "v1," prefix)
# --------------------------------------------------------------------------------------------------

def signature_sign(*, webhook_id, timestamp, body, secret):
    """The ``webhook-signature`` header value for a body, signed with the first of ``secret``'s keys."""
    keys = webhook_keys_parse(secret)
    if not keys:
        raise ValueError("no webhook secret to sign with")
    return "v1," + _signature(keys[0], webhook_id, str(timestamp), body).decode("ascii")


def _signature(key, webhook_id, timestamp, body):
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def signature_verify(*, webhook_id, timestamp, signatures, body, now=None):
    """Raise Unauthorized unless a ``v1`` signature matches one of ``WEBHOOK_SECRET``'s keys for the raw
    body and the timestamp is within 5 minutes of ``now``."""
    keys = webhook_keys_parse(current_app.config.get("WEBHOOK_SECRET"))
    if not keys:
        raise ApiError("the webhook receiver is not configured (WEBHOOK_SECRET is unset)", code=503)
    if not (webhook_id and timestamp and signatures):
        raise Unauthorized("the webhook-id, webhook-timestamp and webhook-signature headers are required")
    if not WEBHOOK_ID.match(webhook_id):
        raise Unauthorized("webhook-id must be 1–255 printable ASCII characters")
    if not TIMESTAMP.match(timestamp):
        raise Unauthorized("webhook-timestamp must be unix seconds")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE:
        raise Unauthorized("webhook-timestamp is more than 5 minutes away from the receiver's clock")
    expected = [_signature(key, webhook_id, timestamp, body) for key in keys]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and any(hmac.compare_digest(value.encode(), good) for good in expected):
            return
    raise Unauthorized("no valid webhook signature")


# --------------------------------------------------------------------------------------------------
# Receiving and applying
# --------------------------------------------------------------------------------------------------

def delivery_receive(*, webhook_id, timestamp, signatures, body, source_address):
    """Verify, record and apply one HTTP delivery. Returns a DeliveryOutcome (applied or duplicate);
    raises ApiError (401/400/409/422, or 503 unconfigured) otherwise. Bad signatures are only logged."""
    try:
        signature_verify(webhook_id=webhook_id, timestamp=timestamp, signatures=signatures, body=body)
    except Unauthorized as exc:
        log.warning("webhook delivery refused: %s (webhook-id %r, from %s, %d bytes)",
                    exc.message, webhook_id[:100], source_address, len(body))
        raise
    return _delivery_process(webhook_id=webhook_id, body=body, source_address=source_address, signature="valid")


def delivery_replay(*, delivery_id, force=False):
    """Re-apply a stored delivery's body (``flask webhook replay``), as a new delivery record.

    An operator's deliberate act: the out-of-order check and the webhook-id deduplication are skipped;
    validation applies, and so does the mass-deletion guard unless ``force``."""
    original = db.session.get(WebhookDelivery, delivery_id)
    if original is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return _delivery_process(webhook_id=original.webhook_id, body=original.raw_body, source_address=None,
                             signature="replay", replay_of=original.id, force=force)


def _delivery_process(*, webhook_id, body, source_address, signature, replay_of=None, force=False):
    session = db.session
    try:
        _apply_lock()
        # Its final status is set before commit; "failed" only stands in until then.
        delivery = WebhookDelivery(webhook_id=webhook_id, raw_body=body, source_address=source_address,
                                   signature=signature, status="failed", http_status=500, original_id=replay_of)
        session.add(delivery)
        session.flush()  # on SQLite this first write takes the database's write lock: applies serialize
        if replay_of is None and (original := _applied_delivery(webhook_id)) is not None:
            return _duplicate_record(delivery, original)
        return _delivery_apply(delivery, body, check_order=replay_of is None, force=force)
    except IntegrityError:
        # Another copy of this webhook-id committed first (applied_webhook_id is unique).
        session.rollback()
        original = _applied_delivery(webhook_id)
        if original is None:
            raise
        duplicate = WebhookDelivery(webhook_id=webhook_id, raw_body=body, source_address=source_address,
                                    signature=signature, status="failed", http_status=500)
        session.add(duplicate)
        return _duplicate_record(duplicate, original)
    except ApiError:
        raise  # recorded as rejected by _delivery_apply
    except Exception as exc:
        session.rollback()
        _failed_record(webhook_id=webhook_id, body=body, source_address=source_address, signature=signature,
                       replay_of=replay_of, exc=exc)
        raise


def _apply_lock():
    """Serialize applies across processes until this transaction ends (PostgreSQL; SQLite has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPLY_LOCK_KEY})


def _applied_delivery(webhook_id):
    return db.session.scalar(select(WebhookDelivery).options(defer(WebhookDelivery.raw_body))
                             .where(WebhookDelivery.applied_webhook_id == webhook_id))


def _delivery_apply(delivery, body, *, check_order, force):
    """Validate and apply; commits the delivery record (and the catalogue change when applied). Returns the
    outcome; a refusal is recorded as rejected, committed, and raised."""
    try:
        envelope = envelope_parse(body)
        delivery.type = envelope["type"]
        delivery.payload_timestamp = envelope["timestamp"]
        if check_order:
            _order_check(envelope["timestamp"])
        plan = _plan(envelope, force=force)
    except ApiError as exc:
        delivery.status, delivery.http_status = "rejected", exc.code
        delivery.error = {"message": exc.message, **({"errors": exc.errors} if exc.errors else {})}
        delivery_id = delivery.id
        db.session.commit()
        log.info("webhook delivery %s rejected (%s): %s", delivery_id, exc.code, exc.message)
        raise
    changes = catalogue_change_apply(plan=plan, source=f"webhook:{delivery.id}")
    counts = changes.counts
    delivery.status, delivery.http_status = "applied", 200
    if delivery.original_id is None:
        delivery.applied_webhook_id = delivery.webhook_id
    delivery.created_count, delivery.updated_count, delivery.removed_count = (
        counts["created"], counts["updated"], counts["removed"])
    delivery.change_id = changes.change_id
    outcome = DeliveryOutcome.of(delivery)  # before commit expires the row (and reloading it reads the body)
    db.session.commit()
    log.info("webhook delivery %s applied: %s", outcome.delivery, counts)
    return outcome


def envelope_parse(body):
    """Raw body → the validated envelope. 400 when it is not UTF-8 JSON, 422 (errors located by dotted
    path, e.g. ``data.schedule[17].start``) when it is JSON of the wrong shape."""
    document = json_parse(body)  # the app's one JSON decoder: 400 for anything it refuses
    try:
        envelope = EnvelopeSchema().load(document)
    except ValidationError as exc:
        raise ValidationFailed("the payload is invalid; nothing was written",
                               errors=errors_flatten(exc.messages)) from None
    envelope["timestamp"] = envelope["timestamp"].astimezone(timezone.utc)
    return envelope


def _order_check(timestamp):
    """409 when a delivery with a newer payload timestamp has already been applied."""
    newer = db.session.scalar(
        select(WebhookDelivery.payload_timestamp)
        .where(WebhookDelivery.status == "applied", WebhookDelivery.payload_timestamp > timestamp)
        .order_by(WebhookDelivery.payload_timestamp.desc()).limit(1)
    )
    if newer is not None:
        raise Conflict(f"out of order: a delivery with a newer timestamp ({newer.isoformat()}) has already been "
                       f"applied; this one ({timestamp.isoformat()}) was not")


def _plan(envelope, *, force):
    data, snapshot = envelope["data"], envelope["type"] == SNAPSHOT
    try:
        plan = catalogue_plan(
            courses=data.get("courses", ()), schedule=data.get("schedule", ()),
            exam_periods=data.get("exam_periods", ()), exams=data.get("exams", ()),
            replace=FAMILIES if snapshot else (), deleted=data.get("deleted"),
        )
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, errors=plan_errors_locate(exc.errors)) from None
    if snapshot:
        mass_deletion_check(plan, force=force or envelope["force"], what="this snapshot",
                            remedy="Send it again with \"force\": true if that is intended.")
    return plan


def plan_errors_locate(errors):
    """``catalogue_plan``'s ``{family: {index: {field: [msg]}}}`` → the payload's own dotted paths."""
    flat = {}
    for family, by_index in errors.items():
        for index, by_field in by_index.items():
            position = f"[{index}]" if isinstance(index, int) else f".{index}"
            for field_name, messages in by_field.items():
                # deleted.<family> lists are plain keys: the item itself is the location.
                suffix = "" if family.startswith("deleted.") else f".{field_name}"
                flat.setdefault(f"data.{family}{position}{suffix}", []).extend(messages)
    return flat


def _duplicate_record(delivery, original):
    delivery.status, delivery.http_status, delivery.original_id = "duplicate", 200, original.id
    outcome = DeliveryOutcome.of(original, status="duplicate")
    db.session.flush()
    log.info("webhook delivery %s: webhook-id %r already applied by delivery %s; nothing done",
             delivery.id, delivery.webhook_id, original.id)
    db.session.commit()
    return outcome


def _failed_record(*, webhook_id, body, source_address, signature, replay_of, exc):
    log.exception("webhook delivery %r failed; the apply was rolled back", webhook_id)
    try:
        db.session.add(WebhookDelivery(
            webhook_id=webhook_id, raw_body=body, source_address=source_address, signature=signature,
            original_id=replay_of, status="failed", http_status=500,
            error={"message": f"{exc.__class__.__name__}: {str(exc)[:500]}"},
        ))
        db.session.commit()
    except Exception:  # the database itself may be what failed; the log line above is the record then
        db.session.rollback()
        log.exception("could not record the failed webhook delivery %r", webhook_id)


# --------------------------------------------------------------------------------------------------
# Reading the log
# --------------------------------------------------------------------------------------------------

def delivery_list(*, page, page_size, status=None, type=None, received_from=None, received_to=None,
                  webhook_id=None):
    """A page of deliveries, newest first (without bodies and change sets), and the total count: two queries.

    Filters (None: any): ``status``, payload ``type``, received between the UTC days ``received_from`` and
    ``received_to`` (both inclusive), ``webhook_id`` containing a text (case-insensitive)."""
    conditions = []
    if status is not None:
        conditions.append(WebhookDelivery.status == status)
    if type is not None:
        conditions.append(WebhookDelivery.type == type)
    if received_from is not None:
        conditions.append(WebhookDelivery.received_at >= _day_start(received_from))
    if received_to is not None and received_to < date.max:  # the last day there is has no day after it
        conditions.append(WebhookDelivery.received_at < _day_start(received_to + timedelta(days=1)))
    if webhook_id:
        # webhook-ids are printable ASCII, so lower() folds them alike on every database.
        conditions.append(func.lower(WebhookDelivery.webhook_id).contains(webhook_id.lower(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(*conditions))
    deliveries = db.session.scalars(
        select(WebhookDelivery)
        .options(defer(WebhookDelivery.raw_body, raiseload=True),
                 defer(WebhookDelivery.error, raiseload=True))
        .where(*conditions)
        .order_by(WebhookDelivery.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    return deliveries, total


def _day_start(day):
    return datetime.combine(day, clock.min, tzinfo=timezone.utc)


def delivery_get(*, delivery_id):
    """One delivery with its body, error and the change set it applied (in one query)."""
    delivery = db.session.scalar(select(WebhookDelivery).options(joinedload(WebhookDelivery.change))
                                 .where(WebhookDelivery.id == delivery_id))
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return delivery


def delivery_outcome_metrics():
    """Prometheus families: webhook deliveries recorded, by status (one GROUP BY at scrape time)."""
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily("raf_webhook_deliveries", "Recorded webhook deliveries by status",
                               labels=["status"])
    counts = dict(db.session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
    for status in STATUSES:
        family.add_metric([status], counts.get(status, 0))
    return [family]
