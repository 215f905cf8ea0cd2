"""People and what they own: accounts, their phones (FCM tokens) and the timetable entries they attend."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from raf_network.courses.models import ScheduleEntry
from raf_network.extensions import db

ROLES = ("student", "alumni", "faculty_administrator", "admin")
PLATFORMS = ("android", "ios", "web")
LOCALES = ("sr-Latn", "en")


class User(db.Model):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(32))
    # True once an operator set the role; sign-in never changes such a role.
    role_set_by_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    student_number: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    bio: Mapped[str | None] = mapped_column(String(1000))
    links: Mapped[list] = mapped_column(JSON, default=list)
    locale: Mapped[str] = mapped_column(String(16), default="sr-Latn")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Google's stable account id (``sub``) of the first sign-in; a later token for this e-mail must carry the
    # same one (``flask users clear-google-sub`` forgets it after an operator checked the new account).
    google_sub: Mapped[str | None] = mapped_column(String(255))
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), onupdate=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Device(db.Model):
    """A phone (or browser) that receives pushes, keyed by its FCM registration token."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    app_version: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), index=True)


class Subscription(db.Model):
    """A student attends a timetable entry (the contract's CourseScheduleStudentSubscription)."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("user_id", "schedule_entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    schedule_entry_id: Mapped[int] = mapped_column(ForeignKey("schedule_entry.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())

    schedule_entry: Mapped[ScheduleEntry] = relationship(lazy="raise")


class AuthSession(db.Model):
    """One sign-in (a refresh-token family). Access tokens name their session; revoking it revokes them."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The FCM token the client registered in this session, so logout can remove that device.
    device_token: Mapped[str | None] = mapped_column(String(512))


class RefreshToken(db.Model):
    """One refresh token of a sign-in session, stored as its sha256. Using it marks it used and issues the
    next one in the same session; presenting a used one again means it leaked, so the whole session dies."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_session.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the token was exchanged for the next one; a second use is a replay.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
