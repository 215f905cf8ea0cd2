"""Isporuke (``/console/deliveries``): the course service's webhook deliveries — filtered by outcome, payload type,
days received and webhook-id, a page at a time — and one delivery's change set, error and body, with a replay.

Through ``webhook.services``: ``delivery_list`` (the filters of ``GET /api/webhooks/deliveries``, loaded with the same
``DeliveryQuerySchema``), ``delivery_get`` and ``delivery_replay`` (``flask webhook replay``: the body applied again
as a new delivery record, the mass-deletion guard kept unless ``Zanemari zaštitu`` is ticked). A refused replay is
recorded by the service as a rejected delivery, and its page says why, with the service's status (409/422).
"""
from flask import flash, redirect, render_template, url_for
from marshmallow import fields, pre_load, validate
from wtforms import BooleanField

from raf_network.console.audit import audit_record
from raf_network.console.auth import staff_required
from raf_network.console.blueprint import blp
from raf_network.console.forms import ConsoleForm, query_load
from raf_network.courses.catalogue import FAMILIES
from raf_network.errors import ApiError
from raf_network.webhook import services
from raf_network.webhook.models import STATUSES
from raf_network.webhook.schemas import DELTA, SNAPSHOT, DeliveryQuerySchema

PAGE_SIZE = 25
STATUS_LABELS = {"applied": "primenjena", "duplicate": "duplikat", "rejected": "odbijena", "failed": "neuspela"}
TYPE_LABELS = {SNAPSHOT: "ceo katalog (snapshot)", DELTA: "izmene (delta)"}
FAMILY_LABELS = {"courses": "Predmeti", "schedule": "Termini rasporeda", "exam_periods": "Ispitni rokovi",
                 "exams": "Ispiti"}
CHANGE_LABELS = (("created", "Dodato"), ("updated", "Izmenjeno"), ("removed", "Uklonjeno"))
SHOWN_ITEMS = 200  # per list: a snapshot may change thousands of entries; the counts say how many in all
SHOWN_BODY = 20_000  # characters of the raw body shown


class DeliveryFilterSchema(DeliveryQuerySchema):
    """The API's filters, as the page's GET form sends them: an empty field means "any"."""

    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=100))

    @pre_load
    def _blank_is_any(self, data, **_kwargs):
        return {key: value for key, value in data.items() if value != ""}


DELIVERY_FILTER = DeliveryFilterSchema()
FILTERS = ("status", "type", "received_from", "received_to", "webhook_id")


class ReplayForm(ConsoleForm):
    force = BooleanField("Zanemari zaštitu od masovnog brisanja (primeni i ako uklanja veliki deo rasporeda)")


@blp.get("/deliveries", endpoint="deliveries")
@staff_required
def deliveries_page():
    """Isporuke: the delivery log, filtered, newest first."""
    query = query_load(DELIVERY_FILTER)
    filters = {name: query[name] for name in FILTERS if name in query}
    deliveries, total = services.delivery_list(page=query["page"], page_size=query["page_size"], **filters)
    return render_template("console/deliveries.html", deliveries=deliveries, total=total, query=query,
                           filters={name: str(value) for name, value in filters.items()}, statuses=STATUSES,
                           status_labels=STATUS_LABELS, type_labels=TYPE_LABELS)


def _detail(delivery_id, form, *, refusal=None, status=200):
    delivery = services.delivery_get(delivery_id=delivery_id)
    body = delivery.raw_body.decode("utf-8", "replace")
    return render_template("console/delivery.html", delivery=delivery, form=form, refusal=refusal,
                           changes=change_sections(delivery.change.changes if delivery.change else None),
                           body=body[:SHOWN_BODY], body_cut=max(len(body) - SHOWN_BODY, 0),
                           status_labels=STATUS_LABELS, type_labels=TYPE_LABELS), status


@blp.get("/deliveries/<int:delivery_id>")
@staff_required
def delivery(delivery_id):
    """One delivery: what arrived, what it changed or why it was refused, and a replay."""
    return _detail(delivery_id, ReplayForm())


@blp.post("/deliveries/<int:delivery_id>/replay")
@staff_required
def delivery_replay(delivery_id):
    """Apply a stored delivery's body again (``flask webhook replay``), as a new delivery record."""
    form = ReplayForm()
    force = bool(form.force.data)
    services.delivery_get(delivery_id=delivery_id)  # an unknown delivery is a 404 before anything runs
    try:
        outcome = services.delivery_replay(delivery_id=delivery_id, force=force)
    except ApiError as refusal:
        # The service recorded the refused replay as a rejected delivery (the webhook's audit log).
        audit_record("delivery_replay", target=f"delivery {delivery_id}",
                     details={"force": force, "refused": refusal.code, "message": refusal.message[:300]})
        return _detail(delivery_id, form, refusal=refusal, status=refusal.code)
    audit_record("delivery_replay", target=f"delivery {delivery_id}",
                 details={"force": force, "replay": outcome.delivery, "status": outcome.status,
                          "created": outcome.created, "updated": outcome.updated, "removed": outcome.removed})
    flash(f"Isporuka {delivery_id} je ponovo primenjena kao isporuka {outcome.delivery}: dodato {outcome.created}, "
          f"izmenjeno {outcome.updated}, uklonjeno {outcome.removed}.", "success")
    return redirect(url_for("console.delivery", delivery_id=outcome.delivery))


def change_sections(changes):
    """A change set (``ChangeSet.to_json()``) as the page lists it: [(label, [(family label, items, more)])], where an
    update's item reads ``key: field old → new; …``. None (nothing applied) → []."""
    if not changes:
        return []
    sections = []
    for kind, label in CHANGE_LABELS:
        families = []
        for family in FAMILIES:
            found = (changes.get(kind) or {}).get(family) or ()
            if not found:
                continue
            items = [_update_text(key, fields_changed) for key, fields_changed in found.items()] \
                if kind == "updated" else [str(key) for key in found]
            families.append((FAMILY_LABELS[family], items[:SHOWN_ITEMS], max(len(items) - SHOWN_ITEMS, 0)))
        if families:
            sections.append((label, families))
    return sections


def _update_text(key, fields_changed):
    return f"{key}: " + "; ".join(f"{name} {_value(old)} → {_value(new)}"
                                  for name, (old, new) in fields_changed.items())


def _value(value):
    return "—" if value in (None, "") else str(value)
