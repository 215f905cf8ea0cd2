"""Generations: how a cached response knows it is still current.

Each family of data (``FAMILIES``) has a generation number in the ``cache_generation`` table. A cached response's
key embeds the generations of the families it was built from, so moving a family to a new generation retires exactly
the responses built from it. The database is the truth, for three reasons: the bump commits *with* the change it
announces (no change without its invalidation, even if the process dies right after), every process on the machine
sees it (the CLI beside ``make run``, a second web worker), and it needs no Redis.

How a read learns the current generations: from this process's memory while its Redis subscription is healthy
(``channel.Subscriber``, kept current by the announcements published after each commit); otherwise — the embedded
default, or the subscription not healthy yet / lost — from the table (one small query).
"""
import logging
import time

from flask import current_app
from sqlalchemy import case, event, func, select

from raf_network.cache.models import CacheGeneration
from raf_network.extensions import db
from raf_network.sql import dialect_insert

log = logging.getLogger(__name__)

# "sessions": not responses, but the verified sign-in sessions each process keeps (raf_network/users/auth.py).
FAMILIES = ("courses", "schedule", "exams", "network", "sessions")
PENDING_KEY = "raf_cache_families"  # session.info: families bumped in the open transaction


def families_check(families):
    families = sorted(set(families))
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f"unknown cache family {family!r}")
    return families


def generations_read(session, families):
    """``{family: generation}`` from the table; a family never bumped is at generation 0."""
    rows = session.execute(select(CacheGeneration.family, CacheGeneration.generation)
                           .where(CacheGeneration.family.in_(families)))
    return {**dict.fromkeys(families, 0), **dict(rows.all())}


def generations_bump(families, *, announce):
    """Move ``families`` to new generations in the current transaction; once it commits, ``announce(app,
    {family: generation})`` tells the other processes (``channel.announce``).

    A new generation is larger than the last (so announcements that arrive out of order are recognised) and never
    one used before, also after the table is restored from an old backup: it is at least the current time in ns.
    """
    families = families_check(families)
    session = db.session()
    pending = session.info.setdefault(PENDING_KEY, set())
    if not families or pending.issuperset(families):
        return  # already bumped in this transaction: its commit retires them once
    now = time.time_ns()
    # One upsert whatever the families' state (never bumped yet, or bumped before).
    insert = dialect_insert(CacheGeneration).values(
        [{"family": family, "generation": now} for family in families])
    session.execute(insert.on_conflict_do_update(index_elements=[CacheGeneration.family], set_={
        "generation": case((CacheGeneration.generation + 1 > now, CacheGeneration.generation + 1), else_=now),
        "updated_at": func.now(),
    }))
    if not pending:
        _announce_after_commit(session, current_app.extensions["response_cache"].app, announce)
    pending.update(families)


def _announce_after_commit(session, app, announce):
    @event.listens_for(session, "after_commit", once=True)
    def _committed(committed):
        families = sorted(committed.info.pop(PENDING_KEY, ()))
        event.remove(session, "after_rollback", _rolled_back)
        with app.app_context():
            # A session of its own: the committing one cannot run SQL inside its after_commit hook.
            with db.engine.connect() as connection:
                generations = {family: generation for family, generation in connection.execute(
                    select(CacheGeneration.family, CacheGeneration.generation)
                    .where(CacheGeneration.family.in_(families)))}
            announce(app, generations)

    @event.listens_for(session, "after_rollback", once=True)
    def _rolled_back(rolled_back):
        rolled_back.info.pop(PENDING_KEY, None)
        if event.contains(session, "after_commit", _committed):
            event.remove(session, "after_commit", _committed)
