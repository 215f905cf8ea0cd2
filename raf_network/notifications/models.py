"""What was announced to whom and what reached which phone.

``Notification`` is one message (its text in every locale and its data payload); ``NotificationRecipient`` is
a user's inbox row for it; ``PushDelivery`` is the claim-then-record row per notification × device: a claim is a
lease held by one run of the push job, so each device's outcome is recorded exactly once and a claim left behind by
a dead worker is sent again; ``PushLog`` is what the ``log`` push backend "sent"; ``NotificationPreference`` says which
pushes a user wants and when they must wait.
"""
from datetime import datetime, time

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from raf_network.extensions import db

# PushDelivery.status
PENDING = "pending"            # planned, not yet claimed by a sender
DEFERRED = "deferred"          # waits for the end of the user's quiet hours (``not_before``)
SENDING = "sending"            # claimed by a sender (claim_token, claimed_at): sent again only once the claim is
                               # stale — its run is dead or its lease (PUSH_CLAIM_LEASE) has expired
SENT = "sent"
RETRY = "retry"                # failed transiently; the next run of the job sends it again
FAILED = "failed"              # gave up (permanent error, or transient one out of retries)
INVALID_TOKEN = "invalid_token"  # FCM says the token is dead; the device was removed


class Notification(db.Model):
    __tablename__ = "notification"
    # One notification per source and group of recipients: re-running what produced it finds it again.
    __table_args__ = (UniqueConstraint("source", "group_key", name="uq_notification_source_group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    # What caused it: "webhook:<delivery id>", "broadcast:<uuid>", … (idempotency key with group_key).
    source: Mapped[str] = mapped_column(String(128))
    group_key: Mapped[str] = mapped_column(String(64), default="")
    # {"sr-Latn": {"title": …, "body": …}, "en": {…}}
    texts: Mapped[dict] = mapped_column(JSON)
    # The push's data payload (string values only, as FCM requires); notification_id is added when sent.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # Urgent pushes ignore quiet hours (a change to a class today or tomorrow).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    # Push outcome counts, per device.
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    invalid_token_count: Mapped[int] = mapped_column(Integer, default=0)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    deferred_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationRecipient(db.Model):
    """A user's inbox row. Every notification a user receives is here, whatever their push preferences."""

    __tablename__ = "notification_recipient"
    __table_args__ = (
        # One notification per source and user, e.g. one summary per timetable change set.
        UniqueConstraint("user_id", "source", name="uq_notification_recipient_user_source"),
        Index("ix_notification_recipient_user_notification", "user_id", "notification_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(128))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())


class PushDelivery(db.Model):
    """One push of one notification to one device, claimed before sending and recorded right after.

    The claim (status ``sending``, ``claim_token``, ``claimed_at``) belongs to one run of the push job; only that run
    may record the outcome. A claim whose run died (PostgreSQL: its advisory lock is gone) or whose lease expired is
    stale and claimed again, so a killed worker loses nothing; a push in flight at the kill may reach FCM twice.
    """

    __tablename__ = "push_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "device_id", name="uq_push_delivery_notification_device"),
        Index("ix_push_delivery_notification_status", "notification_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"))
    # A removed device (dead token, pruned, user deleted) leaves its delivery history behind.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The run holding the claim (random per run; on PostgreSQL also its advisory lock key) and when it claimed.
    claim_token: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())


class PushLog(db.Model):
    """What the ``log`` push backend would have sent (the embedded default and tests read it)."""

    __tablename__ = "push_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512))
    locale: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())


class NotificationPreference(db.Model):
    """Which pushes a user wants; absent row = everything on, no quiet hours."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    timetable_changes: Mapped[bool] = mapped_column(Boolean, default=True)
    announcements: Mapped[bool] = mapped_column(Boolean, default=True)
    # Pushes about a visible exam period's new or moved exams of courses the user attends (category "exams").
    exam_schedule: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Pushes about comments on the user's own posts (the alumni network).
    comments: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Local times in Europe/Belgrade; both null = no quiet hours. start > end spans midnight.
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())
