"""Every signed delivery from the course service, whatever became of it: the webhook's audit log.

Requests with a missing or bad signature are never stored (only logged): anyone can send those. A signed
delivery is recorded once per attempt, applied or not; a row is the place to look for what arrived, what it
changed (``change``, the catalogue change it applied) and why it was refused (``error``).
"""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from raf_network.courses.models import CatalogueChange
from raf_network.extensions import db

# applied: written (possibly a no-op); duplicate: its webhook-id had already been applied, nothing done;
# rejected: refused with a 4xx, catalogue untouched; failed: an unexpected error rolled the apply back.
STATUSES = ("applied", "duplicate", "rejected", "failed")


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), index=True)
    # The webhook-id of a delivery that was applied. Unique, so a delivery is applied at most once even
    # if two copies race; null on every other row (duplicates, rejections, failures, replays).
    applied_webhook_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    source_address: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(16))
    type: Mapped[str | None] = mapped_column(String(64))
    # The envelope's timestamp (UTC), once the payload is valid; deliveries older than the newest applied
    # one are refused (out of order).
    payload_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    http_status: Mapped[int] = mapped_column(SmallInteger)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    removed_count: Mapped[int] = mapped_column(Integer, default=0)
    # The catalogue change this delivery applied (its change set); null when it changed nothing or was not applied.
    change_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_change.id"), index=True)
    error: Mapped[dict | None] = mapped_column(JSON)  # {"message": …, "errors": {path: [messages]}}
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    # For a duplicate, the delivery that was applied; for a replay, the delivery replayed.
    original_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_delivery.id"))

    change: Mapped[CatalogueChange | None] = relationship(lazy="raise")
