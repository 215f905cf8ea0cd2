"""The console's audit log: every action an officer takes — who, what, on what, when, from where.

``audit_record`` is called by the console's views after the service they called has committed (an action that
failed changed nothing and is not recorded); the entry is its own small transaction. ``audit_page`` lists them,
newest first (the Dnevnik page).
"""
from flask import g, request
from sqlalchemy import func, select

from raf_network.console.models import AuditEntry
from raf_network.extensions import db


def audit_record(action, *, target=None, details=None):
    """Record ``action`` (e.g. ``post_create``) by the signed-in staff member on ``target`` (a short text such as
    ``post 12`` or an e-mail address), with ``details`` (JSON), the client's address and browser. Commits."""
    actor = g.get("console_user")
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None, actor_email=actor.email if actor is not None else "",
        action=action, target=(target or "")[:255], details=details or {},
        ip_address=(request.remote_addr or "")[:64], user_agent=request.headers.get("User-Agent", "")[:255],
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def audit_page(*, page, page_size):
    """A page of the log, newest first, and the total count (two queries)."""
    total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    entries = db.session.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return entries, total
