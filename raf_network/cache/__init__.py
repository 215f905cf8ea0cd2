"""The response cache of the hot reads (catalogue, feed): ready-to-send bytes, exactly invalidated in every process.

- ``cached_body(key, families, build)``: the body for ``key``, built from the database by ``build() -> bytes`` only
  when no current copy exists (``bodies``); current means built under the present generations of ``families``
  (``generations``).
- ``cache_families_invalidate(families)``: a change to these families. Call it in the transaction that makes the
  change: the new generations commit with it, and are announced to the other processes after commit (``channel``).
- ``conditional_response(body, how)``: the HTTP response, with ETag/304 and gzip (``responses``).

The guarantee: a process sees its own change on its next read (read-your-writes). Another process sees it on its
next read in the embedded default (no Redis: every read asks the database), and with Redis as soon as the
announcement arrives — at most ``CACHE_RESYNC_SECONDS`` later even if it never does (see ``channel``).
"""
from raf_network.cache.bodies import CacheState, body_lookup, cache_state
from raf_network.cache.channel import announce, subscriber_get, subscriber_stop
from raf_network.cache.generations import FAMILIES, families_check, generations_bump, generations_read
from raf_network.cache.responses import conditional_response
from raf_network.extensions import db

__all__ = ["FAMILIES", "cache_families_invalidate", "cache_key_for", "cached_body", "conditional_response",
           "generations_key", "init_app", "subscriber_stop"]


def init_app(app):
    from raf_network.cache import models  # noqa: F401  (registers the table)

    app.extensions["response_cache"] = CacheState(app)


def generations_key(families):
    """The current generations of ``families``, as one key part (for caches of other things than response bodies:
    an entry made under this key is current while the key is)."""
    return _generations_key(cache_state(), families)


def _generations_key(state, families):
    subscriber = subscriber_get(state)
    generations = subscriber.generations if subscriber is not None else None
    if generations is None:
        generations = generations_read(db.session, families)
    return ".".join(str(generations.get(family, 0)) for family in families)


def cached_body(key, families, build):
    """The body for ``key`` built from ``families`` (by ``build() -> bytes`` on a miss) and how it was found."""
    state = cache_state()
    return body_lookup(state, f"resp:{key}:{_generations_key(state, families)}", build)


def cache_families_invalidate(families):
    """Retire every cached response built from these families: call it in the transaction of the change (before
    commit). Outside a transaction it commits a transaction of its own."""
    families = families_check(families)
    if not families:
        return
    session = db.session()
    in_transaction = session.in_transaction()
    generations_bump(families, announce=announce)
    if not in_transaction:
        session.commit()


def cache_key_for(name, arguments):
    """The cache key of a response built from ``arguments`` (parsed, typed request arguments; None means absent): an
    unambiguous encoding, so that no value can make one argument set read as another's (a value holding
    ``&course=10`` is percent-encoded, not a second argument)."""
    from urllib.parse import urlencode

    return f"{name}:" + urlencode(sorted((key, value) for key, value in arguments.items() if value is not None))
