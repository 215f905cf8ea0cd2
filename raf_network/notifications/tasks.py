"""Background jobs of the notification pipeline (RQ, queue ``notifications``).

Placeholder until the notifications issue lands: the job only records the change set it was handed.
"""
import logging

from raf_network.extensions import db

log = logging.getLogger(__name__)


def timetable_change_notify(delivery_id: int):
    """A webhook delivery changed the catalogue: log what changed (pushes come with the notifications issue)."""
    from sqlalchemy.orm import defer

    from raf_network.webhook.models import WebhookDelivery

    delivery = db.session.get(WebhookDelivery, delivery_id, options=[defer(WebhookDelivery.raw_body)])
    if delivery is None:
        log.warning("timetable_change_notify: webhook delivery %s does not exist", delivery_id)
        return
    log.info("timetable changed by webhook delivery %s: created %s, updated %s, removed %s", delivery.id,
             delivery.created_count, delivery.updated_count, delivery.removed_count)
