"""The invalidation channel: how the processes of a Redis deployment learn new generations without a query per read.

After a change commits, its process applies the new generations to its own memory at once (read-your-writes) and
publishes them on a Redis pub/sub channel (``<CACHE_KEY_PREFIX>gen-changes:<db>``). Every process runs one
``Subscriber`` thread (started by its first hot read, again after a fork) on a Redis client of its own (redis-py's
public ``PubSub``): once SUBSCRIBE is confirmed it reads every generation from the database — so no change between
the two is missed — and then applies each announcement. Generations only ever grow, so announcements arriving out of
order are harmless. On any failure, and on every (re)subscription redis-py makes after a lost connection, the
generations are re-read from the database, and until that succeeds reads ask the database themselves.

Freshness — what a process serves after another process committed a change:
- normally the change is visible as soon as its announcement arrives (well under a millisecond on one host; not
  benchmarked — tests/cache/test_channel.py bounds it by CACHE_RESYNC_SECONDS); a read racing the announcement by
  that much may still see the previous generation;
- in any case within ``CACHE_RESYNC_SECONDS`` (default 5): every healthy subscriber re-reads the generations that
  often, so even an announcement that never arrived (Redis unreachable from the writer at that moment) is caught up;
- while a subscriber is not healthy, every read reads the generations from the database: fresh, but slower.
"""
import logging
import os
import threading
import time

import redis

from raf_network.cache.generations import FAMILIES, generations_read
from raf_network.extensions import db

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5       # how long one wait for a message lasts (and so how quickly stop() is noticed)
RETRY_SECONDS = (0.05, 2.0)  # resubscribe after a failure: first after this long, doubling up to the maximum


def channel_name(app):
    url = app.config["REDIS_URL"]
    number = redis.connection.parse_url(url).get("db", 0)  # pub/sub is server-wide: the name carries the database
    return f"{app.config['CACHE_KEY_PREFIX']}gen-changes:{number}"


def _message(generations):
    return " ".join(f"{family}={generation}" for family, generation in sorted(generations.items()))


def _message_parse(data):
    """``courses=1 schedule=2`` → ``{"courses": 1, "schedule": 2}``; families this code does not know are skipped (a
    newer release may add some). Malformed raises, and the subscriber starts over."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    generations = {}
    for item in text.split():
        family, _, generation = item.partition("=")
        if not generation.isdigit():
            raise ValueError(f"malformed invalidation message {text!r:.80}")
        if family in FAMILIES:
            generations[family] = int(generation)
    return generations


class Subscriber:
    """One process's listener on the invalidation channel and the generations it keeps current.

    ``generations`` is a dict (replaced, never mutated) while the subscription is healthy, else None.
    """

    def __init__(self, app):
        self.app = app
        self.pid = os.getpid()
        self.channel = channel_name(app)
        self.resync_seconds = app.config["CACHE_RESYNC_SECONDS"]
        self.generations = None
        self._applied = 0  # how many times ``apply`` ran: a resync tells by it whether one ran while it read
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._failure_reported = False
        self._thread = threading.Thread(target=self._run, name="raf-cache-invalidations", daemon=True)
        self._thread.start()

    def apply(self, generations):
        """Take newer generations (older ones, from announcements that arrived late, are ignored)."""
        with self._lock:
            self._applied += 1
            held = self.generations
            if held is not None and any(generation > held.get(family, -1)
                                        for family, generation in generations.items()):
                self.generations = {**held, **{family: generation for family, generation in generations.items()
                                               if generation > held.get(family, -1)}}

    def stop(self, timeout=5.0):
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self):
        delay = RETRY_SECONDS[0]
        while not self._stopping.is_set():
            healthy_before = False
            try:
                healthy_before = self._listen()
            except Exception as exc:  # anything at all: start over, resubscribe and re-read everything
                if not self._stopping.is_set() and not self._failure_reported:
                    log.warning("cache invalidation channel lost (%s: %s); reads check the database until it is "
                                "back", exc.__class__.__name__, exc)
                    self._failure_reported = True  # once per outage, not once per retry
            with self._lock:
                self.generations = None
            if healthy_before:
                delay = RETRY_SECONDS[0]
            self._stopping.wait(delay)
            delay = min(delay * 2, RETRY_SECONDS[1])

    def _listen(self):
        """Subscribe and apply announcements until stopped or failed; returns whether it was ever healthy."""
        client = redis.Redis.from_url(self.app.config["REDIS_URL"], socket_connect_timeout=2,
                                      socket_keepalive=True, health_check_interval=self.resync_seconds)
        pubsub = client.pubsub()
        healthy = False
        try:
            pubsub.subscribe(self.channel)
            synced_at = 0.0
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    # (Re)subscribed — redis-py resubscribes by itself after a lost connection, and what was
                    # announced meanwhile is lost: read everything again.
                    synced_at = self._resync()
                    healthy = True
                elif message is not None and message["type"] == "message":
                    self.apply(_message_parse(message["data"]))
                if healthy and time.monotonic() - synced_at >= self.resync_seconds:
                    synced_at = self._resync()
        finally:
            pubsub.close()
            client.close()
        return healthy

    def _resync(self):
        with self._lock:
            applied_before = self._applied
        with self.app.app_context():
            try:
                generations = generations_read(db.session, FAMILIES)
            finally:
                db.session.remove()
        with self._lock:
            held = self.generations
            if held is not None and self._applied != applied_before:
                # A commit of this process (or an announcement) was applied while the database was read, and may
                # be newer than what was read: keep the newer of each, so read-your-writes holds. (Generations only
                # grow; only in this window is the maximum taken, so a database reset is still followed.)
                generations = {family: max(generations.get(family, -1), held.get(family, -1))
                               for family in {*generations, *held}}
            self.generations = generations
        if self._failure_reported:
            log.info("cache invalidation channel %s subscribed again", self.channel)
        self._failure_reported = False
        return time.monotonic()


def subscriber_get(state):
    """This process's subscriber (started on first use; a forked child starts its own), or None without Redis."""
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        return subscriber
    if not state.app.config["REDIS_URL"]:
        return None
    with state.lock:
        if state.subscriber is None or state.subscriber.pid != os.getpid():
            state.subscriber = Subscriber(state.app)  # a parent's, after fork, is simply forgotten
        return state.subscriber


def announce(app, generations):
    """After a commit: apply the new generations to this process at once, then tell the others."""
    state = app.extensions["response_cache"]
    if not app.config["REDIS_URL"]:
        return  # the embedded default: every read asks the database
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        subscriber.apply(generations)
    try:
        state.publisher().publish(channel_name(app), _message(generations))
    except redis.RedisError as exc:
        # Committed, but not announced: other processes catch up at their next resync (CACHE_RESYNC_SECONDS), or
        # read the database meanwhile if they lost Redis too.
        log.error("could not announce new cache generations %s (%s: %s); other processes see them within "
                  "CACHE_RESYNC_SECONDS", _message(generations), exc.__class__.__name__, exc)


def subscriber_stop(app):
    """Stop the app's invalidation subscriber in this process, if it runs (tests; a worker simply exits)."""
    state = app.extensions["response_cache"]
    subscriber = state.subscriber
    if subscriber is not None and subscriber.pid == os.getpid():
        subscriber.stop()
        state.subscriber = None
