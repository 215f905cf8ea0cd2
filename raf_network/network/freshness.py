"""Keeping the network's cached responses fresh: every write to the network retires them once it has committed.

The reads of the network (feed, directory, companies, histories) are cached as ready bytes in the ``network``
family (``raf_network.cache``). A service that writes calls ``network_changed()`` inside its transaction; the
family is invalidated after that transaction commits, once however many writes it held, and not at all if it
rolls back — so a reader never sees a cache older than the database, nor a change that was undone.
"""
from sqlalchemy import event

from raf_network.cache import cache_families_invalidate
from raf_network.extensions import db

FAMILY = "network"
_PENDING = "network_cache_invalidation"


def network_changed():
    """Invalidate the ``network`` cache family when the current transaction commits (no commit here)."""
    session = db.session()
    if session.info.get(_PENDING):
        return
    session.info[_PENDING] = True

    def after_commit(_session):
        session.info.pop(_PENDING, None)
        if event.contains(session, "after_rollback", after_rollback):
            event.remove(session, "after_rollback", after_rollback)
        cache_families_invalidate([FAMILY])

    def after_rollback(_session):
        session.info.pop(_PENDING, None)
        if event.contains(session, "after_commit", after_commit):
            event.remove(session, "after_commit", after_commit)

    event.listen(session, "after_commit", after_commit, once=True)
    event.listen(session, "after_rollback", after_rollback, once=True)
