"""The console's own tables: sign-in sessions of the officers' browsers, one-time sign-in links, and the audit log.

Secrets handed to a browser or an operator (session ids, link tokens) are stored as their sha256 only, like the
API's refresh tokens.
"""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from raf_network.extensions import db


class ConsoleSession(db.Model):
    """One signed-in console browser. The signed cookie carries the secret whose sha256 is ``token_hash``.

    Valid while not revoked, used within ``CONSOLE_IDLE_TIMEOUT``, and while the account is active and still has
    the role it signed in with (``role``): a changed role or a disabled account ends it."""

    __tablename__ = "console_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    # "google" or "link": how this session signed in.
    method: Mapped[str] = mapped_column(String(16))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsoleLink(db.Model):
    """A one-time sign-in link (``flask users console-link``): works once, until ``expires_at``."""

    __tablename__ = "console_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(db.Model):
    """One console action: who (the account, and its e-mail as it was), what, on what, when, from where."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), index=True)
    # The account is kept as an e-mail too: the log outlives a deleted account.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class ConsoleTask(db.Model):
    """A long console action (an import) as a background job: planned (a dry run shown to the officer, waiting for
    confirmation), then queued, running, done or failed, with its progress and its outcome.

    The job takes only the task's id; what it works on (an uploaded file's text, its options) is stored here, so a
    worker on another machine can run it and the page that started it can show its progress."""

    __tablename__ = "console_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What runs: a key of ``tasks.RUNNERS`` (e.g. "exam_import", "timetable_import", "portal_import").
    kind: Mapped[str] = mapped_column(String(32))
    # planned → queued → running → done | failed; a planned task may also be cancelled.
    state: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    # The kind of a task that must not run twice at once (the portal import), while it is queued or running; None
    # otherwise. Its unique index makes the second of two starts at the same moment fail instead of running too.
    exclusive_kind: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # A short human description ("kol_nedelja.csv → Januarski rok 2026").
    label: Mapped[str] = mapped_column(String(255), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # The uploaded file's text (for imports), and its sha256: a confirmation applies exactly what was checked.
    input_text: Mapped[str | None] = mapped_column(Text)
    input_sha256: Mapped[str | None] = mapped_column(String(64))
    # What the dry run showed (the plan), and what the run did (its report); both JSON.
    plan: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=func.now(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
