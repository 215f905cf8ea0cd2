"""Response cache for the hot catalogue reads, on top of Flask-Caching.

A cached response is stored as ready bytes: the JSON body, its gzip form and its ETag. Nothing is
pickled — ``BytesRedisCache`` stores only bytes and integers, so a value read back from Redis can never
execute code. Invalidation is by *generation*: each family of data (``courses``, ``schedule``, ``exams``)
has a generation number in the cache; a response's key embeds the generations of the families it was
built from, so bumping one generation (once per change, after commit) retires exactly the responses built
from that family, in every process. Each process also keeps the bytes it served last in memory.

How a process knows the current generations, with Redis (the embedded default — no ``REDIS_URL`` — keeps
them in the in-process cache and has no thread and nothing below):

- ``cache_families_invalidate`` sets the new generations and publishes them on an invalidation channel
  (``<prefix>gen-changes:<db>``) in one MULTI/EXEC, so messages arrive in the order the generations were
  set, and applies them to its own process at once.
- Each process runs one background thread (``_Subscriber``, started by the first hot read of the process
  that serves it, again after a fork) that holds the subscription and applies each message to the
  process's in-memory generations. Only once SUBSCRIBE is confirmed does it read every generation (MGET),
  so no change between the two is missed; after any failure it resubscribes and reads them all again.
- While the subscription is healthy, a hot read uses the in-memory generations and makes **no Redis call**
  (with its body in memory: none at all). It also polls the subscription's socket (a syscall, not a Redis
  command): if anything is waiting there — a message the thread has not applied yet, or the server
  closing the connection — that read checks Redis itself.
- While the subscription is not healthy (not started yet, connecting, disconnected, Redis down), every
  hot read checks the generations in Redis (one MGET), as before; if Redis is unreachable, reads are built
  from the database and a warning is logged (no 500), with a short back-off before trying Redis again.

Freshness: a change committed by any process is visible in another process as soon as the invalidation
message reaches it — in practice its next request after the change, well under a millisecond on one
host; on a read racing the message by microseconds, the read may still see the previous generation. A
change whose invalidation could not reach Redis (Redis down at that moment) is logged as an error and is
not announced; it shows once that family changes again or the cache is emptied, as before.
"""
import gzip
import hashlib
import logging
import os
import select
import socket
import struct
import threading
import time
from collections import OrderedDict

from cachelib.serializers import BaseSerializer
from flask import current_app, request
from flask_caching.backends.rediscache import RedisCache
from redis.exceptions import RedisError

from raf_network.extensions import cache
from raf_network.metrics import cache_result_count

log = logging.getLogger(__name__)

FAMILIES = ("courses", "schedule", "exams", "network")
LOCAL_ENTRIES = 512
OUTAGE_BACKOFF_SECONDS = 5.0
# The subscriber pings after this long without traffic, and gives the connection up if a whole interval
# passes without an answer. (A server that stops or restarts closes the connection: noticed at once.)
SUBSCRIBER_PING_SECONDS = 5.0
# Resubscribe after a failure: first after this long, doubling up to the maximum.
SUBSCRIBER_RETRY_SECONDS = (0.05, 2.0)


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
    """A response body ready to send: raw and gzipped bytes and their (unquoted, weak) ETag."""

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


class _State:
    """Per-app in-memory state: the cache backend, the last bodies served, the cache outage back-off and
    this process's invalidation subscriber."""

    def __init__(self, backend):
        self.backend = backend
        self.lock = threading.Lock()
        self.local = OrderedDict()
        self.down_until = 0.0
        self.subscriber = None


def init_app(app):
    app.extensions["response_cache"] = _State(app.extensions["cache"][cache])


def _state():
    return current_app.extensions["response_cache"]


def _cache_call(state, fn, *args):
    """Run one cache operation; on failure log once, back off, and return None."""
    if time.monotonic() < state.down_until:
        return None
    try:
        return fn(*args)
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …: the cache is optional
        state.down_until = time.monotonic() + OUTAGE_BACKOFF_SECONDS
        log.warning("cache unavailable (%s: %s); serving from the database", exc.__class__.__name__, exc)
        return None


def _generations_fetch(backend, families):
    """``{family: generation}`` read from the cache (one MGET); None if one cannot be established."""
    keys = [f"gen:{family}" for family in families]
    generations = {}
    for family, key, value in zip(families, keys, backend.get_many(*keys), strict=True):
        if value is None:
            # Never seen (or the cache was flushed): start a fresh generation nobody has cached under.
            backend.add(key, time.time_ns(), timeout=0)
            value = backend.get(key)
            if value is None:
                return None
        generations[family] = str(value)
    return generations


def _channel(backend):
    """The invalidation channel. Pub/sub is server-wide, not per database: the name carries the database."""
    db = backend._write_client.connection_pool.connection_kwargs.get("db", 0)
    return f"{backend._get_prefix()}gen-changes:{db}"


class _Subscriber:
    """This process's listener on the invalidation channel and the generations it keeps current.

    ``generations`` is a dict (replaced, never mutated) while the subscription is healthy, else None.
    """

    def __init__(self, backend):
        self.pid = os.getpid()
        self.backend = backend
        self.channel = _channel(backend)
        self.generations = None
        self._fd = -1
        self._lock = threading.Lock()
        self._polls = threading.local()
        self._stopping = threading.Event()
        self._connection = None
        self._failure_reported = False
        self._thread = threading.Thread(target=self._run, name="raf-cache-invalidations", daemon=True)
        self._thread.start()

    # ---- request threads -----------------------------------------------------------------------

    def current(self, families):
        """The generations of ``families`` as a key part, or None: then the caller must ask Redis."""
        generations = self.generations
        if generations is None or self._pending():
            return None
        return ".".join([generations[family] for family in families])

    def _pending(self):
        """Whether anything waits unread on the subscription's socket (a message, or the server closing
        it). One non-blocking poll; each thread keeps its own poll object (they are not thread-safe)."""
        polls = self._polls
        fd = self._fd
        if getattr(polls, "fd", None) != fd:
            polls.poll = select.poll()
            polls.poll.register(fd, select.POLLIN)
            polls.fd = fd
        return bool(polls.poll.poll(0))  # readable, hung up, error or closed: all mean "ask Redis"

    def apply(self, generations):
        with self._lock:
            if self.generations is not None:
                self.generations = {**self.generations, **generations}

    def stop(self, timeout=5.0):
        """Stop the thread (tests; a worker simply exits)."""
        self._stopping.set()
        connection = self._connection
        sock = getattr(connection, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's wait at once
            except OSError:
                pass
        self._thread.join(timeout)

    # ---- the subscriber thread --------------------------------------------------------------------

    def _run(self):
        delay = SUBSCRIBER_RETRY_SECONDS[0]
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:  # anything at all: start over, resubscribe and re-read everything
                if not self._stopping.is_set() and not self._failure_reported:
                    log.warning("cache invalidation channel lost (%s: %s); reads check Redis until it is back",
                                exc.__class__.__name__, exc)
                    self._failure_reported = True  # once per outage, not once per retry
            finally:
                with self._lock:
                    was_healthy, self.generations = self.generations is not None, None
                connection, self._connection = self._connection, None
                if connection is not None:
                    connection.disconnect()
            if was_healthy:
                delay = SUBSCRIBER_RETRY_SECONDS[0]
            self._stopping.wait(delay)
            delay = min(delay * 2, SUBSCRIBER_RETRY_SECONDS[1])

    def _listen(self):
        pool = self.backend._write_client.connection_pool
        connection = self._connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        connection.send_command("SUBSCRIBE", self.channel)
        reply = connection.read_response(push_request=True)
        if not (isinstance(reply, list) and reply and _text(reply[0]) == "subscribe"):
            raise RedisError(f"unexpected reply to SUBSCRIBE: {reply!r:.80}")
        # Only now, with every later change sure to be announced on this connection, read them all.
        generations = _generations_fetch(self.backend, FAMILIES)
        if generations is None:
            raise RedisError("could not read the generations")
        self._fd = connection._sock.fileno()
        with self._lock:
            self.generations = generations
        self._failure_reported = False
        log.info("cache invalidation channel %s subscribed", self.channel)
        ping_unanswered = False
        while not self._stopping.is_set():
            if connection.can_read(timeout=SUBSCRIBER_PING_SECONDS):
                self._handle(connection.read_response(push_request=True))
                ping_unanswered = False
            elif ping_unanswered:
                raise TimeoutError(f"no answer to PING within {SUBSCRIBER_PING_SECONDS} s")
            else:
                connection.send_command("PING")
                ping_unanswered = True

    def _handle(self, reply):
        # RESP3 (redis-py's default): a message is a push frame, PING's answer a plain PONG; RESP2: lists.
        kind = _text(reply[0]) if isinstance(reply, list) and reply else _text(reply).lower()
        if kind == "message":
            self.apply(_announcement_parse(reply[2]))
        elif kind != "pong":
            raise RedisError(f"unexpected on the invalidation channel: {reply!r:.80}")


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _announcement(generations):
    return " ".join(f"{family}={generation}" for family, generation in sorted(generations.items()))


def _announcement_parse(data):
    """``courses=1 schedule=2`` → ``{"courses": "1", "schedule": "2"}`` (families this code does not know
    are skipped: a newer release may add some). Malformed raises, and the subscriber starts over."""
    generations = {}
    for item in _text(data).split():
        family, _, generation = item.partition("=")
        if not generation.isdigit():
            raise ValueError(f"malformed invalidation message {data!r:.80}")
        if family in FAMILIES:
            generations[family] = generation
    return generations


def _subscriber(state):
    """This process's subscriber (started on first use; a forked child starts its own), or None when the
    cache is not Redis."""
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        return subscriber
    if not isinstance(state.backend, BytesRedisCache):
        return None
    with state.lock:
        if state.subscriber is None or state.subscriber.pid != os.getpid():
            state.subscriber = _Subscriber(state.backend)  # a parent's, after fork, is simply forgotten
        return state.subscriber


def subscriber_stop(app):
    """Stop the app's invalidation subscriber in this process, if it runs (for tests)."""
    state = app.extensions["response_cache"]
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        subscriber.stop()
        state.subscriber = None


def _generations(state, families):
    subscriber = _subscriber(state)
    if subscriber is not None:
        generations = subscriber.current(families)
        if generations is not None:
            return generations
    values = _cache_call(state, _generations_fetch, state.backend, families)
    if values is None:
        return None
    return ".".join([values[family] for family in families])


def cached_body(key, families, build):
    """The body for ``key`` (built by ``build() -> bytes`` on a miss) and how it was found."""
    body, how = _cached_body(key, families, build)
    cache_result_count(how)
    return body, how


def _cached_body(key, families, build):
    state = _state()
    gens = _generations(state, families)
    if gens is None:
        return CachedBody.build(build()), "bypass"
    full_key = f"resp:{key}:{gens}"
    with state.lock:
        body = state.local.get(full_key)
        if body is not None:
            state.local.move_to_end(full_key)
            return body, "hit-local"
    backend = state.backend
    blob = _cache_call(state, backend.get, full_key)
    if blob is not None:
        body, how = CachedBody.unpack(blob), "hit"
    else:
        body, how = CachedBody.build(build()), "miss"
        _cache_call(state, backend.set, full_key, body.pack())
    with state.lock:
        state.local[full_key] = body
        while len(state.local) > LOCAL_ENTRIES:
            state.local.popitem(last=False)
    return body, how


def _generations_publish(state, generations):
    """Set the new generations and announce them, atomically (MULTI/EXEC: announcements arrive in the
    order the generations were set); then apply them to this process at once."""
    backend = state.backend
    if not isinstance(backend, BytesRedisCache):
        backend.set_many({f"gen:{family}": int(generation) for family, generation in generations.items()},
                         timeout=0)
        return True
    prefix, dumps = backend._get_prefix(), backend.serializer.dumps
    with backend._write_client.pipeline(transaction=True) as pipeline:
        for family, generation in generations.items():
            pipeline.set(f"{prefix}gen:{family}", dumps(int(generation)))
        pipeline.publish(_channel(backend), _announcement(generations))
        pipeline.execute()
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        subscriber.apply(generations)
    return True


def cache_families_invalidate(families):
    """Retire every cached response built from these families. Call once per change, after commit."""
    families = sorted(set(families))
    if not families:
        return
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f"unknown cache family {family!r}")
    state = _state()
    # New generations, never reused ones: time_ns also differs after a cache restart.
    generation = str(time.time_ns())
    if _cache_call(state, _generations_publish, state, dict.fromkeys(families, generation)) is None:
        log.error("could not invalidate cache families %s; other processes may serve stale data "
                  "until the cache is reachable again", ", ".join(families))
    with state.lock:
        state.local.clear()


def conditional_response(body, how="miss", *, max_age=None):
    """A 200 (gzipped when accepted) or 304 response for a cached body, with ETag and Cache-Control."""
    if max_age is None:
        max_age = current_app.config["CATALOGUE_MAX_AGE"]
    headers = {
        # Weak: the gzipped and raw forms are the same representation, semantically.
        "ETag": f'W/"{body.etag}"',
        "Cache-Control": f"public, max-age={max_age}, must-revalidate",
        "Vary": "Accept-Encoding",
        "X-Cache": how,
    }
    response_class = current_app.response_class
    if request.if_none_match.contains_weak(body.etag):
        return response_class(status=304, headers=headers)
    if request.accept_encodings["gzip"] > 0:
        headers["Content-Encoding"] = "gzip"
        return response_class(body.gz, status=200, headers=headers, mimetype="application/json")
    return response_class(body.raw, status=200, headers=headers, mimetype="application/json")
