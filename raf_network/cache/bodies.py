"""Cached response bodies: ready-to-send bytes (raw, gzipped, ETag), in this process's memory and in the shared store.

The shared store is Flask-Caching's backend (Redis in production; in-process ``SimpleCache`` in the embedded default).
Nothing is pickled: ``BytesRedisCache`` stores only bytes and integers, so a value read back from Redis can never
execute code. A body's key embeds the generations of the families it was built from (``generations``), so a body is
never invalidated in place: a change moves its families to new generations, and new keys. The shared store is
optional: while it is unreachable, bodies are built from the database (``X-Cache: bypass``), with a short back-off.
"""
import gzip
import hashlib
import logging
import struct
import threading
import time
from collections import OrderedDict

from cachelib.serializers import BaseSerializer
from flask import current_app
from flask_caching.backends.rediscache import RedisCache

from raf_network.extensions import cache
from raf_network.metrics import cache_result_count

log = logging.getLogger(__name__)

LOCAL_ENTRIES = 512
OUTAGE_BACKOFF_SECONDS = 5.0


class BytesSerializer(BaseSerializer):
    """Stores bytes and ints as they are; refuses anything else. Never pickles, never unpickles."""

    def dumps(self, value, protocol=None):
        if type(value) is int:
            return str(value).encode("ascii")
        if isinstance(value, (bytes, bytearray)):
            return b"=" + bytes(value)
        raise TypeError(f"the response cache stores bytes and ints only, not {type(value).__name__}")

    def loads(self, value):
        if value is None:
            return None
        if value.startswith(b"="):
            return value[1:]
        try:
            return int(value)
        except ValueError:
            return None


class BytesRedisCache(RedisCache):
    """Flask-Caching's Redis backend with the byte-only serializer above."""

    serializer = BytesSerializer()


class CachedBody:
    """A response body ready to send: raw and gzipped bytes and their ETag (unquoted; served weak)."""

    __slots__ = ("etag", "raw", "gz")

    def __init__(self, etag, raw, gz):
        self.etag, self.raw, self.gz = etag, raw, gz

    @classmethod
    def build(cls, raw):
        etag = hashlib.blake2b(raw, digest_size=12).hexdigest()
        return cls(etag, raw, gzip.compress(raw, compresslevel=6, mtime=0))

    def pack(self):
        etag = self.etag.encode("ascii")
        return struct.pack("!HI", len(etag), len(self.raw)) + etag + self.raw + self.gz

    @classmethod
    def unpack(cls, blob):
        etag_len, raw_len = struct.unpack_from("!HI", blob)
        start = struct.calcsize("!HI")
        etag = blob[start:start + etag_len].decode("ascii")
        raw_start = start + etag_len
        return cls(etag, blob[raw_start:raw_start + raw_len], blob[raw_start + raw_len:])


class CacheState:
    """Per-app state: the app, the shared store, the bodies this process served last, the store's outage back-off,
    this process's invalidation subscriber and its Redis client for announcements."""

    def __init__(self, app):
        self.app = app
        self.store = app.extensions["cache"][cache]
        self.lock = threading.Lock()
        self.local = OrderedDict()
        self.down_until = 0.0
        self.subscriber = None
        self._publisher = None

    def publisher(self):
        """A Redis client of the cache's own, for announcements (``from_url`` itself does not connect)."""
        if self._publisher is None:
            import redis

            timeout = self.app.config["CACHE_OPTIONS"].get("socket_timeout", 0.5)
            self._publisher = redis.Redis.from_url(self.app.config["REDIS_URL"], socket_connect_timeout=timeout,
                                                   socket_timeout=timeout)
        return self._publisher

    def store_call(self, method, *args):
        """One call to the shared store; on failure log once, back off, and return None."""
        if time.monotonic() < self.down_until:
            return None
        try:
            return method(*args)
        except Exception as exc:  # redis.ConnectionError, TimeoutError, …: the shared store is optional
            self.down_until = time.monotonic() + OUTAGE_BACKOFF_SECONDS
            log.warning("cache unavailable (%s: %s); serving from the database", exc.__class__.__name__, exc)
            return None

    def store_reachable(self):
        return time.monotonic() >= self.down_until


def body_lookup(state, key, build):
    """The body stored under ``key`` (which embeds its generations), built by ``build() -> bytes`` on a miss, and
    how it was found: ``hit-local`` (this process's memory), ``hit`` (the shared store), ``miss`` (built and stored)
    or ``bypass`` (built; the shared store is unreachable)."""
    with state.lock:
        body = state.local.get(key)
        if body is not None:
            state.local.move_to_end(key)
    if body is not None:
        how = "hit-local"
    else:
        blob = state.store_call(state.store.get, key)
        if blob is not None:
            body, how = CachedBody.unpack(blob), "hit"
        else:
            body = CachedBody.build(build())
            stored = state.store_reachable() and state.store_call(state.store.set, key, body.pack())
            how = "miss" if stored else "bypass"
        with state.lock:
            state.local[key] = body
            while len(state.local) > LOCAL_ENTRIES:
                state.local.popitem(last=False)
    cache_result_count(how)
    return body, how


def cache_state():
    return current_app.extensions["response_cache"]
