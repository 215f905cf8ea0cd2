"""Keeping the network's cached responses fresh: every write to the network retires them with its commit.

The reads of the network (feed, directory, companies, histories) are cached as ready bytes in the ``network``
family (``raf_network.cache``). A service that writes calls ``network_changed()`` inside its transaction: the
family's new generation commits with the write (every process serves the change on its next read) and is undone
with it if it rolls back — so a reader never sees a cache older than the database, nor a change that was undone.
"""
from raf_network.cache import cache_families_invalidate

FAMILY = "network"


def network_changed():
    """Retire the ``network`` cache family with the current transaction (no commit here)."""
    cache_families_invalidate([FAMILY])
